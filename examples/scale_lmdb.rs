//! Writes a large nequip LMDB dataset for streaming and scale measurements: `--copies N`
//! copies of every frame of an extxyz file, each copy's positions displaced by Gaussian
//! noise of `--jitter` Å (default 0.01) and its energy corrected to first order,
//! E' = E − Σᵢ Fᵢ·δᵢ (forces kept), so labels stay consistent with the positions to
//! O(δ²). Frames are written as float64 and streamed (nothing but one transaction's
//! frames is held in memory).
//!
//! `cargo run --release --example scale_lmdb -- IN.xyz OUT.lmdb --copies N
//!  [--jitter A] [--seed S] [--xyz OUT.xyz]`
//!
//! `--xyz` also writes the same frames, in the same order, as extxyz (shortest
//! round-trip form, so reading it back gives the LMDB's float64 values): the in-memory side of a
//! streaming-against-in-memory comparison on the same data.

use std::io::Write;

use allegro::data::extxyz::{ReadOptions, WriteOptions, format_frame, read_extxyz};
use allegro::data::{SplitMix64, Structure};
use allegro::nequip::lmdb::NequipLmdbWriter;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// `frame` with positions displaced by N(0, jitter²) draws from `rng` and its energy
/// corrected to first order in the displacement.
fn jittered(frame: &Structure, jitter: f64, rng: &mut SplitMix64) -> Structure {
    let mut s = frame.clone();
    let mut energy_change = 0.0;
    for (i, p) in s.positions.iter_mut().enumerate() {
        for (k, p_k) in p.iter_mut().enumerate() {
            let d = jitter * rng.normal();
            *p_k += d;
            if let Some(f) = &frame.labels.forces {
                // E(x + δ) ≈ E(x) − F·δ.
                energy_change -= f[i][k] * d;
            }
        }
    }
    if let Some(e) = &mut s.labels.energy {
        *e += energy_change;
    }
    s
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut paths = Vec::new();
    let (mut copies, mut jitter, mut seed, mut xyz) = (1usize, 0.01f64, 0u64, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--copies" => copies = value("--copies")?.parse()?,
            "--jitter" => jitter = value("--jitter")?.parse()?,
            "--seed" => seed = value("--seed")?.parse()?,
            "--xyz" => xyz = Some(value("--xyz")?),
            _ if a.starts_with("--") => return Err(format!("unknown option {a}").into()),
            _ => paths.push(a),
        }
    }
    let [input, output] = paths.as_slice() else {
        return Err(
            "usage: scale_lmdb IN.xyz OUT.lmdb --copies N [--jitter A] [--seed S] \
                    [--xyz OUT.xyz]"
                .into(),
        );
    };
    let frames = read_extxyz(input, &ReadOptions::default())?;
    let mut writer = NequipLmdbWriter::create(output)?;
    let mut text_out = match &xyz {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => None,
    };
    let (write_options, mut text) = (WriteOptions::default(), String::new());
    let mut rng = SplitMix64::new(seed);
    for _ in 0..copies {
        for frame in &frames {
            let copy = jittered(frame, jitter, &mut rng);
            writer.push(&copy)?;
            if let Some(w) = &mut text_out {
                text.clear();
                format_frame(&mut text, &copy, &write_options)?;
                w.write_all(text.as_bytes())?;
            }
        }
    }
    if let Some(w) = &mut text_out {
        w.flush()?;
    }
    let n = writer.finish()?;
    let bytes = std::fs::metadata(output)?.len();
    println!(
        "{n} frames ({copies} copies of {input}, jitter {jitter} Å) written to {output}: \
         {:.1} MB",
        bytes as f64 / 1e6
    );
    Ok(())
}
