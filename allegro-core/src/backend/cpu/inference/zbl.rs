//! The fused ZBL pair energies on the CPU: the host rows of
//! [`crate::backend::ops::zbl`], in parallel over chunks of edges (float64).

use std::sync::Arc;

use rayon::prelude::*;

use super::CpuStorage;
use super::harmonics::as_f64;
use crate::backend::ops::zbl::{ZblSpec, zbl_row};

/// Edges per parallel task.
const CHUNK: usize = 1024;

/// `E_z` (with `derivative`, `g_z·∂E_z/∂r` instead) of every edge.
fn rows(
    spec: &ZblSpec,
    r: &CpuStorage,
    center_types: &Arc<Vec<u32>>,
    neighbor_types: &Arc<Vec<u32>>,
    derivative: Option<&CpuStorage>,
) -> CpuStorage {
    let r = as_f64(r);
    let g = derivative.map(as_f64);
    let mut out = vec![0.0; r.len()];
    out.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, chunk)| {
            for (k, o) in chunk.iter_mut().enumerate() {
                let z = c * CHUNK + k;
                let (ti, tj) = (center_types[z] as usize, neighbor_types[z] as usize);
                let (energy, grad) = zbl_row(spec, r[z], ti, tj);
                *o = match &g {
                    Some(g) => g[z] * grad,
                    None => energy,
                };
            }
        });
    CpuStorage::from_vec_f64(out)
}

/// `E_z` of every edge, `[E]`.
pub(super) fn zbl_edge_energies(
    spec: &ZblSpec,
    r: &CpuStorage,
    center_types: &Arc<Vec<u32>>,
    neighbor_types: &Arc<Vec<u32>>,
) -> CpuStorage {
    rows(spec, r, center_types, neighbor_types, None)
}

/// `∂L/∂r`, `[E]`, from `∂L/∂E`.
pub(super) fn zbl_edge_energies_vjp(
    spec: &ZblSpec,
    r: &CpuStorage,
    center_types: &Arc<Vec<u32>>,
    neighbor_types: &Arc<Vec<u32>>,
    grad: &CpuStorage,
) -> CpuStorage {
    rows(spec, r, center_types, neighbor_types, Some(grad))
}
