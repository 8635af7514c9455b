//! Writes the model files the Python tests and the overhead benchmark use, and the Rust
//! predictions the tests compare the calculator with.
//!
//! `cargo run --release -p allegro-py --example test_models -- OUT_DIR EMT.xyz`
//!
//! - `OUT_DIR/cuagau-f64.allegro`: a small float64 model of Cu, Ag and Au with
//!   initialised (untrained) weights and ZBL repulsion, so that relaxations and MD stay
//!   physical.
//! - `OUT_DIR/cuagau-f64-reference.json`: its energies, per-atom energies, forces and
//!   stress on the first [`REFERENCE_FRAMES`] frames of `EMT.xyz` (the shared
//!   `emt-cuagau.xyz`), by the route of the `evaluate` example: [`read_extxyz`],
//!   then [`EnergyModel::predict_structure`]. Numbers are written shortest-round-trip, so
//!   Python reads back the very same doubles.
//! - `OUT_DIR/water-f64.allegro`: the same architecture for H and O (the overhead
//!   benchmark on the 192-atom water box).
//! - `OUT_DIR/custom-parts.allegro`: the water architecture with the parts of
//!   `examples/custom_parts/` (a custom radial embedding and tensor product), which the
//!   Python package, having no such part registered, must refuse by name, and the
//!   extension module `allegro-py/parts-demo` (which registers them) must load;
//!   `OUT_DIR/custom-parts-reference.json`: its energy and forces on a water dimer.

use std::path::Path;

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::extxyz::{ReadOptions, read_extxyz};
use allegro_data::{Species, Structure};
use allegro_nn::model_parts::ModelParts;
use allegro_nn::{AllegroConfig, AllegroModel, EnergyModel, ModelFile, Predictor};
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error>;

/// Frames of the data file in the reference.
const REFERENCE_FRAMES: usize = 4;

/// The architecture of both models (nequip keys): l_max 1, one layer, few channels —
/// milliseconds per 32-atom frame, so the Python tests stay cheap.
fn config(type_names: &[&str], shifts: &[f64], zbl: bool) -> Result<AllegroConfig, Error> {
    let mut c = json!({
        "seed": 7, "model_dtype": "float64", "type_names": type_names, "r_max": 4.5,
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
        "avg_num_neighbors": 30.0, "per_type_energy_shifts": shifts,
        "per_type_energy_scales": 1.0
    });
    if zbl {
        c["pair_potential"] = json!({"_target_": "nequip.nn.pair_potential.ZBL",
            "units": "metal", "chemical_species": type_names});
    }
    Ok(AllegroConfig::from_json(&c.to_string())?)
}

/// Writes the model of `config` with its initialised weights to `path`.
fn write_model(config: &AllegroConfig, path: &Path) -> Result<(), Error> {
    let model = AllegroModel::new(config)?;
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    ModelFile::from_model(&model, &params, Default::default())?.save(path)?;
    Ok(())
}

#[allow(dead_code)]
#[path = "../../examples/custom_parts/parts.rs"]
mod parts;

/// Writes the model of `config` with the custom parts in place of its own, and its
/// predictions on a water dimer (the parts passed directly, no registry) beside it.
fn write_custom_parts_model(config: &AllegroConfig, path: &Path) -> Result<(), Error> {
    let embedding = parts::GaussianEmbedding {
        num_types: config.type_names.len(),
        num_gaussians: 6,
        dim: 8,
    };
    let parts = ModelParts::new()
        .with_radial_embedding(embedding)
        .with_tensor_product(parts::GatedProduct);
    let model = AllegroModel::with_parts(config, parts)?;
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    ModelFile::from_model(&model, &params, Default::default())?.save(path)?;
    let numbers = [8i64, 1, 1, 8, 1, 1];
    let positions = [
        [0.0, 0.0, 0.0],
        [0.96, 0.0, 0.0],
        [-0.24, 0.93, 0.0],
        [2.9, 0.1, 0.2],
        [3.6, 0.7, 0.1],
        [3.1, -0.8, 0.4],
    ];
    let species = numbers
        .iter()
        .map(|&z| Species::new(if z == 8 { "O" } else { "H" }))
        .collect::<Option<Vec<_>>>()
        .ok_or("a chemical symbol")?;
    let water = Structure::new(species, positions.to_vec(), None, [false; 3]);
    let p = Predictor::new(model, &params, CpuDevice).predict_structure(&water)?;
    let reference = json!({
        "numbers": numbers, "positions": positions,
        "energy": p.total_energy[0], "forces": p.forces,
    });
    std::fs::write(
        path.with_file_name("custom-parts-reference.json"),
        serde_json::to_string(&reference)?,
    )?;
    Ok(())
}

/// The predictions of the model at `model` on the first frames of `data`, as JSON.
fn reference(model: &Path, data: &Path) -> Result<Value, Error> {
    let predictor = ModelFile::load(model)?.into_predictor::<Cpu>(CpuDevice)?;
    let frames = read_extxyz(data, &ReadOptions::default())?;
    let mut out = Vec::new();
    for s in frames.iter().take(REFERENCE_FRAMES) {
        let p = predictor.predict_structure(s)?;
        out.push(json!({
            "energy": p.total_energy[0],
            "energies": p.atomic_energies,
            "forces": p.forces,
            "stress": p.stress[0],
        }));
    }
    Ok(json!({"data": data.display().to_string(), "frames": out}))
}

fn run(out: &Path, data: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(out)?;
    let cuagau = out.join("cuagau-f64.allegro");
    write_model(
        &config(&["Cu", "Ag", "Au"], &[0.3, 0.4, 0.5], true)?,
        &cuagau,
    )?;
    let reference = reference(&cuagau, data)?;
    std::fs::write(
        out.join("cuagau-f64-reference.json"),
        serde_json::to_string(&reference)?,
    )?;
    let water = config(&["H", "O"], &[-13.6, -432.0], false)?;
    write_model(&water, &out.join("water-f64.allegro"))?;
    write_custom_parts_model(&water, &out.join("custom-parts.allegro"))?;
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 2 {
        eprintln!("usage: test_models OUT_DIR EMT.xyz");
        std::process::exit(2);
    }
    if let Err(e) = run(Path::new(&args[0]), Path::new(&args[1])) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
