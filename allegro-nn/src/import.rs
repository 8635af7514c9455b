//! Reference weights: nequip `state_dict` entries (as nested JSON lists) to
//! [`Parameters`], checked against the model built from the same config.

use std::path::Path;

use allegro_core::{Backend, DType, Tensor};
use serde_json::Value;

use crate::config::AllegroConfig;
use crate::error::{Error, Result};
use crate::model::AllegroModel;
use crate::parameters::Parameters;

/// Prefix of model weights in a nequip `state_dict`.
pub const STATE_DICT_PREFIX: &str = "model.func.";

/// Flattens a nested JSON list into values and a shape.
pub fn flatten(value: &Value, name: &str) -> Result<(Vec<f64>, Vec<usize>)> {
    fn walk(
        v: &Value,
        depth: usize,
        shape: &mut Vec<usize>,
        out: &mut Vec<f64>,
        name: &str,
    ) -> Result<()> {
        match v {
            Value::Number(n) => {
                if depth != shape.len() {
                    return Err(Error::Weights(format!("`{name}` is ragged")));
                }
                out.push(
                    n.as_f64()
                        .ok_or_else(|| Error::Weights(format!("`{name}`: {n} is not a float")))?,
                );
                Ok(())
            }
            Value::Array(items) => {
                if depth == shape.len() {
                    if !out.is_empty() {
                        return Err(Error::Weights(format!("`{name}` is ragged")));
                    }
                    shape.push(items.len());
                } else if shape.get(depth) != Some(&items.len()) {
                    return Err(Error::Weights(format!("`{name}` is ragged")));
                }
                items
                    .iter()
                    .try_for_each(|i| walk(i, depth + 1, shape, out, name))
            }
            other => Err(Error::Weights(format!(
                "`{name}`: {other} is not a number or list"
            ))),
        }
    }
    let (mut shape, mut out) = (Vec::new(), Vec::new());
    walk(value, 0, &mut shape, &mut out, name)?;
    Ok((out, shape))
}

/// One `state_dict` tensor: values in row-major order and the shape.
#[derive(Clone, Debug, PartialEq)]
pub struct StateTensor {
    /// Values, row-major.
    pub values: Vec<f64>,
    /// Shape (empty for a scalar).
    pub shape: Vec<usize>,
}

/// A reference `state_dict`: names (with the `model.func.` prefix) to tensors.
pub type StateDict = std::collections::HashMap<String, StateTensor>;

/// A JSON `state_dict` (nested lists) as a [`StateDict`].
pub fn state_dict_from_json(state_dict: &serde_json::Map<String, Value>) -> Result<StateDict> {
    state_dict
        .iter()
        .map(|(k, v)| {
            let (values, shape) = flatten(v, k)?;
            Ok((k.clone(), StateTensor { values, shape }))
        })
        .collect()
}

/// Parameters of `model` read from a JSON `state_dict` (names with the `model.func.`
/// prefix); see [`parameters_from_tensors`].
pub fn parameters_from_state_dict<B: Backend>(
    model: &AllegroModel,
    state_dict: &serde_json::Map<String, Value>,
    device: &B::Device,
) -> Result<Parameters<B>> {
    parameters_from_tensors(model, &state_dict_from_json(state_dict)?, device)
}

/// Parameters of `model` read from a `state_dict`.
///
/// Every parameter the model expects must be present with its shape; buffers the model
/// computes itself (the tensor-product `w3j` coefficients, `1/r_max`) are compared with
/// the file's, so a config that does not match the weights is an error, not a silently
/// different model.
pub fn parameters_from_tensors<B: Backend>(
    model: &AllegroModel,
    state_dict: &StateDict,
    device: &B::Device,
) -> Result<Parameters<B>> {
    let expected = model.init_parameters::<B>(device);
    let mut params = Parameters::new();
    for (name, entry) in expected.iter() {
        let key = format!("{STATE_DICT_PREFIX}{name}");
        let t = state_dict
            .get(&key)
            .ok_or_else(|| Error::Weights(format!("`{key}` is missing from the state dict")))?;
        if t.shape != entry.tensor.shape() {
            return Err(Error::Weights(format!(
                "`{key}` has shape {:?}, the config gives {:?}",
                t.shape,
                entry.tensor.shape()
            )));
        }
        let dtype = if AllegroModel::is_float64_parameter(name) {
            DType::F64
        } else {
            model.dtype()
        };
        params.insert(
            name,
            Tensor::from_f64(&t.values, &t.shape, dtype, device)?,
            entry.trainable,
        );
    }
    check_buffers(model, state_dict)?;
    Ok(params)
}

/// Relative tolerance for comparing a stored buffer with ours: the rounding of the
/// model's dtype, with room for the reference computing it in another order.
fn buffer_tolerance(model: &AllegroModel) -> f64 {
    match model.dtype() {
        DType::F32 => 1e-6,
        DType::F64 => 1e-10,
    }
}

fn check_buffers(model: &AllegroModel, state_dict: &StateDict) -> Result<()> {
    let tol = buffer_tolerance(model);
    let close = |a: f64, b: f64| (a - b).abs() <= tol * b.abs().max(1.0);
    for (k, layer) in model.layers().iter().enumerate() {
        let key = format!("{STATE_DICT_PREFIX}allegro.tps.{k}.w3j");
        // A custom product has no `w3j` of Allegro's to compare with.
        if let (Some(t), Some(tp)) = (state_dict.get(&key), layer.tensor_product()) {
            let ours = tp.w3j_buffer();
            if t.shape != ours.shape {
                return Err(Error::Weights(format!(
                    "`{key}` has shape {:?}, the coupling coefficients of this config have {:?}: l_max, parity or layers do not match the weights",
                    t.shape, ours.shape
                )));
            }
            if let Some((i, (a, b))) = t
                .values
                .iter()
                .zip(&ours.data)
                .enumerate()
                .find(|(_, (a, b))| !close(**a, **b))
            {
                return Err(Error::Weights(format!(
                    "`{key}` differs from the coupling coefficients of this config at element {i} ({a} vs {b}, beyond {tol:e} relative): the weights come from another tensor-product layout"
                )));
            }
        }
    }
    let key = format!("{STATE_DICT_PREFIX}edge_norm._rmax_recip");
    if let Some(t) = state_dict.get(&key) {
        let data = &t.values;
        let ours = model.cutoffs();
        let matches = if data.len() == 1 {
            ours.iter().all(|c| close(data[0], 1.0 / c))
        } else {
            data.len() == ours.len() && data.iter().zip(&ours).all(|(a, c)| close(*a, 1.0 / c))
        };
        if !matches {
            return Err(Error::Weights(format!(
                "`{key}` does not match r_max / per_edge_type_cutoff of the config"
            )));
        }
    }
    Ok(())
}

/// Config and parameters from a JSON file in the fixture layout (`config` and
/// `state_dict` keys), e.g. written by `tools/export_nequip.py`.
pub fn load_reference_json<B: Backend>(
    path: &Path,
    device: &B::Device,
) -> Result<(AllegroModel, Parameters<B>, Value)> {
    let file_error = |m: String| Error::ModelFile {
        path: path.display().to_string(),
        message: m,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
    let json: Value = serde_json::from_str(&text).map_err(|e| file_error(e.to_string()))?;
    let config_value = json
        .get("config")
        .ok_or_else(|| file_error("no `config` key".into()))?;
    let config: AllegroConfig = serde_json::from_value(config_value.clone())
        .map_err(|e| file_error(format!("config: {e}")))?;
    let model = AllegroModel::new(&config)?;
    let state_dict = json
        .get("state_dict")
        .and_then(Value::as_object)
        .ok_or_else(|| file_error("no `state_dict` object".into()))?;
    let params = parameters_from_state_dict(&model, state_dict, device)?;
    Ok((model, params, json))
}
