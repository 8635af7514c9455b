//! The segment contraction and its adjoint with channels as vector lanes: the fast CPU
//! path (`segment.rs` keeps the plain loops as the oracle; `tests` compares them).
//!
//! Every buffer is laid out `[row, channel, component]`, so for a fixed row and
//! component the channels are strided. Per segment the operands are transposed into
//! small `[component][channel]` tiles that stay in L1; then each coupling entry
//! `(i, j, k, c)` is one loop over channels, `o[k][u] += x[i][u]·env[j][u]·c[u]`, which
//! the compiler vectorises (compiled per [`SimdLevel`]). Sums run in the plain path's
//! order per channel, so both give the same values up to the order of the `∂Y` sum.

use rayon::prelude::*;

use super::super::CpuStorage;
use super::super::simd::{SimdLevel, dispatch};
use super::linear::Typed;
use super::segment::split_by_segment;
use crate::backend::ops::inference::{
    ColumnBlock, ContractInput, SegmentContraction, SegmentForward, SegmentGradients,
    SegmentOperands, Segments,
};

/// What every segment reads.
struct Shared<'a, T> {
    /// `(i, j, k)` of each coupling entry.
    slots: Vec<[usize; 3]>,
    /// `θ[u, p_e]·c_e`, `[entry][channel]`.
    coeffs: Vec<T>,
    /// Channels `U`, irreps `R`, `[dx, dY, d_out]`.
    u_n: usize,
    r_n: usize,
    dims: [usize; 3],
    irrep: &'a [u32],
    offsets: &'a [u32],
    y: &'a [T],
    w: &'a [T],
    wb: ColumnBlock,
    scale: &'a [T],
    /// `x` plain (`[E, U, dx]`) or as weights of `Y` (`[E, U·R]` block).
    x_plain: Option<&'a [T]>,
    x_weights: Option<(&'a [T], ColumnBlock)>,
}

impl<'a, T: Typed> Shared<'a, T> {
    fn new(
        layer: &'a SegmentContraction,
        ops: &SegmentOperands<'a, CpuStorage>,
        offsets: &'a [u32],
    ) -> Self {
        let u_n = layer.channels;
        let theta = T::slice(ops.theta);
        let p = layer.spec.num_paths;
        let entries = &layer.spec.entries;
        let mut coeffs = vec![T::zero(); entries.len() * u_n];
        for (e, entry) in entries.iter().enumerate() {
            for u in 0..u_n {
                let row = if layer.per_channel { u } else { 0 };
                coeffs[e * u_n + u] =
                    theta[row * p + entry.path as usize] * T::from_f64(entry.coeff);
            }
        }
        let (x_plain, x_weights) = match ops.x {
            ContractInput::Plain(s) => (Some(T::slice(s)), None),
            ContractInput::Weighted(s, b) => (None, Some((T::slice(s), b))),
        };
        Shared {
            slots: entries
                .iter()
                .map(|e| e.slots.map(|s| s as usize))
                .collect(),
            coeffs,
            u_n,
            r_n: layer.num_irreps,
            dims: layer.spec.dims,
            irrep: &layer.irrep_of_component,
            offsets,
            y: T::slice(ops.y),
            w: T::slice(ops.env_weights.0),
            wb: ops.env_weights.1,
            scale: T::slice(ops.scale),
            x_plain,
            x_weights,
        }
    }

    /// Row `z` of a `[E, U·R]` weight block as a `[R][U]` tile.
    #[inline(always)]
    fn weights_tile(&self, w: &[T], b: ColumnBlock, z: usize, tile: &mut [T]) {
        let row = &w[z * b.stride + b.offset..][..self.u_n * self.r_n];
        for u in 0..self.u_n {
            for r in 0..self.r_n {
                tile[r * self.u_n + u] = row[u * self.r_n + r];
            }
        }
    }

    /// `x[z]` as a `[dx][U]` tile; `wtile` is scratch of `R·U`.
    #[inline(always)]
    fn x_tile(&self, z: usize, tile: &mut [T], wtile: &mut [T]) {
        let (u_n, dx) = (self.u_n, self.dims[0]);
        match (self.x_plain, self.x_weights) {
            (Some(x), _) => {
                let row = &x[z * u_n * dx..][..u_n * dx];
                for u in 0..u_n {
                    for i in 0..dx {
                        tile[i * u_n + u] = row[u * dx + i];
                    }
                }
            }
            (None, Some((w, b))) => {
                // x[z,u,m] = Y[z,m]·W[z, u·R + r(m)].
                self.weights_tile(w, b, z, wtile);
                let dy = self.dims[1];
                for m in 0..dx {
                    let ym = self.y[z * dy + m];
                    let wr = &wtile[self.irrep[m] as usize * u_n..][..u_n];
                    for (t, &wv) in tile[m * u_n..][..u_n].iter_mut().zip(wr) {
                        *t = ym * wv;
                    }
                }
            }
            (None, None) => unreachable!("one form is set"),
        }
    }

    /// `env[n]` as a `[dY][U]` tile: `scale[n]·Σ_z Y[z,m]·w[z, u·R + r(m)]`.
    #[inline(always)]
    fn env_tile(&self, n: usize, env: &mut [T], wtile: &mut [T]) {
        let (u_n, dy) = (self.u_n, self.dims[1]);
        env.iter_mut().for_each(|v| *v = T::zero());
        for z in self.offsets[n] as usize..self.offsets[n + 1] as usize {
            self.weights_tile(self.w, self.wb, z, wtile);
            for m in 0..dy {
                let ym = self.y[z * dy + m];
                let wr = &wtile[self.irrep[m] as usize * u_n..][..u_n];
                for (e, &wv) in env[m * u_n..][..u_n].iter_mut().zip(wr) {
                    *e += ym * wv;
                }
            }
        }
        let s = self.scale[n];
        env.iter_mut().for_each(|v| *v *= s);
    }
}

/// Per-segment scratch tiles.
struct Tiles<T> {
    env: Vec<T>,
    x: Vec<T>,
    w: Vec<T>,
    acc: Vec<T>,
    acc2: Vec<T>,
    go: Vec<T>,
}

impl<T: Typed> Tiles<T> {
    fn new(s: &Shared<'_, T>) -> Self {
        let u = s.u_n;
        let [dx, dy, dout] = s.dims;
        let widest = dx.max(dy).max(dout).max(s.r_n);
        Tiles {
            env: vec![T::zero(); dy * u],
            x: vec![T::zero(); dx * u],
            w: vec![T::zero(); s.r_n * u],
            acc: vec![T::zero(); widest * u],
            acc2: vec![T::zero(); widest * u],
            go: vec![T::zero(); dout * u],
        }
    }
}

/// One segment of the forward pass: `env_n` `[U, dY]`, `out_n` `[rows, U, d_out]`,
/// `first_n` `[rows, U]`.
#[inline(always)]
fn forward_segment<T: Typed>(
    s: &Shared<'_, T>,
    t: &mut Tiles<T>,
    n: usize,
    env_n: &mut [T],
    out_n: &mut [T],
    first_n: &mut [T],
) {
    let (u_n, [_, dy, dout]) = (s.u_n, s.dims);
    s.env_tile(n, &mut t.env, &mut t.w);
    for u in 0..u_n {
        for m in 0..dy {
            env_n[u * dy + m] = t.env[m * u_n + u];
        }
    }
    let rows = s.offsets[n] as usize..s.offsets[n + 1] as usize;
    for (local, z) in rows.enumerate() {
        s.x_tile(z, &mut t.x, &mut t.w);
        let o = &mut t.acc[..dout * u_n];
        o.iter_mut().for_each(|v| *v = T::zero());
        for (e, &[i, j, k]) in s.slots.iter().enumerate() {
            let (x, env) = (&t.x[i * u_n..][..u_n], &t.env[j * u_n..][..u_n]);
            let c = &s.coeffs[e * u_n..][..u_n];
            let o = &mut o[k * u_n..][..u_n];
            for (((o, &x), &env), &c) in o.iter_mut().zip(x).zip(env).zip(c) {
                *o += x * env * c;
            }
        }
        let out = &mut out_n[local * u_n * dout..][..u_n * dout];
        for u in 0..u_n {
            for k in 0..dout {
                out[u * dout + k] = o[k * u_n + u];
            }
        }
        first_n[local * u_n..][..u_n].copy_from_slice(&o[..u_n]);
    }
}

dispatch!(fn forward_segment_at<T: Typed>(
    s: &Shared<'_, T>,
    t: &mut Tiles<T>,
    n: usize,
    env_n: &mut [T],
    out_n: &mut [T],
    first_n: &mut [T],
) => forward_segment);

fn forward_typed<T: Typed>(
    level: SimdLevel,
    layer: &SegmentContraction,
    ops: SegmentOperands<'_, CpuStorage>,
    segments: Segments<'_, std::sync::Arc<Vec<u32>>>,
) -> SegmentForward<CpuStorage> {
    let offsets: &[u32] = segments.offsets;
    let s = Shared::<T>::new(layer, &ops, offsets);
    let (u_n, [_, dy, dout]) = (s.u_n, s.dims);
    let mut env = vec![T::zero(); segments.count * u_n * dy];
    let mut out = vec![T::zero(); segments.rows * u_n * dout];
    let mut first = vec![T::zero(); segments.rows * u_n];
    let outs = split_by_segment(&mut out, offsets, u_n * dout);
    let firsts = split_by_segment(&mut first, offsets, u_n);
    env.par_chunks_mut((u_n * dy).max(1))
        .zip(outs)
        .zip(firsts)
        .enumerate()
        .for_each_init(
            || Tiles::new(&s),
            |t, (n, ((env_n, out_n), first_n))| {
                forward_segment_at(level, &s, t, n, env_n, out_n, first_n)
            },
        );
    SegmentForward {
        env: T::wrap(env),
        out: T::wrap(out),
        first: T::wrap(first),
    }
}

/// What one segment of the backward pass writes.
struct SegmentGrads<'a, T> {
    /// `∂Y` rows `[rows, dY]` (added to).
    gy: &'a mut [T],
    /// `∂w` rows (block of the environment weights).
    gw: &'a mut [T],
    /// `∂x` rows `[rows, U, dx]` for a plain `x`.
    gx: Option<&'a mut [T]>,
    /// `∂W_x` rows (block) for a weighted `x`.
    gxw: Option<(&'a mut [T], ColumnBlock)>,
}

/// What the backward pass reads besides [`Shared`].
struct BackwardInputs<'a, T> {
    env: &'a [T],
    grad_out: Option<&'a [T]>,
    grad_first: &'a [T],
    gw_block: ColumnBlock,
}

/// One segment of the adjoint.
#[inline(always)]
fn backward_segment<T: Typed>(
    s: &Shared<'_, T>,
    b: &BackwardInputs<'_, T>,
    t: &mut Tiles<T>,
    n: usize,
    g: &mut SegmentGrads<'_, T>,
) {
    let (u_n, r_n, [dx, dy, dout]) = (s.u_n, s.r_n, s.dims);
    for u in 0..u_n {
        for m in 0..dy {
            t.env[m * u_n + u] = b.env[(n * u_n + u) * dy + m];
        }
    }
    // genv[j][u], kept across the rows of the segment in `acc2`.
    let genv = &mut t.acc2[..dy * u_n];
    genv.iter_mut().for_each(|v| *v = T::zero());
    let go = &mut t.go;
    let rows = s.offsets[n] as usize..s.offsets[n + 1] as usize;
    for (local, z) in rows.clone().enumerate() {
        s.x_tile(z, &mut t.x, &mut t.w);
        // ∂out[z] as [k][u], with ∂first added to component 0.
        for u in 0..u_n {
            for k in 0..dout {
                go[k * u_n + u] = b
                    .grad_out
                    .map_or(T::zero(), |g| g[(z * u_n + u) * dout + k]);
            }
            go[u] += b.grad_first[z * u_n + u];
        }
        let gx = &mut t.acc[..dx * u_n];
        gx.iter_mut().for_each(|v| *v = T::zero());
        for (e, &[i, j, k]) in s.slots.iter().enumerate() {
            let c = &s.coeffs[e * u_n..][..u_n];
            let gk = &go[k * u_n..][..u_n];
            let x = &t.x[i * u_n..][..u_n];
            for (((ge, &gk), &x), &c) in genv[j * u_n..][..u_n].iter_mut().zip(gk).zip(x).zip(c) {
                *ge += gk * x * c;
            }
            let env = &t.env[j * u_n..][..u_n];
            for (((gx, &gk), &env), &c) in gx[i * u_n..][..u_n].iter_mut().zip(gk).zip(env).zip(c) {
                *gx += gk * env * c;
            }
        }
        if let Some(out) = g.gx.as_deref_mut() {
            let out = &mut out[local * u_n * dx..][..u_n * dx];
            for u in 0..u_n {
                for i in 0..dx {
                    out[u * dx + i] = gx[i * u_n + u];
                }
            }
        }
        if let (Some((gxw, gb)), Some((xw, xb))) = (g.gxw.as_mut(), s.x_weights) {
            // x[z,u,m] = Y[z,m]·W[z, u·R + r(m)]: ∂W[u·R + r] = Σ_{m ∈ r} Y[z,m]·∂x[m][u],
            // ∂Y[z,m] += Σ_u W[z, u·R + r(m)]·∂x[m][u].
            let row = &mut gxw[local * gb.stride + gb.offset..][..u_n * r_n];
            row.iter_mut().for_each(|v| *v = T::zero());
            s.weights_tile(xw, xb, z, &mut t.w);
            for m in 0..dy {
                let r = s.irrep[m] as usize;
                let ym = s.y[z * dy + m];
                let gxm = &gx[m * u_n..][..u_n];
                for u in 0..u_n {
                    row[u * r_n + r] += ym * gxm[u];
                }
                let wr = &t.w[r * u_n..][..u_n];
                let mut acc = T::zero();
                for (&wv, &gv) in wr.iter().zip(gxm) {
                    acc += wv * gv;
                }
                g.gy[local * dy + m] += acc;
            }
        }
    }
    // env = scale·Σ Y·w, so ∂/∂(Y·w) = scale·∂/∂env for every row.
    let sc = s.scale[n];
    genv.iter_mut().for_each(|v| *v *= sc);
    for (local, z) in rows.enumerate() {
        let row = &mut g.gw[local * b.gw_block.stride + b.gw_block.offset..][..u_n * r_n];
        row.iter_mut().for_each(|v| *v = T::zero());
        s.weights_tile(s.w, s.wb, z, &mut t.w);
        for m in 0..dy {
            let r = s.irrep[m] as usize;
            let ym = s.y[z * dy + m];
            let gem = &genv[m * u_n..][..u_n];
            for u in 0..u_n {
                row[u * r_n + r] += ym * gem[u];
            }
            let wr = &t.w[r * u_n..][..u_n];
            let mut acc = T::zero();
            for (&wv, &gv) in wr.iter().zip(gem) {
                acc += wv * gv;
            }
            g.gy[local * dy + m] += acc;
        }
    }
}

dispatch!(fn backward_segment_at<T: Typed>(
    s: &Shared<'_, T>,
    b: &BackwardInputs<'_, T>,
    t: &mut Tiles<T>,
    n: usize,
    g: &mut SegmentGrads<'_, T>,
) => backward_segment);

#[allow(clippy::too_many_arguments)]
fn backward_typed<T: Typed>(
    level: SimdLevel,
    layer: &SegmentContraction,
    ops: SegmentOperands<'_, CpuStorage>,
    env: &CpuStorage,
    grad_out: Option<&CpuStorage>,
    grad_first: &CpuStorage,
    segments: Segments<'_, std::sync::Arc<Vec<u32>>>,
    grads: SegmentGradients<'_, CpuStorage>,
) -> Option<CpuStorage> {
    let offsets: &[u32] = segments.offsets;
    let s = Shared::<T>::new(layer, &ops, offsets);
    let (u_n, [dx, dy, _]) = (s.u_n, s.dims);
    let SegmentGradients {
        x_weights: gxw,
        env_weights: (gw_store, gwb),
        y: gy_store,
    } = grads;
    let b = BackwardInputs {
        env: T::slice(env),
        grad_out: grad_out.map(|g| T::slice(g)),
        grad_first: T::slice(grad_first),
        gw_block: gwb,
    };
    let weighted = s.x_weights.is_some();
    let mut gx_plain = if weighted {
        Vec::new()
    } else {
        vec![T::zero(); segments.rows * u_n * dx]
    };
    let gy_chunks = split_by_segment(T::slice_mut(gy_store), offsets, dy);
    let gw_chunks = split_by_segment(T::slice_mut(gw_store), offsets, gwb.stride);
    let gx_chunks: Vec<Option<&mut [T]>> = if weighted {
        offsets.windows(2).map(|_| None).collect()
    } else {
        split_by_segment(&mut gx_plain, offsets, u_n * dx)
            .into_iter()
            .map(Some)
            .collect()
    };
    let gxw_chunks: Vec<Option<(&mut [T], ColumnBlock)>> = match gxw {
        Some((st, blk)) => split_by_segment(T::slice_mut(st), offsets, blk.stride)
            .into_iter()
            .map(|c| Some((c, blk)))
            .collect(),
        None => offsets.windows(2).map(|_| None).collect(),
    };
    let work: Vec<SegmentGrads<'_, T>> = gy_chunks
        .into_iter()
        .zip(gw_chunks)
        .zip(gx_chunks)
        .zip(gxw_chunks)
        .map(|(((gy, gw), gx), gxw)| SegmentGrads { gy, gw, gx, gxw })
        .collect();
    work.into_par_iter().enumerate().for_each_init(
        || Tiles::new(&s),
        |t, (n, mut g)| backward_segment_at(level, &s, &b, t, n, &mut g),
    );
    (!weighted).then(|| T::wrap(gx_plain))
}

/// The forward pass compiled for `level`.
pub(super) fn forward_at(
    level: SimdLevel,
    layer: &SegmentContraction,
    ops: SegmentOperands<'_, CpuStorage>,
    segments: Segments<'_, std::sync::Arc<Vec<u32>>>,
) -> SegmentForward<CpuStorage> {
    match ops.theta {
        CpuStorage::F32(_) => forward_typed::<f32>(level, layer, ops, segments),
        CpuStorage::F64(_) => forward_typed::<f64>(level, layer, ops, segments),
    }
}

/// The adjoint compiled for `level`.
#[allow(clippy::too_many_arguments)]
pub(super) fn backward_at(
    level: SimdLevel,
    layer: &SegmentContraction,
    ops: SegmentOperands<'_, CpuStorage>,
    env: &CpuStorage,
    grad_out: Option<&CpuStorage>,
    grad_first: &CpuStorage,
    segments: Segments<'_, std::sync::Arc<Vec<u32>>>,
    grads: SegmentGradients<'_, CpuStorage>,
) -> Option<CpuStorage> {
    match ops.theta {
        CpuStorage::F32(_) => backward_typed::<f32>(
            level, layer, ops, env, grad_out, grad_first, segments, grads,
        ),
        CpuStorage::F64(_) => backward_typed::<f64>(
            level, layer, ops, env, grad_out, grad_first, segments, grads,
        ),
    }
}
