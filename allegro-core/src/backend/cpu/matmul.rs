//! Batched GEMM on faer.
//!
//! faer was measured against matrixmultiply, gemm and OpenBLAS on this machine class
//! (`docs/perf.md`, "GEMM choice"): about twice as fast as the others in f32 on two
//! cores, with identical results.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::{Cpu, CpuElement, CpuStorage};
use crate::backend::{MatmulOps, MatmulSpec};

/// Products smaller than this many multiply-adds run single-threaded (faer's own
/// threading only pays off above it); batches of them are spread over threads instead.
const PAR_GEMM_MIN_WORK: usize = 1 << 18;

/// Rows of `C` per task when one tall product is split over threads. Fixed (not derived
/// from the thread count) so results do not depend on it.
const ROW_TILE: usize = 256;

/// Reduction length per task when a short, deep product (a weight gradient: few rows,
/// a sum over every edge) is split over threads; fixed, like [`ROW_TILE`].
const DEPTH_TILE: usize = 2048;

/// `op(A)` for one batch entry, as a faer view.
fn operand<T: CpuElement>(data: &[T], rows: usize, cols: usize, trans: bool) -> MatRef<'_, T> {
    if trans {
        MatRef::from_row_major_slice(data, cols, rows).transpose()
    } else {
        MatRef::from_row_major_slice(data, rows, cols)
    }
}

fn gemm_one<T: CpuElement + faer::traits::ComplexField>(
    a: &[T],
    b: &[T],
    c: &mut [T],
    spec: &MatmulSpec,
    par: Par,
) {
    let MatmulSpec { m, k, n, .. } = *spec;
    let lhs = operand(a, m, k, spec.trans_a);
    let rhs = operand(b, k, n, spec.trans_b);
    let dst = MatMut::from_row_major_slice_mut(c, m, n);
    matmul(dst, Accum::Replace, lhs, rhs, T::one(), par);
}

pub(crate) fn gemm<T: CpuElement + faer::traits::ComplexField>(
    a: &[T],
    b: &[T],
    spec: &MatmulSpec,
) -> Vec<T> {
    let MatmulSpec { batch, m, k, n, .. } = *spec;
    let mut out = vec![T::zero(); batch * m * n];
    if m * n == 0 {
        return out;
    }
    let a_stride = if spec.a_batched { m * k } else { 0 };
    let b_stride = if spec.b_batched { k * n } else { 0 };
    let work = m * n * k.max(1);
    let entry = |i: usize, c: &mut [T], par: Par| {
        let ai = &a[i * a_stride..i * a_stride + m * k];
        let bi = &b[i * b_stride..i * b_stride + k * n];
        gemm_one(ai, bi, c, spec, par);
    };
    if work >= PAR_GEMM_MIN_WORK && m >= 2 * ROW_TILE {
        // A tall product (per-edge rows): row tiles of `C` on rayon's threads, each one
        // single-threaded GEMM. faer's own threading splits every product with barriers
        // between its steps, whose spinning cost a tenth of a training step on two cores.
        for i in 0..batch {
            let ai = &a[i * a_stride..i * a_stride + m * k];
            let bi = &b[i * b_stride..i * b_stride + k * n];
            let rhs = operand(bi, k, n, spec.trans_b);
            out[i * m * n..(i + 1) * m * n]
                .par_chunks_mut(ROW_TILE * n)
                .enumerate()
                .for_each(|(t, c)| {
                    let rows = c.len() / n;
                    let lhs = operand(ai, m, k, spec.trans_a).subrows(t * ROW_TILE, rows);
                    let dst = MatMut::from_row_major_slice_mut(c, rows, n);
                    matmul(dst, Accum::Replace, lhs, rhs, T::one(), Par::Seq);
                });
        }
    } else if work >= PAR_GEMM_MIN_WORK && k >= 2 * DEPTH_TILE {
        // A short, deep product: partial products over fixed spans of the reduction on
        // rayon's threads, added in span order.
        for i in 0..batch {
            let ai = &a[i * a_stride..i * a_stride + m * k];
            let bi = &b[i * b_stride..i * b_stride + k * n];
            let (lhs, rhs) = (
                operand(ai, m, k, spec.trans_a),
                operand(bi, k, n, spec.trans_b),
            );
            let partial: Vec<Vec<T>> = (0..k.div_ceil(DEPTH_TILE))
                .into_par_iter()
                .map(|t| {
                    let (k0, len) = (t * DEPTH_TILE, DEPTH_TILE.min(k - t * DEPTH_TILE));
                    let mut c = vec![T::zero(); m * n];
                    let dst = MatMut::from_row_major_slice_mut(&mut c, m, n);
                    let (l, r) = (lhs.subcols(k0, len), rhs.subrows(k0, len));
                    matmul(dst, Accum::Replace, l, r, T::one(), Par::Seq);
                    c
                })
                .collect();
            let c = &mut out[i * m * n..(i + 1) * m * n];
            for part in partial {
                for (o, v) in c.iter_mut().zip(part) {
                    *o += v;
                }
            }
        }
    } else if work >= PAR_GEMM_MIN_WORK || batch == 1 {
        // `Par::rayon(0)` ran on one thread here; ask for the pool size explicitly.
        let par = if work >= PAR_GEMM_MIN_WORK {
            Par::rayon(rayon::current_num_threads())
        } else {
            Par::Seq
        };
        out.chunks_mut(m * n)
            .enumerate()
            .for_each(|(i, c)| entry(i, c, par));
    } else {
        let min_len = (PAR_GEMM_MIN_WORK / work).max(1);
        out.par_chunks_mut(m * n)
            .enumerate()
            .with_min_len(min_len)
            .for_each(|(i, c)| entry(i, c, Par::Seq));
    }
    out
}

impl MatmulOps for Cpu {
    fn matmul(a: &CpuStorage, b: &CpuStorage, spec: MatmulSpec) -> CpuStorage {
        match (a, b) {
            (CpuStorage::F32(x), CpuStorage::F32(y)) => CpuStorage::from_vec_f32(gemm(x, y, &spec)),
            (CpuStorage::F64(x), CpuStorage::F64(y)) => CpuStorage::from_vec_f64(gemm(x, y, &spec)),
            _ => panic!("cpu backend: matmul operands of different dtypes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row tiles of a tall product and depth spans of a short, deep one against one
    /// single-threaded GEMM (the plain path), for every transpose pattern and sizes that
    /// are not multiples of the tiles.
    #[test]
    fn tiles_match_one_gemm() {
        for (m, k, n) in [(3 * ROW_TILE + 37, 300, 19), (40, 3 * DEPTH_TILE + 11, 23)] {
            check_tiles(m, k, n);
        }
    }

    fn check_tiles(m: usize, k: usize, n: usize) {
        let data = |len: usize, seed: f64| -> Vec<f64> {
            (0..len)
                .map(|i| (i as f64 * 0.618 + seed).fract() - 0.5)
                .collect()
        };
        let (a, b) = (data(m * k, 0.1), data(k * n, 0.2));
        for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
            let spec = MatmulSpec {
                batch: 1,
                m,
                k,
                n,
                trans_a,
                trans_b,
                a_batched: true,
                b_batched: false,
            };
            assert!(m * n * k >= PAR_GEMM_MIN_WORK);
            let tiled = gemm(&a, &b, &spec);
            let mut plain = vec![0.0; m * n];
            gemm_one(&a, &b, &mut plain, &spec, Par::Seq);
            for (x, y) in tiled.iter().zip(&plain) {
                assert!(
                    (x - y).abs() <= 1e-12,
                    "{m}×{k}×{n} {trans_a} {trans_b}: {x} vs {y}"
                );
            }
        }
    }
}
