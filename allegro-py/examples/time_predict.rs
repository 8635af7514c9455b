//! The Rust side of the Python overhead benchmark (`allegro-py/bench/overhead.sh`): the
//! time of [`EnergyModel::predict_structure`] (neighbor list + model pass) on the first
//! frame of a file, with no Python involved.
//!
//! `cargo run --release -p allegro-py --example time_predict -- MODEL DATA.xyz [REPEATS]`
//!
//! Prints one JSON line: atoms, repeats, median and mean time per call (ms).

use std::time::Instant;

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::extxyz::ReadOptions;
use allegro_data::read_structures;
use allegro_nn::{EnergyModel, ModelFile};

type Error = Box<dyn std::error::Error>;

fn run(model: &str, data: &str, repeats: usize) -> Result<String, Error> {
    let predictor = ModelFile::load(model)?.into_predictor::<Cpu>(CpuDevice)?;
    let frames = read_structures(data, &ReadOptions::default())?;
    let s = frames.first().ok_or("no frame in the data file")?;
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
        "{{\"atoms\": {}, \"repeats\": {repeats}, \"median_ms\": {:.4}, \"mean_ms\": {mean:.4}}}",
        s.n_atoms(),
        times[repeats / 2]
    ))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !(2..=3).contains(&args.len()) {
        eprintln!("usage: time_predict MODEL DATA.xyz [REPEATS]");
        std::process::exit(2);
    }
    let repeats = match args.get(2).map(|r| r.parse::<usize>()) {
        None => 200,
        Some(Ok(r)) if r > 0 => r,
        Some(_) => {
            eprintln!("REPEATS must be a positive integer");
            std::process::exit(2);
        }
    };
    match run(&args[0], &args[1], repeats) {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
