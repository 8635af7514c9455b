//! Sums over an axis, reproducible run to run.
//!
//! One thread per output adds its `n` inputs in order. When there are few outputs and
//! long sums (the total energy of a batch), the axis is first cut into fixed chunks
//! whose partial sums are then added in chunk order, so the GPU stays busy and the
//! result still does not depend on scheduling.

use cubecl::prelude::*;

use super::launch::{grid, u32_of, with_float};
use super::{Gpu, GpuRuntime, GpuStorage};
use crate::backend::ReduceOps;

/// Length of the chunks a long axis is cut into.
const CHUNK: usize = 512;
/// Below this many outputs, long sums are chunked.
const FEW_OUTPUTS: usize = 16_384;

/// `out[o, c, i] = Σ_{k ∈ chunk c} x[o, k, i]` with chunks of `chunk` (the last one
/// shorter); with `chunk = n` this is the plain sum.
#[cube(launch_unchecked)]
fn sum_chunks_kernel<F: Float>(
    x: &Array<F>,
    out: &mut Array<F>,
    total: u32,
    n: u32,
    inner: u32,
    chunk: u32,
    num_chunks: u32,
) {
    let t = ABSOLUTE_POS;
    if t < total as usize {
        let inner = inner as usize;
        let n = n as usize;
        let num_chunks = num_chunks as usize;
        let i = t % inner;
        let c = (t / inner) % num_chunks;
        let o = t / (inner * num_chunks);
        let start = c * chunk as usize;
        let mut end = start + chunk as usize;
        if end > n {
            end = n;
        }
        let mut acc = F::new(0.0);
        for k in start..end {
            acc += x[(o * n + k) * inner + i];
        }
        out[t] = acc;
    }
}

fn sum_chunked<R: GpuRuntime>(
    x: &GpuStorage<R>,
    outer: usize,
    n: usize,
    inner: usize,
    chunk: usize,
) -> GpuStorage<R> {
    let num_chunks = n.div_ceil(chunk).max(1);
    let total = outer * num_chunks * inner;
    let out = x.uninit_like(total);
    if total > 0 {
        let (count, dim) = grid(x.client(), total);
        x.device.counters.launch();
        with_float!(x.dtype, F => unsafe {
            sum_chunks_kernel::launch_unchecked::<F, R>(
                x.client(), count, dim, x.arg(), out.arg(),
                u32_of(total), u32_of(n), u32_of(inner), u32_of(chunk), u32_of(num_chunks),
            )
        });
    }
    out
}

impl<R: GpuRuntime> ReduceOps for Gpu<R> {
    fn sum_axis(x: &GpuStorage<R>, outer: usize, n: usize, inner: usize) -> GpuStorage<R> {
        if n > CHUNK && outer * inner < FEW_OUTPUTS {
            let partial = sum_chunked(x, outer, n, inner, CHUNK);
            let num_chunks = n.div_ceil(CHUNK);
            return Self::sum_axis(&partial, outer, num_chunks, inner);
        }
        sum_chunked(x, outer, n, inner, n.max(1))
    }
}
