//! A nequip config's run (`nequip-train -cn demo.yaml …`): overrides, MPI ranks, the
//! device each rank takes, one line per epoch and one JSON line per evaluated dataset.

use super::TrainArgs;
#[cfg(any(feature = "cuda", feature = "hip", feature = "vulkan"))]
use super::device::gpu_device;
#[cfg(feature = "nccl")]
use super::device::gpu_index;
use super::device::split_device;
use crate::nequip::config::NequipRunConfig;
use crate::nequip::train::{NequipRunReport, run_nequip_ranks};
use crate::train::Progress;
use crate::train::{Communicator, SingleProcess};

/// Runs the nequip config of `args`: writes `best.ckpt`, `last.ckpt`, `metrics.csv`,
/// `eval_metrics.csv` and the test-time XYZ file in the run directory; rank 0 prints one
/// line per epoch and one JSON line per evaluated dataset.
pub(super) fn run(args: &TrainArgs) -> Result<(), String> {
    let device = args.device.as_deref().unwrap_or("cpu");
    let (config, warnings) =
        NequipRunConfig::from_file(&args.config, &args.overrides).map_err(|e| e.to_string())?;
    for w in &warnings {
        eprintln!("warning: `{}`: {}", w.key, w.message);
    }
    super::device::prepare_training(device);
    // The device-thread experiment runs short configs only (a nequip run's communicator
    // and progress stay on this thread): say so rather than ignore the setting.
    if std::env::var("ALLEGRO_DEVICE_THREAD").is_ok_and(|v| v == "1") {
        eprintln!(
            "note: ALLEGRO_DEVICE_THREAD applies to short configs; this nequip run ignores it"
        );
    }
    let comm = communicator(args.mpi, &config, device)?;
    if args.mpi {
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
    let report = run_on(device, &config, &*comm, &mut progress)?;
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
}

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
    use crate::core::backend::cpu::{Cpu, CpuDevice};
    let e = |e: crate::train::Error| e.to_string();
    let (kind, index) = split_device(device)?;
    match kind {
        "cpu" if index.is_none() => {
            run_nequip_ranks::<Cpu>(config, CpuDevice, comm, progress).map_err(e)
        }
        #[cfg(feature = "cuda")]
        "cuda" => {
            use crate::core::backend::gpu::{CudaRuntime, Gpu};
            let device = gpu_device::<CudaRuntime>(index, comm)?;
            run_nequip_ranks::<Gpu<CudaRuntime>>(config, device, comm, progress).map_err(e)
        }
        #[cfg(feature = "hip")]
        "hip" => {
            use crate::core::backend::gpu::{Gpu, HipRuntime};
            let device = gpu_device::<HipRuntime>(index, comm)?;
            run_nequip_ranks::<Gpu<HipRuntime>>(config, device, comm, progress).map_err(e)
        }
        #[cfg(feature = "vulkan")]
        "vulkan" => {
            use crate::core::backend::gpu::{Gpu, WgpuRuntime};
            let device = gpu_device::<WgpuRuntime>(index, comm)?;
            run_nequip_ranks::<Gpu<WgpuRuntime>>(config, device, comm, progress).map_err(e)
        }
        _ => Err(format!(
            "--device `{device}` is not available in this binary (cpu, or a GPU runtime \
             built with --features cuda/hip/vulkan, optionally with a number: cuda:1)"
        )),
    }
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
        let world = crate::train::MpiCommunicator::init().map_err(|e| e.to_string())?;
        if nccl {
            #[cfg(feature = "nccl")]
            {
                let ordinal = gpu_index::<crate::core::backend::gpu::CudaRuntime>(index, &world)?;
                return crate::train::NcclCommunicator::new(world, ordinal)
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
