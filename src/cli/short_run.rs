//! A run written in our short YAML: train, test, save the model file, and the config's
//! MD, if any, printing one line per epoch.

use std::path::Path;
use std::time::Instant;

use crate::core::backend::Backend;
use crate::core::backend::cpu::{Cpu, CpuDevice};
use crate::md::VelocityVerlet;
use crate::train::Progress;
use crate::train::run::{PreparedRun, RunConfig, train_and_test};

type Error = Box<dyn std::error::Error>;

/// Runs the short config at `path` on `device` (else the config's `device:`, else the
/// CPU). Writes `OUTPUT_DIR/RUN_NAME/`: `metrics.csv`, `learning_curve.svg`,
/// `best.ckpt`, `last.ckpt`, `model.allegro` (EMA weights), `test_metrics.txt`,
/// `test_predictions.xyz`.
pub(super) fn run(path: &Path, device: Option<String>) -> Result<(), String> {
    run_short(path, device).map_err(|e| e.to_string())
}

fn run_short(path: &Path, device: Option<String>) -> Result<(), Error> {
    let mut config = RunConfig::from_file(path)?;
    config.device = device.or(config.device);
    let p = PreparedRun::new(config, path)?;
    println!("{}", p.describe());
    let device = p.run.device.as_deref().unwrap_or("cpu");
    let (kind, index) = super::split_device(device)?;
    super::device::prepare_training(device);
    // A GPU's number (`cuda:1`), else the first.
    #[cfg(any(feature = "cuda", feature = "hip", feature = "vulkan"))]
    let gpu = index.unwrap_or(0);
    match kind {
        "cpu" if index.is_none() => train_test_md::<Cpu>(&p, CpuDevice),
        #[cfg(feature = "cuda")]
        "cuda" => {
            use crate::core::backend::gpu::{CudaRuntime, GpuDevice};
            on_gpu::<CudaRuntime>(&p, GpuDevice::try_index(gpu)?)
        }
        #[cfg(feature = "hip")]
        "hip" => {
            use crate::core::backend::gpu::{GpuDevice, HipRuntime};
            on_gpu::<HipRuntime>(&p, GpuDevice::try_index(gpu)?)
        }
        #[cfg(feature = "vulkan")]
        "vulkan" => {
            use crate::core::backend::gpu::{GpuDevice, WgpuRuntime};
            on_gpu::<WgpuRuntime>(&p, GpuDevice::try_index(gpu)?)
        }
        _ => Err(format!(
            "device: `{device}` is not in this binary (cpu, or cuda/hip/vulkan \
             built with that feature, optionally with a number: cuda:1)"
        )
        .into()),
    }
}

/// Trains on a GPU; with `ALLEGRO_DEVICE_THREAD=1` the whole run goes on cubecl's
/// device thread, where a launch is a call instead of a message to that thread
/// ([`GpuDevice::on_device_thread`](crate::core::backend::gpu::GpuDevice::on_device_thread)).
#[cfg(any(feature = "cuda", feature = "hip", feature = "vulkan"))]
fn on_gpu<R: crate::core::backend::gpu::GpuRuntime>(
    p: &PreparedRun,
    device: crate::core::backend::gpu::GpuDevice<R>,
) -> Result<(), Error> {
    use crate::core::backend::gpu::Gpu;
    if std::env::var("ALLEGRO_DEVICE_THREAD").is_ok_and(|v| v == "1") {
        let thread = device.clone();
        thread
            .on_device_thread(move || {
                train_test_md::<Gpu<R>>(p, device).map_err(|e| e.to_string())
            })?
            .map_err(Error::from)
    } else {
        train_test_md::<Gpu<R>>(p, device)
    }
}

/// One line per epoch, a bar for the batches.
fn print_progress(p: Progress<'_>) {
    match p {
        Progress::Batch {
            epoch,
            batch,
            n_batches,
            values,
        } if batch % 10 == 0 || batch + 1 == n_batches => {
            let bar = "=".repeat(30 * (batch + 1) / n_batches);
            let loss = values.weighted_sum().unwrap_or(f64::NAN);
            eprint!(
                "\repoch {epoch:>3} [{bar:<30}] {:>4}/{n_batches} loss {loss:.4}   ",
                batch + 1
            );
        }
        Progress::Epoch(r) => {
            let get = |k: &str| r.val.get(k).unwrap_or(f64::NAN);
            let stress = r
                .val
                .get("stress_rmse")
                .map(|s| format!("  stress_rmse {s:.5} eV/Å³"));
            eprintln!();
            println!(
                "epoch {:>3}  lr {:.2e}  val forces_rmse {:.4} eV/Å  per_atom_energy_rmse {:.4} eV{}  ({:.1} s)",
                r.epoch,
                r.lr,
                get("forces_rmse"),
                get("per_atom_energy_rmse"),
                stress.unwrap_or_default(),
                r.seconds
            );
        }
        _ => {}
    }
}

/// Trains and tests on backend `B`, then runs the config's MD, if any.
fn train_test_md<B: Backend>(p: &PreparedRun, device: B::Device) -> Result<(), Error> {
    println!("device: {}", B::name());
    // What the host asked of the device per epoch (zero on the CPU, then not shown):
    // bytes, transfers, waits and kernel launches, the cost a training step pays outside
    // its arithmetic.
    let counted = device.clone();
    let mut last = B::device_counts(&counted);
    let mut progress = |p: Progress<'_>| {
        if let Progress::Epoch(r) = &p {
            let now = B::device_counts(&counted);
            let d = now - last;
            last = now;
            if d.uploads + d.downloads > 0 {
                println!(
                    "  epoch {} moved {} uploads ({:.1} MB), {} downloads ({:.1} MB), {} waits for the device, {} kernel launches",
                    r.epoch,
                    d.uploads,
                    d.bytes_to_device as f64 / 1e6,
                    d.downloads,
                    d.bytes_to_host as f64 / 1e6,
                    d.synchronizations,
                    d.launches
                );
            }
            // Where the epoch's time went, stage by stage (`ALLEGRO_PROFILE`).
            if crate::nn::energy_forces::profile::enabled() {
                print!("{}", crate::nn::energy_forces::profile::report());
            }
        }
        print_progress(p);
    };
    let out = train_and_test::<B>(p, device, &mut progress)?;
    print!("{}", out.describe());
    println!("model file: {}", out.model_path.display());
    print!("{}", out.test.table());
    if let Some(md) = &p.run.md {
        let idx = *p
            .parts
            .test
            .get(md.frame)
            .ok_or("md.frame: no such test frame")?;
        let structure = p.frames.structures[idx].clone();
        let vv = VelocityVerlet::new(&out.predictor, &p.mapper, &structure, md.dt_fs)?;
        let mut state = vv.start(structure, md.temperature_k, p.run.seed)?;
        let (t, every) = (Instant::now(), (md.steps / 5).max(1));
        let max_dev = vv.run(&mut state, md.steps, |s, drift| {
            if s.step % every == 0 {
                let (pot, temp) = (s.potential_energy, vv.temperature(s));
                println!(
                    "md step {:>5}  E_pot {pot:.4} eV  T {temp:.0} K  E_tot − E_0 {drift:+.2e} eV",
                    s.step
                );
            }
        })?;
        let (n, secs) = (state.structure.n_atoms(), t.elapsed().as_secs_f64());
        println!(
            "md: {} steps of {} fs on {n} atoms in {secs:.1} s, max |E_tot − E_0| = {max_dev:.2e} eV",
            md.steps, md.dt_fs
        );
    }
    println!("run directory: {}", p.out_dir.display());
    Ok(())
}
