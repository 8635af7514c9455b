//! An Allegro model on a backend with only the primitive ops gives the CPU backend's
//! energies, per-atom energies, forces and stress.
//!
//! [`PlainBackend`] has the CPU's buffers and primitives but none of its Allegro kernels,
//! so every fused op, inference kernel and edge op of the model runs its reference body,
//! composed from the primitives: what a new backend gets before it has fused kernels.
//! The same parameters go through [`Predictor`] on both backends, with and without the
//! tape, on a molecule and on a crystal, in float64 and float32.

use allegro_core::SplitMix64;
use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_core::testing::plain_backend::PlainBackend;
use allegro_nn::testing::{compare, evaluate, random_cell, random_crystal, random_molecule};
use allegro_nn::{AllegroConfig, AllegroModel, Predictor};

/// float64: the reference bodies round in another order than the CPU's fused kernels
/// (seen: ≤ 2e-15 without the tape, equal bits with it).
const F64_RTOL: f64 = 1e-12;
/// float32 features, the same (seen: ≤ 5e-7 without the tape, equal bits with it).
const F32_RTOL: f64 = 1e-5;

/// A small model using every kind of nonlinearity, two layers, l_max 2 with parity.
const CONFIG: &str = r#"{
    "seed": 11, "type_names": ["H", "O"], "r_max": 4.0,
    "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed",
        "num_bessels": 8, "bessel_trainable": false, "polynomial_cutoff_p": 6},
    "radial_chemical_embed_dim": 8,
    "scalar_embed_mlp_hidden_layers_depth": 2, "scalar_embed_mlp_hidden_layers_width": 16,
    "scalar_embed_mlp_nonlinearity": "silu",
    "l_max": 2, "parity": true, "tp_path_channel_coupling": true, "num_layers": 2,
    "num_scalar_features": 16, "num_tensor_features": 8,
    "allegro_mlp_hidden_layers_depth": 2, "allegro_mlp_hidden_layers_width": 32,
    "allegro_mlp_nonlinearity": "mish",
    "readout_mlp_hidden_layers_depth": 1, "readout_mlp_hidden_layers_width": 16,
    "readout_mlp_nonlinearity": "gelu",
    "avg_num_neighbors": 20.0, "per_type_energy_shifts": [-1.0, -2.0],
    "per_type_energy_scales": 1.7
}"#;

#[test]
fn model_on_primitives_equals_cpu() {
    let mut rng = SplitMix64::new(5);
    for (dtype, rtol) in [("float64", F64_RTOL), ("float32", F32_RTOL)] {
        let mut v: serde_json::Value = serde_json::from_str(CONFIG).unwrap();
        v["model_dtype"] = dtype.into();
        let config = AllegroConfig::from_json(&v.to_string()).unwrap();
        let model = AllegroModel::new(&config).unwrap();
        let cpu_params = model.init_parameters::<Cpu>(&CpuDevice);
        let plain_params = model.init_parameters::<PlainBackend>(&CpuDevice);
        let cpu = Predictor::new(model.clone(), &cpu_params, CpuDevice);
        let plain = Predictor::new(model, &plain_params, CpuDevice);
        let cell = random_cell(&mut rng, 5.0, 0.2);
        let structures = [
            (
                "molecule",
                random_molecule(&mut rng, &["H", "O"], 10, 4.0, 1.1),
            ),
            (
                "crystal",
                random_crystal(&mut rng, &["H", "O"], 8, cell, 1.2),
            ),
        ];
        for (kind, s) in structures {
            for tape in [false, true] {
                let (a, b) = (cpu.clone().with_tape(tape), plain.clone().with_tape(tape));
                let (want, got) = (evaluate(&a, &s).unwrap(), evaluate(&b, &s).unwrap());
                let d = compare(&got, &want);
                println!("{dtype} {kind} tape={tape}: {d:?}");
                assert!(d.max() <= rtol, "{dtype} {kind} tape={tape}: {d:?}");
            }
        }
    }
}
