//! Fuzzes the torch zip archive reader (`torch.save` checkpoints, `torch.package`
//! archives such as `.nequip.zip`): the bytes are written to a file and opened both ways;
//! every tensor the pickle holds is read from its storage entry. Errors are fine; a
//! panic, an abort, a hang or an allocation the file cannot back are findings.
#![no_main]

use std::path::PathBuf;

use allegro_nequip::pickle::Value;
use allegro_nequip::pickle::torch_archive::{TorchArchive, archive_kind};
use libfuzzer_sys::fuzz_target;

fn read_tensors(archive: &TorchArchive, v: &Value, depth: usize) {
    if depth > 300 {
        return;
    }
    let _ = archive.tensor(v);
    match v {
        Value::Tuple(items) | Value::List(items) => items
            .iter()
            .for_each(|i| read_tensors(archive, i, depth + 1)),
        Value::Dict(items) => items
            .iter()
            .for_each(|(_, i)| read_tensors(archive, i, depth + 1)),
        Value::Reduce { args, state, .. } => {
            read_tensors(archive, args, depth + 1);
            if let Some(s) = state {
                read_tensors(archive, s, depth + 1);
            }
        }
        _ => {}
    }
}

/// A file of this process's own (libFuzzer runs one input at a time per process).
fn scratch() -> PathBuf {
    let dir = std::env::var_os("FUZZ_SCRATCH").map_or_else(std::env::temp_dir, PathBuf::from);
    dir.join(format!("fuzz-torch-archive-{}.zip", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(&path, data).unwrap();
    let _ = archive_kind(&path);
    if let Ok(archive) = TorchArchive::open(&path) {
        read_tensors(&archive, archive.root(), 0);
    }
    for entry in ["model/eager_model.pkl", "model/config.yaml"] {
        if let Ok(archive) = TorchArchive::open_package(&path, entry) {
            read_tensors(&archive, archive.root(), 0);
            let _ = archive.entry("model/config.yaml");
        }
    }
});
