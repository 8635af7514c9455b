//! Helpers shared by the integration tests: where the shipped and shared data live.
#![allow(dead_code)]

use std::path::PathBuf;

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

/// The shared folder (fixtures, data, reference): `$ALLEGRO_SHARED_DIR`, else `shared`
/// beside the repository (`../shared`). Panics, saying how to set it, when it is missing.
pub fn shared_dir() -> PathBuf {
    let dir = match std::env::var_os("ALLEGRO_SHARED_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    };
    assert!(
        dir.is_dir(),
        "the shared folder {} is missing: put it beside the repository (../shared) or set \
         ALLEGRO_SHARED_DIR",
        dir.display()
    );
    dir
}
