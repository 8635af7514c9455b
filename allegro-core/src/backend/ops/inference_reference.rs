//! [`InferenceOps::uninit`](super::inference::InferenceOps::uninit) and
//! [`InferenceOps::fused_linear`](super::inference::InferenceOps::fused_linear) built from
//! primitive ops: the defaults of a backend without inference kernels, and what those
//! kernels are compared with (`testing::suite::inference_reference`). The segment
//! contraction's reference is in [`super::segment_reference`].
//!
//! `fused_linear` becomes: one [`ShapeOps::narrow`] per input block and a
//! [`ShapeOps::concat`] (the gathered `A`), one [`MatmulOps::matmul`], the epilogue as
//! elementwise ops, and the writes into the output blocks
//! ([`super::blocks_reference`]). A precision flag (TF32) is ignored: the reference is
//! the exact product.

use super::blocks_reference::{leading, read_columns, same_shape, write_columns, write_leading};
use super::elementwise::{BinaryOp, ElementwiseOps, UnaryOp};
use super::inference::{Activation, LinearSpec};
use super::matmul::{MatmulOps, MatmulSpec};
use super::shape::ShapeOps;
use super::storage::StorageOps;
use crate::dtype::DType;

/// [`InferenceOps::uninit`](super::inference::InferenceOps::uninit) by
/// [`StorageOps::full`]: zeros, one fill pass that a backend with uninitialised
/// allocation saves (callers write such buffers in full before reading them, so zeros
/// are as good as anything).
pub fn uninit_reference<B: StorageOps>(device: &B::Device, len: usize, dtype: DType) -> B::Storage {
    B::full(device, len, 0.0, dtype)
}

/// `(f(p), f'(p))` elementwise, by the formulas of [`Activation::value`] and
/// [`Activation::derivative`] written as elementwise ops (evaluated in the buffer's
/// dtype, where the CPU evaluates in f64 and rounds).
pub fn activation_reference<B: ElementwiseOps + StorageOps>(
    f: Activation,
    p: &B::Storage,
) -> (B::Storage, B::Storage) {
    let u = |op, x: &B::Storage| B::unary(op, x);
    let mul = |a: &B::Storage, b: &B::Storage| same_shape::<B>(BinaryOp::Mul, a, b);
    let add = |a: &B::Storage, b: &B::Storage| same_shape::<B>(BinaryOp::Add, a, b);
    // 1 − t², the derivative of tanh at t = tanh(·).
    let one_minus_square = |t: &B::Storage| {
        u(
            UnaryOp::AddScalar(1.0),
            &u(UnaryOp::MulScalar(-1.0), &u(UnaryOp::Square, t)),
        )
    };
    match f {
        Activation::Silu => (u(UnaryOp::Silu, p), u(UnaryOp::SiluGrad, p)),
        Activation::Mish => {
            // x·t with t = tanh(softplus x); f' = t + x·(1 − t²)·σ(x).
            let t = u(UnaryOp::Tanh, &u(UnaryOp::Softplus, p));
            let slope = mul(&mul(p, &one_minus_square(&t)), &u(UnaryOp::Sigmoid, p));
            (mul(p, &t), add(&t, &slope))
        }
        Activation::Gelu => {
            // x·h with h = (1 + erf(x/√2))/2; f' = h + x·φ(x), φ the normal density.
            let erf = u(
                UnaryOp::Erf,
                &u(UnaryOp::MulScalar(std::f64::consts::FRAC_1_SQRT_2), p),
            );
            let h = u(UnaryOp::MulScalar(0.5), &u(UnaryOp::AddScalar(1.0), &erf));
            let gauss = u(
                UnaryOp::Exp,
                &u(UnaryOp::MulScalar(-0.5), &u(UnaryOp::Square, p)),
            );
            let phi = u(
                UnaryOp::MulScalar(1.0 / (2.0 * std::f64::consts::PI).sqrt()),
                &gauss,
            );
            (mul(p, &h), add(&h, &mul(p, &phi)))
        }
        Activation::ShiftedSoftplus => (
            u(
                UnaryOp::AddScalar(-std::f64::consts::LN_2),
                &u(UnaryOp::Softplus, p),
            ),
            u(UnaryOp::Sigmoid, p),
        ),
        Activation::Tanh => {
            let t = u(UnaryOp::Tanh, p);
            let slope = one_minus_square(&t);
            (t, slope)
        }
        Activation::Sigmoid => {
            let s = u(UnaryOp::Sigmoid, p);
            let slope = mul(
                &s,
                &u(UnaryOp::AddScalar(1.0), &u(UnaryOp::MulScalar(-1.0), &s)),
            );
            (s, slope)
        }
        Activation::Softplus => (u(UnaryOp::Softplus, p), u(UnaryOp::Sigmoid, p)),
    }
}

/// `A @ W` with `A` the concatenation of the input blocks (`[rows, N]`; zeros when
/// `K = 0`, where there is nothing to multiply).
fn gathered_product<B: StorageOps + MatmulOps + ShapeOps>(
    spec: &LinearSpec,
    inputs: &[&B::Storage],
    weight: &B::Storage,
) -> B::Storage {
    let (rows, k, n) = (spec.rows, spec.k(), spec.n());
    if k == 0 {
        let (device, dtype) = (B::storage_device(weight), B::storage_dtype(weight));
        return B::full(&device, rows * n, 0.0, dtype);
    }
    let blocks: Vec<(B::Storage, usize)> = spec
        .inputs
        .iter()
        .zip(inputs)
        .filter(|(b, _)| b.width > 0)
        .map(|(b, s)| (read_columns::<B>(s, rows, *b), b.width))
        .collect();
    let a = match blocks.as_slice() {
        [(only, _)] => only.clone(),
        _ => {
            let parts: Vec<(&B::Storage, usize)> = blocks.iter().map(|(s, w)| (s, *w)).collect();
            B::concat(&parts, rows, 1)
        }
    };
    let product = MatmulSpec {
        batch: 1,
        m: rows,
        k,
        n,
        a_batched: false,
        b_batched: false,
        trans_a: false,
        trans_b: false,
    };
    B::matmul(&a, &leading::<B>(weight, k * n), product)
}

/// [`InferenceOps::fused_linear`](super::inference::InferenceOps::fused_linear) by
/// primitive ops (module docs), with the CPU's epilogue order: the product `P`, then
/// `f(P)` (and `f'(P)` into `derivative`'s first `rows·N` elements), then the mask, then
/// output block `j` takes the next `width_j` columns, stored or added.
pub fn fused_linear_reference<B: StorageOps + ElementwiseOps + MatmulOps + ShapeOps>(
    spec: &LinearSpec,
    inputs: &[&B::Storage],
    weight: &B::Storage,
    mask: Option<&B::Storage>,
    derivative: Option<&mut B::Storage>,
    outputs: &mut [&mut B::Storage],
) {
    let (rows, n) = (spec.rows, spec.n());
    assert_eq!(
        inputs.len(),
        spec.inputs.len(),
        "fused_linear: one buffer per input block"
    );
    assert_eq!(
        outputs.len(),
        spec.outputs.len(),
        "fused_linear: one buffer per output block"
    );
    if rows == 0 || n == 0 {
        return;
    }
    let mut c = gathered_product::<B>(spec, inputs, weight);
    if let Some(f) = spec.activation {
        let (value, slope) = activation_reference::<B>(f, &c);
        if let Some(d) = derivative {
            write_leading::<B>(d, &slope);
        }
        c = value;
    }
    if spec.masked {
        let m = leading::<B>(mask.expect("fused_linear: masked needs the mask"), rows * n);
        c = same_shape::<B>(BinaryOp::Mul, &c, &m);
    }
    let mut col = 0;
    for (out, dst) in spec.outputs.iter().zip(outputs.iter_mut()) {
        let b = out.block;
        if b.width > 0 {
            let part = if b.width == n {
                c.clone()
            } else {
                B::narrow(&c, rows, n, 1, col, b.width)
            };
            write_columns::<B>(dst, rows, b, &part, out.accumulate);
        }
        col += b.width;
    }
}
