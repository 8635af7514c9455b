//! Fuzzes the LMDB file reader: the bytes are written to a file and read as a nequip
//! LMDB dataset, every frame. A truncated or damaged file must be an error naming it —
//! never a signal (LMDB's own memory-mapped reader faulted on pages past the end).
#![no_main]

use std::path::PathBuf;

use allegro_nequip::NequipLmdb;
use libfuzzer_sys::fuzz_target;

fn scratch() -> PathBuf {
    let dir = std::env::var_os("FUZZ_SCRATCH").map_or_else(std::env::temp_dir, PathBuf::from);
    dir.join(format!("fuzz-{}.lmdb", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(&path, data).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    match NequipLmdb::open(&path) {
        Ok(lmdb) => {
            for i in 0..lmdb.len().min(64) {
                if let Err(e) = lmdb.structure(i) {
                    assert!(e.to_string().contains(&name), "{e}");
                }
            }
        }
        Err(e) => assert!(e.to_string().contains(&name), "{e}"),
    }
});
