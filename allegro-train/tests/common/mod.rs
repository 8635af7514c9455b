//! Shared helpers of the trainer tests: a few small xTB organics and a tiny model.

#![allow(dead_code)]

use std::path::PathBuf;

use allegro_data::extxyz::ReadOptions;
use allegro_data::{GraphDataset, InMemoryDataset, NeighborOptions, TypeMapper};
use allegro_nn::{AllegroConfig, AllegroModel};

pub use allegro_core::testing::shared_dir;

/// The xTB organics of the shared folder.
pub fn data_path() -> PathBuf {
    shared_dir().join("data/xtb-organics.xyz")
}

/// The first `n` frames of at most 9 atoms, with types C, H, N, O.
pub fn dataset(n: usize) -> GraphDataset {
    let all = InMemoryDataset::from_extxyz(data_path(), &ReadOptions::default()).unwrap();
    let names = ["C", "H", "N", "O"];
    let mapper = TypeMapper::new(&names).unwrap();
    let picked = all
        .structures
        .into_iter()
        .filter(|s| s.n_atoms() <= 9 && mapper.map(s).is_ok())
        .take(n)
        .collect();
    InMemoryDataset { structures: picked }
        .to_graphs(&mapper, &NeighborOptions::new(4.0))
        .unwrap()
}

pub fn tiny_model(data: &GraphDataset) -> AllegroModel {
    tiny_model_of_dtype(data, "float64")
}

/// [`tiny_model`] with weights of `model_dtype` (`float32` or `float64`).
pub fn tiny_model_of_dtype(data: &GraphDataset, model_dtype: &str) -> AllegroModel {
    let stats = data.statistics(None).unwrap();
    let config = serde_json::json!({
        "seed": 7,
        "model_dtype": model_dtype,
        "type_names": data.type_names,
        "r_max": 4.0,
        "radial_chemical_embed": {
            "_target_": "allegro.nn.TwoBodyBesselScalarEmbed", "num_bessels": 4
        },
        "radial_chemical_embed_dim": 8,
        "scalar_embed_mlp_hidden_layers_width": 8,
        "l_max": 1,
        "num_layers": 1,
        "num_scalar_features": 8,
        "num_tensor_features": 4,
        "allegro_mlp_hidden_layers_width": 8,
        "readout_mlp_hidden_layers_width": 8,
        "avg_num_neighbors": stats.avg_num_neighbors,
        "per_type_energy_shifts": stats.per_atom_energy_mean.unwrap(),
        "per_type_energy_scales": stats.forces_rms.unwrap(),
    });
    AllegroModel::new(&AllegroConfig::from_json(&config.to_string()).unwrap()).unwrap()
}
