//! Parts of one's own through the model, the predictor and the registry: a custom
//! tensor product is the one evaluated (on the tape: the no-tape path refuses it by
//! name), stays equivariant, and a saved model finds it by name in the registry — or is
//! refused by name; the composed-oracle switch reaches the default predictor.

use allegro_core::backend::MatmulPrecision;
use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_core::rng::SplitMix64;
use allegro_core::{Backend, DType, Tensor};
use allegro_nn::model_parts::ModelParts;
use allegro_nn::registry::{self, PartKind};
use allegro_nn::tensor_product::TensorProduct;
use allegro_nn::tensor_product_custom::{CustomTensorProduct, TensorProductSite};
use allegro_nn::testing::{random_molecule, random_rotation, rotation};
use allegro_nn::{
    AllegroConfig, AllegroModel, EnergyForcesPlan, EnergyModel, ModelFile, Parameters, Predictor,
};
use serde_json::{Value, json};

const CONFIG: &str = r#"{
  "seed": 3, "model_dtype": "float64", "type_names": ["H", "C", "O"], "r_max": 3.5,
  "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed"},
  "l_max": 2, "parity": true, "num_layers": 2, "num_scalar_features": 8,
  "num_tensor_features": 4, "allegro_mlp_hidden_layers_width": 16,
  "readout_mlp_hidden_layers_width": 8, "scalar_embed_mlp_hidden_layers_width": 16,
  "avg_num_neighbors": 4.0
}"#;

/// Allegro's product times a factor, plus a learned multiple of the scalar channel's
/// square (`x1[.., 0]·x2[.., 0]` added to the invariant output only: equivariant).
#[derive(Clone, Copy, Debug)]
struct Scaled(f64);

impl CustomTensorProduct for Scaled {
    fn name(&self) -> String {
        "tests.Scaled".into()
    }
    fn settings(&self) -> Value {
        json!({"factor": self.0})
    }
    fn init<B: Backend>(
        &self,
        site: &TensorProductSite,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    ) {
        site.allegro.init(params, rng, dtype, device);
        let w = Tensor::full(&[1], 0.3, dtype, device);
        params.insert(&format!("{}.scalar_weight", site.prefix), w, true);
    }
    fn forward<B: Backend>(
        &self,
        site: &TensorProductSite,
        params: &Parameters<B>,
        x1: &Tensor<B>,
        x2: &Tensor<B>,
    ) -> Tensor<B> {
        let out = site.allegro.forward(params, x1, x2).mul_scalar(self.0);
        let (e, u) = (x1.dim(0), x1.dim(1));
        let scalar = x1.narrow(2, 0, 1).mul(&x2.narrow(2, 0, 1)).mul(
            &params
                .get(&format!("{}.scalar_weight", site.prefix))
                .reshape(&[1, 1, 1]),
        );
        let rest = Tensor::zeros(&[e, u, site.dim_out() - 1], out.dtype(), &out.device());
        out.add(&Tensor::concat(&[&scalar, &rest], 2))
    }
}

fn register_scaled() {
    registry::register_tensor_product("tests.Scaled", |s| {
        s["factor"]
            .as_f64()
            .map(Scaled)
            .ok_or_else(|| "settings: no `factor`".to_string())
    });
}

fn config() -> AllegroConfig {
    AllegroConfig::from_json(CONFIG).unwrap()
}

fn molecule(seed: u64) -> allegro_data::Structure {
    random_molecule(&mut SplitMix64::new(seed), &["H", "C", "O"], 9, 3.0, 0.9)
}

#[test]
fn a_custom_product_is_evaluated_on_the_tape_and_stays_equivariant() {
    let parts = ModelParts::new().with_tensor_product(Scaled(0.5));
    let model = AllegroModel::with_parts(&config(), parts).unwrap();
    assert_eq!(
        model.config().tensor_product.as_ref().unwrap().name,
        "tests.Scaled"
    );
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    let refusal = EnergyForcesPlan::<Cpu>::new(&model, &params, MatmulPrecision::Exact)
        .unwrap_err()
        .to_string();
    assert!(refusal.contains("tests.Scaled"), "{refusal}");
    let custom = Predictor::new(model, &params, CpuDevice);
    assert!(custom.uses_tape());

    // The part is what runs: Allegro's product with the same weights differs.
    let plain = Predictor::new(AllegroModel::new(&config()).unwrap(), &params, CpuDevice);
    assert!(!plain.uses_tape());
    let s = molecule(1);
    let (a, b) = (
        custom.predict_structure(&s).unwrap(),
        plain.predict_structure(&s).unwrap(),
    );
    assert!((a.total_energy[0] - b.total_energy[0]).abs() > 1e-6);

    let q = random_rotation(&mut SplitMix64::new(2));
    let d = rotation(&custom, &s, &q).unwrap();
    assert!(d.max() <= 1e-12, "rotation: {d:?}");
}

#[test]
fn the_composed_oracle_switch_reaches_the_default_predictor() {
    let mut model = AllegroModel::new(&config()).unwrap();
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    let fused = Predictor::new(model.clone(), &params, CpuDevice);
    model.set_use_composed_tensor_product(true);
    assert!(model.no_tape_refusal().is_some());
    let composed = Predictor::new(model, &params, CpuDevice);
    assert!(composed.uses_tape() && !fused.uses_tape());
    let s = molecule(3);
    let (a, b) = (
        fused.predict_structure(&s).unwrap(),
        composed.predict_structure(&s).unwrap(),
    );
    assert!((a.total_energy[0] - b.total_energy[0]).abs() <= 1e-10 * a.total_energy[0].abs());
}

#[test]
fn a_saved_model_finds_its_part_by_name_or_is_refused_by_name() {
    let model = AllegroModel::with_parts(
        &config(),
        ModelParts::new().with_tensor_product(Scaled(0.5)),
    )
    .unwrap();
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    let bytes = ModelFile::from_model(&model, &params, Default::default())
        .unwrap()
        .to_bytes()
        .unwrap();
    let load = || {
        ModelFile::from_bytes(&bytes)
            .unwrap()
            .into_predictor::<Cpu>(CpuDevice)
    };

    registry::unregister(PartKind::TensorProduct, "tests.Scaled");
    let refused = load().unwrap_err().to_string();
    assert!(
        refused.contains("tests.Scaled") && refused.contains("register"),
        "{refused}"
    );

    // A factory that does not rebuild the recorded part is an error, not another model.
    registry::register_tensor_product("tests.Scaled", |_| Ok(Scaled(2.0)));
    let wrong = load().unwrap_err().to_string();
    assert!(wrong.contains("must rebuild"), "{wrong}");

    register_scaled();
    let loaded = load().unwrap();
    let direct = Predictor::new(model, &params, CpuDevice);
    let s = molecule(4);
    let (a, b) = (
        loaded.predict_structure(&s).unwrap(),
        direct.predict_structure(&s).unwrap(),
    );
    assert_eq!(a.total_energy, b.total_energy);
    assert_eq!(a.forces, b.forces);
}
