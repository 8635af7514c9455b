//! Gather and scatter-add along an axis on the CPU.

use std::sync::Arc;

use rayon::prelude::*;

use super::storage::map_storage;
use super::{Cpu, CpuElement, CpuStorage, PAR_MIN_LEN};
use crate::backend::IndexOps;

fn index_select_slice<T: CpuElement>(
    x: &[T],
    outer: usize,
    n: usize,
    inner: usize,
    idx: &[u32],
) -> Vec<T> {
    let m = idx.len();
    let mut out = vec![T::zero(); outer * m * inner];
    if inner == 0 || m == 0 {
        return out;
    }
    if inner == 1 {
        // Gathering along the last axis: one output row of m elements per outer index.
        let gather = |o: usize, dst: &mut [T]| {
            let src = &x[o * n..(o + 1) * n];
            for (d, &i) in dst.iter_mut().zip(idx) {
                *d = src[i as usize];
            }
        };
        if out.len() < PAR_MIN_LEN {
            out.chunks_mut(m)
                .enumerate()
                .for_each(|(o, d)| gather(o, d));
        } else {
            let min_rows = (PAR_MIN_LEN / 4 / m).max(1);
            out.par_chunks_mut(m)
                .enumerate()
                .with_min_len(min_rows)
                .for_each(|(o, d)| gather(o, d));
        }
        return out;
    }
    let copy_row = |r: usize, dst: &mut [T]| {
        let (o, j) = (r / m, r % m);
        let src = (o * n + idx[j] as usize) * inner;
        dst.copy_from_slice(&x[src..src + inner]);
    };
    if out.len() < PAR_MIN_LEN {
        out.chunks_mut(inner)
            .enumerate()
            .for_each(|(r, d)| copy_row(r, d));
    } else {
        let min_rows = (PAR_MIN_LEN / 4 / inner).max(1);
        out.par_chunks_mut(inner)
            .enumerate()
            .with_min_len(min_rows)
            .for_each(|(r, d)| copy_row(r, d));
    }
    out
}

/// Sources grouped by destination (a stable counting sort): `order[start[d]..start[d+1]]`
/// are the `m` with `idx[m] = d`, in increasing `m`.
pub(crate) fn group_by_destination(idx: &[u32], n: usize) -> (Vec<usize>, Vec<u32>) {
    let mut start = vec![0usize; n + 1];
    for &d in idx {
        start[d as usize + 1] += 1;
    }
    for d in 0..n {
        start[d + 1] += start[d];
    }
    let mut fill = start.clone();
    let mut order = vec![0u32; idx.len()];
    for (m, &d) in idx.iter().enumerate() {
        order[fill[d as usize]] = m as u32;
        fill[d as usize] += 1;
    }
    (start, order)
}

fn index_add_slice<T: CpuElement>(
    src: &[T],
    outer: usize,
    idx: &[u32],
    inner: usize,
    n: usize,
) -> Vec<T> {
    let m = idx.len();
    let mut out = vec![T::zero(); outer * n * inner];
    if inner == 0 || n == 0 {
        return out;
    }
    if src.len() < PAR_MIN_LEN {
        for o in 0..outer {
            for (j, &d) in idx.iter().enumerate() {
                let s = &src[(o * m + j) * inner..(o * m + j + 1) * inner];
                let dst = &mut out[(o * n + d as usize) * inner..(o * n + d as usize + 1) * inner];
                for (a, &b) in dst.iter_mut().zip(s) {
                    *a = *a + b;
                }
            }
        }
        return out;
    }
    // Each destination row is owned by one task and sums its sources in increasing m:
    // parallel, without atomics, and deterministic.
    let (start, order) = group_by_destination(idx, n);
    let min_rows = (PAR_MIN_LEN / 4 / inner).max(1);
    out.par_chunks_mut(inner)
        .enumerate()
        .with_min_len(min_rows)
        .for_each(|(r, dst)| {
            let (o, d) = (r / n, r % n);
            for &j in &order[start[d]..start[d + 1]] {
                let s = &src[(o * m + j as usize) * inner..(o * m + j as usize + 1) * inner];
                for (a, &b) in dst.iter_mut().zip(s) {
                    *a = *a + b;
                }
            }
        });
    out
}

impl IndexOps for Cpu {
    fn index_select(
        x: &CpuStorage,
        outer: usize,
        n: usize,
        inner: usize,
        idx: &Arc<Vec<u32>>,
        _idx_len: usize,
    ) -> CpuStorage {
        map_storage!(x, |v| index_select_slice(v, outer, n, inner, idx))
    }

    fn index_add(
        src: &CpuStorage,
        outer: usize,
        idx: &Arc<Vec<u32>>,
        _idx_len: usize,
        inner: usize,
        n: usize,
    ) -> CpuStorage {
        map_storage!(src, |v| index_add_slice(v, outer, idx, inner, n))
    }
}
