//! Fuzzes the reader of allegro-rs training checkpoints: any bytes give a checkpoint or
//! an error naming the origin, never a panic. Each input is read as it is and again with
//! its payload length and FNV-1a checksum made consistent, so that mutations reach the
//! payload's decoder instead of stopping at the checksum. A checkpoint that decodes is
//! then compiled to a model (`allegro_nequip::compile`: its config built, its weights
//! and EMA checked against the model), as `compile` and resuming do.
#![no_main]

use std::path::PathBuf;

use allegro_train::checkpoint::{CHECKPOINT_MAGIC, Checkpoint};
use allegro_nequip::compile;
use libfuzzer_sys::fuzz_target;

/// Header: magic, version `u32`, payload length `u64`, FNV-1a of the payload `u64`.
const HEADER: usize = 8 + 4 + 8 + 8;

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn read(bytes: &[u8]) {
    match Checkpoint::from_bytes(bytes, "fuzz.ckpt") {
        Err(e) => assert!(e.to_string().contains("fuzz.ckpt"), "{e}"),
        Ok(_) => {
            let dir =
                std::env::var_os("FUZZ_SCRATCH").map_or_else(std::env::temp_dir, PathBuf::from);
            let path = dir.join(format!("fuzz-{}.ckpt", std::process::id()));
            std::fs::write(&path, bytes).unwrap();
            let _ = compile(&path);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    read(data);
    if data.len() >= HEADER && data[..8] == *CHECKPOINT_MAGIC {
        let mut fixed = data.to_vec();
        let payload = &data[HEADER..];
        fixed[12..20].copy_from_slice(&(payload.len() as u64).to_le_bytes());
        fixed[20..28].copy_from_slice(&fnv1a(payload).to_le_bytes());
        read(&fixed);
    }
});
