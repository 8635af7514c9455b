//! The fused spherical harmonics of edge vectors on the CPU: the host rows of
//! [`crate::backend::ops::harmonics`], in parallel over chunks of edges, evaluated in
//! float64 and rounded to the buffer's dtype.

use rayon::prelude::*;

use super::CpuStorage;
use crate::backend::ops::harmonics::{
    HarmonicsSpec, harmonics_jvp_row, harmonics_row, harmonics_vjp_row,
};

/// Edges per parallel task.
const CHUNK: usize = 1024;

/// A buffer's values as float64 (a copy for float32).
pub(super) fn as_f64(s: &CpuStorage) -> std::borrow::Cow<'_, [f64]> {
    match s {
        CpuStorage::F64(a) => std::borrow::Cow::Borrowed(a.as_slice()),
        CpuStorage::F32(a) => a.iter().map(|&x| f64::from(x)).collect(),
    }
}

/// `values` in the dtype of `like`.
pub(super) fn like(like: &CpuStorage, values: Vec<f64>) -> CpuStorage {
    match like {
        CpuStorage::F64(_) => CpuStorage::from_vec_f64(values),
        CpuStorage::F32(_) => CpuStorage::from_vec_f32(values.iter().map(|&x| x as f32).collect()),
    }
}

/// `Y(v)`, `[E, dim]`.
pub(super) fn edge_harmonics(spec: &HarmonicsSpec, v: &CpuStorage) -> CpuStorage {
    let vals = as_f64(v);
    let dim = spec.dim;
    let mut out = vec![0.0; vals.len() / 3 * dim];
    out.par_chunks_mut(CHUNK * dim)
        .zip(vals.par_chunks(CHUNK * 3))
        .for_each(|(o, vs)| {
            for (row, x) in o.chunks_mut(dim).zip(vs.chunks(3)) {
                harmonics_row(spec, [x[0], x[1], x[2]], row);
            }
        });
    like(v, out)
}

/// `∂L/∂v`, `[E, 3]`, from `∂L/∂Y`.
pub(super) fn edge_harmonics_vjp(
    spec: &HarmonicsSpec,
    v: &CpuStorage,
    grad_y: &CpuStorage,
) -> CpuStorage {
    let (vals, gy) = (as_f64(v), as_f64(grad_y));
    let dim = spec.dim;
    let mut out = vec![0.0; vals.len()];
    out.par_chunks_mut(CHUNK * 3)
        .zip(vals.par_chunks(CHUNK * 3))
        .zip(gy.par_chunks(CHUNK * dim))
        .for_each(|((o, vs), gs)| {
            for ((row, x), g) in o.chunks_mut(3).zip(vs.chunks(3)).zip(gs.chunks(dim)) {
                row.copy_from_slice(&harmonics_vjp_row(spec, [x[0], x[1], x[2]], g));
            }
        });
    like(v, out)
}

/// `Σ_d h_d ∂Y/∂v_d`, `[E, dim]`.
pub(super) fn edge_harmonics_jvp(
    spec: &HarmonicsSpec,
    v: &CpuStorage,
    h: &CpuStorage,
) -> CpuStorage {
    let (vals, hs) = (as_f64(v), as_f64(h));
    let dim = spec.dim;
    let mut out = vec![0.0; vals.len() / 3 * dim];
    out.par_chunks_mut(CHUNK * dim)
        .zip(vals.par_chunks(CHUNK * 3))
        .zip(hs.par_chunks(CHUNK * 3))
        .for_each(|((o, vs), hs)| {
            for ((row, x), h) in o.chunks_mut(dim).zip(vs.chunks(3)).zip(hs.chunks(3)) {
                harmonics_jvp_row(spec, [x[0], x[1], x[2]], [h[0], h[1], h[2]], row);
            }
        });
    like(v, out)
}
