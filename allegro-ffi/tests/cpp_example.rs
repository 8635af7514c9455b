//! `examples/cpp/predict.cpp`, compiled with the system C++ compiler against
//! `include/allegro.h` and the cdylib, gives the Rust predictor's energy and forces on
//! the shared 192-atom water box.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{first_frame, lib_dir, rel_diff, report, rust_prediction, scratch, shared_data};

#[test]
fn cpp_example_forces_equal_rust_api() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let lib = lib_dir();
    let exe = scratch("cpp").join(format!("predict-{}", std::process::id()));
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "g++".into());
    let status = Command::new(&cxx)
        .args(["-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror"])
        .arg(repo.join("examples/cpp/predict.cpp"))
        .arg(format!("-I{}", repo.join("include").display()))
        .arg(format!("-L{}", lib.display()))
        .arg("-lallegro_ffi")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(&exe)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C++ compiler `{cxx}` (set CXX): {e}"));
    assert!(status.success(), "compiling predict.cpp failed");

    let model = common::small_model_file();
    let xyz = shared_data("water-192.xyz");
    // cargo test puts target/release before the rpath on LD_LIBRARY_PATH, where an older
    // liballegro_ffi.so from a plain `cargo build` may sit: name the one just built.
    let out = Command::new(&exe)
        .arg(model)
        .arg(&xyz)
        .env("LD_LIBRARY_PATH", &lib)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "predict failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (mut energy, mut forces, mut virial) = (f64::NAN, Vec::new(), Vec::new());
    for line in stdout.lines() {
        let mut words = line.split_whitespace();
        let key = words.next().unwrap_or("");
        let numbers = words.map(|w| w.parse::<f64>().unwrap());
        match key {
            "energy" => energy = numbers.sum(),
            "force" => forces.extend(numbers),
            "virial" => virial.extend(numbers),
            _ => {}
        }
    }
    let expected = rust_prediction(model, &first_frame(&xyz));
    let f_ref: Vec<f64> = expected.forces.iter().flatten().copied().collect();
    let v_ref: Vec<f64> = expected.virial[0].iter().flatten().copied().collect();
    let (de, df, dv) = (
        ((energy - expected.total_energy[0]) / expected.total_energy[0]).abs(),
        rel_diff(&forces, &f_ref),
        rel_diff(&virial, &v_ref),
    );
    report(&format!(
        "C++ example vs Rust predictor: rel. diff E {de:.1e}, F {df:.1e}, virial {dv:.1e}"
    ));
    // The same Rust code runs behind both; only printing and parsing (%.17g, exact)
    // stand between them.
    assert_eq!(de, 0.0);
    assert_eq!(df, 0.0);
    assert_eq!(dv, 0.0);
}
