//! Checks of the no-tape inference primitives: `fused_linear` against a plain f64 loop,
//! the segment contraction against the same computation composed of tape ops (values),
//! and its adjoint against the tape's gradient of that composition.

use std::sync::Arc;

use crate::backend::{
    Activation, Backend, ColumnBlock, ContractEntry, ContractInput, ContractionSpec, LinearSpec,
    MatmulPrecision, OutputBlock, SegmentContraction, SegmentGradients, SegmentOperands, Segments,
};
use crate::dtype::DType;
use crate::e3::AllegroTensorTrack;
use crate::rng::SplitMix64;
use crate::tensor::{Indices, Tensor};

const ACTIVATIONS: [Activation; 7] = [
    Activation::Silu,
    Activation::Mish,
    Activation::Gelu,
    Activation::ShiftedSoftplus,
    Activation::Tanh,
    Activation::Sigmoid,
    Activation::Softplus,
];

/// Panics unless `max |got − want| ≤ rtol · max |want|` (and nothing is NaN).
fn assert_close(name: &str, got: &[f64], want: &[f64], rtol: f64) {
    assert_eq!(got.len(), want.len(), "{name}: lengths differ");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    let (mut worst, mut at) = (0.0f64, 0);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let d = (g - w).abs();
        if d.is_nan() || d > worst {
            worst = if d.is_nan() { f64::INFINITY } else { d };
            at = i;
        }
    }
    assert!(
        worst <= rtol * scale,
        "{name}: max |diff| {worst:e} at {at} (got {:e}, want {:e}) exceeds {rtol:e} of max |want| {scale:e}",
        got[at],
        want[at]
    );
}

fn tolerance(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => 1e-12,
        DType::F32 => 1e-5,
    }
}

fn upload<B: Backend>(v: &[f64], dtype: DType, device: &B::Device) -> B::Storage {
    Tensor::<B>::from_f64(v, &[v.len()], dtype, device)
        .expect("shape")
        .storage()
        .clone()
}

fn download<B: Backend>(s: &B::Storage) -> Vec<f64> {
    Tensor::<B>::from_storage(s.clone(), &[B::storage_len(s)]).to_vec_f64()
}

/// Rounds through `dtype`, so the oracle sees exactly what the backend sees.
fn rounded(v: Vec<f64>, dtype: DType) -> Vec<f64> {
    match dtype {
        DType::F64 => v,
        DType::F32 => v.into_iter().map(|x| x as f32 as f64).collect(),
    }
}

/// One `fused_linear` case against a plain loop.
#[allow(clippy::too_many_arguments)]
fn linear_case<B: Backend>(
    name: &str,
    rows: usize,
    inputs: &[(usize, usize, usize)],
    outputs: &[(usize, usize, usize, bool)],
    activation: Option<Activation>,
    masked: bool,
    precision: MatmulPrecision,
    dtype: DType,
    rng: &mut SplitMix64,
    device: &B::Device,
) {
    let spec = LinearSpec {
        rows,
        inputs: inputs
            .iter()
            .map(|&(s, o, w)| ColumnBlock::of(s, o, w))
            .collect(),
        outputs: outputs
            .iter()
            .map(|&(s, o, w, acc)| OutputBlock {
                block: ColumnBlock::of(s, o, w),
                accumulate: acc,
            })
            .collect(),
        activation,
        masked,
        precision,
    };
    let (k, n) = (spec.k(), spec.n());
    let a_host: Vec<Vec<f64>> = spec
        .inputs
        .iter()
        .map(|b| rounded(rng.vec_uniform(rows * b.stride, -2.0, 2.0), dtype))
        .collect();
    let w_host = rounded(rng.vec_uniform(k * n, -0.5, 0.5), dtype);
    let mask_host = rounded(rng.vec_uniform(rows * n, -3.0, 3.0), dtype);
    let d_host = rounded(rng.vec_uniform(rows * n, -1.0, 1.0), dtype);
    let o_host: Vec<Vec<f64>> = spec
        .outputs
        .iter()
        .map(|b| rounded(rng.vec_uniform(rows * b.block.stride, -1.0, 1.0), dtype))
        .collect();
    // The plain loop.
    let mut want = o_host.clone();
    let mut want_d = d_host.clone();
    for r in 0..rows {
        let mut a_row = Vec::with_capacity(k);
        for (b, a) in spec.inputs.iter().zip(&a_host) {
            for c in 0..b.width {
                a_row.push(a[r * b.stride + b.offset + c]);
            }
        }
        let mut col = 0;
        for (out, dst) in spec.outputs.iter().zip(want.iter_mut()) {
            for c in 0..out.block.width {
                let j = col + c;
                let mut v: f64 = (0..k).map(|i| a_row[i] * w_host[i * n + j]).sum();
                if let Some(f) = activation {
                    want_d[r * n + j] = f.derivative(v);
                    v = f.value(v);
                }
                if masked {
                    v *= mask_host[r * n + j];
                }
                let d = &mut dst[r * out.block.stride + out.block.offset + c];
                *d = if out.accumulate { *d + v } else { v };
            }
            col += out.block.width;
        }
    }
    let a_dev: Vec<B::Storage> = a_host
        .iter()
        .map(|a| upload::<B>(a, dtype, device))
        .collect();
    let a_refs: Vec<&B::Storage> = a_dev.iter().collect();
    let w_dev = upload::<B>(&w_host, dtype, device);
    let mask_dev = upload::<B>(&mask_host, dtype, device);
    let mut d_dev = upload::<B>(&d_host, dtype, device);
    let mut o_dev: Vec<B::Storage> = o_host
        .iter()
        .map(|o| upload::<B>(o, dtype, device))
        .collect();
    let mut o_refs: Vec<&mut B::Storage> = o_dev.iter_mut().collect();
    B::fused_linear(
        &spec,
        &a_refs,
        &w_dev,
        masked.then_some(&mask_dev),
        activation.map(|_| &mut d_dev),
        &mut o_refs,
    );
    let tol = match precision {
        MatmulPrecision::Exact => tolerance(dtype) * 10.0,
        MatmulPrecision::Tf32 => 1e-2,
    };
    if activation.is_some() {
        assert_close(
            &format!("{name} ({dtype}, derivative)"),
            &download::<B>(&d_dev),
            &want_d,
            tol,
        );
    }
    for (j, (got, want)) in o_dev.iter().zip(&want).enumerate() {
        assert_close(
            &format!("{name} ({dtype}, output {j})"),
            &download::<B>(got),
            want,
            tol,
        );
    }
}

/// `fused_linear`: blocks of several buffers in, split and accumulated blocks out, every
/// prologue and derivative mask, in f64 and f32, on shapes that span several tiles.
pub fn fused_linear<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(4242);
    for dtype in [DType::F64, DType::F32] {
        linear_case::<B>(
            "two blocks in, split out",
            301,
            &[(50, 7, 37), (9, 0, 9)],
            &[(80, 3, 61, false), (20, 5, 9, true)],
            None,
            false,
            MatmulPrecision::Exact,
            dtype,
            &mut rng,
            device,
        );
        linear_case::<B>(
            "one contiguous block",
            130,
            &[(64, 0, 64)],
            &[(256, 0, 256, false)],
            None,
            false,
            MatmulPrecision::Exact,
            dtype,
            &mut rng,
            device,
        );
        linear_case::<B>(
            "K = 1, accumulate",
            77,
            &[(3, 2, 1)],
            &[(40, 0, 40, true)],
            None,
            false,
            MatmulPrecision::Exact,
            dtype,
            &mut rng,
            device,
        );
        linear_case::<B>(
            "five blocks in",
            140,
            &[(8, 1, 5), (16, 0, 16), (4, 1, 3), (33, 0, 33), (7, 6, 1)],
            &[(70, 0, 70, false)],
            None,
            false,
            MatmulPrecision::Exact,
            dtype,
            &mut rng,
            device,
        );
        for f in ACTIVATIONS {
            linear_case::<B>(
                &format!("activation {f:?}"),
                93,
                &[(40, 0, 40)],
                &[(33, 0, 33, false)],
                Some(f),
                false,
                MatmulPrecision::Exact,
                dtype,
                &mut rng,
                device,
            );
        }
        linear_case::<B>(
            "mask",
            93,
            &[(33, 0, 33)],
            &[(40, 0, 40, false)],
            None,
            true,
            MatmulPrecision::Exact,
            dtype,
            &mut rng,
            device,
        );
        linear_case::<B>(
            "TF32 allowed",
            200,
            &[(64, 0, 64), (9, 0, 9)],
            &[(100, 0, 100, false)],
            Some(Activation::Silu),
            false,
            MatmulPrecision::Tf32,
            dtype,
            &mut rng,
            device,
        );
    }
}

/// `fused_linear` on a large tall-skinny product like the model's (every row tile and
/// column tile of the kernels, and the mask and split together).
pub fn fused_linear_large<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(99);
    linear_case::<B>(
        "large",
        4500,
        &[(192, 0, 128), (64, 0, 64)],
        &[(64, 0, 64, true), (200, 8, 192, false)],
        None,
        true,
        MatmulPrecision::Exact,
        DType::F32,
        &mut rng,
        device,
    );
    linear_case::<B>(
        "large, activation",
        4500,
        &[(256, 0, 256)],
        &[(256, 0, 256, false)],
        Some(Activation::Silu),
        false,
        MatmulPrecision::Exact,
        DType::F32,
        &mut rng,
        device,
    );
}

/// The contraction of layer `k` of an l_max-2, parity, 2-layer tensor track.
pub(crate) fn allegro_spec(k: usize) -> (Arc<ContractionSpec>, Vec<u32>, usize) {
    let track = AllegroTensorTrack::new(2, true, 2).expect("track");
    let c = track.contraction(k).expect("contraction");
    let entries = c
        .couplings
        .iter()
        .enumerate()
        .flat_map(|(p, cs)| {
            cs.iter().map(move |e| ContractEntry {
                slots: [e.i1 as u32, e.i2 as u32, e.out as u32],
                path: p as u32,
                coeff: e.value,
            })
        })
        .collect();
    let irrep: Vec<u32> = track
        .sh
        .entry_of_component()
        .into_iter()
        .map(|r| r as u32)
        .collect();
    let spec = ContractionSpec {
        entries,
        dims: [c.dim1(), c.dim2(), c.dim_out()],
        num_paths: c.num_paths(),
    };
    (Arc::new(spec), irrep, track.sh.len())
}

/// `x[z,u,m] = Y[z,m]·W[z, u·R + r(m)]` with tape ops (`w` already the block, `[E, U·R]`).
fn weighted<B: Backend>(y: &Tensor<B>, w: &Tensor<B>, u: usize, irrep: &[u32]) -> Tensor<B> {
    let (e, r) = (y.dim(0), w.dim(1) / u);
    w.reshape(&[e, u, r])
        .index_select(2, &Indices::new(irrep, &y.device()))
        .mul(&y.unsqueeze(1))
}

/// Segment sizes: some empty, one long.
fn segment_sizes(rng: &mut SplitMix64, n: usize, long: usize) -> Vec<usize> {
    (0..n)
        .map(|i| match i % 5 {
            1 => 0,
            3 => long,
            _ => rng.below(9) as usize,
        })
        .collect()
}

/// One segment-contraction case: forward values against the composed tape ops, the
/// backward against the tape's gradients.
#[allow(clippy::too_many_arguments)]
fn segment_case<B: Backend>(
    name: &str,
    u: usize,
    layer_index: usize,
    weighted_x: bool,
    per_channel: bool,
    with_grad_out: bool,
    sizes: &[usize],
    dtype: DType,
    rng: &mut SplitMix64,
    device: &B::Device,
) {
    let (spec, irrep, r_n) = allegro_spec(layer_index);
    let [dx, dy, dout] = spec.dims;
    let layer = SegmentContraction {
        spec: spec.clone(),
        channels: u,
        per_channel,
        irrep_of_component: irrep.clone(),
        num_irreps: r_n,
    };
    let n = sizes.len();
    let mut offsets = vec![0u32];
    for s in sizes {
        offsets.push(offsets.last().unwrap() + *s as u32);
    }
    let e = *offsets.last().unwrap() as usize;
    let owner: Vec<u32> = (0..n)
        .flat_map(|i| std::iter::repeat_n(i as u32, sizes[i]))
        .collect();
    let t = |shape: &[usize], lo: f64, hi: f64, rng: &mut SplitMix64| {
        let v = rng.vec_uniform(crate::shape::numel(shape), lo, hi);
        Tensor::<B>::from_f64(&v, shape, dtype, device).expect("shape")
    };
    let y = t(&[e, dy], -1.0, 1.0, rng);
    // Both weight sets live in column blocks of wider buffers.
    let (w_stride, w_off) = (u * r_n + 7, 4);
    let (x_stride, x_off) = (2 * u * r_n + 1, u * r_n);
    let w_full = t(&[e, w_stride], -1.0, 1.0, rng);
    let wx_full = t(&[e, x_stride], -1.0, 1.0, rng);
    let x_plain = t(&[e, u, dx], -1.0, 1.0, rng);
    let theta = t(
        &[if per_channel { u } else { 1 }, spec.num_paths],
        -1.5,
        1.5,
        rng,
    );
    let scale = t(&[n], 0.2, 1.2, rng);
    let g_out = t(&[e, u, dout], -1.0, 1.0, rng);
    let g_first = t(&[e, u], -1.0, 1.0, rng);
    let w_block = ColumnBlock::of(w_stride, w_off, u * r_n);
    let x_block = ColumnBlock::of(x_stride, x_off, u * r_n);

    // The composition on the tape.
    let (yt, wt, wxt, xt) = (
        y.tracked(),
        w_full.tracked(),
        wx_full.tracked(),
        x_plain.tracked(),
    );
    let owner_idx = Indices::new(&owner, device);
    let omega = weighted(&yt, &wt.narrow(1, w_off, u * r_n), u, &irrep);
    let env = omega
        .index_add(0, &owner_idx, n)
        .mul(&scale.reshape(&[n, 1, 1]));
    let x_in = if weighted_x {
        weighted(&yt, &wxt.narrow(1, x_off, u * r_n), u, &irrep)
    } else {
        xt.clone()
    };
    let out = Tensor::channel_contract(
        &x_in,
        &env.index_select(0, &owner_idx),
        &theta,
        &spec,
        per_channel,
    );
    let first = out.narrow(2, 0, 1).reshape(&[e, u]);

    let offsets_dev = Indices::<B>::new(&offsets, device);
    let segments = Segments {
        offsets: offsets_dev.storage(),
        count: n,
        rows: e,
    };
    let x_arg = if weighted_x {
        ContractInput::Weighted(wx_full.storage(), x_block)
    } else {
        ContractInput::Plain(x_plain.storage())
    };
    let operands = SegmentOperands {
        x: x_arg,
        y: y.storage(),
        env_weights: (w_full.storage(), w_block),
        theta: theta.storage(),
        scale: scale.storage(),
    };
    let fwd = B::segment_contract_forward(&layer, operands, segments);
    let tol = tolerance(dtype);
    let label = format!("{name} ({dtype})");
    assert_close(
        &format!("{label}: env"),
        &download::<B>(&fwd.env),
        &env.to_vec_f64(),
        tol,
    );
    assert_close(
        &format!("{label}: out"),
        &download::<B>(&fwd.out),
        &out.to_vec_f64(),
        tol,
    );
    assert_close(
        &format!("{label}: first"),
        &download::<B>(&fwd.first),
        &first.to_vec_f64(),
        tol,
    );

    // L = ⟨out, g_out⟩ + ⟨first, g_first⟩ on the tape.
    let mut loss = first.mul(&g_first).sum_all();
    if with_grad_out {
        loss = loss.add(&out.mul(&g_out).sum_all());
    }
    let wrt: Vec<&Tensor<B>> = if weighted_x {
        vec![&yt, &wt, &wxt]
    } else {
        vec![&yt, &wt, &xt]
    };
    let g = crate::autodiff::grad(&[&loss], None, &wrt, false);
    let gy0 = t(&[e, dy], -1.0, 1.0, rng);
    let gw0 = t(&[e, w_stride], -1.0, 1.0, rng);
    let gx0 = t(&[e, x_stride], -1.0, 1.0, rng);
    // The destinations share their buffers with `gy0`… (as a caller's tensors may): the
    // op must not change what those tensors hold.
    let (gy0_host, gw0_host, gx0_host) = (gy0.to_vec_f64(), gw0.to_vec_f64(), gx0.to_vec_f64());
    let (mut gy_dev, mut gw_dev, mut gx_dev) = (
        gy0.storage().clone(),
        gw0.storage().clone(),
        gx0.storage().clone(),
    );
    let grads = SegmentGradients {
        x_weights: weighted_x.then_some((&mut gx_dev, x_block)),
        env_weights: (&mut gw_dev, w_block),
        y: &mut gy_dev,
    };
    let gx_plain = B::segment_contract_backward(
        &layer,
        operands,
        &fwd.env,
        with_grad_out.then_some(g_out.storage()),
        g_first.storage(),
        segments,
        grads,
    );
    assert_eq!(
        gy0.to_vec_f64(),
        gy0_host,
        "{label}: a shared buffer was written"
    );
    assert_eq!(
        gw0.to_vec_f64(),
        gw0_host,
        "{label}: a shared buffer was written"
    );
    assert_eq!(
        gx0.to_vec_f64(),
        gx0_host,
        "{label}: a shared buffer was written"
    );
    // ∂/∂Y is added to what the buffer held.
    let want_y: Vec<f64> = gy0_host
        .iter()
        .zip(g[0].to_vec_f64())
        .map(|(a, b)| a + b)
        .collect();
    assert_close(
        &format!("{label}: ∂/∂Y"),
        &download::<B>(&gy_dev),
        &want_y,
        tol * 10.0,
    );
    // Weight gradients overwrite their block and leave the other columns alone.
    let overwrite = |b: &[f64], grad: &Tensor<B>, block: ColumnBlock| -> Vec<f64> {
        let g = grad.to_vec_f64();
        (0..b.len())
            .map(|i| {
                let c = i % block.stride;
                if c >= block.offset && c < block.offset + block.width {
                    g[i]
                } else {
                    b[i]
                }
            })
            .collect()
    };
    assert_close(
        &format!("{label}: ∂/∂w"),
        &download::<B>(&gw_dev),
        &overwrite(&gw0_host, &g[1], w_block),
        tol * 10.0,
    );
    if weighted_x {
        assert!(gx_plain.is_none(), "{label}: weighted x returned ∂/∂x");
        assert_close(
            &format!("{label}: ∂/∂W_x"),
            &download::<B>(&gx_dev),
            &overwrite(&gx0_host, &g[2], x_block),
            tol * 10.0,
        );
    } else {
        let gx = gx_plain.expect("plain x returns ∂/∂x");
        assert_close(
            &format!("{label}: ∂/∂x"),
            &download::<B>(&gx),
            &g[2].to_vec_f64(),
            tol * 10.0,
        );
    }
}

/// The segment contraction and its adjoint: both layers of the seed's tensor track,
/// plain and weighted first operands, coupled and shared path weights, empty segments.
pub fn segment_contract<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(7);
    for dtype in [DType::F64, DType::F32] {
        let sizes = segment_sizes(&mut rng, 11, 12);
        segment_case::<B>(
            "layer 0, weighted x",
            5,
            0,
            true,
            true,
            true,
            &sizes,
            dtype,
            &mut rng,
            device,
        );
        segment_case::<B>(
            "layer 0, plain x, shared θ",
            5,
            0,
            false,
            false,
            true,
            &sizes,
            dtype,
            &mut rng,
            device,
        );
        segment_case::<B>(
            "layer 1 (scalar output), plain x",
            5,
            1,
            false,
            true,
            false,
            &sizes,
            dtype,
            &mut rng,
            device,
        );
    }
}

/// The segment contraction on segments as long as the model's (≈ 90 rows), with more
/// channels than a warp has threads.
pub fn segment_contract_long<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(70);
    let sizes = segment_sizes(&mut rng, 23, 90);
    segment_case::<B>(
        "long segments",
        40,
        0,
        true,
        true,
        true,
        &sizes,
        DType::F32,
        &mut rng,
        device,
    );
}
