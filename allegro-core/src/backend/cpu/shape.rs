//! Permute, broadcast, concatenate and slice on the CPU (ndarray for the strided copies).

use ndarray::{ArrayView, IxDyn};
use rayon::prelude::*;

use super::storage::map_storage;
use super::{Cpu, CpuElement, CpuStorage};
use crate::backend::ShapeOps;

/// Side of the square tiles of [`transpose_last_two`]: a tile of both source and
/// destination stays in L1.
const TILE: usize = 32;

/// Swaps the last two axes of `[batch, rows, cols]` tile by tile (cache-friendly).
fn transpose_last_two<T: CpuElement>(x: &[T], batch: usize, rows: usize, cols: usize) -> Vec<T> {
    let mut out = vec![T::zero(); x.len()];
    let one = |b: usize, dst: &mut [T]| {
        let src = &x[b * rows * cols..(b + 1) * rows * cols];
        for r0 in (0..rows).step_by(TILE) {
            for c0 in (0..cols).step_by(TILE) {
                for r in r0..(r0 + TILE).min(rows) {
                    for c in c0..(c0 + TILE).min(cols) {
                        dst[c * rows + r] = src[r * cols + c];
                    }
                }
            }
        }
    };
    if batch == 1 && rows * cols >= super::PAR_MIN_LEN {
        // Split the output by destination rows (source columns) across threads.
        let chunk_cols = TILE;
        out.par_chunks_mut(chunk_cols * rows)
            .enumerate()
            .for_each(|(k, dst)| {
                let c0 = k * chunk_cols;
                let nc = dst.len() / rows;
                for r in 0..rows {
                    for c in 0..nc {
                        dst[c * rows + r] = x[r * cols + c0 + c];
                    }
                }
            });
    } else {
        out.chunks_mut(rows * cols)
            .enumerate()
            .for_each(|(b, d)| one(b, d));
    }
    out
}

/// Permutes the leading `lead` axes of `x`, moving blocks of the trailing (fixed) axes
/// whole; output blocks are written in parallel for large tensors.
fn permute_blocks<T: CpuElement>(x: &[T], shape: &[usize], perm: &[usize], lead: usize) -> Vec<T> {
    let block = crate::shape::numel(&shape[lead..]);
    let in_strides = crate::shape::contiguous_strides(&shape[..lead]);
    let out_shape: Vec<usize> = perm[..lead].iter().map(|&p| shape[p]).collect();
    // Stride in the input (in blocks) of each output axis.
    let strides: Vec<usize> = perm[..lead].iter().map(|&p| in_strides[p]).collect();
    let mut out = vec![T::zero(); x.len()];
    if block == 0 {
        return out;
    }
    let copy = |o: usize, dst: &mut [T]| {
        let (mut src, mut rem) = (0, o);
        for d in (0..lead).rev() {
            src += (rem % out_shape[d]) * strides[d];
            rem /= out_shape[d];
        }
        dst.copy_from_slice(&x[src * block..(src + 1) * block]);
    };
    if x.len() < super::PAR_MIN_LEN {
        out.chunks_mut(block)
            .enumerate()
            .for_each(|(o, d)| copy(o, d));
    } else {
        let min = (super::PAR_MIN_LEN / 4 / block).max(1);
        out.par_chunks_mut(block)
            .enumerate()
            .with_min_len(min)
            .for_each(|(o, d)| copy(o, d));
    }
    out
}

fn permute_slice<T: CpuElement>(x: &[T], shape: &[usize], perm: &[usize]) -> Vec<T> {
    let r = shape.len();
    let swaps_last_two = r >= 2
        && perm[r - 2] == r - 1
        && perm[r - 1] == r - 2
        && perm[..r - 2].iter().enumerate().all(|(k, &p)| k == p);
    if swaps_last_two {
        let batch = crate::shape::numel(&shape[..r - 2]);
        return transpose_last_two(x, batch, shape[r - 2], shape[r - 1]);
    }
    // Axes that stay in place at the end form contiguous blocks: move whole blocks.
    let kept = (0..r).rev().take_while(|&k| perm[k] == k).count();
    if kept > 0 && kept < r {
        return permute_blocks(x, shape, perm, r - kept);
    }
    let view = ArrayView::from_shape(IxDyn(shape), x).expect("cpu permute: shape and length agree");
    let permuted = view.permuted_axes(IxDyn(perm));
    permuted.as_standard_layout().iter().copied().collect()
}

/// Broadcast by output rows (last axis): each row copies one source row or repeats
/// one source element; rows are filled in parallel for large outputs.
fn broadcast_slice<T: CpuElement>(x: &[T], in_shape: &[usize], out_shape: &[usize]) -> Vec<T> {
    let n = crate::shape::numel(out_shape);
    if x.len() == 1 {
        return vec![x[0]; n];
    }
    let rank = out_shape.len();
    let row = out_shape[rank - 1];
    let mut strides = crate::shape::contiguous_strides(in_shape);
    for (s, &d) in strides.iter_mut().zip(in_shape) {
        if d == 1 {
            *s = 0;
        }
    }
    let last = strides[rank - 1];
    let mut out = vec![T::zero(); n];
    let fill = |r: usize, dst: &mut [T]| {
        let (mut off, mut rem) = (0, r);
        for d in (0..rank - 1).rev() {
            off += (rem % out_shape[d]) * strides[d];
            rem /= out_shape[d];
        }
        if last == 0 {
            dst.fill(x[off]);
        } else {
            dst.copy_from_slice(&x[off..off + row]);
        }
    };
    if n < super::PAR_MIN_LEN || row == 0 {
        out.chunks_mut(row.max(1))
            .enumerate()
            .for_each(|(r, d)| fill(r, d));
    } else {
        let min_rows = (super::PAR_MIN_LEN / 4 / row).max(1);
        out.par_chunks_mut(row)
            .enumerate()
            .with_min_len(min_rows)
            .for_each(|(r, d)| fill(r, d));
    }
    out
}

fn narrow_slice<T: CpuElement>(
    x: &[T],
    outer: usize,
    n: usize,
    inner: usize,
    start: usize,
    len: usize,
) -> Vec<T> {
    let mut out = Vec::with_capacity(outer * len * inner);
    for o in 0..outer {
        out.extend_from_slice(&x[(o * n + start) * inner..(o * n + start + len) * inner]);
    }
    out
}

fn pad_slice<T: CpuElement>(
    x: &[T],
    outer: usize,
    n: usize,
    inner: usize,
    before: usize,
    after: usize,
) -> Vec<T> {
    let mut out = Vec::with_capacity(outer * (before + n + after) * inner);
    for o in 0..outer {
        out.resize(out.len() + before * inner, T::zero());
        out.extend_from_slice(&x[o * n * inner..(o + 1) * n * inner]);
        out.resize(out.len() + after * inner, T::zero());
    }
    out
}

fn concat_slices<T: CpuElement>(parts: &[(&[T], usize)], outer: usize, inner: usize) -> Vec<T> {
    let total: usize = parts.iter().map(|p| p.1).sum();
    let mut out = Vec::with_capacity(outer * total * inner);
    for o in 0..outer {
        for &(x, n) in parts {
            out.extend_from_slice(&x[o * n * inner..(o + 1) * n * inner]);
        }
    }
    out
}

impl ShapeOps for Cpu {
    fn permute(x: &CpuStorage, shape: &[usize], perm: &[usize]) -> CpuStorage {
        map_storage!(x, |v| permute_slice(v, shape, perm))
    }

    fn broadcast_to(x: &CpuStorage, in_shape: &[usize], out_shape: &[usize]) -> CpuStorage {
        map_storage!(x, |v| broadcast_slice(v, in_shape, out_shape))
    }

    fn concat(parts: &[(&CpuStorage, usize)], outer: usize, inner: usize) -> CpuStorage {
        match parts.first() {
            Some((CpuStorage::F32(_), _)) => {
                let typed: Vec<(&[f32], usize)> = parts
                    .iter()
                    .map(|(s, n)| match s {
                        CpuStorage::F32(v) => (v.as_slice(), *n),
                        _ => panic!("cpu concat: parts of different dtypes"),
                    })
                    .collect();
                CpuStorage::from_vec_f32(concat_slices(&typed, outer, inner))
            }
            Some((CpuStorage::F64(_), _)) => {
                let typed: Vec<(&[f64], usize)> = parts
                    .iter()
                    .map(|(s, n)| match s {
                        CpuStorage::F64(v) => (v.as_slice(), *n),
                        _ => panic!("cpu concat: parts of different dtypes"),
                    })
                    .collect();
                CpuStorage::from_vec_f64(concat_slices(&typed, outer, inner))
            }
            None => panic!("cpu concat: no parts"),
        }
    }

    fn narrow(
        x: &CpuStorage,
        outer: usize,
        n: usize,
        inner: usize,
        start: usize,
        len: usize,
    ) -> CpuStorage {
        map_storage!(x, |v| narrow_slice(v, outer, n, inner, start, len))
    }

    fn pad(
        x: &CpuStorage,
        outer: usize,
        n: usize,
        inner: usize,
        before: usize,
        after: usize,
    ) -> CpuStorage {
        map_storage!(x, |v| pad_slice(v, outer, n, inner, before, after))
    }
}
