//! `fused_linear` on the CPU: gather the input blocks, one faer product, then the
//! epilogue (nonlinearity and its derivative, or the mask) and the scatter into the
//! output blocks.

use rayon::prelude::*;

use super::super::matmul::gemm;
use super::super::{CpuElement, CpuStorage};
use crate::backend::MatmulSpec;
use crate::backend::ops::inference::{Activation, LinearSpec};

/// Rows per parallel task of the gather and scatter loops.
const ROW_CHUNK: usize = 256;

/// The typed slice of a storage of dtype `T`.
pub(super) trait Typed: CpuElement + faer::traits::ComplexField {
    fn slice(s: &CpuStorage) -> &[Self];
    fn slice_mut(s: &mut CpuStorage) -> &mut Vec<Self>;
    fn wrap(v: Vec<Self>) -> CpuStorage;
    /// `d ← SiLU'(p)`, `p ← SiLU(p)` by a vectorised kernel of this precision; false
    /// (nothing done) where there is none.
    fn silu_with_derivative(_p: &mut [Self], _d: &mut [Self]) -> bool {
        false
    }
}

impl Typed for f32 {
    fn slice(s: &CpuStorage) -> &[f32] {
        match s {
            CpuStorage::F32(v) => v,
            CpuStorage::F64(_) => panic!("cpu backend: expected an f32 buffer"),
        }
    }
    fn slice_mut(s: &mut CpuStorage) -> &mut Vec<f32> {
        match s {
            CpuStorage::F32(v) => std::sync::Arc::make_mut(v),
            CpuStorage::F64(_) => panic!("cpu backend: expected an f32 buffer"),
        }
    }
    fn wrap(v: Vec<f32>) -> CpuStorage {
        CpuStorage::from_vec_f32(v)
    }
    fn silu_with_derivative(p: &mut [f32], d: &mut [f32]) -> bool {
        super::super::silu::silu_with_derivative(super::super::simd::level(), p, d);
        true
    }
}

impl Typed for f64 {
    fn slice(s: &CpuStorage) -> &[f64] {
        match s {
            CpuStorage::F64(v) => v,
            CpuStorage::F32(_) => panic!("cpu backend: expected an f64 buffer"),
        }
    }
    fn slice_mut(s: &mut CpuStorage) -> &mut Vec<f64> {
        match s {
            CpuStorage::F64(v) => std::sync::Arc::make_mut(v),
            CpuStorage::F32(_) => panic!("cpu backend: expected an f64 buffer"),
        }
    }
    fn wrap(v: Vec<f64>) -> CpuStorage {
        CpuStorage::from_vec_f64(v)
    }
}

/// `f(x)` in the buffer's precision (evaluated in f64, as the reference is).
pub(super) fn act<T: CpuElement>(f: Activation, x: T) -> T {
    T::from_f64(f.value(x.to_f64()))
}

/// `f'(x)` in the buffer's precision.
pub(super) fn act_grad<T: CpuElement>(f: Activation, x: T) -> T {
    T::from_f64(f.derivative(x.to_f64()))
}

fn run<T: Typed>(
    spec: &LinearSpec,
    inputs: &[&CpuStorage],
    weight: &CpuStorage,
    mask: Option<&CpuStorage>,
    derivative: Option<&mut CpuStorage>,
    outputs: &mut [&mut CpuStorage],
) {
    let (rows, k, n) = (spec.rows, spec.k(), spec.n());
    // A = [A_0 | A_1 | …] as one contiguous [rows, K] matrix.
    let mut a = vec![T::zero(); rows * k];
    let sources: Vec<&[T]> = inputs.iter().map(|s| T::slice(s)).collect();
    a.par_chunks_mut(k.max(1))
        .enumerate()
        .with_min_len(ROW_CHUNK)
        .for_each(|(r, dst)| {
            let mut col = 0;
            for (block, src) in spec.inputs.iter().zip(&sources) {
                let row = &src[r * block.stride + block.offset..][..block.width];
                dst[col..col + block.width].copy_from_slice(row);
                col += block.width;
            }
        });
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
    let mut c = if k == 0 {
        vec![T::zero(); rows * n]
    } else {
        gemm(&a, T::slice(weight), &product)
    };
    if let Some(f) = spec.activation {
        if let Some(d) = derivative {
            let d = T::slice_mut(d);
            d.par_iter_mut()
                .zip(c.par_iter())
                .with_min_len(ROW_CHUNK * n.max(1))
                .for_each(|(d, &p)| *d = act_grad(f, p));
        }
        c.par_iter_mut()
            .with_min_len(ROW_CHUNK * n.max(1))
            .for_each(|p| *p = act(f, *p));
    }
    if spec.masked {
        let m = T::slice(mask.expect("fused_linear: masked needs the mask"));
        c.par_iter_mut()
            .zip(m.par_iter())
            .with_min_len(ROW_CHUNK * n.max(1))
            .for_each(|(c, &m)| *c *= m);
    }
    let mut col = 0;
    for (out, dst) in spec.outputs.iter().zip(outputs.iter_mut()) {
        let b = out.block;
        let dst = T::slice_mut(dst);
        dst.par_chunks_mut(b.stride.max(1))
            .take(rows)
            .enumerate()
            .with_min_len(ROW_CHUNK)
            .for_each(|(r, row)| {
                let src = &c[r * n + col..][..b.width];
                for (d, &v) in row[b.offset..b.offset + b.width].iter_mut().zip(src) {
                    *d = if out.accumulate { *d + v } else { v };
                }
            });
        col += b.width;
    }
}

/// Dispatches on the dtype of the weight.
#[cfg_attr(not(test), allow(dead_code))]
pub(super) fn fused_linear(
    spec: &LinearSpec,
    inputs: &[&CpuStorage],
    weight: &CpuStorage,
    mask: Option<&CpuStorage>,
    derivative: Option<&mut CpuStorage>,
    outputs: &mut [&mut CpuStorage],
) {
    match weight {
        CpuStorage::F32(_) => run::<f32>(spec, inputs, weight, mask, derivative, outputs),
        CpuStorage::F64(_) => run::<f64>(spec, inputs, weight, mask, derivative, outputs),
    }
}
