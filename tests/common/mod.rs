//! Helpers shared by the root package's integration tests: where the shared folder is.
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared folder (fixtures, data, reference): `$ALLEGRO_SHARED_DIR`, else `shared`
/// beside the repository (`../shared`). Panics, saying how to set it, when it is missing.
pub fn shared_dir() -> PathBuf {
    let dir = match std::env::var_os("ALLEGRO_SHARED_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    };
    assert!(
        dir.is_dir(),
        "the shared folder {} is missing: put it beside the repository (../shared) or set \
         ALLEGRO_SHARED_DIR",
        dir.display()
    );
    dir
}
