//! Helpers shared by the integration tests: where the shipped and shared data live.
#![allow(dead_code)]

use std::path::PathBuf;

pub use allegro_core::testing::shared_dir;

/// The repository root (parent of this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A data file: `examples/data/NAME` if the project ships it, else `../shared/data/NAME`.
pub fn data_file(name: &str) -> PathBuf {
    let shipped = repo_root().join("examples/data").join(name);
    if shipped.exists() {
        shipped
    } else {
        shared_dir().join("data").join(name)
    }
}
