//! Importing reference weights checks the buffers the model computes itself (the
//! tensor products' `w3j`, `1/r_max`) against the file's within the rounding of the
//! model's dtype: a float32 checkpoint's float32-rounded coefficients are accepted, a
//! changed coefficient is refused naming the element, a wrong shape naming both shapes.

mod common;

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_nn::AllegroModel;
use allegro_nn::import::parameters_from_state_dict;
use serde_json::Value;

/// The seed fixture's config and state dict, with the config's dtype set and every
/// float of the state dict rounded through `round`.
fn fixture(
    dtype: &str,
    round: impl Fn(f64) -> f64,
) -> (AllegroModel, serde_json::Map<String, Value>) {
    let text = std::fs::read_to_string(common::fixture_path("seed_lmax2.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let mut config = json["config"].clone();
    config["model_dtype"] = dtype.into();
    let model = AllegroModel::new(&serde_json::from_value(config).unwrap()).unwrap();
    fn map(v: &Value, round: &dyn Fn(f64) -> f64) -> Value {
        match v {
            Value::Number(n) if n.is_f64() => serde_json::json!(round(n.as_f64().unwrap())),
            Value::Array(a) => Value::Array(a.iter().map(|x| map(x, round)).collect()),
            other => other.clone(),
        }
    }
    let state = json["state_dict"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), map(v, &round)))
        .collect();
    (model, state)
}

#[test]
fn float32_buffers_are_accepted_within_float32_rounding() {
    let (model, state) = fixture("float32", |x| x as f32 as f64);
    parameters_from_state_dict::<Cpu>(&model, &state, &CpuDevice)
        .expect("a float32 model takes float32-rounded buffers");
    // The same rounding is too coarse for a float64 model.
    let (model, state) = fixture("float64", |x| x as f32 as f64);
    let e = parameters_from_state_dict::<Cpu>(&model, &state, &CpuDevice).unwrap_err();
    assert!(
        e.to_string().contains("w3j") && e.to_string().contains("element"),
        "{e}"
    );
}

#[test]
fn changed_or_reshaped_coefficients_are_refused() {
    let key = "model.func.allegro.tps.0.w3j";
    let (model, mut state) = fixture("float32", |x| x);
    // Change one coefficient by 1 %.
    let mut w = state[key].clone();
    let mut bumped = false;
    fn bump(v: &mut Value, done: &mut bool) {
        match v {
            Value::Array(a) => a.iter_mut().for_each(|x| bump(x, done)),
            Value::Number(n) if !*done && n.as_f64().unwrap() != 0.0 => {
                *v = serde_json::json!(n.as_f64().unwrap() * 1.01);
                *done = true;
            }
            _ => {}
        }
    }
    bump(&mut w, &mut bumped);
    assert!(bumped);
    state.insert(key.into(), w);
    let e = parameters_from_state_dict::<Cpu>(&model, &state, &CpuDevice).unwrap_err();
    assert!(
        e.to_string().contains(key) && e.to_string().contains("element"),
        "{e}"
    );
    // Drop the path axis: a shape the config cannot have.
    let (model, mut state) = fixture("float32", |x| x);
    let reshaped = state[key].as_array().unwrap()[0].clone();
    state.insert(key.into(), reshaped);
    let e = parameters_from_state_dict::<Cpu>(&model, &state, &CpuDevice).unwrap_err();
    assert!(e.to_string().contains("has shape"), "{e}");
}
