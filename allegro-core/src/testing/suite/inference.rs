//! Checks of the no-tape inference primitives: `fused_linear` against a plain f64 loop
//! (the segment contraction's checks are in [`super::segment`]).

use crate::backend::{Activation, Backend, ColumnBlock, LinearSpec, MatmulPrecision, OutputBlock};
use crate::dtype::DType;
use crate::rng::SplitMix64;
use crate::tensor::Tensor;

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
pub(super) fn assert_close(name: &str, got: &[f64], want: &[f64], rtol: f64) {
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

pub(super) fn tolerance(dtype: DType) -> f64 {
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

pub(super) fn download<B: Backend>(s: &B::Storage) -> Vec<f64> {
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
