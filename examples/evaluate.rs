//! Metrics of a saved model on an extxyz file or a nequip LMDB dataset.
//!
//! `cargo run --release --example evaluate -- MODEL.allegro DATA.xyz`
//! `cargo run --release --example evaluate -- MODEL.allegro DATA.lmdb`
//!
//! `cargo run --release --features cuda --example evaluate -- MODEL DATA --device cuda [--tf32]`
//!
//! `--parity FILE.svg` also draws the predictions against the labels (force components
//! and energies per atom, each panel with its RMSE).
//!
//! Prints one JSON line as its last output: frames, force RMSE/MAE, per-atom energy
//! RMSE/MAE and, when the labels have stress, stress RMSE. `--device cuda` (a build with
//! `--features cuda`) evaluates on the GPU; `--tf32` lets its products round operands to
//! TF32 (nequip's `allow_tf32`), else they are exact float32 (`ALLEGRO_GPU_MATMUL=vendor`,
//! the default, `simt` or `tf32x3` picks how).

use allegro::core::Backend;
use allegro::core::backend::cpu::{Cpu, CpuDevice};
use allegro::data::extxyz::ReadOptions;
use allegro::nequip::read_structures;
use allegro::nn::model_file::ModelFile;
use allegro::nn::{EnergyModel, Predictor};
use allegro::train::run::{ParityPanel, parity_svg};

type Error = Box<dyn std::error::Error>;

#[derive(Default)]
struct Errors {
    sum_sq: f64,
    sum_abs: f64,
    n: usize,
    /// `(label, prediction)` pairs, for the parity plot.
    pairs: Vec<(f64, f64)>,
}

impl Errors {
    fn add(&mut self, label: f64, prediction: f64) {
        let d = prediction - label;
        self.sum_sq += d * d;
        self.sum_abs += d.abs();
        self.n += 1;
        self.pairs.push((label, prediction));
    }
    fn rmse(&self) -> Option<f64> {
        (self.n > 0).then(|| (self.sum_sq / self.n as f64).sqrt())
    }
    fn mae(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum_abs / self.n as f64)
    }
}

fn json(v: Option<f64>) -> String {
    v.map_or("null".to_string(), |x| format!("{x}"))
}

#[cfg_attr(not(feature = "cuda"), allow(unused_variables))]
fn run(
    model_path: &str,
    data_path: &str,
    device: &str,
    tf32: bool,
    parity: Option<&str>,
) -> Result<String, Error> {
    let file = ModelFile::load(model_path)?;
    match device {
        "cpu" => metrics(file.into_predictor::<Cpu>(CpuDevice)?, data_path, parity),
        #[cfg(feature = "cuda")]
        "cuda" => {
            use allegro::core::backend::MatmulPrecision;
            use allegro::core::backend::gpu::{CudaRuntime, Gpu, GpuDevice};
            let dev = GpuDevice::<CudaRuntime>::try_default()?;
            let precision = if tf32 {
                MatmulPrecision::Tf32
            } else {
                MatmulPrecision::Exact
            };
            let predictor = file.into_predictor::<Gpu<CudaRuntime>>(dev)?;
            metrics(
                predictor.with_matmul_precision(precision),
                data_path,
                parity,
            )
        }
        other => Err(format!(
            "--device {other}: this build has cpu{} (cuda needs --features cuda)",
            if cfg!(feature = "cuda") {
                " and cuda"
            } else {
                ""
            }
        )
        .into()),
    }
}

fn metrics<B: Backend>(
    predictor: Predictor<B>,
    data_path: &str,
    parity: Option<&str>,
) -> Result<String, Error> {
    // extxyz, or nequip's LMDB (`*.lmdb`, or a directory holding data.mdb).
    let frames = read_structures(data_path, &ReadOptions::default())?;
    let (mut forces, mut energy, mut stress) =
        (Errors::default(), Errors::default(), Errors::default());
    for s in &frames {
        let p = predictor.predict_structure(s)?;
        if let Some(f) = &s.labels.forces {
            for (a, b) in f.iter().zip(&p.forces) {
                (0..3).for_each(|d| forces.add(a[d], b[d]));
            }
        }
        if let Some(e) = s.labels.energy {
            let n = s.n_atoms() as f64;
            energy.add(e / n, p.total_energy[0] / n);
        }
        if let (Some(label), Some(Some(pred))) = (&s.labels.stress, p.stress.first()) {
            for a in 0..3 {
                for b in 0..3 {
                    stress.add(label[a][b], pred[a][b]);
                }
            }
        }
    }
    let mut line = format!(
        "{{\"frames\": {}, \"forces_rmse\": {}, \"forces_mae\": {}, \"per_atom_energy_rmse\": {}, \"per_atom_energy_mae\": {}",
        frames.len(),
        json(forces.rmse()),
        json(forces.mae()),
        json(energy.rmse()),
        json(energy.mae())
    );
    if stress.n > 0 {
        line += &format!(", \"stress_rmse\": {}", json(stress.rmse()));
    }
    if let Some(path) = parity {
        let panel = |quantity: &str, e: Errors| ParityPanel {
            quantity: quantity.into(),
            pairs: e.pairs,
        };
        let panels = [
            panel("force component (eV/Å)", forces),
            panel("energy per atom (eV)", energy),
            panel("stress component (eV/Å³)", stress),
        ];
        std::fs::write(path, parity_svg(&panels)?).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(line + "}")
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let tf32 = args.iter().any(|a| a == "--tf32");
    args.retain(|a| a != "--tf32");
    let mut parity = None;
    if let Some(k) = args.iter().position(|a| a == "--parity") {
        if k + 1 >= args.len() {
            eprintln!("--parity needs a file (FILE.svg)");
            std::process::exit(2);
        }
        parity = Some(args.remove(k + 1));
        args.remove(k);
    }
    let mut device = "cpu".to_string();
    if let Some(k) = args.iter().position(|a| a == "--device") {
        if k + 1 >= args.len() {
            eprintln!("--device needs a value (cpu or cuda)");
            std::process::exit(2);
        }
        device = args.remove(k + 1);
        args.remove(k);
    }
    if args.len() != 2 {
        eprintln!(
            "usage: evaluate MODEL.allegro DATA.xyz|DATA.lmdb [--device cpu|cuda] [--tf32] \
             [--parity FILE.svg]"
        );
        std::process::exit(2);
    }
    if tf32 && device == "cpu" {
        eprintln!("note: --tf32 has no effect on the CPU");
    }
    match run(&args[0], &args[1], &device, tf32, parity.as_deref()) {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
