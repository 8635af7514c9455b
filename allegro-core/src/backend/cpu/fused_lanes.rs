//! The channel-wise sparse contraction and its weight gradient with channels as vector
//! lanes: the fast CPU path of the tape's `channel_contract` (`fused.rs` keeps the plain
//! loops as the oracle; the tests below compare them).
//!
//! Operands are laid out `[edge, channel, component]`, so for a fixed edge and component
//! the channels are strided. Per edge, each operand is transposed into a small
//! `[component][channel]` tile that stays in L1, and each coupling entry `(i, j, k)` is
//! then one loop over channels, `o[k][u] += x[i][u]·y[j][u]·c[u]`, which the compiler
//! vectorises (compiled per [`SimdLevel`]). The contraction adds in the plain path's
//! order and association, so both give the same bits; the weight gradient sums each
//! entry over a block of edges before scaling by its coefficient, so it differs from
//! the plain path by rounding only. Both split edges into fixed blocks, so results do not
//! depend on the thread count.

use rayon::prelude::*;

use super::CpuElement;
use super::simd::{SimdLevel, dispatch};
use crate::backend::ContractionSpec;

/// Edges per parallel task (and per partial sum of the weight gradient).
const EDGE_BLOCK: usize = 64;

/// `[U][d]` rows of one edge into a `[d][U]` tile.
#[inline(always)]
fn transpose_in<T: CpuElement>(row: &[T], d: usize, channels: usize, tile: &mut [T]) {
    for u in 0..channels {
        for i in 0..d {
            tile[i * channels + u] = row[u * d + i];
        }
    }
}

/// Per-task scratch tiles.
struct Tiles<T> {
    x: Vec<T>,
    y: Vec<T>,
    o: Vec<T>,
}

impl<T: CpuElement> Tiles<T> {
    fn new(channels: usize, dims: [usize; 3]) -> Self {
        Tiles {
            x: vec![T::zero(); dims[0] * channels],
            y: vec![T::zero(); dims[1] * channels],
            o: vec![T::zero(); dims[2] * channels],
        }
    }
}

/// What every block reads.
struct Shared<'a, T> {
    x: &'a [T],
    y: &'a [T],
    /// `(i, j, k)` of each coupling entry.
    slots: Vec<[usize; 3]>,
    /// `w[u, p_e]·c_e`, `[entry][channel]` (contraction), or `c_e` (weight gradient).
    coeffs: Vec<T>,
    channels: usize,
    dims: [usize; 3],
}

/// `out[z] = Σ_e x[z, :, i]·y[z, :, j]·c_e[:]` into `k`, for the edges of one block.
#[inline(always)]
fn contract_block<T: CpuElement>(s: &Shared<'_, T>, first: usize, out: &mut [T]) {
    let (u_n, [dx, dy, dout]) = (s.channels, s.dims);
    let mut t = Tiles::new(u_n, s.dims);
    for (local, oz) in out.chunks_mut(u_n * dout).enumerate() {
        let z = first + local;
        transpose_in(&s.x[z * u_n * dx..][..u_n * dx], dx, u_n, &mut t.x);
        transpose_in(&s.y[z * u_n * dy..][..u_n * dy], dy, u_n, &mut t.y);
        t.o.iter_mut().for_each(|v| *v = T::zero());
        for (e, &[i, j, k]) in s.slots.iter().enumerate() {
            let (x, y) = (&t.x[i * u_n..][..u_n], &t.y[j * u_n..][..u_n]);
            let c = &s.coeffs[e * u_n..][..u_n];
            let o = &mut t.o[k * u_n..][..u_n];
            for (((o, &x), &y), &c) in o.iter_mut().zip(x).zip(y).zip(c) {
                *o = *o + x * y * c;
            }
        }
        for u in 0..u_n {
            for k in 0..dout {
                oz[u * dout + k] = t.o[k * u_n + u];
            }
        }
    }
}

dispatch!(fn contract_block_at<T: CpuElement>(s: &Shared<'_, T>, first: usize, out: &mut [T]) => contract_block);

/// `Σ_{z in block} x[z, :, i]·y[z, :, j]·g[z, :, k]` per entry, `[entry][channel]`.
#[inline(always)]
fn weight_grad_block<T: CpuElement>(
    s: &Shared<'_, T>,
    g: &[T],
    edges: std::ops::Range<usize>,
    acc: &mut [T],
) {
    let (u_n, [dx, dy, dout]) = (s.channels, s.dims);
    let mut t = Tiles::new(u_n, s.dims);
    for z in edges {
        transpose_in(&s.x[z * u_n * dx..][..u_n * dx], dx, u_n, &mut t.x);
        transpose_in(&s.y[z * u_n * dy..][..u_n * dy], dy, u_n, &mut t.y);
        transpose_in(&g[z * u_n * dout..][..u_n * dout], dout, u_n, &mut t.o);
        for (e, &[i, j, k]) in s.slots.iter().enumerate() {
            let (x, y, g) = (
                &t.x[i * u_n..][..u_n],
                &t.y[j * u_n..][..u_n],
                &t.o[k * u_n..][..u_n],
            );
            let a = &mut acc[e * u_n..][..u_n];
            for (((a, &x), &y), &g) in a.iter_mut().zip(x).zip(y).zip(g) {
                *a = *a + x * y * g;
            }
        }
    }
}

dispatch!(fn weight_grad_block_at<T: CpuElement>(
    s: &Shared<'_, T>,
    g: &[T],
    edges: std::ops::Range<usize>,
    acc: &mut [T],
) => weight_grad_block);

fn slots(spec: &ContractionSpec) -> Vec<[usize; 3]> {
    spec.entries
        .iter()
        .map(|e| e.slots.map(|s| s as usize))
        .collect()
}

/// `out[z, u, k] = Σ_{e: k_e = k} x[z, u, i_e]·y[z, u, j_e]·w[u, p_e]·c_e`, `[E, U, d_out]`
/// (`w` has one row when not `per_channel`).
pub(crate) fn contract<T: CpuElement>(
    level: SimdLevel,
    x: &[T],
    y: &[T],
    w: &[T],
    channels: usize,
    spec: &ContractionSpec,
    per_channel: bool,
) -> Vec<T> {
    let [dx, _, dout] = spec.dims;
    let edges = x.len().checked_div(dx * channels).unwrap_or(0);
    let mut out = vec![T::zero(); edges * channels * dout];
    if dout == 0 || channels == 0 {
        return out;
    }
    let p = spec.num_paths;
    let mut coeffs = Vec::with_capacity(spec.entries.len() * channels);
    for e in &spec.entries {
        coeffs.extend((0..channels).map(|u| {
            let row = if per_channel { u } else { 0 };
            w[row * p + e.path as usize] * T::from_f64(e.coeff)
        }));
    }
    let s = Shared {
        x,
        y,
        slots: slots(spec),
        coeffs,
        channels,
        dims: spec.dims,
    };
    out.par_chunks_mut(EDGE_BLOCK * channels * dout)
        .enumerate()
        .for_each(|(b, block)| contract_block_at(level, &s, b * EDGE_BLOCK, block));
    out
}

/// `∂/∂w` of [`contract`] against the output gradient `g`: `[U, P]` when `per_channel`,
/// else `[1, P]`.
pub(crate) fn weight_grad<T: CpuElement>(
    level: SimdLevel,
    x: &[T],
    y: &[T],
    g: &[T],
    channels: usize,
    spec: &ContractionSpec,
    per_channel: bool,
) -> Vec<T> {
    let [dx, _, _] = spec.dims;
    let p = spec.num_paths;
    let rows = if per_channel { channels } else { 1 };
    let mut out = vec![T::zero(); rows * p];
    let edges = x.len().checked_div(dx * channels).unwrap_or(0);
    if edges == 0 || channels == 0 {
        return out;
    }
    let n = spec.entries.len();
    let s = Shared {
        x,
        y,
        slots: slots(spec),
        coeffs: Vec::new(),
        channels,
        dims: spec.dims,
    };
    let blocks = edges.div_ceil(EDGE_BLOCK);
    let partial: Vec<Vec<T>> = (0..blocks)
        .into_par_iter()
        .map(|b| {
            let mut acc = vec![T::zero(); n * channels];
            let range = b * EDGE_BLOCK..((b + 1) * EDGE_BLOCK).min(edges);
            weight_grad_block_at(level, &s, g, range, &mut acc);
            acc
        })
        .collect();
    // Blocks in order, then each entry scaled by its coefficient into its path.
    let mut sums = vec![T::zero(); n * channels];
    for part in partial {
        for (o, v) in sums.iter_mut().zip(part) {
            *o = *o + v;
        }
    }
    for (e, entry) in spec.entries.iter().enumerate() {
        let c = T::from_f64(entry.coeff);
        let path = entry.path as usize;
        for u in 0..channels {
            let row = if per_channel { u } else { 0 };
            out[row * p + path] = out[row * p + path] + sums[e * channels + u] * c;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::simd::SimdLevel;
    use crate::backend::{ContractEntry, ContractionSpec};

    /// A spec with repeated outputs and paths, like a tensor product's.
    fn spec() -> ContractionSpec {
        let mut entries = Vec::new();
        let (dx, dy, dout) = (4, 3, 5);
        let mut c = 0.37;
        for i in 0..dx {
            for j in 0..dy {
                if (i + 2 * j) % 3 == 0 {
                    continue;
                }
                c = (c * 7.1_f64).fract() - 0.5;
                entries.push(ContractEntry {
                    slots: [i as u32, j as u32, ((i + j) % dout) as u32],
                    path: ((i * j) % 3) as u32,
                    coeff: c,
                });
            }
        }
        ContractionSpec {
            entries,
            dims: [dx, dy, dout],
            num_paths: 3,
        }
    }

    fn data(n: usize, seed: f64) -> Vec<f64> {
        (0..n)
            .map(|k| ((k as f64 * 0.618 + seed).fract() - 0.5) * 2.0)
            .collect()
    }

    #[test]
    fn lanes_match_the_plain_loops() {
        let spec = spec();
        let [dx, dy, dout] = spec.dims;
        // 150 edges: two full blocks and a partial one; 13 channels: not a lane multiple.
        let (edges, u) = (150, 13);
        let x = data(edges * u * dx, 0.1);
        let y = data(edges * u * dy, 0.2);
        let g = data(edges * u * dout, 0.3);
        for per_channel in [true, false] {
            let w = data(if per_channel { u } else { 1 } * spec.num_paths, 0.4);
            let plain = super::super::fused::contract(&x, &y, &w, u, &spec, per_channel);
            let plain_wg = super::super::fused::weight_grad(&x, &y, &g, u, &spec, per_channel);
            for level in SimdLevel::available() {
                let lanes = super::contract(level, &x, &y, &w, u, &spec, per_channel);
                assert_eq!(lanes, plain, "{level:?} per_channel={per_channel}");
                let wg = super::weight_grad(level, &x, &y, &g, u, &spec, per_channel);
                for (a, b) in wg.iter().zip(&plain_wg) {
                    assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{a} vs {b}");
                }
            }
        }
    }
}
