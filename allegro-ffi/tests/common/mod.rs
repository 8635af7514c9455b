//! Shared helpers of the integration tests: a small f64 water model written as a
//! `.allegro` file, the shared water box, the Rust predictor's answer, and where the
//! built library lives.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::extxyz::{ReadOptions, open_extxyz};
use allegro_data::{AtomicGraph, NeighborOptions, Structure, TypeMapper};
use allegro_nn::{AllegroConfig, AllegroModel, ModelFile, Prediction};

/// A small float64 model of H and O: l_max 1, one layer, few channels, per-edge-type
/// cutoffs (H–H shorter) so the cutoff table is exercised, not only `r_max`.
const SMALL_WATER_MODEL: &str = r#"{
  "seed": 11, "model_dtype": "float64", "type_names": ["H", "O"], "r_max": 4.0,
  "per_edge_type_cutoff": {"H": {"H": 3.0, "O": 4.0}, "O": 4.0},
  "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed",
    "num_bessels": 8, "bessel_trainable": false, "polynomial_cutoff_p": 6},
  "radial_chemical_embed_dim": 8,
  "scalar_embed_mlp_hidden_layers_depth": 1, "scalar_embed_mlp_hidden_layers_width": 16,
  "scalar_embed_mlp_nonlinearity": "silu",
  "l_max": 1, "parity": false, "tp_path_channel_coupling": true, "num_layers": 1,
  "num_scalar_features": 8, "num_tensor_features": 4,
  "allegro_mlp_hidden_layers_depth": 1, "allegro_mlp_hidden_layers_width": 16,
  "allegro_mlp_nonlinearity": "silu",
  "readout_mlp_hidden_layers_depth": 1, "readout_mlp_hidden_layers_width": 8,
  "readout_mlp_nonlinearity": "silu",
  "avg_num_neighbors": 20.0, "per_type_energy_shifts": [-13.6, -432.0],
  "per_type_energy_scales": 1.0
}"#;

/// A scratch folder under cargo's per-target temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("allegro-ffi")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The small water model as a `.allegro` file (written once per test process).
pub fn small_model_file() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let config = AllegroConfig::from_json(SMALL_WATER_MODEL).unwrap();
        let model = AllegroModel::new(&config).unwrap();
        let params = model.init_parameters::<Cpu>(&CpuDevice);
        let path = scratch("models").join(format!("water-small-{}.allegro", std::process::id()));
        ModelFile::from_model(&model, &params, Default::default())
            .unwrap()
            .save(&path)
            .unwrap();
        path
    })
}

pub use allegro_core::testing::shared_dir;

/// `data/NAME` of [`shared_dir`].
pub fn shared_data(name: &str) -> PathBuf {
    shared_dir().join("data").join(name)
}

/// The first frame of an extxyz file.
pub fn first_frame(path: &Path) -> Structure {
    open_extxyz(path, &ReadOptions::default())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
}

/// The Rust predictor's answer for `structure` with the model in `model_file`.
pub fn rust_prediction(model_file: &Path, structure: &Structure) -> Prediction {
    let predictor = ModelFile::load(model_file)
        .unwrap()
        .into_predictor::<Cpu>(CpuDevice)
        .unwrap();
    let config = predictor.model().config();
    let mapper = TypeMapper::new(&config.type_names).unwrap();
    let graph =
        AtomicGraph::from_structure(structure, &mapper, &NeighborOptions::new(config.r_max))
            .unwrap();
    predictor.predict(&graph).unwrap()
}

/// The folder holding `liballegro_ffi.so` of this build. `cargo test` leaves it in
/// `deps/`, beside the test executable (only `cargo build` copies it one level up).
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    [deps, deps.parent().unwrap()]
        .into_iter()
        .find(|d| d.join("liballegro_ffi.so").exists())
        .unwrap_or_else(|| panic!("no liballegro_ffi.so beside {}", exe.display()))
        .to_path_buf()
}

/// `max |a − b| / max |b|`: the relative error of a whole array, robust to entries near
/// zero.
pub fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

/// Prints straight to the terminal: unlike `println!`, not captured by the test
/// harness, so skips and measured numbers show in `cargo test` output.
pub fn report(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}
