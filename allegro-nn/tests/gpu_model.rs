//! The model on the GPU backend (features `vulkan`, `cuda`, `hip`): the reference
//! fixtures in float64 to the CPU test's tolerances, float32 within 1e-5 of float64, the
//! no-tape path equal to the tape (float64 1e-12, float32 1e-5), passes equal to one
//! pass, and the gradient of an
//! energy + force loss equal to the CPU's; model inputs built on the device equal those
//! built on the host.
//!
//! Without a device the tests print that they were skipped, unless
//! `ALLEGRO_REQUIRE_GPU=1` is set, when they fail.

#![cfg(feature = "gpu")]

mod common;

use allegro_core::backend::Backend;
use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_core::backend::gpu::{Gpu, GpuDevice, GpuRuntime};
use allegro_core::{DType, Tensor, grad};
use allegro_nn::testing::compare;
use allegro_nn::{AllegroModel, Parameters, Predictor};
use common::{frame_graph, load, max_abs_diff, numbers};
use serde_json::Value;

use allegro_core::testing::gpu_test_device as device;

/// Every frame of fixture `name`, float64 on the GPU, against the reference's values.
fn fixture_frames<R: GpuRuntime>(name: &str, dev: &GpuDevice<R>) {
    let (model, params, fixture) = load(name);
    let gpu = Predictor::new(model, &params.to_backend::<Gpu<R>>(dev), dev.clone());
    for frame in fixture["frames"].as_array().unwrap() {
        let label = format!("{name} / {} on {}", frame["name"], R::NAME);
        let p = gpu.predict(&frame_graph(frame)).unwrap();
        let e_ref = numbers(&frame["total_energy"])[0];
        let de = ((p.total_energy[0] - e_ref) / e_ref).abs();
        assert!(
            de <= 1e-10,
            "{label}: E = {}, reference {e_ref}",
            p.total_energy[0]
        );
        let ea = max_abs_diff(&p.atomic_energies, &numbers(&frame["atomic_energy"]));
        assert!(ea <= 1e-9, "{label}: per-atom energies off by {ea:e}");
        let forces: Vec<f64> = p.forces.iter().flatten().copied().collect();
        let fa = max_abs_diff(&forces, &numbers(&frame["forces"]));
        assert!(fa <= 1e-8, "{label}: forces off by {fa:e}");
        if frame.get("virial").is_some_and(|v| !v.is_null()) {
            let virial: Vec<f64> = p.virial[0].iter().flatten().copied().collect();
            let va = max_abs_diff(&virial, &numbers(&frame["virial"]));
            assert!(va <= 1e-8, "{label}: virial off by {va:e}");
        }
        eprintln!("{label}: |ΔE/E| {de:.1e}, per-atom {ea:.1e}, forces {fa:.1e}");
    }
}

/// float32 on the GPU against float64 on the GPU, all frames of `name` in one batch.
fn float32_vs_float64<R: GpuRuntime>(name: &str, dev: &GpuDevice<R>) {
    let (model, params, fixture) = load(name);
    let f64_predictor = Predictor::new(model, &params.to_backend::<Gpu<R>>(dev), dev.clone());
    let f32_predictor = f64_predictor.with_dtype(DType::F32);
    let graphs: Vec<_> = fixture["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(frame_graph)
        .collect();
    let batch = allegro_data::AtomicGraph::batch(&graphs);
    let want = f64_predictor.predict(&batch).unwrap();
    let got = f32_predictor.predict(&batch).unwrap();
    let d = compare(&got, &want);
    eprintln!("{name} on {}: float32 vs float64 {d:?}", R::NAME);
    assert!(d.forces > 1e-10, "{name}: the float32 path did not run");
    // Energies relative to |E|; forces, per-atom energies and stress relative to their
    // largest magnitude, as tests/precision.rs does on the CPU.
    assert!(
        d.energy <= 1e-5 && d.forces <= 1e-5 && d.stress <= 1e-5,
        "{name}: {d:?}"
    );
}

/// The no-tape path (what `Predictor` runs) against the tape, both on the GPU, all
/// frames of `name` in one batch, in float64 and in float32.
fn no_tape_vs_tape<R: GpuRuntime>(name: &str, dev: &GpuDevice<R>) {
    let (model, params, fixture) = load(name);
    let graphs: Vec<_> = fixture["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(frame_graph)
        .collect();
    let batch = allegro_data::AtomicGraph::batch(&graphs);
    let f64_fast = Predictor::new(model, &params.to_backend::<Gpu<R>>(dev), dev.clone());
    for (dtype, rtol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
        let fast = f64_fast.with_dtype(dtype);
        let tape = fast.clone().with_tape(true);
        let d = compare(
            &fast.predict(&batch).unwrap(),
            &tape.predict(&batch).unwrap(),
        );
        eprintln!("{name} on {} ({dtype}): no-tape vs tape {d:?}", R::NAME);
        assert!(d.max() <= rtol, "{name} ({dtype}): no-tape vs tape {d:?}");
    }
}

/// Passes over ranges of centers (the whole graph on the device once, each pass
/// narrowed there, results summed there) against one pass, float64, all frames of
/// `name` in one batch, with per-atom virials.
fn passes_vs_one_pass<R: GpuRuntime>(name: &str, dev: &GpuDevice<R>) {
    let (model, params, fixture) = load(name);
    let graphs: Vec<_> = fixture["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(frame_graph)
        .collect();
    let batch = allegro_data::AtomicGraph::batch(&graphs);
    let one = Predictor::new(model, &params.to_backend::<Gpu<R>>(dev), dev.clone());
    let want = one.atom_outputs(&batch, true).unwrap();
    for max in [batch.n_edges() / 5 + 1, 40] {
        let split = one.clone().with_max_edges_per_pass(max);
        let got = split.atom_outputs(&batch, true).unwrap();
        let label = format!("{name} on {}, passes of {max} edges", R::NAME);
        let de = max_abs_diff(&got.atomic_energies, &want.atomic_energies);
        let df = max_abs_diff(&got.forces, &want.forces);
        let dg = max_abs_diff(&got.strain_derivative, &want.strain_derivative);
        let dw = max_abs_diff(
            got.atom_virial.as_ref().unwrap(),
            want.atom_virial.as_ref().unwrap(),
        );
        eprintln!("{label}: energies {de:.1e}, forces {df:.1e}, G {dg:.1e}, W {dw:.1e}");
        assert!(
            de <= 1e-12 && df <= 1e-11 && dg <= 1e-10 && dw <= 1e-10,
            "{label}: energies {de:e}, forces {df:e}, G {dg:e}, per-atom virial {dw:e}"
        );
    }
}

/// A float32 predictor of the seed fixture's model on `dev` and the fixture's frame with
/// the most edges.
fn largest_seed_frame<R: GpuRuntime>(
    dev: &GpuDevice<R>,
) -> (Predictor<Gpu<R>>, allegro_data::AtomicGraph) {
    let (model, params, fixture) = load("seed_lmax2.json");
    let graph = fixture["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(frame_graph)
        .max_by_key(|g| g.n_edges())
        .unwrap();
    let p = Predictor::new(model, &params.to_backend::<Gpu<R>>(dev), dev.clone())
        .with_dtype(DType::F32);
    (p, graph)
}

/// What one energy + forces call asks of the device (the seed fixture's largest frame,
/// float32, warm), counted by the backend and held under today's counts: bytes sent per
/// atom and per edge, waits, launches (issue 15 lowers them: 24 bytes per atom + 12 per
/// edge with a caller's neighbor list, one wait).
fn call_counts<R: GpuRuntime>(dev: &GpuDevice<R>) {
    let (p, graph) = largest_seed_frame(dev);
    p.predict(&graph).unwrap(); // the first call also uploads constant tables
    let before = dev.device_counts();
    p.predict(&graph).unwrap();
    let call = dev.device_counts() - before;
    let (n, e) = (graph.n_atoms() as u64, graph.n_edges() as u64);
    eprintln!(
        "one call on {} ({n} atoms, {e} edges): {call:?}; {:.1} bytes per edge",
        R::NAME,
        call.bytes_to_device as f64 / e as f64
    );
    // 2026-12-07. CUDA (bench_gpu, water boxes): per-atom types, structures and
    // positions, per-edge centers, neighbors, packed shifts and the sorted orders of the
    // scatter sums, ≈ 21 bytes per edge; three reads (energies, forces, strain
    // derivatives). Vulkan also evaluates float64 transcendentals of the edge front on
    // the host (lavapipe has none), a round trip each.
    let (bytes, waits) = match R::NAME {
        "vulkan" => (VULKAN_CALL_BYTES, VULKAN_CALL_WAITS),
        _ => (40 * n + 24 * e, 3),
    };
    assert!(
        call.bytes_to_device <= bytes && call.synchronizations <= waits,
        "an energy + forces call asks more of the device than on 2026-12-07 \
         (≤ {bytes} bytes, ≤ {waits} waits): {call:?}"
    );
    // Launches are pinned where they were counted (CUDA also launches the float64
    // transcendentals that lavapipe evaluates on the host).
    if R::NAME == "vulkan" {
        assert!(
            call.launches <= VULKAN_CALL_LAUNCHES,
            "an energy + forces call launches more than on 2026-12-08 \
             (≤ {VULKAN_CALL_LAUNCHES}): {call:?}"
        );
    }
}

/// Kernel launches of [`call_counts`] on lavapipe, 2026-12-08: 179 (229 before the
/// Bessel basis × cutoff became one fused op each way, `radial::bessel_cutoff`).
const VULKAN_CALL_LAUNCHES: u64 = 179;

/// What a caller's neighbor list (LAMMPS's) sends to the device to become model inputs
/// once the atoms' types are there (issue 15: ≤ 24 bytes per atom + 12 per edge): the
/// positions, the cell, and per edge center, neighbor and packed shift; the structure
/// index and the center offsets are made on the device, the types kept from the last
/// call. New types go up once more; nothing is read back.
fn caller_list_bytes<R: GpuRuntime>(dev: &GpuDevice<R>) {
    let (p, graph) = largest_seed_frame(dev);
    let (n, e) = (graph.n_atoms() as u64, graph.n_edges() as u64);
    // Each of the three uploads (positions, cell, index tables) may round its parts up
    // to 256-byte alignment.
    let slack = 72 + 3 * 256;
    let mut counts = Vec::new();
    let mut other_types = graph.clone();
    other_types.atom_types.reverse();
    for g in [&graph, &graph, &other_types, &other_types] {
        let before = dev.device_counts();
        p.inputs(g).unwrap();
        counts.push(dev.device_counts() - before);
    }
    eprintln!(
        "inputs of a caller's list on {} ({n} atoms, {e} edges): first {:?}; again {:?}; \
         new types {:?}; again {:?}",
        R::NAME,
        counts[0],
        counts[1],
        counts[2],
        counts[3]
    );
    for (k, c) in counts.iter().enumerate() {
        let types_sent = k == 0 || k == 2;
        let bound = 24 * n + 12 * e + slack + if types_sent { 4 * n } else { 0 };
        assert!(
            c.bytes_to_device <= bound && c.synchronizations == 0,
            "call {k}: {} bytes to the device (≤ {bound}), {} waits",
            c.bytes_to_device,
            c.synchronizations
        );
    }
    assert!(counts[1].bytes_to_device < counts[0].bytes_to_device);
    assert!(counts[3].bytes_to_device < counts[2].bytes_to_device);
}

/// [`call_counts`] on lavapipe, 2026-12-08: 99,780 bytes in 17 uploads, 9 waits
/// (24 atoms, 1,202 edges; 100,908 on 2026-12-07, before the structure index and center
/// offsets were made on the device and the types kept there; 106,028 before scatters
/// over ascending indices needed no sorted order).
const VULKAN_CALL_BYTES: u64 = 99_780;
const VULKAN_CALL_WAITS: u64 = 9;

/// Gradient of `mean |F|² + Σ (E/N)²` with respect to every trainable parameter.
fn loss_gradient<B: Backend>(
    model: &AllegroModel,
    params: &Parameters<B>,
    frame: &Value,
    device: &B::Device,
) -> Vec<Vec<f64>> {
    let predictor = Predictor::new(model.clone(), params, device.clone());
    let inputs = predictor.inputs(&frame_graph(frame)).unwrap();
    let tracked = params.tracked();
    let out = model.outputs(&tracked, &inputs, true);
    let n = inputs.n_atoms as f64;
    let f_label = Tensor::<B>::from_f64(
        &numbers(&frame["forces"]),
        &[inputs.n_atoms, 3],
        DType::F64,
        device,
    )
    .unwrap();
    let loss = out
        .forces
        .sub(&f_label)
        .square()
        .mean_all()
        .add(&out.total_energy.mul_scalar(1.0 / n).square().sum_all());
    let names = tracked.trainable_names();
    let refs: Vec<_> = names.iter().map(|k| tracked.get(k)).collect();
    grad(&[&loss], None, &refs, false)
        .iter()
        .map(|g| g.to_vec_f64())
        .collect()
}

fn loss_gradient_matches_cpu<R: GpuRuntime>(name: &str, dev: &GpuDevice<R>) {
    let (model, params, fixture) = load(name);
    let frame = &fixture["frames"][0];
    let want = loss_gradient::<Cpu>(&model, &params, frame, &CpuDevice);
    let got = loss_gradient::<Gpu<R>>(&model, &params.to_backend::<Gpu<R>>(dev), frame, dev);
    let mut worst = 0.0f64;
    for (g, w) in got.iter().zip(&want) {
        let scale = w.iter().fold(1e-12f64, |m, x| m.max(x.abs()));
        worst = worst.max(max_abs_diff(g, w) / scale);
    }
    eprintln!(
        "{name} on {}: loss gradient vs CPU, max relative {worst:.1e}",
        R::NAME
    );
    assert!(
        worst <= 1e-10,
        "{name}: GPU loss gradient off the CPU's by {worst:e}"
    );
}

/// Edge vectors and per-edge tables built on the device from per-atom arrays and the
/// neighbor list, against the host-built ones: periodic skewed cells (cell shifts),
/// batched with a molecule. The tables are equal; vectors differ by rounding at most
/// (the device may fuse the shift products into FMAs).
fn device_inputs<R: GpuRuntime>(name: &str, dev: &GpuDevice<R>) {
    use allegro_core::rng::SplitMix64;
    use allegro_data::{AtomicGraph, NeighborOptions, TypeMapper};
    use allegro_nn::testing::{
        device_inputs_deviation, random_cell, random_crystal, random_molecule,
    };
    let types = ["H", "C", "O"];
    let mapper = TypeMapper::new(&types.map(String::from)).unwrap();
    let mut rng = SplitMix64::new(9);
    let mut graphs = Vec::new();
    for k in 0..2 {
        let cell = random_cell(&mut rng, 2.5 + k as f64, 0.3);
        let s = random_crystal(&mut rng, &types, 6, cell, 1.0);
        graphs.push(AtomicGraph::from_structure(&s, &mapper, &NeighborOptions::new(4.0)).unwrap());
    }
    let m = random_molecule(&mut rng, &types, 10, 4.0, 1.0);
    graphs.push(AtomicGraph::from_structure(&m, &mapper, &NeighborOptions::new(4.0)).unwrap());
    let batch = AtomicGraph::batch(&graphs);
    let d = device_inputs_deviation::<Gpu<R>>(&batch, types.len(), dev).unwrap();
    eprintln!("{name}: device-built edge vectors off the host's by {d:e}");
    assert!(d <= 1e-15, "{name}: {d:e}");
}

macro_rules! gpu_model_tests {
    ($m:ident, $runtime:ty) => {
        mod $m {
            use super::*;
            type R = $runtime;

            #[test]
            fn small_noparity_fixture() {
                if let Some(d) = device::<R>() {
                    fixture_frames::<R>("small_noparity.json", &d);
                }
            }

            #[test]
            fn seed_lmax2_fixture() {
                if let Some(d) = device::<R>() {
                    fixture_frames::<R>("seed_lmax2.json", &d);
                }
            }

            #[test]
            fn float32_within_1e5_of_float64() {
                if let Some(d) = device::<R>() {
                    float32_vs_float64::<R>("small_noparity.json", &d);
                    float32_vs_float64::<R>("seed_lmax2.json", &d);
                }
            }

            #[test]
            fn no_tape_equals_tape() {
                if let Some(d) = device::<R>() {
                    no_tape_vs_tape::<R>("small_noparity.json", &d);
                    no_tape_vs_tape::<R>("seed_lmax2.json", &d);
                }
            }

            #[test]
            fn counts_of_a_call() {
                if let Some(d) = device::<R>() {
                    call_counts::<R>(&d);
                }
            }

            #[test]
            fn bytes_of_a_callers_list() {
                if let Some(d) = device::<R>() {
                    caller_list_bytes::<R>(&d);
                }
            }

            #[test]
            fn passes_equal_one_pass() {
                if let Some(d) = device::<R>() {
                    passes_vs_one_pass::<R>("seed_lmax2.json", &d);
                }
            }

            #[test]
            fn device_built_inputs_equal_host_built() {
                if let Some(d) = device::<R>() {
                    device_inputs::<R>(stringify!($m), &d);
                }
            }

            #[test]
            fn loss_gradient_equals_cpu() {
                if let Some(d) = device::<R>() {
                    loss_gradient_matches_cpu::<R>("small_noparity.json", &d);
                    loss_gradient_matches_cpu::<R>("seed_lmax2.json", &d);
                }
            }
        }
    };
}

#[cfg(feature = "vulkan")]
gpu_model_tests!(vulkan, allegro_core::backend::gpu::WgpuRuntime);

#[cfg(feature = "cuda")]
gpu_model_tests!(cuda, allegro_core::backend::gpu::CudaRuntime);

#[cfg(feature = "hip")]
gpu_model_tests!(hip, allegro_core::backend::gpu::HipRuntime);
