//! Training steps on the GPU backend equal those on the CPU backend (float64): the same
//! batch, loss (per-atom energy + forces, forces by double backward), AdamW update and
//! EMA give the same weights to 1e-10 relative after each of three steps.
//!
//! Runs with a GPU runtime feature (`vulkan`, `cuda`, `hip`); without a device it prints
//! that it was skipped, unless `ALLEGRO_REQUIRE_GPU=1`.

#![cfg(feature = "gpu")]

mod common;

use allegro_core::backend::Backend;
use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_core::backend::gpu::{Gpu, GpuRuntime};
use allegro_core::testing::gpu_test_device;
use allegro_data::{AtomicGraph, GraphSource};
use allegro_nn::{AllegroModel, Parameters};
use allegro_train::{
    AdamW, AdamWConfig, LossCoeffs, Trainer, energy_force_loss, energy_force_metrics,
};
use common::{dataset, tiny_model, tiny_model_of_dtype};

fn trainer<B: Backend>(
    model: &AllegroModel,
    params: Parameters<B>,
    device: B::Device,
) -> Trainer<B> {
    let names = model.config().type_names.clone();
    let opt = AdamW::new(AdamWConfig {
        lr: 1e-2,
        weight_decay: 1e-6,
        ..Default::default()
    })
    .unwrap();
    let loss = energy_force_loss(LossCoeffs::default(), true, &names, vec![]).unwrap();
    let val = energy_force_metrics(&[("forces_rmse", 1.0)], false, &names, vec![]).unwrap();
    Trainer::new(model.clone(), params, opt, loss, val, device)
        .unwrap()
        .with_ema(0.9)
        .unwrap()
}

fn steps_match<R: GpuRuntime>() {
    let Some(dev) = gpu_test_device::<R>() else {
        return;
    };
    let data = dataset(8);
    let model = tiny_model(&data);
    let graphs: Vec<AtomicGraph> = (0..8).map(|i| data.graph(i).unwrap()).collect();
    let batch = AtomicGraph::batch(&graphs);
    let init = model.init_parameters::<Cpu>(&CpuDevice);
    let mut cpu = trainer::<Cpu>(&model, init.clone(), CpuDevice);
    let mut gpu = trainer::<Gpu<R>>(&model, init.to_backend::<Gpu<R>>(&dev), dev);
    for step in 0..3 {
        let (lc, lg) = (
            cpu.train_step(&batch).unwrap(),
            gpu.train_step(&batch).unwrap(),
        );
        let mut worst = 0.0f64;
        for ((name, c), (_, g)) in cpu.eval_params().iter().zip(gpu.eval_params().iter()) {
            let (c, g) = (c.tensor.to_vec_f64(), g.tensor.to_vec_f64());
            let scale = c.iter().fold(1e-12f64, |m, x| m.max(x.abs()));
            let d = c
                .iter()
                .zip(&g)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()))
                / scale;
            assert!(
                d <= 1e-10,
                "step {step}: {name} differs by {d:e} relative on {}",
                R::NAME
            );
            worst = worst.max(d);
        }
        eprintln!(
            "step {step} on {}: loss {:?} vs CPU {:?}; EMA weights max relative difference {worst:.1e}",
            R::NAME,
            lg.weighted_sum(),
            lc.weighted_sum()
        );
    }
}

#[cfg(feature = "vulkan")]
#[test]
fn training_steps_match_cpu_vulkan() {
    steps_match::<allegro_core::backend::gpu::WgpuRuntime>();
}

#[cfg(feature = "cuda")]
#[test]
fn training_steps_match_cpu_cuda() {
    steps_match::<allegro_core::backend::gpu::CudaRuntime>();
}

#[cfg(feature = "hip")]
#[test]
fn training_steps_match_cpu_hip() {
    steps_match::<allegro_core::backend::gpu::HipRuntime>();
}

/// What one training step asks of the device (batch of 8 molecules, tiny model, float64),
/// counted by the backend, printed, and held under today's counts so that a change that
/// adds launches, uploads or waits to the step fails here (issue 16 will lower these
/// bounds: its goal is a tenth of the launches and no wait inside a step).
fn step_counts<R: GpuRuntime>() {
    let Some(dev) = gpu_test_device::<R>() else {
        return;
    };
    let data = dataset(8);
    let model = tiny_model(&data);
    let graphs: Vec<AtomicGraph> = (0..8).map(|i| data.graph(i).unwrap()).collect();
    let batch = AtomicGraph::batch(&graphs);
    let init = model.init_parameters::<Cpu>(&CpuDevice);
    let mut gpu = trainer::<Gpu<R>>(&model, init.to_backend::<Gpu<R>>(&dev), dev.clone());
    gpu.train_step(&batch).unwrap(); // the first step also uploads constant tables
    let before = dev.device_counts();
    gpu.train_step(&batch).unwrap();
    let step = dev.device_counts() - before;
    eprintln!("one training step on {}: {step:?}", R::NAME);
    if allegro_nn::energy_forces::profile::enabled() {
        // Stages of both steps (`ALLEGRO_PROFILE`): launches, uploads and waits per
        // stage. The timer's own waits count in the step's, so the bounds are not held.
        eprint!("{}", allegro_nn::energy_forces::profile::report());
        return;
    }
    assert!(
        step.launches > 0 && step.uploads > 0,
        "nothing counted: {step:?}"
    );
    let (launches, uploads, waits) = STEP_BOUNDS;
    assert!(
        step.launches <= launches && step.uploads <= uploads && step.synchronizations <= waits,
        "a training step asks more of the device than on 2026-12-07 \
         (launches ≤ {launches}, uploads ≤ {uploads}, waits ≤ {waits}): {step:?}"
    );
}

/// Launches, uploads and waits of one step of `step_counts` as measured on lavapipe on
/// 2026-12-08: 414, 35 and 18 (473 on 2026-12-07, before the harmonics and the Bessel
/// basis × cutoff of the training front became fused ops with fused JVPs; 497 before SiLU's second derivative became one kernel,
/// `UnaryOp::SiluGradGrad`; 531 before narrow's adjoint became one `pad` kernel
/// instead of zeros and a concatenation; 711 before AdamW and the EMA became one kernel
/// per parameter each, [`allegro_core::backend::OptimizerOps`]; 696, 36 and 17 before
/// the step checked that its gradients are finite: one concatenation, square and sum,
/// read back once; 694, 38 and 21 before the per-edge type tables were scattered on the
/// device, the predictions read in one transfer and the loss's value taken from the
/// metrics). Most waits are float64 transcendentals that lavapipe evaluates on the host
/// (none on CUDA); the others read back the loss's label fields and predictions, and the
/// gradients' sum of squares. On CUDA those transcendentals are kernels: 16 launches more
/// (547 there before `pad` and `SiluGradGrad`), fewer uploads and waits. Launches rounded up to cover both.
const STEP_BOUNDS: (u64, u64, u64) = (430, 35, 18);

#[cfg(feature = "vulkan")]
#[test]
fn training_step_counts_vulkan() {
    step_counts::<allegro_core::backend::gpu::WgpuRuntime>();
}

#[cfg(feature = "cuda")]
#[test]
fn training_step_counts_cuda() {
    step_counts::<allegro_core::backend::gpu::CudaRuntime>();
}

/// An enqueued training step ([`Trainer::enqueue_step`]) never waits for the device: the
/// loss, the finiteness check, clipping, AdamW and the EMA stay there, and the metrics
/// are read at [`Trainer::settle`] (one wait for any number of steps). Float32 weights:
/// lavapipe evaluates float64 transcendentals on the host, a wait each, which CUDA does
/// not (their waits are printed, not pinned). Launches are held under today's count.
fn enqueued_step_counts<R: GpuRuntime>() {
    let Some(dev) = gpu_test_device::<R>() else {
        return;
    };
    let data = dataset(8);
    let graphs: Vec<AtomicGraph> = (0..8).map(|i| data.graph(i).unwrap()).collect();
    let batch = AtomicGraph::batch(&graphs);
    for dtype in ["float32", "float64"] {
        let model = tiny_model_of_dtype(&data, dtype);
        let init = model.init_parameters::<Cpu>(&CpuDevice);
        let mut gpu = trainer::<Gpu<R>>(&model, init.to_backend::<Gpu<R>>(&dev), dev.clone())
            .with_clip(allegro_train::GradClip::Norm(10.0));
        gpu.enqueue_step(&batch).unwrap(); // the first step also uploads constant tables
        gpu.settle().unwrap();
        let before = dev.device_counts();
        gpu.enqueue_step(&batch).unwrap();
        let step = dev.device_counts() - before;
        let before = dev.device_counts();
        let values = gpu.settle().unwrap();
        let settle = dev.device_counts() - before;
        eprintln!(
            "one enqueued training step on {} ({dtype}): {step:?}; settle: {settle:?}",
            R::NAME
        );
        assert!(values[0].weighted_sum().unwrap().is_finite());
        assert_eq!(settle.synchronizations, 1, "settle reads once: {settle:?}");
        if allegro_nn::energy_forces::profile::enabled() {
            continue; // the stage timer waits at every stage
        }
        assert!(step.launches > 0, "nothing counted: {step:?}");
        if dtype == "float32" {
            assert_eq!(
                step.synchronizations, 0,
                "an enqueued step waited for the device: {step:?}"
            );
        } else {
            assert!(
                step.launches <= ENQUEUED_STEP_LAUNCHES,
                "an enqueued step launches more than on 2026-12-07 \
                 (≤ {ENQUEUED_STEP_LAUNCHES}): {step:?}"
            );
        }
    }
}

/// Launches of one enqueued float64 step of `enqueued_step_counts` (with norm clipping)
/// on lavapipe on 2026-12-08: 435 (494 on 2026-12-07, before the fused front), against
/// 414 of the synchronous step without clipping
/// (clipping on the device is a handful of launches and one per gradient). CUDA
/// launches the 16 float64 transcendentals that lavapipe runs on the host.
const ENQUEUED_STEP_LAUNCHES: u64 = 451;

#[cfg(feature = "vulkan")]
#[test]
fn enqueued_step_counts_vulkan() {
    enqueued_step_counts::<allegro_core::backend::gpu::WgpuRuntime>();
}

#[cfg(feature = "cuda")]
#[test]
fn enqueued_step_counts_cuda() {
    enqueued_step_counts::<allegro_core::backend::gpu::CudaRuntime>();
}
