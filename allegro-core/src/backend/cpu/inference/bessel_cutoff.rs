//! The fused Bessel basis × cutoff on the CPU: the host rows of
//! [`crate::backend::ops::bessel_cutoff`], in parallel over chunks of edges, evaluated in
//! float64 and rounded to the buffer's dtype.

use rayon::prelude::*;

use super::CpuStorage;
use super::harmonics::{as_f64, like};
use crate::backend::ops::bessel_cutoff::{
    bessel_cutoff_jvp_row, bessel_cutoff_row, bessel_cutoff_vjp_row,
};

/// Edges per parallel task.
const CHUNK: usize = 1024;

/// `f(x)`, `[E, N]`.
pub(super) fn bessel_cutoff(x: &CpuStorage, weights: &CpuStorage, p: f64) -> CpuStorage {
    let (xs, w) = (as_f64(x), as_f64(weights));
    let n = w.len();
    let mut out = vec![0.0; xs.len() * n];
    if n > 0 {
        out.par_chunks_mut(CHUNK * n)
            .zip(xs.par_chunks(CHUNK))
            .for_each(|(o, xs)| {
                for (row, &x) in o.chunks_mut(n).zip(xs) {
                    bessel_cutoff_row(x, &w, p, row);
                }
            });
    }
    like(x, out)
}

/// `∂L/∂x`, `[E]`, from `∂L/∂f`.
pub(super) fn bessel_cutoff_vjp(
    x: &CpuStorage,
    weights: &CpuStorage,
    grad: &CpuStorage,
    p: f64,
) -> CpuStorage {
    let (xs, w, g) = (as_f64(x), as_f64(weights), as_f64(grad));
    let n = w.len();
    let mut out = vec![0.0; xs.len()];
    if n > 0 {
        out.par_chunks_mut(CHUNK)
            .zip(xs.par_chunks(CHUNK))
            .zip(g.par_chunks(CHUNK * n))
            .for_each(|((o, xs), gs)| {
                for ((o, &x), g) in o.iter_mut().zip(xs).zip(gs.chunks(n)) {
                    *o = bessel_cutoff_vjp_row(x, &w, p, g);
                }
            });
    }
    like(x, out)
}

/// `h_z·f'(x_z)`, `[E, N]`.
pub(super) fn bessel_cutoff_jvp(
    x: &CpuStorage,
    weights: &CpuStorage,
    h: &CpuStorage,
    p: f64,
) -> CpuStorage {
    let (xs, w, hs) = (as_f64(x), as_f64(weights), as_f64(h));
    let n = w.len();
    let mut out = vec![0.0; xs.len() * n];
    if n > 0 {
        out.par_chunks_mut(CHUNK * n)
            .zip(xs.par_chunks(CHUNK))
            .zip(hs.par_chunks(CHUNK))
            .for_each(|((o, xs), hs)| {
                for ((row, &x), &h) in o.chunks_mut(n).zip(xs).zip(hs) {
                    bessel_cutoff_jvp_row(x, &w, p, h, row);
                }
            });
    }
    like(x, out)
}
