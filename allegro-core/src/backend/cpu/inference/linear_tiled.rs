//! `fused_linear` in row tiles: the fast CPU path (`linear.rs` keeps the whole-matrix
//! version as the oracle; `tests` compares them).
//!
//! The whole-matrix version gathers all of `A` into a fresh `[rows, K]` buffer, writes
//! the product into another fresh `[rows, N]` one and then sweeps it three more times
//! (derivative, nonlinearity, scatter): at MD sizes those buffers are tens of megabytes,
//! each fresh one costs a page fault per 4 KiB, and every sweep goes to memory. Here each
//! thread takes tiles of [`TILE_ROWS`] rows: gather, product (faer, one thread), epilogue
//! and scatter all run on a tile that stays in cache, in scratch buffers reused from tile
//! to tile.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::super::CpuStorage;
use super::linear::Typed;
use crate::backend::ops::inference::{Activation, LinearSpec};

/// Rows per tile: `A` and `P` tiles of `TILE_ROWS × 256` f32 are 64 KiB each.
const TILE_ROWS: usize = 64;

/// One tile's destination rows: a chunk of each output buffer and of the derivative.
struct TileOut<'a, T> {
    outputs: Vec<&'a mut [T]>,
    derivative: Option<&'a mut [T]>,
}

/// Splits `buf`'s first `rows` rows of `stride` elements into chunks of `TILE_ROWS` rows
/// (one per tile; empty chunks when `stride` is 0).
fn tile_chunks<T>(buf: &mut [T], rows: usize, stride: usize, tiles: usize) -> Vec<&mut [T]> {
    if stride == 0 {
        return (0..tiles).map(|_| <&mut [T]>::default()).collect();
    }
    buf[..rows * stride]
        .chunks_mut(TILE_ROWS * stride)
        .collect()
}

/// `d ← f'(p)` (when there is a `d`), then `p ← f(p)`.
fn activate<T: Typed>(f: Activation, p: &mut [T], d: Option<&mut [T]>) {
    match d {
        Some(d) => {
            if f == Activation::Silu && T::silu_with_derivative(p, d) {
                return;
            }
            for (p, d) in p.iter_mut().zip(d.iter_mut()) {
                let (v, g) = f.value_and_derivative(p.to_f64());
                *d = T::from_f64(g);
                *p = T::from_f64(v);
            }
        }
        None => p
            .iter_mut()
            .for_each(|p| *p = T::from_f64(f.value(p.to_f64()))),
    }
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
    if rows == 0 {
        return;
    }
    let tiles = rows.div_ceil(TILE_ROWS);
    let sources: Vec<&[T]> = inputs.iter().map(|s| T::slice(s)).collect();
    let w = MatRef::from_row_major_slice(T::slice(weight), k, n);
    let mask: Option<&[T]> = mask.map(|m| T::slice(m));
    let mut per_tile: Vec<TileOut<'_, T>> = (0..tiles)
        .map(|_| TileOut {
            outputs: Vec::with_capacity(outputs.len()),
            derivative: None,
        })
        .collect();
    for (out, dst) in spec.outputs.iter().zip(outputs.iter_mut()) {
        let chunks = tile_chunks(T::slice_mut(dst), rows, out.block.stride, tiles);
        for (t, c) in per_tile.iter_mut().zip(chunks) {
            t.outputs.push(c);
        }
    }
    if let (Some(_), Some(d)) = (spec.activation, derivative) {
        let chunks = tile_chunks(T::slice_mut(d), rows, n, tiles);
        for (t, c) in per_tile.iter_mut().zip(chunks) {
            t.derivative = Some(c);
        }
    }
    per_tile.into_par_iter().enumerate().for_each_init(
        || {
            (
                vec![T::zero(); TILE_ROWS * k],
                vec![T::zero(); TILE_ROWS * n],
            )
        },
        |(a, p), (t, mut dst)| {
            let r0 = t * TILE_ROWS;
            let tr = TILE_ROWS.min(rows - r0);
            let (a, p) = (&mut a[..tr * k], &mut p[..tr * n]);
            // A = [A_0 | A_1 | …] for the tile's rows.
            for (i, dst_row) in a.chunks_mut(k.max(1)).enumerate().take(tr) {
                let r = r0 + i;
                let mut col = 0;
                for (block, src) in spec.inputs.iter().zip(&sources) {
                    let row = &src[r * block.stride + block.offset..][..block.width];
                    dst_row[col..col + block.width].copy_from_slice(row);
                    col += block.width;
                }
            }
            if k == 0 {
                p.iter_mut().for_each(|v| *v = T::zero());
            } else {
                let lhs = MatRef::from_row_major_slice(a, tr, k);
                let dst_p = MatMut::from_row_major_slice_mut(p, tr, n);
                matmul(dst_p, Accum::Replace, lhs, w, T::one(), Par::Seq);
            }
            if let Some(f) = spec.activation {
                activate(f, p, dst.derivative.as_deref_mut());
            }
            if spec.masked {
                let m = &mask.expect("fused_linear: masked needs the mask")[r0 * n..][..tr * n];
                p.iter_mut().zip(m).for_each(|(p, &m)| *p *= m);
            }
            let mut col = 0;
            for (out, chunk) in spec.outputs.iter().zip(dst.outputs.iter_mut()) {
                let b = out.block;
                for i in 0..tr {
                    let src = &p[i * n + col..][..b.width];
                    let row = &mut chunk[i * b.stride + b.offset..][..b.width];
                    if out.accumulate {
                        row.iter_mut().zip(src).for_each(|(d, &v)| *d += v);
                    } else {
                        row.copy_from_slice(src);
                    }
                }
                col += b.width;
            }
        },
    );
}

/// Dispatches on the dtype of the weight.
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
