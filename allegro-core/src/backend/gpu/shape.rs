//! Data movement: permutation, broadcasting, concatenation, slicing.

use cubecl::prelude::*;

use super::elementwise::broadcast_strides;
use super::launch::{arg, grid, u32_of, with_float};
use super::{Gpu, GpuRuntime, GpuStorage};
use crate::backend::ShapeOps;

/// `out[t] = x[offset(t)]`, where `meta` holds the output shape and then, per output
/// axis, the stride of `x` along it (`rank` entries each). Permutation and
/// broadcasting are both this gather.
#[cube(launch_unchecked)]
fn strided_gather_kernel<F: Float>(
    x: &Array<F>,
    meta: &Array<u32>,
    out: &mut Array<F>,
    n: u32,
    rank: u32,
) {
    let t = ABSOLUTE_POS;
    if t < n as usize {
        let rank = rank as usize;
        let mut rem = t;
        let mut offset = 0usize;
        for k in 0..rank {
            let ax = rank - 1 - k;
            let d = meta[ax] as usize;
            offset += (rem % d) * meta[rank + ax] as usize;
            rem /= d;
        }
        out[t] = x[offset];
    }
}

/// `out[o, start_out + k, i] = x[o, start_in + k, i]` for `k < len`; `x` has `n_in` and
/// `out` has `n_out` along the middle axis.
#[cube(launch_unchecked)]
fn copy_block_kernel<F: Float>(
    x: &Array<F>,
    out: &mut Array<F>,
    total: u32,
    len: u32,
    inner: u32,
    n_in: u32,
    start_in: u32,
    n_out: u32,
    start_out: u32,
) {
    let t = ABSOLUTE_POS;
    if t < total as usize {
        let inner = inner as usize;
        let len = len as usize;
        let i = t % inner;
        let k = (t / inner) % len;
        let o = t / (inner * len);
        out[(o * n_out as usize + start_out as usize + k) * inner + i] =
            x[(o * n_in as usize + start_in as usize + k) * inner + i];
    }
}

/// `out[o, k, i] = x[o, k − before, i]` inside the input's rows, zero outside; `out` has
/// `n_out` rows along the middle axis.
#[cube(launch_unchecked)]
fn pad_kernel<F: Float>(
    x: &Array<F>,
    out: &mut Array<F>,
    total: u32,
    inner: u32,
    n_in: u32,
    n_out: u32,
    before: u32,
) {
    let t = ABSOLUTE_POS;
    if t < total as usize {
        let inner = inner as usize;
        let i = t % inner;
        let k = (t / inner) % n_out as usize;
        let o = t / (inner * n_out as usize);
        let inside = k >= before as usize && k < (before + n_in) as usize;
        let mut v = F::new(0.0);
        if inside {
            v = x[(o * n_in as usize + k - before as usize) * inner + i];
        }
        out[t] = v;
    }
}

fn strided_gather<R: GpuRuntime>(
    x: &GpuStorage<R>,
    out_shape: &[usize],
    strides: &[u32],
) -> GpuStorage<R> {
    let n: usize = out_shape.iter().product();
    let out = x.uninit_like(n);
    if n == 0 {
        return out;
    }
    let mut meta: Vec<u32> = out_shape.iter().map(|&d| u32_of(d)).collect();
    meta.extend_from_slice(strides);
    let meta_handle = x.device.table(&meta);
    let (count, dim) = grid(x.client(), n);
    x.device.counters.launch();
    with_float!(x.dtype, F => unsafe {
        strided_gather_kernel::launch_unchecked::<F, R>(
            x.client(), count, dim, x.arg(), arg(&meta_handle, meta.len()), out.arg(),
            u32_of(n), u32_of(out_shape.len()),
        )
    });
    out
}

/// Copies `x[o, start_in.., i]` (`len` rows) into `out[o, start_out.., i]`.
fn copy_block<R: GpuRuntime>(
    x: &GpuStorage<R>,
    out: &GpuStorage<R>,
    outer: usize,
    inner: usize,
    len: usize,
    (n_in, start_in): (usize, usize),
    (n_out, start_out): (usize, usize),
) {
    let total = outer * len * inner;
    if total == 0 {
        return;
    }
    let (count, dim) = grid(x.client(), total);
    x.device.counters.launch();
    with_float!(x.dtype, F => unsafe {
        copy_block_kernel::launch_unchecked::<F, R>(
            x.client(), count, dim, x.arg(), out.arg(),
            u32_of(total), u32_of(len), u32_of(inner),
            u32_of(n_in), u32_of(start_in), u32_of(n_out), u32_of(start_out),
        )
    });
}

impl<R: GpuRuntime> ShapeOps for Gpu<R> {
    fn permute(x: &GpuStorage<R>, shape: &[usize], perm: &[usize]) -> GpuStorage<R> {
        let in_strides = crate::shape::contiguous_strides(shape);
        let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        let strides: Vec<u32> = perm.iter().map(|&p| u32_of(in_strides[p])).collect();
        strided_gather(x, &out_shape, &strides)
    }

    fn broadcast_to(x: &GpuStorage<R>, in_shape: &[usize], out_shape: &[usize]) -> GpuStorage<R> {
        strided_gather(x, out_shape, &broadcast_strides(in_shape))
    }

    fn concat(parts: &[(&GpuStorage<R>, usize)], outer: usize, inner: usize) -> GpuStorage<R> {
        let n_out: usize = parts.iter().map(|(_, n)| n).sum();
        let out = parts[0].0.uninit_like(outer * n_out * inner);
        let mut start = 0;
        for (part, n) in parts {
            copy_block(part, &out, outer, inner, *n, (*n, 0), (n_out, start));
            start += n;
        }
        out
    }

    fn narrow(
        x: &GpuStorage<R>,
        outer: usize,
        n: usize,
        inner: usize,
        start: usize,
        len: usize,
    ) -> GpuStorage<R> {
        let out = x.uninit_like(outer * len * inner);
        copy_block(x, &out, outer, inner, len, (n, start), (len, 0));
        out
    }

    fn pad(
        x: &GpuStorage<R>,
        outer: usize,
        n: usize,
        inner: usize,
        before: usize,
        after: usize,
    ) -> GpuStorage<R> {
        let n_out = before + n + after;
        let total = outer * n_out * inner;
        let out = x.uninit_like(total);
        if total == 0 {
            return out;
        }
        let (count, dim) = grid(x.client(), total);
        x.device.counters.launch();
        with_float!(x.dtype, F => unsafe {
            pad_kernel::launch_unchecked::<F, R>(
                x.client(), count, dim, x.arg(), out.arg(),
                u32_of(total), u32_of(inner), u32_of(n), u32_of(n_out), u32_of(before),
            )
        });
        out
    }
}
