//! Where the project's shared folder (fixtures, data, reference) is, for the tests of
//! every crate of the workspace.

use std::path::PathBuf;

/// The shared folder: `$ALLEGRO_SHARED_DIR`, else `shared` beside the repository
/// (`../shared` of the workspace root). Panics, saying how to set it, when it is missing.
pub fn shared_dir() -> PathBuf {
    let dir = match std::env::var_os("ALLEGRO_SHARED_DIR") {
        Some(d) => PathBuf::from(d),
        // This crate sits one level below the workspace root.
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
