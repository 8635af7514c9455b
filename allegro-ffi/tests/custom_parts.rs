//! A model file that names parts written outside the crates (`examples/custom_parts/`:
//! a radial embedding and a tensor product) through the C ABI: refused by name while
//! the program has not registered them, opened and evaluated like the Rust predictor
//! once it has.

use std::ffi::{CStr, CString};
use std::ptr::null;
use std::ptr::null_mut;

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::{AtomicGraph, NeighborOptions, Species, Structure, TypeMapper};
use allegro_ffi::*;
use allegro_nn::model_parts::ModelParts;
use allegro_nn::registry::{self, PartKind};
use allegro_nn::{AllegroConfig, AllegroModel, ModelFile, Predictor};

#[allow(dead_code)]
#[path = "../../examples/custom_parts/parts.rs"]
mod parts;

const CONFIG: &str = r#"{
  "seed": 5, "model_dtype": "float64", "type_names": ["H", "O"], "r_max": 4.0,
  "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed"},
  "l_max": 1, "parity": false, "num_layers": 2, "num_scalar_features": 8,
  "num_tensor_features": 4, "allegro_mlp_hidden_layers_width": 16,
  "readout_mlp_hidden_layers_width": 8, "scalar_embed_mlp_hidden_layers_width": 16,
  "avg_num_neighbors": 2.0, "per_type_energy_shifts": [-13.6, -432.0]
}"#;

fn last_error() -> String {
    unsafe { CStr::from_ptr(allegro_last_error()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn custom_parts_load_when_registered_and_are_refused_by_name_otherwise() {
    let config = AllegroConfig::from_json(CONFIG).unwrap();
    let embedding = parts::GaussianEmbedding {
        num_types: 2,
        num_gaussians: 6,
        dim: 8,
    };
    let model = AllegroModel::with_parts(
        &config,
        ModelParts::new()
            .with_radial_embedding(embedding)
            .with_tensor_product(parts::GatedProduct),
    )
    .unwrap();
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    let dir = std::env::temp_dir().join(format!("allegro-ffi-parts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("parts.allegro");
    ModelFile::from_model(&model, &params, Default::default())
        .unwrap()
        .save(&path)
        .unwrap();
    let c_path = CString::new(path.to_str().unwrap()).unwrap();

    // Nothing registered: refused, and the message names a part and the way out.
    registry::unregister(PartKind::RadialEmbedding, "custom_parts.GaussianEmbedding");
    registry::unregister(PartKind::TensorProduct, "custom_parts.GatedProduct");
    let mut handle = null_mut();
    let rc = unsafe { allegro_model_open(c_path.as_ptr(), &mut handle) };
    assert_ne!(rc, ALLEGRO_OK);
    assert!(handle.is_null());
    let message = last_error();
    assert!(
        message.contains("custom_parts.GaussianEmbedding") && message.contains("register"),
        "{message}"
    );

    // Only the embedding registered: now the tensor product is the one named.
    registry::register_radial_embedding("custom_parts.GaussianEmbedding", |s| {
        let n = |k: &str| s[k].as_u64().map(|v| v as usize).ok_or("not a count");
        Ok(parts::GaussianEmbedding {
            num_types: n("num_types")?,
            num_gaussians: n("num_gaussians")?,
            dim: n("dim")?,
        })
    });
    let rc = unsafe { allegro_model_open(c_path.as_ptr(), &mut handle) };
    assert_ne!(rc, ALLEGRO_OK);
    let message = last_error();
    assert!(message.contains("custom_parts.GatedProduct"), "{message}");

    // Both registered: opens, and computes what the Rust predictor computes.
    parts::register();
    let rc = unsafe { allegro_model_open(c_path.as_ptr(), &mut handle) };
    assert_eq!(rc, ALLEGRO_OK, "{}", last_error());
    let names = ["O", "H", "H", "O", "H", "H"];
    let pos = [
        0.0, 0.0, 0.0, 0.96, 0.0, 0.0, -0.24, 0.93, 0.0, 2.9, 0.1, 0.2, 3.6, 0.7, 0.1, 3.1, -0.8,
        0.4,
    ];
    let types: Vec<i32> = names.iter().map(|n| i32::from(*n == "O")).collect();
    let n = names.len();
    let (mut e, mut ea, mut f, mut v) = (0.0, vec![0.0; n], vec![0.0; 3 * n], [0.0; 9]);
    let rc = unsafe {
        allegro_compute(
            handle,
            n,
            types.as_ptr(),
            pos.as_ptr(),
            null(),
            null(),
            &mut e,
            ea.as_mut_ptr(),
            f.as_mut_ptr(),
            v.as_mut_ptr(),
        )
    };
    assert_eq!(rc, ALLEGRO_OK, "{}", last_error());
    unsafe { allegro_model_free(handle) };

    let structure = Structure::new(
        names.iter().map(|s| Species::new(s).unwrap()).collect(),
        pos.chunks(3).map(|c| [c[0], c[1], c[2]]).collect(),
        None,
        [false; 3],
    );
    let mapper = TypeMapper::new(&config.type_names).unwrap();
    let graph =
        AtomicGraph::from_structure(&structure, &mapper, &NeighborOptions::new(4.0)).unwrap();
    let p = Predictor::new(model, &params, CpuDevice)
        .predict(&graph)
        .unwrap();
    assert!(graph.n_edges() > 0);
    assert!(
        (e - p.total_energy[0]).abs() <= 1e-10 * p.total_energy[0].abs(),
        "{e} vs {}",
        p.total_energy[0]
    );
    let rust: Vec<f64> = p.forces.iter().flatten().copied().collect();
    let largest = f
        .iter()
        .zip(&rust)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(largest <= 1e-10, "forces differ by {largest}");
    assert!(
        rust.iter().any(|x| x.abs() > 1e-6),
        "forces are not all zero"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
