//! `torch.save` zip archives read without Python: the Lightning checkpoint nequip-train
//! wrote (`shared/reference/trained/nequip-xtb-best.ckpt`), and bad files as errors that
//! name the file.

mod common;

use allegro_nequip::pickle::Value;
use allegro_nequip::pickle::torch::Dtype;
use allegro_nequip::pickle::torch_archive::{TorchArchive, is_zip};

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

/// Every tensor a value holds, read from the archive; the first error.
fn read_tensors(ckpt: &TorchArchive, v: &Value) -> Result<usize, String> {
    Ok(match v {
        Value::Reduce { callable, .. }
            if callable.is_global("torch._utils", "_rebuild_tensor_v2") =>
        {
            ckpt.tensor(v)?;
            1
        }
        Value::Tuple(items) | Value::List(items) => {
            let mut n = 0;
            for item in items {
                n += read_tensors(ckpt, item)?;
            }
            n
        }
        Value::Dict(items) => {
            let mut n = 0;
            for (_, item) in items {
                n += read_tensors(ckpt, item)?;
            }
            n
        }
        Value::Reduce { args, state, .. } => {
            read_tensors(ckpt, args)? + state.as_ref().map_or(Ok(0), |s| read_tensors(ckpt, s))?
        }
        _ => 0,
    })
}

/// Opens a checkpoint and reads every tensor in it.
fn read_everything(path: &std::path::Path) -> Result<usize, String> {
    let ckpt = TorchArchive::open(path)?;
    read_tensors(&ckpt, ckpt.root())
}

/// (name, first data byte, size) of every entry of the zip at `path`.
fn entry_spans(path: &std::path::Path) -> Vec<(String, usize, usize)> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..zip.len())
        .map(|i| {
            let e = zip.by_index_raw(i).unwrap();
            (
                e.name().unwrap().to_string(),
                e.data_start().unwrap() as usize,
                e.compressed_size() as usize,
            )
        })
        .collect()
}

/// A checkpoint with damaged bytes names the entry they are in and, for its pickle, the
/// byte where reading stopped (before, 146 of 150 such copies were "neither a nequip
/// checkpoint nor a package").
#[test]
fn damaged_checkpoints_name_the_entry_and_byte() {
    let dir = std::env::temp_dir().join(format!("allegro-damaged-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let original = std::fs::read(checkpoint()).unwrap();
    // 106 tensors (some share one of the 103 storages).
    assert_eq!(read_everything(&checkpoint()).unwrap(), 106);
    let spans = entry_spans(&checkpoint());
    let (_, pkl_start, pkl_size) = spans
        .iter()
        .find(|(n, ..)| n == "archive/data.pkl")
        .cloned()
        .unwrap();
    let path = dir.join("damaged.ckpt");
    // Inside the pickle: 60 bytes spread over it, each changed.
    let mut located = 0;
    for k in 0..60 {
        let at = pkl_start + k * pkl_size / 60 + k % 7;
        let mut bytes = original.clone();
        bytes[at] ^= 0x5a;
        std::fs::write(&path, &bytes).unwrap();
        let e = read_everything(&path).unwrap_err();
        assert!(
            e.contains("damaged.ckpt") && e.contains("`archive/data.pkl`") && e.contains("bytes"),
            "byte {at}: {e}"
        );
        // Where the pickle stops reading: the byte, in the entry and in the file.
        if let Some(rest) = e.split(", byte ").nth(1) {
            let in_entry: usize = rest.split(' ').next().unwrap().parse().unwrap();
            let in_file = format!("(byte {} of the file, opcode", pkl_start + in_entry);
            assert!(e.contains(&in_file), "{e}");
            assert!(in_entry < pkl_size, "{e}");
            located += 1;
        }
    }
    assert!(
        located >= 20,
        "{located} of 60 damaged pickles located to a byte"
    );
    // Anywhere in the file: damage inside an entry that is read names that entry.
    let mut rng = allegro_data::SplitMix64::new(150);
    let mut named = 0;
    for _ in 0..150 {
        let at = rng.next_u64() as usize % original.len();
        let mut bytes = original.clone();
        bytes[at] ^= 1 << (rng.next_u64() % 8);
        std::fs::write(&path, &bytes).unwrap();
        let outcome = read_everything(&path);
        let inside = spans.iter().find(|(n, start, size)| {
            (*start..start + size).contains(&at)
                && (n == "archive/data.pkl" || n == "archive/byteorder" || n.contains("/data/"))
        });
        match (inside, outcome) {
            (Some((name, ..)), Err(e)) => {
                assert!(e.contains(&format!("`{name}`")), "byte {at} in {name}: {e}");
                named += 1;
            }
            (Some((name, ..)), Ok(_)) => panic!("byte {at} in {name} went unnoticed"),
            (None, Err(e)) => assert!(e.contains("damaged.ckpt"), "byte {at}: {e}"),
            (None, Ok(_)) => {}
        }
    }
    assert!(named >= 100, "{named} of 150");
    std::fs::remove_dir_all(&dir).unwrap();
}
