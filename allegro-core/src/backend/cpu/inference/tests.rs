//! The fast CPU paths against the plain loops they replace, at every vector level this
//! processor has, in float64 and float32.

use std::sync::Arc;

use super::super::CpuStorage;
use super::super::simd::SimdLevel;
use super::{linear, linear_tiled, segment, segment_lanes};
use crate::backend::{
    Activation, ColumnBlock, ContractInput, LinearSpec, MatmulPrecision, OutputBlock,
    SegmentContraction, SegmentGradients, SegmentOperands, Segments,
};
use crate::dtype::DType;
use crate::rng::SplitMix64;
use crate::testing::suite::segment::allegro_spec;

fn storage(v: Vec<f64>, dtype: DType) -> CpuStorage {
    match dtype {
        DType::F64 => CpuStorage::from_vec_f64(v),
        DType::F32 => CpuStorage::from_vec_f32(v.into_iter().map(|x| x as f32).collect()),
    }
}

fn values(s: &CpuStorage) -> Vec<f64> {
    match s {
        CpuStorage::F64(v) => v.to_vec(),
        CpuStorage::F32(v) => v.iter().map(|&x| x as f64).collect(),
    }
}

/// Largest difference relative to the largest magnitude of `want`.
fn assert_close(what: &str, got: &[f64], want: &[f64], rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1e-300f64, |m, v| m.max(v.abs()));
    let worst = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (g, w)| m.max((g - w).abs()));
    assert!(
        worst <= rtol * scale,
        "{what}: differs by {worst:e} (scale {scale:e})"
    );
}

/// One random contraction, forward and backward, plain against lanes at `level`.
#[allow(clippy::too_many_arguments)]
fn segment_case(
    level: SimdLevel,
    layer_index: usize,
    u: usize,
    weighted: bool,
    per_channel: bool,
    with_grad_out: bool,
    dtype: DType,
    rng: &mut SplitMix64,
) {
    let (spec, irrep, r_n) = allegro_spec(layer_index);
    let [dx, dy, dout] = spec.dims;
    let layer = SegmentContraction {
        spec: spec.clone(),
        channels: u,
        per_channel,
        irrep_of_component: irrep,
        num_irreps: r_n,
    };
    let sizes: Vec<usize> = (0..9)
        .map(|i| {
            if i % 4 == 1 {
                0
            } else {
                rng.below(30) as usize
            }
        })
        .collect();
    let mut offsets = vec![0u32];
    for s in &sizes {
        offsets.push(offsets.last().unwrap() + *s as u32);
    }
    let (n, e) = (sizes.len(), *offsets.last().unwrap() as usize);
    let mut r = |len: usize, lo: f64, hi: f64| storage(rng.vec_uniform(len, lo, hi), dtype);
    let (w_stride, w_off) = (u * r_n + 3, 2);
    let (x_stride, x_off) = (u * r_n + 5, 5);
    let y = r(e * dy, -1.0, 1.0);
    let w = r(e * w_stride, -1.0, 1.0);
    let wx = r(e * x_stride, -1.0, 1.0);
    let x = r(e * u * dx, -1.0, 1.0);
    let theta = r(if per_channel { u } else { 1 } * spec.num_paths, -1.5, 1.5);
    let scale = r(n, 0.2, 1.2);
    let g_out = r(e * u * dout, -1.0, 1.0);
    let g_first = r(e * u, -1.0, 1.0);
    let gy0 = r(e * dy, -1.0, 1.0);
    let w_block = ColumnBlock::of(w_stride, w_off, u * r_n);
    let x_block = ColumnBlock::of(x_stride, x_off, u * r_n);
    let offsets = Arc::new(offsets);
    let segments = Segments {
        offsets: &offsets,
        count: n,
        rows: e,
    };
    let ops = SegmentOperands {
        x: if weighted {
            ContractInput::Weighted(&wx, x_block)
        } else {
            ContractInput::Plain(&x)
        },
        y: &y,
        env_weights: (&w, w_block),
        theta: &theta,
        scale: &scale,
    };
    let tol = if dtype == DType::F64 { 1e-13 } else { 2e-5 };
    let what = format!("{level:?} layer {layer_index} weighted {weighted} {dtype}");
    let plain = segment::forward(&layer, ops, segments);
    let lanes = segment_lanes::forward_at(level, &layer, ops, segments);
    for (name, a, b) in [
        ("env", &lanes.env, &plain.env),
        ("out", &lanes.out, &plain.out),
        ("first", &lanes.first, &plain.first),
    ] {
        assert_close(&format!("{what}: {name}"), &values(a), &values(b), tol);
    }

    let backward = |fast: bool| {
        let mut gxw = storage(vec![7.0; e * x_stride], dtype);
        let mut gw = storage(vec![7.0; e * w_stride], dtype);
        let mut gy = gy0.clone();
        let grads = SegmentGradients {
            x_weights: weighted.then_some((&mut gxw, x_block)),
            env_weights: (&mut gw, w_block),
            y: &mut gy,
        };
        let g = with_grad_out.then_some(&g_out);
        let gx = if fast {
            segment_lanes::backward_at(level, &layer, ops, &plain.env, g, &g_first, segments, grads)
        } else {
            segment::backward(&layer, ops, &plain.env, g, &g_first, segments, grads)
        };
        (
            gx.map(|s| values(&s)),
            values(&gxw),
            values(&gw),
            values(&gy),
        )
    };
    let (fast, slow) = (backward(true), backward(false));
    assert_eq!(fast.0.is_some(), !weighted);
    if let (Some(a), Some(b)) = (&fast.0, &slow.0) {
        assert_close(&format!("{what}: ∂x"), a, b, tol);
    }
    assert_close(&format!("{what}: ∂W_x"), &fast.1, &slow.1, tol);
    assert_close(&format!("{what}: ∂w"), &fast.2, &slow.2, tol);
    assert_close(&format!("{what}: ∂Y"), &fast.3, &slow.3, tol);
}

#[test]
fn segment_lanes_equal_the_plain_loops() {
    let mut rng = SplitMix64::new(11);
    for level in SimdLevel::available() {
        for dtype in [DType::F64, DType::F32] {
            // Channel counts that are and are not a multiple of the lane width.
            segment_case(level, 0, 16, true, true, true, dtype, &mut rng);
            segment_case(level, 0, 7, false, false, true, dtype, &mut rng);
            segment_case(level, 1, 13, false, true, false, dtype, &mut rng);
            segment_case(level, 0, 32, true, false, false, dtype, &mut rng);
        }
    }
}

/// One random `fused_linear` call, tiled against whole-matrix: `A` from two blocks of
/// wider buffers, the product split over two outputs (the second accumulated).
fn linear_case(
    rows: usize,
    widths: (usize, usize, usize, usize),
    activation: Option<Activation>,
    masked: bool,
    dtype: DType,
    rng: &mut SplitMix64,
) {
    let (k0, k1, n0, n1) = widths;
    let (s0, s1, t0, t1) = (k0 + 3, k1 + 1, n0 + 2, n1 + 5);
    let mut r = |len: usize| storage(rng.vec_uniform(len, -1.0, 1.0), dtype);
    let (in0, in1) = (r(rows * s0), r(rows * s1));
    let weight = r((k0 + k1) * (n0 + n1));
    let mask = r(rows * (n0 + n1));
    let (out0, out1) = (r(rows * t0), r(rows * t1));
    let spec = LinearSpec {
        rows,
        inputs: vec![ColumnBlock::of(s0, 2, k0), ColumnBlock::of(s1, 0, k1)],
        outputs: vec![
            OutputBlock {
                block: ColumnBlock::of(t0, 1, n0),
                accumulate: false,
            },
            OutputBlock {
                block: ColumnBlock::of(t1, 4, n1),
                accumulate: true,
            },
        ],
        activation,
        masked,
        precision: MatmulPrecision::Exact,
    };
    let call = |tiled: bool| {
        let (mut o0, mut o1) = (out0.clone(), out1.clone());
        let mut d = storage(vec![9.0; rows * (n0 + n1)], dtype);
        let f = if tiled {
            linear_tiled::fused_linear
        } else {
            linear::fused_linear
        };
        f(
            &spec,
            &[&in0, &in1],
            &weight,
            masked.then_some(&mask),
            Some(&mut d),
            &mut [&mut o0, &mut o1],
        );
        (values(&o0), values(&o1), values(&d))
    };
    let (fast, slow) = (call(true), call(false));
    let tol = if dtype == DType::F64 { 1e-13 } else { 1e-5 };
    let what = format!("{rows} rows {widths:?} {activation:?} masked {masked} {dtype}");
    assert_close(&format!("{what}: out 0"), &fast.0, &slow.0, tol);
    assert_close(&format!("{what}: out 1"), &fast.1, &slow.1, tol);
    assert_close(&format!("{what}: derivative"), &fast.2, &slow.2, tol);
}

#[test]
fn tiled_linear_equals_the_whole_matrix_product() {
    let mut rng = SplitMix64::new(5);
    for dtype in [DType::F64, DType::F32] {
        for rows in [1, 63, 64, 65, 300] {
            linear_case(
                rows,
                (5, 7, 6, 3),
                Some(Activation::Silu),
                false,
                dtype,
                &mut rng,
            );
            linear_case(
                rows,
                (40, 24, 64, 0),
                Some(Activation::Tanh),
                false,
                dtype,
                &mut rng,
            );
            linear_case(rows, (9, 0, 4, 12), None, true, dtype, &mut rng);
            linear_case(rows, (0, 0, 3, 2), None, false, dtype, &mut rng);
            linear_case(rows, (130, 3, 70, 1), None, false, dtype, &mut rng);
        }
    }
}
