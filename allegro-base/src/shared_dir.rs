//! Where the tests' fixtures, data and reference files are, for the tests of every crate
//! of the workspace.

use std::path::PathBuf;

/// The test-data folder: `$ALLEGRO_SHARED_DIR` when set (the project's shared folder, or
/// any copy with the same layout), else `testdata/` of the repository, which holds every
/// file the test suite reads. Panics, saying how to set it, when the folder is missing.
pub fn shared_dir() -> PathBuf {
    let dir = match std::env::var_os("ALLEGRO_SHARED_DIR") {
        Some(d) => PathBuf::from(d),
        // This crate sits one level below the workspace root.
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata"),
    };
    assert!(
        dir.is_dir(),
        "the test-data folder {} is missing: it is `testdata/` of the repository, or set \
         ALLEGRO_SHARED_DIR to a folder with the same layout",
        dir.display()
    );
    dir
}
