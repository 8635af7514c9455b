//! Sums over an axis on the CPU, bit-reproducible for any thread count.

use rayon::prelude::*;

use super::storage::map_storage;
use super::{Cpu, CpuElement, CpuStorage, PAR_MIN_LEN};
use crate::backend::ReduceOps;

/// Length of the fixed chunks a long sum is split into; partial sums are then added in
/// chunk order, so the result does not depend on how chunks were scheduled.
const SUM_CHUNK: usize = 4096;

fn sum_contiguous<T: CpuElement>(x: &[T]) -> T {
    if x.len() <= SUM_CHUNK {
        return x.iter().copied().fold(T::zero(), |s, v| s + v);
    }
    let partial: Vec<T> = x
        .par_chunks(SUM_CHUNK)
        .map(|c| c.iter().copied().fold(T::zero(), |s, v| s + v))
        .collect();
    partial.into_iter().fold(T::zero(), |s, v| s + v)
}

fn sum_axis_slice<T: CpuElement>(x: &[T], outer: usize, n: usize, inner: usize) -> Vec<T> {
    if inner == 1 {
        // One contiguous run per output.
        if outer == 1 {
            return vec![sum_contiguous(x)];
        }
        let row = |o: usize| {
            x[o * n..(o + 1) * n]
                .iter()
                .copied()
                .fold(T::zero(), |s, v| s + v)
        };
        return if outer * n < PAR_MIN_LEN {
            (0..outer).map(row).collect()
        } else {
            (0..outer).into_par_iter().map(row).collect()
        };
    }
    // Accumulate whole rows of length `inner`: vectorises and reads memory in order.
    let block = |o: usize, dst: &mut [T]| {
        for k in 0..n {
            let src = &x[(o * n + k) * inner..(o * n + k + 1) * inner];
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = *d + s;
            }
        }
    };
    let mut out = vec![T::zero(); outer * inner];
    if outer == 1 && n * inner >= PAR_MIN_LEN {
        // Split the inner axis into column blocks; each block sums all n rows in order.
        let cols = 256;
        out.par_chunks_mut(cols).enumerate().for_each(|(c, dst)| {
            for k in 0..n {
                let start = k * inner + c * cols;
                let len = dst.len();
                for (d, &s) in dst.iter_mut().zip(&x[start..start + len]) {
                    *d = *d + s;
                }
            }
        });
    } else if outer * n * inner < PAR_MIN_LEN {
        out.chunks_mut(inner)
            .enumerate()
            .for_each(|(o, d)| block(o, d));
    } else {
        out.par_chunks_mut(inner)
            .enumerate()
            .for_each(|(o, d)| block(o, d));
    }
    out
}

impl ReduceOps for Cpu {
    fn sum_axis(x: &CpuStorage, outer: usize, n: usize, inner: usize) -> CpuStorage {
        map_storage!(x, |v| sum_axis_slice(v, outer, n, inner))
    }
}
