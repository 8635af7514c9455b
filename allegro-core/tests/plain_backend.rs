//! A backend that implements only the primitive ops runs every Allegro kernel.
//!
//! [`PlainBackend`] has the CPU backend's buffers and delegates the six primitive traits
//! to [`Cpu`], but implements none of Allegro's kernels: `FusedOps`, `InferenceOps`,
//! `EdgeOps` and `OptimizerOps` are empty impls, so it runs their default bodies, the
//! references built from the primitives. That is what a new backend gets before it has
//! fused kernels. Here
//!
//! - the whole op suite runs on `PlainBackend`: the references against plain loops, the
//!   tape and finite differences (gradients of the contraction of every order go through
//!   its default `channel_contract`);
//! - each kernel of `PlainBackend` is compared with the CPU backend's fused kernel on the
//!   same buffers.

use std::sync::Arc;

use allegro_core::backend::cpu::{Cpu, CpuDevice, CpuStorage};
use allegro_core::backend::{
    Activation, ColumnBlock, ContractInput, EdgeOps, FusedOps, InferenceOps, LinearSpec,
    MatmulPrecision, NeighborList, OutputBlock, SegmentContraction, SegmentGradients,
    SegmentOperands, Segments, StorageOps, pack_shift,
};
use allegro_core::e3::AllegroTensorTrack;
use allegro_core::testing::plain_backend::PlainBackend;
use allegro_core::testing::suite;
use allegro_core::{DType, HostData, SplitMix64};

type Idx = Arc<Vec<u32>>;

/// One test per suite check, run on `PlainBackend`.
macro_rules! plain_tests {
    ($($module:ident :: $check:ident),* $(,)?) => {
        mod suite_on_plain {
            use super::*;
            $( #[test] fn $check() { suite::$module::$check::<PlainBackend>(&CpuDevice); } )*
        }
    };
}

allegro_core::for_each_suite_check!(plain_tests);

/// Panics unless `max |got − want| ≤ rtol · max |want|`.
fn assert_close(name: &str, got: &CpuStorage, want: &CpuStorage, rtol: f64) {
    let (g, w) = (Cpu::to_host(got).to_f64(), Cpu::to_host(want).to_f64());
    assert_eq!(g.len(), w.len(), "{name}: lengths");
    let scale = w.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    let worst = g
        .iter()
        .zip(&w)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        worst <= rtol * scale,
        "{name}: max |diff| {worst:e} over {rtol:e} of {scale:e}"
    );
}

fn rtol(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => 1e-12,
        DType::F32 => 1e-5,
    }
}

fn random(rng: &mut SplitMix64, len: usize, dtype: DType) -> CpuStorage {
    Cpu::from_host(
        &CpuDevice,
        HostData::from_f64(&rng.vec_uniform(len, -1.0, 1.0), dtype),
    )
}

/// The contraction of layer `k` of an l_max-2, parity, 2-layer track: spec, irrep of
/// each harmonic component, irreps.
fn track_layer(k: usize) -> (SegmentContraction, usize) {
    let track = AllegroTensorTrack::new(2, true, 2).expect("track");
    let spec = track.contraction(k).expect("layer").contraction_spec();
    let irrep: Vec<u32> = track
        .sh
        .entry_of_component()
        .iter()
        .map(|&r| r as u32)
        .collect();
    let layer = SegmentContraction {
        spec: Arc::new(spec),
        channels: 6,
        per_channel: true,
        irrep_of_component: irrep,
        num_irreps: track.sh.len(),
    };
    (layer, track.sh.len())
}

#[test]
fn channel_contract_equals_cpu() {
    let mut rng = SplitMix64::new(1);
    for dtype in [DType::F64, DType::F32] {
        for k in [0, 1] {
            let (layer, _) = track_layer(k);
            let spec = &layer.spec;
            let [dx, dy, dout] = spec.dims;
            let (e, u) = (211, 6);
            for per_channel in [true, false] {
                let rows = if per_channel { u } else { 1 };
                let x = random(&mut rng, e * u * dx, dtype);
                let y = random(&mut rng, e * u * dy, dtype);
                let w = random(&mut rng, rows * spec.num_paths, dtype);
                let g = random(&mut rng, e * u * dout, dtype);
                let name = format!("layer {k}, per_channel {per_channel}, {dtype}");
                assert_close(
                    &format!("channel_contract {name}"),
                    &PlainBackend::channel_contract(&x, &y, &w, e, u, spec, per_channel),
                    &Cpu::channel_contract(&x, &y, &w, e, u, spec, per_channel),
                    rtol(dtype),
                );
                assert_close(
                    &format!("channel_contract_weight_grad {name}"),
                    &PlainBackend::channel_contract_weight_grad(
                        &x,
                        &y,
                        &g,
                        e,
                        u,
                        spec,
                        per_channel,
                    ),
                    &Cpu::channel_contract_weight_grad(&x, &y, &g, e, u, spec, per_channel),
                    rtol(dtype),
                );
            }
        }
    }
}

#[test]
fn fused_linear_and_uninit_equal_cpu() {
    let mut rng = SplitMix64::new(2);
    let activations = [
        None,
        Some(Activation::Silu),
        Some(Activation::Mish),
        Some(Activation::Gelu),
        Some(Activation::ShiftedSoftplus),
        Some(Activation::Tanh),
        Some(Activation::Sigmoid),
        Some(Activation::Softplus),
    ];
    for dtype in [DType::F64, DType::F32] {
        let zeros = PlainBackend::uninit(&CpuDevice, 17, dtype);
        assert_eq!(Cpu::to_host(&zeros).to_f64(), vec![0.0; 17], "uninit");
        for activation in activations {
            for masked in [false, true] {
                let spec = LinearSpec {
                    rows: 157,
                    inputs: vec![ColumnBlock::of(30, 4, 20), ColumnBlock::whole(9)],
                    outputs: vec![
                        OutputBlock {
                            block: ColumnBlock::of(40, 2, 31),
                            accumulate: false,
                        },
                        OutputBlock {
                            block: ColumnBlock::of(12, 1, 10),
                            accumulate: true,
                        },
                    ],
                    activation,
                    masked,
                    precision: MatmulPrecision::Exact,
                };
                let (rows, n) = (spec.rows, spec.n());
                let a = [
                    random(&mut rng, rows * 30, dtype),
                    random(&mut rng, rows * 9, dtype),
                ];
                let w = random(&mut rng, spec.k() * n, dtype);
                let mask = random(&mut rng, rows * n, dtype);
                let d0 = random(&mut rng, rows * n, dtype);
                let o0 = [
                    random(&mut rng, rows * 40, dtype),
                    random(&mut rng, rows * 12, dtype),
                ];
                let run = |fused: bool| {
                    let (mut d, mut o) = (d0.clone(), o0.clone());
                    let [o_a, o_b] = &mut o;
                    let args = ([&a[0], &a[1]], activation.map(|_| &mut d));
                    let m = masked.then_some(&mask);
                    if fused {
                        Cpu::fused_linear(&spec, &args.0, &w, m, args.1, &mut [o_a, o_b]);
                    } else {
                        PlainBackend::fused_linear(&spec, &args.0, &w, m, args.1, &mut [o_a, o_b]);
                    }
                    (d, o)
                };
                let ((d_cpu, o_cpu), (d_plain, o_plain)) = (run(true), run(false));
                let name = format!("{activation:?}, masked {masked}, {dtype}");
                let tol = rtol(dtype) * 10.0;
                assert_close(&format!("derivative {name}"), &d_plain, &d_cpu, tol);
                for j in 0..2 {
                    assert_close(&format!("output {j} {name}"), &o_plain[j], &o_cpu[j], tol);
                }
            }
        }
    }
}

#[test]
fn segment_contract_equals_cpu() {
    let mut rng = SplitMix64::new(3);
    let sizes = [3usize, 0, 7, 1, 30, 0, 5];
    let mut offsets = vec![0u32];
    for s in sizes {
        offsets.push(offsets.last().unwrap() + s as u32);
    }
    let (n, e) = (sizes.len(), *offsets.last().unwrap() as usize);
    let offsets: Idx = Arc::new(offsets);
    let segments = Segments {
        offsets: &offsets,
        count: n,
        rows: e,
    };
    for dtype in [DType::F64, DType::F32] {
        for (k, weighted) in [(0, true), (0, false), (1, false)] {
            let (layer, r_n) = track_layer(k);
            let [dx, dy, dout] = layer.spec.dims;
            let u = layer.channels;
            let block = ColumnBlock::of(u * r_n + 3, 2, u * r_n);
            let mut buf = |len| random(&mut rng, len, dtype);
            let (y, w, wx, x) = (
                buf(e * dy),
                buf(e * block.stride),
                buf(e * block.stride),
                buf(e * u * dx),
            );
            let (theta, scale) = (buf(u * layer.spec.num_paths), buf(n));
            let (g_out, g_first) = (buf(e * u * dout), buf(e * u));
            let start = [buf(e * dy), buf(e * block.stride), buf(e * block.stride)];
            let ops = SegmentOperands {
                x: if weighted {
                    ContractInput::Weighted(&wx, block)
                } else {
                    ContractInput::Plain(&x)
                },
                y: &y,
                env_weights: (&w, block),
                theta: &theta,
                scale: &scale,
            };
            let name = format!("layer {k}, weighted {weighted}, {dtype}");
            let cpu = Cpu::segment_contract_forward(&layer, ops, segments);
            let plain = PlainBackend::segment_contract_forward(&layer, ops, segments);
            assert_close(&format!("env {name}"), &plain.env, &cpu.env, rtol(dtype));
            assert_close(&format!("out {name}"), &plain.out, &cpu.out, rtol(dtype));
            assert_close(
                &format!("first {name}"),
                &plain.first,
                &cpu.first,
                rtol(dtype),
            );
            let backward = |fused: bool| {
                let [mut gy, mut gw, mut gx] = start.clone();
                let grads = SegmentGradients {
                    x_weights: weighted.then_some((&mut gx, block)),
                    env_weights: (&mut gw, block),
                    y: &mut gy,
                };
                let ret = if fused {
                    Cpu::segment_contract_backward(
                        &layer,
                        ops,
                        &cpu.env,
                        Some(&g_out),
                        &g_first,
                        segments,
                        grads,
                    )
                } else {
                    PlainBackend::segment_contract_backward(
                        &layer,
                        ops,
                        &cpu.env,
                        Some(&g_out),
                        &g_first,
                        segments,
                        grads,
                    )
                };
                ([gy, gw, gx], ret)
            };
            let ((want, want_x), (got, got_x)) = (backward(true), backward(false));
            for (what, (g, w)) in ["∂Y", "∂w", "∂W_x"].iter().zip(got.iter().zip(&want)) {
                assert_close(&format!("{what} {name}"), g, w, rtol(dtype) * 10.0);
            }
            assert_eq!(
                got_x.is_some(),
                !weighted,
                "{name}: ∂x returned for a plain x only"
            );
            if let (Some(g), Some(w)) = (got_x, want_x) {
                assert_close(&format!("∂x {name}"), &g, &w, rtol(dtype) * 10.0);
            }
        }
    }
}

#[test]
fn edge_inputs_equal_cpu() {
    let mut rng = SplitMix64::new(4);
    let (atoms, edges, num_types) = (50usize, 2000usize, 3usize);
    let pick = |rng: &mut SplitMix64, n: usize| rng.below(n as u64) as u32;
    let positions = Cpu::from_host(
        &CpuDevice,
        HostData::F64(rng.vec_uniform(3 * atoms, -6.0, 6.0)),
    );
    let cells = Cpu::from_host(&CpuDevice, HostData::F64(rng.vec_uniform(18, -5.0, 5.0)));
    let table = |v: Vec<u32>| -> Idx { Arc::new(v) };
    let types = table((0..atoms).map(|_| pick(&mut rng, num_types)).collect());
    let batch = table((0..atoms).map(|a| (a >= atoms / 3) as u32).collect());
    let centers = table((0..edges).map(|_| pick(&mut rng, atoms)).collect());
    let neighbors = table((0..edges).map(|_| pick(&mut rng, atoms)).collect());
    let shifts = table(
        (0..edges)
            .map(|_| pack_shift([0; 3].map(|_| pick(&mut rng, 5) as i32 - 2)).unwrap())
            .collect(),
    );
    let list = || NeighborList {
        positions: &positions,
        cells: &cells,
        atom_types: &types,
        batch: &batch,
        centers: &centers,
        neighbors: &neighbors,
        shifts: &shifts,
        n_edges: edges,
        num_types,
    };
    let (cpu, plain) = (Cpu::edge_inputs(list()), PlainBackend::edge_inputs(list()));
    // The same operations in the same order on the same primitives: equal to the bit.
    assert_eq!(
        Cpu::to_host(&plain.vectors).to_f64(),
        Cpu::to_host(&cpu.vectors).to_f64()
    );
    assert_eq!(plain.center_types, cpu.center_types);
    assert_eq!(plain.neighbor_types, cpu.neighbor_types);
    assert_eq!(plain.edge_types, cpu.edge_types);
    assert_eq!(plain.edge_batch, cpu.edge_batch);
}
