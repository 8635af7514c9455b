//! A trained model to one portable `.allegro` file — the step `nequip-compile` does.
//!
//! ```text
//! cargo run --release --example compile -- --input-path X --output-path model.allegro
//! ```
//!
//! X is our training checkpoint (`runs/NAME/best.ckpt` or `last.ckpt`), a nequip
//! checkpoint (`.ckpt` from nequip-train) or a nequip package (`.nequip.zip`), read in Rust
//! (no Python). nequip-compile's `--mode`, `--device` and `--target` are accepted and
//! ignored: one `.allegro` file runs on every device and in every program (`evaluate`,
//! the C ABI, LAMMPS). The file is written atomically, then read back and checked.

use std::path::PathBuf;
use std::process::ExitCode;

use allegro::nequip::compile;
use allegro::nn::ModelFile;

const USAGE: &str = "usage: compile --input-path CHECKPOINT_OR_PACKAGE --output-path MODEL.allegro";

fn run() -> Result<(), String> {
    let (mut input, mut output) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--input-path" => input = Some(PathBuf::from(value()?)),
            "--output-path" => output = Some(PathBuf::from(value()?)),
            "--mode" | "--device" | "--target" => {
                let v = value()?;
                eprintln!(
                    "note: {flag} {v} ignored: an .allegro file runs on every device and target"
                );
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let input = input.ok_or_else(|| format!("--input-path is missing\n{USAGE}"))?;
    let output = output.ok_or_else(|| format!("--output-path is missing\n{USAGE}"))?;
    let compiled = compile(&input).map_err(|e| e.to_string())?;
    compiled.file.save(&output).map_err(|e| e.to_string())?;
    // Read back: what was written loads and holds the same weights.
    let back = ModelFile::load(&output).map_err(|e| e.to_string())?;
    if back.tensors != compiled.file.tensors {
        return Err(format!(
            "{}: tensors read back differently",
            output.display()
        ));
    }
    if back.config != compiled.file.config {
        return Err(format!(
            "{}: the config did not read back as written",
            output.display()
        ));
    }
    for note in &compiled.notes {
        eprintln!("note: {note}");
    }
    let config = &back.config;
    println!(
        "{} ({}) → {}: {} types, r_max {}, l_max {}, {} layers, {}, {} weights",
        input.display(),
        compiled.source.name(),
        output.display(),
        config.type_names.len(),
        config.r_max,
        config.l_max,
        config.num_layers,
        back.model_dtype.name(),
        back.tensors.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
