//! `torch.save` zip archives read without Python: the Lightning checkpoint nequip-train
//! wrote (`shared/reference/trained/nequip-xtb-best.ckpt`), and bad files as errors that
//! name the file.

mod common;

use allegro_data::pickle::Value;
use allegro_data::pickle::torch::Dtype;
use allegro_data::pickle::torch_archive::{TorchArchive, is_zip};

fn checkpoint() -> std::path::PathBuf {
    common::shared_dir().join("reference/trained/nequip-xtb-best.ckpt")
}

#[test]
fn reads_the_nequip_checkpoint() {
    let path = checkpoint();
    assert!(is_zip(&path));
    let ckpt = TorchArchive::open(&path).unwrap();
    let Some(Value::Dict(state)) = ckpt.root().get("state_dict") else {
        panic!("no state_dict");
    };
    assert_eq!(state.len(), 50);
    let get = |name: &str| {
        let v = &state
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .unwrap_or_else(|| panic!("{name}"))
            .1;
        ckpt.tensor(v).unwrap()
    };
    // Values read from the zip entries with Python's zipfile + struct.
    let embed =
        get("model.sole_model.model.func.radial_chemical_embed.type_embed.center_embed.weight");
    assert_eq!(
        (embed.dtype, embed.shape.clone()),
        (Dtype::F32, vec![7, 16])
    );
    assert_eq!(
        embed.values[..4],
        [
            -1.1261197328567505,
            1.3607383966445923,
            0.1131369024515152,
            2.125622272491455
        ]
    );
    let rmax = get("model.sole_model.model.func.edge_norm._rmax_recip");
    assert_eq!((rmax.dtype, rmax.shape.clone()), (Dtype::F64, vec![]));
    assert_eq!(rmax.values, [1.0 / 6.0]);
    let w3j = get("model.sole_model.model.func.allegro.tps.0.w3j");
    assert_eq!(w3j.shape, [11, 9, 9, 9]);
    // The hyper-parameters are plain data.
    let hp = ckpt.root().get("hyper_parameters").unwrap();
    let model = hp.get("model").unwrap();
    assert_eq!(
        model.get("_target_").and_then(Value::as_str),
        Some("allegro.model.AllegroModel")
    );
    assert_eq!(model.get("r_max"), Some(&Value::Float(6.0)));
}

#[test]
fn bad_files_are_errors_naming_them() {
    let dir = std::env::temp_dir().join(format!("allegro-torch-archive-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let not_zip = dir.join("notes.ckpt");
    std::fs::write(&not_zip, "not a zip").unwrap();
    assert!(!is_zip(&not_zip));
    let e = TorchArchive::open(&not_zip).unwrap_err();
    assert!(
        e.contains("notes.ckpt") && e.contains("not a PyTorch archive"),
        "{e}"
    );
    let missing = dir.join("missing.ckpt");
    let e = TorchArchive::open(&missing).unwrap_err();
    assert!(e.contains("missing.ckpt"), "{e}");
    // A checkpoint cut short: the zip's directory at its end is gone.
    let bytes = std::fs::read(checkpoint()).unwrap();
    let cut = dir.join("cut.ckpt");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = TorchArchive::open(&cut).unwrap_err();
    assert!(e.contains("cut.ckpt"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
