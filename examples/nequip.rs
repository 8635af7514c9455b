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
//! demo.yaml --mpi ...`, `batch_size` per rank; rank 0 writes the run directory. With
//! `--device cuda` each rank takes the GPU of its rank within the node; `cuda:N` names
//! one.
//!
//! Writes `best.ckpt`, `last.ckpt`, `metrics.csv`, `eval_metrics.csv` and the test-time
//! XYZ file in the run directory; prints one line per epoch and one JSON line per
//! evaluated dataset.

use allegro::train::Progress;
use allegro::train::nequip_config::NequipRunConfig;
use allegro::train::nequip_train::{NequipRunReport, run_nequip_ranks};
use allegro::train::{Communicator, SingleProcess};

/// Runs `config` on the device `--device` names: `cpu`, or a GPU runtime (`cuda`,
/// `hip`, `vulkan`) with an optional device number (`cuda:1`). Without a number each
/// rank takes the GPU of its rank within the node (modulo the GPUs there are), as
/// Lightning's DDP takes `LOCAL_RANK`; a launcher that gives each rank one visible GPU
/// (`srun --gpus-per-task=1`) makes that GPU 0 for every rank.
fn run_on(
    device: &str,
    config: &NequipRunConfig,
    comm: &dyn Communicator,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<NequipRunReport, String> {
    let e = |e: allegro::train::Error| e.to_string();
    use allegro::core::backend::cpu::{Cpu, CpuDevice};
    let (kind, index) = split_device(device)?;
    match kind {
        "cpu" if index.is_none() => {
            run_nequip_ranks::<Cpu>(config, CpuDevice, comm, progress).map_err(e)
        }
        #[cfg(feature = "cuda")]
        "cuda" => {
            use allegro::core::backend::gpu::{CudaRuntime, Gpu};
            let device = gpu_device::<CudaRuntime>(index, comm)?;
            run_nequip_ranks::<Gpu<CudaRuntime>>(config, device, comm, progress).map_err(e)
        }
        #[cfg(feature = "hip")]
        "hip" => {
            use allegro::core::backend::gpu::{Gpu, HipRuntime};
            let device = gpu_device::<HipRuntime>(index, comm)?;
            run_nequip_ranks::<Gpu<HipRuntime>>(config, device, comm, progress).map_err(e)
        }
        #[cfg(feature = "vulkan")]
        "vulkan" => {
            use allegro::core::backend::gpu::{Gpu, WgpuRuntime};
            let device = gpu_device::<WgpuRuntime>(index, comm)?;
            run_nequip_ranks::<Gpu<WgpuRuntime>>(config, device, comm, progress).map_err(e)
        }
        _ => Err(format!(
            "--device `{device}` is not available in this binary (cpu, or a GPU runtime \
             built with --features cuda/hip/vulkan, optionally with a number: cuda:1)"
        )),
    }
}

/// `--device`'s kind and optional number: `cuda:1` → (`cuda`, 1), `cuda` → (`cuda`, none).
fn split_device(device: &str) -> Result<(&str, Option<usize>), String> {
    match device.split_once(':') {
        Some((kind, n)) => n
            .parse::<usize>()
            .map(|n| (kind, Some(n)))
            .map_err(|_| format!("--device {device}: `{n}` is not a device number")),
        None => Ok((device, None)),
    }
}

/// GPU `index`, or without one the GPU of this rank's place within its node.
#[cfg(any(feature = "cuda", feature = "hip", feature = "vulkan"))]
fn gpu_index<R: allegro::core::backend::gpu::GpuRuntime>(
    index: Option<usize>,
    comm: &dyn Communicator,
) -> Result<usize, String> {
    use allegro::core::backend::gpu::GpuDevice;
    match index {
        Some(i) => Ok(i),
        None => Ok(comm.local_rank() % GpuDevice::<R>::count().map_err(|e| e.to_string())?),
    }
}

/// The GPU [`gpu_index`] picks.
#[cfg(any(feature = "cuda", feature = "hip", feature = "vulkan"))]
fn gpu_device<R: allegro::core::backend::gpu::GpuRuntime>(
    index: Option<usize>,
    comm: &dyn Communicator,
) -> Result<allegro::core::backend::gpu::GpuDevice<R>, String> {
    let index = gpu_index::<R>(index, comm)?;
    allegro::core::backend::gpu::GpuDevice::try_index(index).map_err(|e| e.to_string())
}

/// This process's ranks: MPI's world with `--mpi` (feature `mpi`), else one process.
/// With the config's `trainer.strategy.process_group_backend: nccl` and a CUDA device,
/// the sums go over NCCL (feature `nccl`), each rank on the GPU `--device` gives it;
/// otherwise (`gloo`, or no NCCL in this binary) over MPI through host memory.
fn communicator(
    mpi: bool,
    config: &NequipRunConfig,
    device: &str,
) -> Result<Box<dyn Communicator>, String> {
    if !mpi {
        return Ok(Box::new(SingleProcess));
    }
    let (kind, index) = split_device(device)?;
    let backend = config.trainer.strategy.as_ref();
    let nccl =
        backend.and_then(|s| s.process_group_backend.as_deref()) == Some("nccl") && kind == "cuda";
    #[cfg(feature = "mpi")]
    {
        let world = allegro::train::MpiCommunicator::init().map_err(|e| e.to_string())?;
        if nccl {
            #[cfg(feature = "nccl")]
            {
                let ordinal = gpu_index::<allegro::core::backend::gpu::CudaRuntime>(index, &world)?;
                return allegro::train::NcclCommunicator::new(world, ordinal)
                    .map(|c| Box::new(c) as Box<dyn Communicator>)
                    .map_err(|e| e.to_string());
            }
            #[cfg(not(feature = "nccl"))]
            {
                let _ = index; // the GPU number is the trainer's alone without NCCL
                if world.rank() == 0 {
                    eprintln!(
                        "warning: process_group_backend nccl: this binary was built without \
                         the `nccl` feature; the sums go over MPI"
                    );
                }
            }
        }
        Ok(Box::new(world))
    }
    #[cfg(not(feature = "mpi"))]
    {
        let _ = (nccl, index);
        Err("--mpi: this binary was built without the `mpi` feature".into())
    }
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
        let comm = communicator(mpi, &config, &device)?;
        if mpi {
            eprintln!(
                "rank {} of {} (rank {} on its node)",
                comm.rank(),
                comm.size(),
                comm.local_rank()
            );
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
