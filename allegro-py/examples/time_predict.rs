//! The Rust side of the Python overhead benchmark (`allegro-py/bench/overhead.sh`): the
//! time of [`EnergyModel::predict_structure`] (neighbor list + model pass) on the first
//! frame of a file (or its first ATOMS atoms), with no Python involved.
//!
//! `cargo run --release -p allegro-py --example time_predict -- MODEL DATA.xyz [REPEATS [ATOMS]]`
//!
//! Prints one JSON line: atoms, repeats, the fastest, median and mean time per call (ms).
//! The fastest is the one to compare across processes on a shared machine: other load
//! only ever adds time.

use std::time::Instant;

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::extxyz::{ReadOptions, read_extxyz};
use allegro_nn::{EnergyModel, ModelFile};

type Error = Box<dyn std::error::Error>;

fn run(model: &str, data: &str, repeats: usize, atoms: Option<usize>) -> Result<String, Error> {
    let predictor = ModelFile::load(model)?.into_predictor::<Cpu>(CpuDevice)?;
    let frames = read_extxyz(data, &ReadOptions::default())?;
    let mut s = frames
        .into_iter()
        .next()
        .ok_or("no frame in the data file")?;
    if let Some(n) = atoms.filter(|&n| n < s.n_atoms()) {
        s.species.truncate(n);
        s.positions.truncate(n);
        s.labels = Default::default();
    }
    let s = &s;
    // Warm-up: first-call allocations and the prepared weights.
    for _ in 0..3 {
        predictor.predict_structure(s)?;
    }
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let t = Instant::now();
        std::hint::black_box(predictor.predict_structure(s)?);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mean = times.iter().sum::<f64>() / repeats as f64;
    times.sort_by(f64::total_cmp);
    Ok(format!(
        "{{\"rust_predict_structure\": {{\"atoms\": {}, \"repeats\": {repeats}, \"min_ms\": {:.3}, \
         \"median_ms\": {:.3}, \"mean_ms\": {mean:.3}}}}}",
        s.n_atoms(),
        times[0],
        times[repeats / 2]
    ))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !(2..=4).contains(&args.len()) {
        eprintln!("usage: time_predict MODEL DATA.xyz [REPEATS [ATOMS]]");
        std::process::exit(2);
    }
    let positive = |k: usize, name: &str| match args.get(k).map(|r| r.parse::<usize>()) {
        None => None,
        Some(Ok(r)) if r > 0 => Some(r),
        Some(_) => {
            eprintln!("{name} must be a positive integer");
            std::process::exit(2);
        }
    };
    let repeats = positive(2, "REPEATS").unwrap_or(200);
    let atoms = positive(3, "ATOMS");
    match run(&args[0], &args[1], repeats, atoms) {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
