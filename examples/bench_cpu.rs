//! CPU timing of the seed architecture (l_max 2, parity, 2 layers, 64/64 features,
//! MLP 2×256, ZBL; float32) on the shared water boxes: energy + forces, and one
//! training gradient (E + F loss, create_graph), next to the reference's CPU times.
//!
//! `cargo run --release --example bench_cpu -- [--tape] [--ef-only] [testdata/data/water-192.xyz ...]`
//!
//! `--tape` times energy + forces through the generic tape (the oracle) instead of the
//! no-tape path `Predictor` runs; `--ef-only` skips the training step. Besides the table, one JSON line per file (for logs
//! next to `shared/reference/cpu-ref.sh`'s lines; a ratio to the reference is only
//! made from the two measured in the same command on the same cores). With
//! `ALLEGRO_PROFILE` set, the no-tape path's time per stage follows.

use std::time::Instant;

use allegro::core::backend::cpu::{Cpu, CpuDevice};
use allegro::core::grad;
use allegro::data::{AtomicGraph, NeighborOptions, TypeMapper, extxyz};
use allegro::nn::{AllegroConfig, AllegroModel, Predictor};

/// The model block of `shared/reference/nequip-xtb.yaml`, for water.
const SEED_MODEL: &str = include_str!("configs/seed-water.json");

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The process's peak resident memory so far (`VmHWM` of `/proc/self/status`; 0 where
/// there is none).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // As the `train` command and the C ABI do (timings comparable with theirs).
    allegro::core::backend::cpu::keep_freed_buffers();
    let mut files: Vec<String> = std::env::args().skip(1).collect();
    let tape = files.iter().any(|a| a == "--tape");
    let ef_only = files.iter().any(|a| a == "--ef-only");
    files.retain(|a| a != "--tape" && a != "--ef-only");
    if files.is_empty() {
        files.push(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/data/water-192.xyz").to_string());
    }
    let config = AllegroConfig::from_json(SEED_MODEL)?;
    let model = AllegroModel::new(&config)?;
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    let predictor = Predictor::new(model.clone(), &params, CpuDevice).with_tape(tape);
    let mapper = TypeMapper::new(&config.type_names)?;
    println!(
        "{:<28} {:>7} {:>9} {:>12} {:>14} {:>12}",
        "file", "atoms", "edges", "E+F (s)", "train step (s)", "atom-steps/s"
    );
    for file in files {
        let frames = extxyz::read_extxyz(&file, &extxyz::ReadOptions::default())?;
        let graph =
            AtomicGraph::from_structure(&frames[0], &mapper, &NeighborOptions::new(config.r_max))?;
        let inputs = predictor.inputs(&graph)?;
        let reps = if graph.n_atoms() > 1000 { 2 } else { 4 };
        let mut ef = Vec::new();
        for _ in 0..reps {
            let t = Instant::now();
            std::hint::black_box(predictor.predict(&graph)?);
            ef.push(t.elapsed().as_secs_f64());
        }
        let mut train = Vec::new();
        for _ in 0..if ef_only { 0 } else { reps.min(2) } {
            let t = Instant::now();
            let tracked = predictor.parameters().tracked();
            let out = model.outputs(&tracked, &inputs, true);
            let loss = out
                .forces
                .square()
                .mean_all()
                .add(&out.total_energy.square().sum_all());
            let names = tracked.trainable_names();
            let refs: Vec<_> = names.iter().map(|n| tracked.get(n)).collect();
            std::hint::black_box(grad(&[&loss], None, &refs, false));
            train.push(t.elapsed().as_secs_f64());
        }
        let e = median(ef.clone());
        let tr = if train.is_empty() {
            f64::NAN
        } else {
            median(train.clone())
        };
        let name = std::path::Path::new(&file)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        println!(
            "{name:<28} {:>7} {:>9} {:>12.3} {:>14.3} {:>12.0}",
            graph.n_atoms(),
            graph.n_edges(),
            e,
            tr,
            graph.n_atoms() as f64 / e
        );
        println!(
            "{{\"bench\": \"bench_cpu\", \"natoms\": {}, \"edges\": {}, \"threads\": {}, \"tape\": {tape}, \"ef_s\": {ef:?}, \"train_step_s\": {train:?}, \"peak_rss_mib\": {:.0}}}",
            graph.n_atoms(),
            graph.n_edges(),
            rayon::current_num_threads(),
            peak_rss_mib(),
        );
        if allegro::nn::energy_forces::profile::enabled() {
            print!("{}", allegro::nn::energy_forces::profile::report());
        }
    }
    Ok(())
}
