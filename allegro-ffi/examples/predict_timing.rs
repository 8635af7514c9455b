//! The Rust predictor's own time per energy + forces + virial evaluation, the baseline
//! for the LAMMPS plugin's overhead (`docs/perf.md`, "LAMMPS plugin"):
//!
//! `cargo run -p allegro-ffi --release --example predict_timing -- MODEL.allegro X.xyz [REPS]`
//!
//! Prints the median over REPS (default 10) of the whole `Predictor::predict` (neighbor
//! search included) and of the model alone on prepared inputs.

use std::time::Instant;

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::extxyz::{ReadOptions, open_extxyz};
use allegro_data::{AtomicGraph, NeighborOptions, TypeMapper};
use allegro_nn::ModelFile;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        return Err("usage: predict_timing MODEL.allegro STRUCTURE.xyz [REPS]".into());
    }
    let reps: usize = args.get(2).map_or(Ok(10), |r| r.parse())?;
    let predictor = ModelFile::load(&args[0])?.into_predictor::<Cpu>(CpuDevice)?;
    let config = predictor.model().config().clone();
    let frame = open_extxyz(&args[1], &ReadOptions::default())?
        .next()
        .ok_or("no frame")??;
    let mapper = TypeMapper::new(&config.type_names)?;
    let options = NeighborOptions::new(config.r_max);

    let (mut whole, mut model_only) = (Vec::new(), Vec::new());
    let mut edges = 0;
    for _ in 0..reps + 1 {
        let t = Instant::now();
        let graph = AtomicGraph::from_structure(&frame, &mapper, &options)?;
        std::hint::black_box(predictor.predict(&graph)?);
        whole.push(t.elapsed().as_secs_f64());
        let inputs = predictor.inputs(&graph)?;
        let t = Instant::now();
        let out = predictor
            .model()
            .outputs(predictor.parameters(), &inputs, false);
        std::hint::black_box(out.forces.to_vec_f64());
        model_only.push(t.elapsed().as_secs_f64());
        edges = graph.n_edges();
    }
    // The first repetition warms caches and allocators; it is dropped.
    let (w, m) = (
        median(whole[1..].to_vec()),
        median(model_only[1..].to_vec()),
    );
    let n = frame.n_atoms();
    println!(
        "{} atoms, {edges} edges, {} ({}), r_max {}: predict {:.2} ms ({:.0} atom-steps/s), \
         model only {:.2} ms ({:.0} atom-steps/s), median of {reps}",
        n,
        config.model_dtype,
        config.type_names.join(" "),
        config.r_max,
        w * 1e3,
        n as f64 / w,
        m * 1e3,
        n as f64 / m
    );
    Ok(())
}
