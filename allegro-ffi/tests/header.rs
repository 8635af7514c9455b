//! `include/allegro.h` is what cbindgen generates from this crate: the checked-in header
//! cannot drift from the ABI. Rewrite it with
//! `ALLEGRO_BLESS_HEADER=1 cargo test -p allegro-ffi --release --test header`.

use std::path::PathBuf;

#[test]
fn checked_in_header_is_up_to_date() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    // Parsing the sources directly (not `with_crate`) avoids running `cargo metadata`
    // inside the test: cheap, and no lock on the build directory.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen parses allegro-ffi");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).unwrap();
    let path = crate_dir.join("../include/allegro.h");
    if std::env::var_os("ALLEGRO_BLESS_HEADER").is_some() {
        std::fs::write(&path, &generated).unwrap();
        println!("wrote {}", path.display());
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        let line = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or(
                checked_in.lines().count().min(generated.lines().count()),
                |l| l,
            );
        panic!(
            "include/allegro.h is not up to date (first difference at line {}); run \
             ALLEGRO_BLESS_HEADER=1 cargo test -p allegro-ffi --release --test header",
            line + 1
        );
    }
}
