//! GPU timing of the seed architecture (float32, energy + forces) on the shared water
//! boxes, and of its l_max = 3 variant at 23,559 atoms: median time, atom-steps/s and
//! peak GPU memory, with the ratio to the reference measured in the same lease.
//!
//! ```text
//! cargo build --release --features cuda --example bench_gpu
//! bench_gpu [--reference ref.jsonl] [--reps N] [--lmax L] [--max-edges M] FILE.xyz ...
//! ```
//! `--max-edges M` evaluates in passes of at most M edges (grouped by center atom), which
//! bounds memory (`Predictor::with_max_edges_per_pass`).
//! `ref.jsonl` is what `shared/reference/device-ref.sh` prints (one JSON line per size).

use std::time::Instant;

use allegro::core::backend::gpu::{Gpu, GpuDevice, GpuRuntime};
use allegro::data::{AtomicGraph, NeighborOptions, TypeMapper, extxyz};
use allegro::nn::{AllegroConfig, AllegroModel, Predictor};

#[cfg(feature = "cuda")]
type Runtime = allegro::core::backend::gpu::CudaRuntime;
#[cfg(all(feature = "hip", not(feature = "cuda")))]
type Runtime = allegro::core::backend::gpu::HipRuntime;
#[cfg(all(feature = "vulkan", not(any(feature = "cuda", feature = "hip"))))]
type Runtime = allegro::core::backend::gpu::WgpuRuntime;

/// The model block of `shared/reference/nequip-xtb.yaml`, for water (l_max set per run).
const SEED_MODEL: &str = include_str!("configs/seed-water.json");

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// `natoms → median seconds` of the reference's JSON lines (lmax-2 lines only).
fn reference_times(path: &str) -> Vec<(usize, f64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| Some((v["natoms"].as_u64()? as usize, v["median_s"].as_f64()?)))
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut files, mut reference, mut reps, mut l_max, mut max_edges) =
        (Vec::new(), None, 10, 2usize, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--reference" => reference = args.next(),
            "--reps" => reps = args.next().ok_or("--reps N")?.parse()?,
            "--lmax" => l_max = args.next().ok_or("--lmax L")?.parse()?,
            "--max-edges" => max_edges = Some(args.next().ok_or("--max-edges M")?.parse()?),
            _ => files.push(a),
        }
    }
    let refs = reference
        .as_deref()
        .map(reference_times)
        .unwrap_or_default();
    let device = GpuDevice::<Runtime>::try_default()?;
    println!("backend: {}", <Runtime as GpuRuntime>::NAME);
    println!(
        "{:<18} {:>5} {:>7} {:>9} {:>10} {:>11} {:>13} {:>9} {:>8} {:>12}",
        "file",
        "l_max",
        "atoms",
        "edges",
        "edges/pass",
        "median (ms)",
        "atom-steps/s",
        "peak GiB",
        "ref/ours",
        "E/atom (eV)"
    );
    for file in files {
        let mut json: serde_json::Value = serde_json::from_str(SEED_MODEL)?;
        json["l_max"] = l_max.into();
        let config = AllegroConfig::from_json(&json.to_string())?;
        let model = AllegroModel::new(&config)?;
        let params = model.init_parameters::<Gpu<Runtime>>(&device);
        let mut predictor = Predictor::new(model, &params, device.clone());
        if let Some(m) = max_edges {
            predictor = predictor.with_max_edges_per_pass(m);
        }
        let mapper = TypeMapper::new(&config.type_names)?;
        let frames = extxyz::read_extxyz(&file, &extxyz::ReadOptions::default())?;
        let graph =
            AtomicGraph::from_structure(&frames[0], &mapper, &NeighborOptions::new(config.r_max))?;
        device.release_unused_memory();
        // Warm-up: kernel compilation and pool growth.
        for _ in 0..2 {
            predictor.predict(&graph)?;
        }
        let mut times = Vec::new();
        let mut energies = Vec::new();
        for _ in 0..reps {
            let t = Instant::now();
            // predict reads energies and forces back to the host, so this waits for
            // the GPU.
            let p = predictor.predict(&graph)?;
            times.push(t.elapsed().as_secs_f64());
            if p.forces.iter().flatten().any(|f| !f.is_finite()) {
                return Err(format!("{file}: non-finite forces").into());
            }
            energies.push(p.total_energy[0]);
        }
        // Every repetition must give the same energy (a failed allocation inside the
        // runtime would not).
        if energies.iter().any(|&e| e != energies[0]) {
            return Err(
                format!("{file}: energies differ between repetitions: {energies:?}").into(),
            );
        }
        let t = median(times);
        let peak = device
            .memory_usage()
            .map(|(_, r)| r as f64 / (1u64 << 30) as f64);
        let ratio = refs
            .iter()
            .find(|(n, _)| *n == graph.n_atoms() && l_max == 2)
            .map(|(_, r)| format!("{:.2}", r / t))
            .unwrap_or_else(|| "-".into());
        let name = std::path::Path::new(&file)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let per_pass = max_edges.map_or("all".to_string(), |m| m.to_string());
        println!(
            "{name:<18} {l_max:>5} {:>7} {:>9} {per_pass:>10} {:>11.2} {:>13.0} {:>9.2} {:>8} {:>12.6}",
            graph.n_atoms(),
            graph.n_edges(),
            t * 1e3,
            graph.n_atoms() as f64 / t,
            peak.unwrap_or(f64::NAN),
            ratio,
            energies[0] / graph.n_atoms() as f64
        );
    }
    Ok(())
}
