//! A nequip config's run (the seed's `configs/demo.yaml`), with Hydra-style overrides,
//! as `nequip-train -cn demo.yaml ...` runs it, on the CPU or (`--device cuda`, `hip` or
//! `vulkan` in a binary built with that feature) a GPU:
//!
//! ```sh
//! cargo run --release --example nequip -- ../shared/reference/seed-demo.yaml \
//!     ++data.train_dataset.file_path=train.lmdb ++data.val_dataset.file_path=val.lmdb \
//!     ++data.test_dataset.0.file_path=test.lmdb hydra.run.dir=outputs/demo
//! cargo run --release --example nequip -- demo.yaml 'run=[val,test]' \
//!     ++ckpt_path=outputs/demo/best.ckpt ...
//! ```
//!
//! Data-parallel over MPI ranks (built with `--features mpi`): `mpirun -np N nequip
//! demo.yaml --mpi ...`, `batch_size` per rank; rank 0 writes the run directory.
//!
//! Writes `best.ckpt`, `last.ckpt`, `metrics.csv`, `eval_metrics.csv` and the test-time
//! XYZ file in the run directory; prints one line per epoch and one JSON line per
//! evaluated dataset.

use allegro::train::Progress;
use allegro::train::nequip_config::NequipRunConfig;
use allegro::train::nequip_train::{NequipRunReport, run_nequip_ranks};
use allegro::train::{Communicator, SingleProcess};

/// Runs `config` on the device `--device` names.
fn run_on(
    device: &str,
    config: &NequipRunConfig,
    comm: &dyn Communicator,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<NequipRunReport, String> {
    let e = |e: allegro::train::Error| e.to_string();
    use allegro::core::backend::cpu::{Cpu, CpuDevice};
    match device {
        "cpu" => run_nequip_ranks::<Cpu>(config, CpuDevice, comm, progress).map_err(e),
        #[cfg(feature = "cuda")]
        "cuda" => {
            use allegro::core::backend::gpu::{CudaRuntime, Gpu, GpuDevice};
            let device = GpuDevice::try_default().map_err(|e| e.to_string())?;
            run_nequip_ranks::<Gpu<CudaRuntime>>(config, device, comm, progress).map_err(e)
        }
        #[cfg(feature = "hip")]
        "hip" => {
            use allegro::core::backend::gpu::{Gpu, GpuDevice, HipRuntime};
            let device = GpuDevice::try_default().map_err(|e| e.to_string())?;
            run_nequip_ranks::<Gpu<HipRuntime>>(config, device, comm, progress).map_err(e)
        }
        #[cfg(feature = "vulkan")]
        "vulkan" => {
            use allegro::core::backend::gpu::{Gpu, GpuDevice, WgpuRuntime};
            let device = GpuDevice::try_default().map_err(|e| e.to_string())?;
            run_nequip_ranks::<Gpu<WgpuRuntime>>(config, device, comm, progress).map_err(e)
        }
        other => Err(format!(
            "--device `{other}` is not available in this binary (cpu, or a GPU runtime \
                 built with --features cuda/hip/vulkan)"
        )),
    }
}

/// This process's ranks: MPI's world with `--mpi` (feature `mpi`), else one process.
fn communicator(mpi: bool) -> Result<Box<dyn Communicator>, String> {
    if !mpi {
        return Ok(Box::new(SingleProcess));
    }
    #[cfg(feature = "mpi")]
    {
        allegro::train::MpiCommunicator::init()
            .map(|c| Box::new(c) as Box<dyn Communicator>)
            .map_err(|e| e.to_string())
    }
    #[cfg(not(feature = "mpi"))]
    Err("--mpi: this binary was built without the `mpi` feature".into())
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut device = "cpu".to_string();
    if let Some(k) = args.iter().position(|a| a == "--device") {
        if k + 1 >= args.len() {
            eprintln!("--device needs a value: cpu, cuda, hip or vulkan");
            std::process::exit(2);
        }
        device = args.remove(k + 1);
        args.remove(k);
    }
    let mpi = args
        .iter()
        .position(|a| a == "--mpi")
        .map(|k| args.remove(k))
        .is_some();
    let Some((config, overrides)) = args.split_first() else {
        eprintln!("usage: nequip CONFIG.yaml [--device DEVICE] [--mpi] [OVERRIDE ...]");
        std::process::exit(2);
    };
    let run = || -> Result<(), String> {
        let (config, warnings) =
            NequipRunConfig::from_file(config, overrides).map_err(|e| e.to_string())?;
        for w in &warnings {
            eprintln!("warning: `{}`: {}", w.key, w.message);
        }
        let comm = communicator(mpi)?;
        if mpi {
            eprintln!("rank {} of {}", comm.rank(), comm.size());
        }
        // Every rank sees the same pooled metrics; rank 0 reports them.
        let rank = comm.rank();
        let mut progress = |p: Progress<'_>| {
            if let (0, Progress::Epoch(r)) = (rank, p) {
                let ws = r.val.weighted_sum().unwrap_or(f64::NAN);
                eprintln!(
                    "epoch {} ({:.1} s): val weighted_sum {ws:.6}",
                    r.epoch, r.seconds
                );
            }
        };
        let report = run_on(&device, &config, &*comm, &mut progress)?;
        if comm.rank() != 0 {
            return Ok(());
        }
        for r in report.metrics {
            let values: serde_json::Map<String, serde_json::Value> =
                r.values.into_iter().map(|(n, v)| (n, v.into())).collect();
            let line = serde_json::json!({"split": r.split.name(), "dataset": r.index,
                "file": r.file, "frames": r.frames, "metrics": values});
            println!("{line}");
        }
        eprintln!(
            "metrics: {}",
            config.run_dir.join("eval_metrics.csv").display()
        );
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
