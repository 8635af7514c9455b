//! The segment contraction (environment sum + channel-wise tensor product) and its
//! adjoint on the CPU: segments in parallel, rows and entries in a fixed order.

use rayon::prelude::*;

use super::super::CpuStorage;
use super::linear::Typed;
use crate::backend::ops::inference::{
    ColumnBlock, ContractInput, SegmentContraction, SegmentForward, SegmentGradients,
    SegmentOperands, Segments,
};

/// `θ[u or 0, p_e]·c_e` for every channel and entry, `[U][n_entries]`.
fn entry_weights<T: Typed>(theta: &[T], layer: &SegmentContraction) -> Vec<Vec<T>> {
    let p = layer.spec.num_paths;
    (0..layer.channels)
        .map(|u| {
            let row = if layer.per_channel { u } else { 0 };
            layer
                .spec
                .entries
                .iter()
                .map(|e| theta[row * p + e.path as usize] * T::from_f64(e.coeff))
                .collect()
        })
        .collect()
}

/// Splits `buf` (rows of `row_len`) into one mutable chunk per segment.
pub(super) fn split_by_segment<'a, T>(
    mut buf: &'a mut [T],
    offsets: &[u32],
    row_len: usize,
) -> Vec<&'a mut [T]> {
    let mut chunks = Vec::with_capacity(offsets.len().saturating_sub(1));
    for w in offsets.windows(2) {
        let len = (w[1] - w[0]) as usize * row_len;
        let (head, tail) = std::mem::take(&mut buf).split_at_mut(len);
        chunks.push(head);
        buf = tail;
    }
    chunks
}

/// Reads of the first operand: `x[z,u,i]` for a plain buffer or `Y[z,i]·W[z, u·R + r(i)]`.
struct FirstOperand<'a, T> {
    plain: Option<&'a [T]>,
    weights: Option<(&'a [T], ColumnBlock)>,
    y: &'a [T],
    dy: usize,
    dx: usize,
    channels: usize,
    num_irreps: usize,
    irrep: &'a [u32],
}

impl<T: Typed> FirstOperand<'_, T> {
    fn get(&self, z: usize, u: usize, i: usize) -> T {
        match (self.plain, self.weights) {
            (Some(x), _) => x[(z * self.channels + u) * self.dx + i],
            (None, Some((w, b))) => {
                self.y[z * self.dy + i]
                    * w[z * b.stride + b.offset + u * self.num_irreps + self.irrep[i] as usize]
            }
            (None, None) => unreachable!("one form is set"),
        }
    }
}

fn first_operand<'a, T: Typed>(
    layer: &'a SegmentContraction,
    x: ContractInput<'a, CpuStorage>,
    y: &'a [T],
) -> FirstOperand<'a, T> {
    let (plain, weights) = match x {
        ContractInput::Plain(s) => (Some(T::slice(s)), None),
        ContractInput::Weighted(s, b) => (None, Some((T::slice(s), b))),
    };
    FirstOperand {
        plain,
        weights,
        y,
        dy: layer.harmonics_dim(),
        dx: layer.spec.dims[0],
        channels: layer.channels,
        num_irreps: layer.num_irreps,
        irrep: &layer.irrep_of_component,
    }
}

fn forward_typed<T: Typed>(
    layer: &SegmentContraction,
    ops: SegmentOperands<'_, CpuStorage>,
    segments: Segments<'_, std::sync::Arc<Vec<u32>>>,
) -> SegmentForward<CpuStorage> {
    let [_, dy, dout] = layer.spec.dims;
    let (u_n, r_n) = (layer.channels, layer.num_irreps);
    let y = T::slice(ops.y);
    let (w, wb) = (T::slice(ops.env_weights.0), ops.env_weights.1);
    let scale = T::slice(ops.scale);
    let wc = entry_weights(T::slice(ops.theta), layer);
    let x = first_operand::<T>(layer, ops.x, y);
    let offsets: &[u32] = segments.offsets;
    let mut env = vec![T::zero(); segments.count * u_n * dy];
    let mut out = vec![T::zero(); segments.rows * u_n * dout];
    let mut first = vec![T::zero(); segments.rows * u_n];
    let outs = split_by_segment(&mut out, offsets, u_n * dout);
    let firsts = split_by_segment(&mut first, offsets, u_n);
    env.par_chunks_mut((u_n * dy).max(1))
        .zip(outs)
        .zip(firsts)
        .enumerate()
        .for_each(|(n, ((env_n, out_n), first_n))| {
            let rows = offsets[n] as usize..offsets[n + 1] as usize;
            for u in 0..u_n {
                let e_u = &mut env_n[u * dy..][..dy];
                for z in rows.clone() {
                    for m in 0..dy {
                        let wz = w[z * wb.stride
                            + wb.offset
                            + u * r_n
                            + layer.irrep_of_component[m] as usize];
                        e_u[m] += y[z * dy + m] * wz;
                    }
                }
                for v in e_u.iter_mut() {
                    *v *= scale[n];
                }
            }
            for (local, z) in rows.enumerate() {
                for u in 0..u_n {
                    let e_u = &env_n[u * dy..][..dy];
                    let o = &mut out_n[(local * u_n + u) * dout..][..dout];
                    for (e, &c) in layer.spec.entries.iter().zip(&wc[u]) {
                        let [i, j, k] = e.slots;
                        o[k as usize] += x.get(z, u, i as usize) * e_u[j as usize] * c;
                    }
                    first_n[local * u_n + u] = o[0];
                }
            }
        });
    let wrap = T::wrap;
    SegmentForward {
        env: wrap(env),
        out: wrap(out),
        first: wrap(first),
    }
}

fn backward_typed<T: Typed>(
    layer: &SegmentContraction,
    ops: SegmentOperands<'_, CpuStorage>,
    env: &CpuStorage,
    grad_out: Option<&CpuStorage>,
    grad_first: &CpuStorage,
    segments: Segments<'_, std::sync::Arc<Vec<u32>>>,
    grads: SegmentGradients<'_, CpuStorage>,
) -> Option<CpuStorage> {
    let [dx, dy, dout] = layer.spec.dims;
    let (u_n, r_n) = (layer.channels, layer.num_irreps);
    let irrep = &layer.irrep_of_component;
    let y = T::slice(ops.y);
    let (w, wb) = (T::slice(ops.env_weights.0), ops.env_weights.1);
    let scale = T::slice(ops.scale);
    let env = T::slice(env);
    let wc = entry_weights(T::slice(ops.theta), layer);
    let x = first_operand::<T>(layer, ops.x, y);
    let go = grad_out.map(|g| T::slice(g));
    let gf = T::slice(grad_first);
    let offsets: &[u32] = segments.offsets;
    let weighted = matches!(ops.x, ContractInput::Weighted(..));
    let x_weights = match ops.x {
        ContractInput::Weighted(s, b) => Some((T::slice(s), b)),
        ContractInput::Plain(_) => None,
    };
    // Gradient of out[z,u,k], with ∂L/∂first added to component 0.
    let g = |z: usize, u: usize, k: usize| {
        let mut v = go.map_or(T::zero(), |go| go[(z * u_n + u) * dout + k]);
        if k == 0 {
            v += gf[z * u_n + u];
        }
        v
    };
    let mut gx_plain = if weighted {
        Vec::new()
    } else {
        vec![T::zero(); segments.rows * u_n * dx]
    };
    let SegmentGradients {
        x_weights: gxw,
        env_weights: (gw_store, gwb),
        y: gy_store,
    } = grads;
    let gy = T::slice_mut(gy_store);
    let gw = T::slice_mut(gw_store);
    let mut gxw = gxw.map(|(s, b)| (T::slice_mut(s), b));
    let gxw_block = gxw.as_ref().map(|(_, b)| *b);
    let gy_chunks = split_by_segment(gy, offsets, dy);
    let gw_chunks = split_by_segment(gw, offsets, gwb.stride);
    let gx_chunks: Vec<Option<&mut [T]>> = if weighted {
        offsets.windows(2).map(|_| None).collect()
    } else {
        split_by_segment(&mut gx_plain, offsets, u_n * dx)
            .into_iter()
            .map(Some)
            .collect()
    };
    let gxw_chunks: Vec<Option<&mut [T]>> = match gxw.as_mut() {
        Some((s, b)) => split_by_segment(s, offsets, b.stride)
            .into_iter()
            .map(Some)
            .collect(),
        None => offsets.windows(2).map(|_| None).collect(),
    };
    gy_chunks
        .into_par_iter()
        .zip(gw_chunks)
        .zip(gx_chunks)
        .zip(gxw_chunks)
        .enumerate()
        .for_each(|(n, (((gy_n, gw_n), mut gx_n), mut gxw_n))| {
            let rows = offsets[n] as usize..offsets[n + 1] as usize;
            let mut genv = vec![T::zero(); dy];
            let mut gxz = vec![T::zero(); dx];
            for u in 0..u_n {
                let e_u = &env[(n * u_n + u) * dy..][..dy];
                genv.iter_mut().for_each(|v| *v = T::zero());
                for (local, z) in rows.clone().enumerate() {
                    gxz.iter_mut().for_each(|v| *v = T::zero());
                    for (e, &c) in layer.spec.entries.iter().zip(&wc[u]) {
                        let [i, j, k] = e.slots.map(|s| s as usize);
                        let gk = g(z, u, k);
                        genv[j] += gk * x.get(z, u, i) * c;
                        gxz[i] += gk * e_u[j] * c;
                    }
                    if let Some(gx) = gx_n.as_deref_mut() {
                        gx[(local * u_n + u) * dx..][..dx].copy_from_slice(&gxz);
                    }
                    if let (Some(gxw), Some(b), Some((xw, xb))) =
                        (gxw_n.as_deref_mut(), gxw_block, x_weights)
                    {
                        // x[z,u,m] = Y[z,m]·W[z, u·R + r(m)].
                        let row = &mut gxw[local * b.stride + b.offset + u * r_n..][..r_n];
                        row.iter_mut().for_each(|v| *v = T::zero());
                        for m in 0..dy {
                            let r = irrep[m] as usize;
                            row[r] += y[z * dy + m] * gxz[m];
                            let wv = xw[z * xb.stride + xb.offset + u * r_n + r];
                            gy_n[local * dy + m] += wv * gxz[m];
                        }
                    }
                }
                // env = scale·Σ Y·w, so ∂/∂(Y·w) = scale·∂/∂env for every row.
                for (local, z) in rows.clone().enumerate() {
                    let row = &mut gw_n[local * gwb.stride + gwb.offset + u * r_n..][..r_n];
                    row.iter_mut().for_each(|v| *v = T::zero());
                    for m in 0..dy {
                        let r = irrep[m] as usize;
                        let ge = genv[m] * scale[n];
                        row[r] += y[z * dy + m] * ge;
                        let wv = w[z * wb.stride + wb.offset + u * r_n + r];
                        gy_n[local * dy + m] += wv * ge;
                    }
                }
            }
        });
    (!weighted).then(|| T::wrap(gx_plain))
}

/// Dispatches on the dtype of `θ`.
#[cfg_attr(not(test), allow(dead_code))]
pub(super) fn forward(
    layer: &SegmentContraction,
    ops: SegmentOperands<'_, CpuStorage>,
    segments: Segments<'_, std::sync::Arc<Vec<u32>>>,
) -> SegmentForward<CpuStorage> {
    match ops.theta {
        CpuStorage::F32(_) => forward_typed::<f32>(layer, ops, segments),
        CpuStorage::F64(_) => forward_typed::<f64>(layer, ops, segments),
    }
}

/// Dispatches on the dtype of `θ`.
#[cfg_attr(not(test), allow(dead_code))]
pub(super) fn backward(
    layer: &SegmentContraction,
    ops: SegmentOperands<'_, CpuStorage>,
    env: &CpuStorage,
    grad_out: Option<&CpuStorage>,
    grad_first: &CpuStorage,
    segments: Segments<'_, std::sync::Arc<Vec<u32>>>,
    grads: SegmentGradients<'_, CpuStorage>,
) -> Option<CpuStorage> {
    match ops.theta {
        CpuStorage::F32(_) => {
            backward_typed::<f32>(layer, ops, env, grad_out, grad_first, segments, grads)
        }
        CpuStorage::F64(_) => {
            backward_typed::<f64>(layer, ops, env, grad_out, grad_first, segments, grads)
        }
    }
}
