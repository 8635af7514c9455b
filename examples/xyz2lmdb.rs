//! Converts an extxyz file to a nequip LMDB dataset (`NequIPLMDBDataset`'s format).
//!
//! `cargo run --release --example xyz2lmdb -- IN.xyz OUT.lmdb [--float32]`
//!
//! Frames are streamed: one transaction's worth (1000 frames) is held in memory at a
//! time. Positions, cell and labels are written as float64 (nequip's data dtype), or
//! float32 with `--float32` (what `from_ase` gives under torch's default dtype). OUT
//! appears only once complete. Prints the number of frames written.

use allegro::data::extxyz::{ReadOptions, open_extxyz};
use allegro::nequip::lmdb::{FloatDtype, LmdbWriteOptions, NequipLmdbWriter};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut paths = Vec::new();
    let mut options = LmdbWriteOptions::default();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--float32" => options.float_dtype = FloatDtype::F32,
            _ if a.starts_with("--") => return Err(format!("unknown option {a}").into()),
            _ => paths.push(a),
        }
    }
    let [input, output] = paths.as_slice() else {
        return Err("usage: xyz2lmdb IN.xyz OUT.lmdb [--float32]".into());
    };
    let frames = open_extxyz(input, &ReadOptions::default())?;
    let mut writer = NequipLmdbWriter::with_options(output, options)?;
    for frame in frames {
        writer.push(&frame?)?;
    }
    let n = writer.finish()?;
    println!("{n} frames from {input} written to {output}");
    Ok(())
}
