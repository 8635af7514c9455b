//! Reads every frame of an extxyz file, builds its neighbor list, and prints as its last
//! line `{"frames": N, "atoms": N, "edges": N, "seconds": t}` (edges in both directions,
//! all periodic images; seconds = wall time of reading plus neighbor lists).
//!
//! `cargo run --release --example neighbors -- FILE.xyz --cutoff R [--threads T]`

use std::time::Instant;

use allegro::data::extxyz::{ReadOptions, open_extxyz};
use allegro::data::{NeighborOptions, neighbor_lists};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut file = None;
    let mut cutoff = None;
    let mut threads = 0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--cutoff" => {
                cutoff = Some(
                    args.next()
                        .ok_or("--cutoff needs a value")?
                        .parse::<f64>()?,
                )
            }
            "--threads" => threads = args.next().ok_or("--threads needs a value")?.parse()?,
            _ => file = Some(a),
        }
    }
    let usage = "usage: neighbors FILE.xyz --cutoff R [--threads T]";
    let (file, cutoff) = (file.ok_or(usage)?, cutoff.ok_or(usage)?);
    if threads > 0 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()?;
    }
    let start = Instant::now();
    let frames = open_extxyz(&file, &ReadOptions::default())?.collect::<Result<Vec<_>, _>>()?;
    let read = start.elapsed().as_secs_f64();
    let lists = neighbor_lists(&frames, None, &NeighborOptions::new(cutoff))?;
    let seconds = start.elapsed().as_secs_f64();
    let atoms: usize = frames.iter().map(|s| s.n_atoms()).sum();
    let edges: usize = lists.iter().map(|l| l.len()).sum();
    eprintln!(
        "read {read:.3} s, neighbor lists {:.3} s ({} threads)",
        seconds - read,
        rayon::current_num_threads()
    );
    println!(
        "{{\"frames\": {}, \"atoms\": {atoms}, \"edges\": {edges}, \"seconds\": {seconds:.4}}}",
        frames.len()
    );
    Ok(())
}
