//! The channel-wise sparse contraction on the CPU: edges in parallel, entries in a
//! fixed order (so results do not depend on the thread count).
//!
//! The backend runs the channels-as-lanes kernels of `fused_lanes.rs`; the plain loops
//! here are their oracle (compared in `fused_lanes`'s tests).

use rayon::prelude::*;

use super::{Cpu, CpuElement, CpuStorage, fused_lanes, simd};
use crate::backend::{ContractionSpec, FusedOps};

/// Edges per task of the weight gradient: partial sums of fixed blocks are added in
/// block order.
const EDGE_BLOCK: usize = 64;

/// `w[u, path_e]·c_e` for every channel and entry, `[U, n_entries]`.
#[cfg_attr(not(test), allow(dead_code))]
fn entry_weights<T: CpuElement>(
    w: &[T],
    channels: usize,
    spec: &ContractionSpec,
    per_channel: bool,
) -> Vec<T> {
    let p = spec.num_paths;
    let mut out = Vec::with_capacity(channels * spec.entries.len());
    for u in 0..channels {
        let row = if per_channel { u } else { 0 };
        out.extend(
            spec.entries
                .iter()
                .map(|e| w[row * p + e.path as usize] * T::from_f64(e.coeff)),
        );
    }
    out
}

#[cfg_attr(not(test), allow(dead_code))]
pub(super) fn contract<T: CpuElement>(
    x: &[T],
    y: &[T],
    w: &[T],
    channels: usize,
    spec: &ContractionSpec,
    per_channel: bool,
) -> Vec<T> {
    let [dx, dy, dout] = spec.dims;
    let n = spec.entries.len();
    let wc = entry_weights(w, channels, spec, per_channel);
    let edges = x.len().checked_div(dx * channels).unwrap_or(0);
    let mut out = vec![T::zero(); edges * channels * dout];
    if dout == 0 {
        return out;
    }
    out.par_chunks_mut(channels * dout)
        .enumerate()
        .with_min_len(16)
        .for_each(|(z, oz)| {
            for u in 0..channels {
                let xs = &x[(z * channels + u) * dx..][..dx];
                let ys = &y[(z * channels + u) * dy..][..dy];
                let os = &mut oz[u * dout..][..dout];
                let ws = &wc[u * n..][..n];
                for (e, &c) in spec.entries.iter().zip(ws) {
                    let [i, j, k] = e.slots;
                    os[k as usize] = os[k as usize] + xs[i as usize] * ys[j as usize] * c;
                }
            }
        });
    out
}

#[cfg_attr(not(test), allow(dead_code))]
pub(super) fn weight_grad<T: CpuElement>(
    x: &[T],
    y: &[T],
    g: &[T],
    channels: usize,
    spec: &ContractionSpec,
    per_channel: bool,
) -> Vec<T> {
    let [dx, dy, dout] = spec.dims;
    let p = spec.num_paths;
    let rows = if per_channel { channels } else { 1 };
    let edges = x.len().checked_div(dx * channels).unwrap_or(0);
    // Coefficients converted once, not in the innermost loop.
    let coeffs: Vec<T> = spec.entries.iter().map(|e| T::from_f64(e.coeff)).collect();
    let block_sum = |block: usize| {
        let mut acc = vec![T::zero(); rows * p];
        for z in block * EDGE_BLOCK..((block + 1) * EDGE_BLOCK).min(edges) {
            for u in 0..channels {
                let xs = &x[(z * channels + u) * dx..][..dx];
                let ys = &y[(z * channels + u) * dy..][..dy];
                let gs = &g[(z * channels + u) * dout..][..dout];
                let row = if per_channel { u } else { 0 };
                let a = &mut acc[row * p..][..p];
                for (e, &c) in spec.entries.iter().zip(&coeffs) {
                    let [i, j, k] = e.slots;
                    let v = xs[i as usize] * ys[j as usize] * gs[k as usize] * c;
                    a[e.path as usize] = a[e.path as usize] + v;
                }
            }
        }
        acc
    };
    let blocks = edges.div_ceil(EDGE_BLOCK);
    let partial: Vec<Vec<T>> = (0..blocks).into_par_iter().map(block_sum).collect();
    let mut out = vec![T::zero(); rows * p];
    for part in partial {
        for (o, v) in out.iter_mut().zip(part) {
            *o = *o + v;
        }
    }
    out
}

impl FusedOps for Cpu {
    fn channel_contract(
        x: &CpuStorage,
        y: &CpuStorage,
        w: &CpuStorage,
        _edges: usize,
        channels: usize,
        spec: &ContractionSpec,
        per_channel: bool,
    ) -> CpuStorage {
        match (x, y, w) {
            (CpuStorage::F32(a), CpuStorage::F32(b), CpuStorage::F32(c)) => {
                CpuStorage::from_vec_f32(fused_lanes::contract(
                    simd::level(),
                    a,
                    b,
                    c,
                    channels,
                    spec,
                    per_channel,
                ))
            }
            (CpuStorage::F64(a), CpuStorage::F64(b), CpuStorage::F64(c)) => {
                CpuStorage::from_vec_f64(fused_lanes::contract(
                    simd::level(),
                    a,
                    b,
                    c,
                    channels,
                    spec,
                    per_channel,
                ))
            }
            _ => panic!("cpu channel_contract: operands of different dtypes"),
        }
    }

    fn channel_contract_weight_grad(
        x: &CpuStorage,
        y: &CpuStorage,
        g: &CpuStorage,
        _edges: usize,
        channels: usize,
        spec: &ContractionSpec,
        per_channel: bool,
    ) -> CpuStorage {
        match (x, y, g) {
            (CpuStorage::F32(a), CpuStorage::F32(b), CpuStorage::F32(c)) => {
                CpuStorage::from_vec_f32(fused_lanes::weight_grad(
                    simd::level(),
                    a,
                    b,
                    c,
                    channels,
                    spec,
                    per_channel,
                ))
            }
            (CpuStorage::F64(a), CpuStorage::F64(b), CpuStorage::F64(c)) => {
                CpuStorage::from_vec_f64(fused_lanes::weight_grad(
                    simd::level(),
                    a,
                    b,
                    c,
                    channels,
                    spec,
                    per_channel,
                ))
            }
            _ => panic!("cpu channel_contract_weight_grad: operands of different dtypes"),
        }
    }
}
