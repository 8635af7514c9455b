//! GPU timing of the seed architecture (float32, energy + forces) on water boxes: median
//! time, atom-steps/s and peak GPU memory, with the ratio to the reference measured in
//! the same lease.
//!
//! ```text
//! cargo build --release --features cuda --example bench_gpu
//! bench_gpu [--reference ref.jsonl] [--reps N] [--lmax L] [--max-edges M] [--tape]
//!           [--tf32] [--warmup N] [--json OUT.jsonl] [--write-boxes DIR]
//!           [--save-model OUT.allegro] [--md STEPS] (FILE.xyz | --water MOLECULES)...
//! ```
//! - `--max-edges M` evaluates in passes of at most M edges (grouped by center atom),
//!   which bounds memory (`Predictor::with_max_edges_per_pass`).
//! - `--tape` times the generic tape (the oracle) instead of the no-tape path.
//! - `--tf32` lets float32 products round to TF32 on tensor cores (nequip's
//!   `allow_tf32`); float32 products use the kernel `ALLEGRO_GPU_MATMUL` names
//!   (`vendor`, the default: cuBLAS on CUDA from 131,072 rows, our kernel below and on
//!   other runtimes; `simt`; or `tf32x3`).
//! - `--water N` builds a box of N rigid waters at liquid density with random
//!   orientations (the reference's `water_box` recipe), for sizes the shared files lack;
//!   `--write-boxes DIR` also writes each such box as extxyz.
//! - `--md STEPS` also times STEPS velocity-Verlet steps (0.1 fs, 50 K: the seeded
//!   weights give large forces) with the model's own route, where the neighbor list is
//!   found and kept on the GPU with a Verlet skin: the MD loop of issue 15, whose step
//!   should cost what one call does.
//! - `--save-model OUT.allegro` writes the model it times (the seed architecture with
//!   its seeded initial weights) as a model file, so LAMMPS can run the same model.
//!
//! `ref.jsonl` is what `shared/reference/device-ref.sh` prints (one JSON line per size).

use std::time::Instant;

use allegro::core::backend::gpu::{Gpu, GpuDevice, GpuRuntime, exact_f32_matmul};
use allegro::core::backend::{DeviceCounts, MatmulPrecision};
use allegro::core::rng::SplitMix64;
use allegro::data::{AtomicGraph, NeighborOptions, Species, Structure, TypeMapper, extxyz};
use allegro::nn::{AllegroConfig, AllegroModel, ModelFile, Predictor};

#[cfg(feature = "cuda")]
type Runtime = allegro::core::backend::gpu::CudaRuntime;
#[cfg(all(feature = "hip", not(feature = "cuda")))]
type Runtime = allegro::core::backend::gpu::HipRuntime;
#[cfg(all(feature = "vulkan", not(any(feature = "cuda", feature = "hip"))))]
type Runtime = allegro::core::backend::gpu::WgpuRuntime;

/// The model block of `shared/reference/nequip-xtb.yaml`, for water (l_max set per run).
const SEED_MODEL: &str = include_str!("configs/seed-water.json");

/// Molecules per Å³ of liquid water (0.997 g/cm³).
const WATER_DENSITY: f64 = 0.033_37;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// `natoms → median seconds` of the reference's JSON lines (lmax-2 lines only).
fn reference_times(path: &str) -> Vec<(usize, f64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["l_max"].as_u64().unwrap_or(2) == 2)
        .filter_map(|v| Some((v["natoms"].as_u64()? as usize, v["median_s"].as_f64()?)))
        .collect()
}

/// A uniformly random rotation (a random unit quaternion).
fn random_rotation(rng: &mut SplitMix64) -> [[f64; 3]; 3] {
    let (u1, u2, u3) = (rng.next_f64(), rng.next_f64(), rng.next_f64());
    let tau = std::f64::consts::TAU;
    let (a, b) = ((1.0 - u1).sqrt(), u1.sqrt());
    let (w, x, y, z) = (
        a * (tau * u2).sin(),
        a * (tau * u2).cos(),
        b * (tau * u3).sin(),
        b * (tau * u3).cos(),
    );
    [
        [
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y - z * w),
            2.0 * (x * z + y * w),
        ],
        [
            2.0 * (x * y + z * w),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z - x * w),
        ],
        [
            2.0 * (x * z - y * w),
            2.0 * (y * z + x * w),
            1.0 - 2.0 * (x * x + y * y),
        ],
    ]
}

/// `n` rigid waters (O–H 0.9572 Å, 104.52°) on a cubic grid filling a periodic cube at
/// liquid density, each randomly rotated.
fn water_box(n: usize, seed: u64) -> Structure {
    let mut rng = SplitMix64::new(seed);
    let length = (n as f64 / WATER_DENSITY).cbrt();
    let per_side = (n as f64).cbrt().ceil() as usize;
    let spacing = length / per_side as f64;
    let half = 104.52f64.to_radians() / 2.0;
    let local = [
        [0.0, 0.0, 0.0],
        [0.9572 * half.sin(), 0.9572 * half.cos(), 0.0],
        [-0.9572 * half.sin(), 0.9572 * half.cos(), 0.0],
    ];
    let (o, h) = (Species::new("O").unwrap(), Species::new("H").unwrap());
    let (mut species, mut positions) = (Vec::with_capacity(3 * n), Vec::with_capacity(3 * n));
    for k in 0..n {
        let site = [
            k % per_side,
            (k / per_side) % per_side,
            k / (per_side * per_side),
        ];
        let rot = random_rotation(&mut rng);
        for (a, p) in local.iter().enumerate() {
            species.push(if a == 0 { o } else { h });
            positions.push(std::array::from_fn(|d| {
                (site[d] as f64 + 0.5) * spacing + (0..3).map(|e| rot[d][e] * p[e]).sum::<f64>()
            }));
        }
    }
    let cell = [[length, 0.0, 0.0], [0.0, length, 0.0], [0.0, 0.0, length]];
    Structure::new(species, positions, Some(cell), [true; 3])
}

/// One benchmark case: a structure and its label.
enum Case {
    File(String),
    Water(usize),
}

/// The name and structure of a case: the first frame of a file, or a water box (also
/// written to `write_dir` when given).
fn load_case(
    case: &Case,
    write_dir: Option<&str>,
) -> Result<(String, Structure), Box<dyn std::error::Error>> {
    Ok(match case {
        Case::File(file) => {
            let frames = extxyz::read_extxyz(file, &extxyz::ReadOptions::default())?;
            let name = std::path::Path::new(file)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_string();
            (name, frames.into_iter().next().ok_or("empty file")?)
        }
        Case::Water(n) => {
            let s = water_box(*n, 17);
            if let Some(dir) = write_dir {
                let path = format!("{dir}/water-{}.xyz", 3 * n);
                extxyz::write_extxyz(&path, std::slice::from_ref(&s), &Default::default())?;
            }
            (format!("water-box-{}", 3 * n), s)
        }
    })
}

/// `--md`: `steps` velocity-Verlet steps of `structure` by the model's own route (the
/// neighbor list found and kept on the device), after two untimed ones: the median time
/// per step and what a step asks of the device.
fn md_timing(
    predictor: &Predictor<Gpu<Runtime>>,
    mapper: &TypeMapper,
    structure: &Structure,
    steps: usize,
    device: &GpuDevice<Runtime>,
) -> Result<f64, Box<dyn std::error::Error>> {
    let md = allegro::md::VelocityVerlet::new(predictor, mapper, structure, 0.1)?;
    let mut state = md.start(structure.clone(), 50.0, 1)?;
    md.step(&mut state)?;
    md.step(&mut state)?;
    let before = device.device_counts();
    let mut times = Vec::with_capacity(steps);
    for _ in 0..steps {
        let t = Instant::now();
        md.step(&mut state)?;
        times.push(t.elapsed().as_secs_f64());
    }
    let moved = device.device_counts() - before;
    let t = median(times);
    println!(
        "  md: {steps} steps of 0.1 fs, median {:.2} ms per step, T {:.0} K at the end",
        t * 1e3,
        md.temperature(&state)
    );
    print_counts(&moved, steps, structure.n_atoms());
    Ok(t)
}

/// The column names of the table.
fn print_header() {
    println!(
        "{:<18} {:>5} {:>8} {:>10} {:>10} {:>11} {:>13} {:>9} {:>8} {:>12}",
        "case",
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
}

/// What one call asked of the device, averaged over `reps` calls.
fn print_counts(moved: &DeviceCounts, reps: usize, n_atoms: usize) {
    let per_call = |v: u64| v as f64 / reps as f64;
    println!(
        "  per call: {:.0} bytes to the device in {:.1} uploads ({:.1} bytes per atom), \
         {:.0} bytes back in {:.1} downloads, {:.1} synchronisations, {:.0} kernel launches",
        per_call(moved.bytes_to_device),
        per_call(moved.uploads),
        per_call(moved.bytes_to_device) / n_atoms as f64,
        per_call(moved.bytes_to_host),
        per_call(moved.downloads),
        per_call(moved.synchronizations),
        per_call(moved.launches),
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut cases, mut reference, mut reps, mut l_max, mut max_edges) =
        (Vec::new(), None, 10, 2usize, None);
    let (mut tape, mut tf32, mut json_out, mut write_dir) = (false, false, None, None);
    let mut warmup = 2;
    let mut save_model: Option<String> = None;
    let mut md_steps = 0usize;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--reference" => reference = args.next(),
            "--reps" => reps = args.next().ok_or("--reps N")?.parse()?,
            "--lmax" => l_max = args.next().ok_or("--lmax L")?.parse()?,
            "--max-edges" => max_edges = Some(args.next().ok_or("--max-edges M")?.parse()?),
            "--tape" => tape = true,
            "--tf32" => tf32 = true,
            "--warmup" => warmup = args.next().ok_or("--warmup N")?.parse()?,
            "--json" => json_out = args.next(),
            "--write-boxes" => write_dir = args.next(),
            "--save-model" => save_model = Some(args.next().ok_or("--save-model OUT")?),
            "--md" => md_steps = args.next().ok_or("--md STEPS")?.parse()?,
            "--water" => cases.push(Case::Water(args.next().ok_or("--water N")?.parse()?)),
            _ => cases.push(Case::File(a)),
        }
    }
    let refs = reference
        .as_deref()
        .map(reference_times)
        .unwrap_or_default();
    let device = GpuDevice::<Runtime>::try_default()?;
    let path = if tape {
        "tape".to_string()
    } else if tf32 {
        "no-tape, TF32".to_string()
    } else {
        format!("no-tape, exact ({:?})", exact_f32_matmul())
    };
    println!("backend: {}; path: {path}", <Runtime as GpuRuntime>::NAME);
    print_header();
    for case in cases {
        let mut json: serde_json::Value = serde_json::from_str(SEED_MODEL)?;
        json["l_max"] = l_max.into();
        let config = AllegroConfig::from_json(&json.to_string())?;
        let model = AllegroModel::new(&config)?;
        let params = model.init_parameters::<Gpu<Runtime>>(&device);
        if let Some(out) = save_model.take() {
            ModelFile::from_model(&model, &params, Default::default())?.save(&out)?;
            println!("model file: {out}");
        }
        let mut predictor = Predictor::new(model, &params, device.clone()).with_tape(tape);
        if tf32 {
            predictor = predictor.with_matmul_precision(MatmulPrecision::Tf32);
        }
        if let Some(m) = max_edges {
            predictor = predictor.with_max_edges_per_pass(m);
        }
        let mapper = TypeMapper::new(&config.type_names)?;
        let (name, structure) = load_case(&case, write_dir.as_deref())?;
        let graph =
            AtomicGraph::from_structure(&structure, &mapper, &NeighborOptions::new(config.r_max))?;
        device.release_unused_memory();
        // Warm-up: kernel compilation and pool growth.
        for _ in 0..warmup {
            predictor.predict(&graph)?;
        }
        allegro::nn::energy_forces::profile::report();
        let mut times = Vec::new();
        let mut energies = Vec::new();
        let counts_before = device.device_counts();
        for _ in 0..reps {
            let t = Instant::now();
            // predict reads energies and forces back to the host, so this waits for
            // the GPU.
            let p = predictor.predict(&graph)?;
            times.push(t.elapsed().as_secs_f64());
            if p.forces.iter().flatten().any(|f| !f.is_finite()) {
                return Err(format!("{name}: non-finite forces").into());
            }
            energies.push(p.total_energy[0]);
        }
        // Every repetition must give the same energy (a failed allocation inside the
        // runtime would not).
        if energies.iter().any(|&e| e != energies[0]) {
            return Err(
                format!("{name}: energies differ between repetitions: {energies:?}").into(),
            );
        }
        let moved = device.device_counts() - counts_before;
        print_counts(&moved, reps, graph.n_atoms());
        let per_call = |v: u64| v as f64 / reps as f64;
        let all_ms: Vec<String> = times.iter().map(|t| format!("{:.1}", t * 1e3)).collect();
        let t = median(times);
        let peak = device
            .memory_usage()
            .map(|(_, r)| r as f64 / (1u64 << 30) as f64);
        let ratio = refs
            .iter()
            .find(|(n, _)| *n == graph.n_atoms() && l_max == 2)
            .map(|(_, r)| format!("{:.2}", r / t))
            .unwrap_or_else(|| "-".into());
        let per_pass = max_edges.map_or("all".to_string(), |m: usize| m.to_string());
        println!(
            "{name:<18} {l_max:>5} {:>8} {:>10} {per_pass:>10} {:>11.2} {:>13.0} {:>9.2} {:>8} {:>12.6}",
            graph.n_atoms(),
            graph.n_edges(),
            t * 1e3,
            graph.n_atoms() as f64 / t,
            peak.unwrap_or(f64::NAN),
            ratio,
            energies[0] / graph.n_atoms() as f64
        );
        let md_step = if md_steps > 0 {
            Some(md_timing(
                &predictor, &mapper, &structure, md_steps, &device,
            )?)
        } else {
            None
        };
        if allegro::nn::energy_forces::profile::enabled() {
            println!("calls (ms): {}", all_ms.join(" "));
            println!("stages over {reps} calls (each ends with a device sync):");
            print!("{}", allegro::nn::energy_forces::profile::report());
        }
        if let Some(out) = &json_out {
            append_line(
                out,
                &serde_json::json!({
                    "case": name, "path": path, "l_max": l_max, "natoms": graph.n_atoms(),
                    "nedges": graph.n_edges(), "max_edges_per_pass": max_edges,
                    "median_s": t, "atom_steps_per_s": graph.n_atoms() as f64 / t,
                    "peak_gib": peak, "energy_per_atom": energies[0] / graph.n_atoms() as f64,
                    "bytes_to_device_per_call": per_call(moved.bytes_to_device),
                    "uploads_per_call": per_call(moved.uploads),
                    "syncs_per_call": per_call(moved.synchronizations),
                    "launches_per_call": per_call(moved.launches),
                    "md_median_step_s": md_step,
                }),
            )?;
        }
    }
    Ok(())
}

/// Appends `line` to the JSON-lines file `out`.
fn append_line(out: &str, line: &serde_json::Value) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)?;
    writeln!(f, "{line}")
}
