//! The channel-wise sparse contraction of Allegro's tensor product and its weight
//! gradient.
//!
//! The spec's entries are regrouped once per spec (and cached on the device): by output
//! component for the contraction, one thread per `(edge, channel, component)` summing
//! its group's entries in their original order (the CPU order); by path for the weight
//! gradient, one thread per `(edge block, channel, path)`, the blocks' partial sums then
//! added in block order.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use cubecl::prelude::*;
use cubecl::server::Handle;

use super::launch::{arg, grid, u32_of, upload_u32, with_float};
use super::transfer::upload;
use super::{Gpu, GpuDevice, GpuRuntime, GpuStorage};
use crate::backend::{ContractionSpec, FusedOps, ReduceOps};
use crate::dtype::DType;

/// Edges per block of the weight gradient.
const EDGE_BLOCK: usize = 64;

/// A spec's entries grouped by one slot: `offsets[g]..offsets[g + 1]` are group `g`'s
/// entries, with their two other slots, path and coefficient.
pub(crate) struct GroupedEntries {
    pub(crate) offsets: Handle,
    pub(crate) first: Handle,
    pub(crate) second: Handle,
    pub(crate) third: Handle,
    pub(crate) coeff: Handle,
    /// `first | second << 16` of each entry (one load for both slots).
    pub(crate) packed: Handle,
    pub(crate) groups: usize,
    pub(crate) len: usize,
}

/// Both groupings of one spec for one dtype.
pub(crate) struct SpecTables {
    pub(crate) by_output: GroupedEntries,
    by_path: GroupedEntries,
}

/// Uploaded spec tables of a device, keyed by a hash of the spec's content and dtype
/// (specs are rebuilt by backward rules, so their addresses are no key).
pub(crate) type SpecCache = Arc<Mutex<HashMap<u64, Arc<SpecTables>>>>;

fn spec_key(spec: &ContractionSpec, dtype: DType) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    dtype.hash(&mut h);
    spec.dims.hash(&mut h);
    spec.num_paths.hash(&mut h);
    for e in &spec.entries {
        e.slots.hash(&mut h);
        e.path.hash(&mut h);
        e.coeff.to_bits().hash(&mut h);
    }
    h.finish()
}

/// Groups entries by `group_of(e)` (stable: entries keep their order within a group)
/// and uploads `[a, b, c]` picked by `others(e)`.
fn group<R: GpuRuntime>(
    device: &GpuDevice<R>,
    spec: &ContractionSpec,
    dtype: DType,
    groups: usize,
    group_of: impl Fn(&crate::backend::ContractEntry) -> usize,
    others: impl Fn(&crate::backend::ContractEntry) -> [u32; 3],
) -> GroupedEntries {
    let mut order: Vec<usize> = (0..spec.entries.len()).collect();
    order.sort_by_key(|&i| group_of(&spec.entries[i]));
    let mut offsets = vec![0u32; groups + 1];
    for e in &spec.entries {
        offsets[group_of(e) + 1] += 1;
    }
    for g in 0..groups {
        offsets[g + 1] += offsets[g];
    }
    let picked: Vec<[u32; 3]> = order.iter().map(|&i| others(&spec.entries[i])).collect();
    let column = |c: usize| picked.iter().map(|p| p[c]).collect::<Vec<u32>>();
    let coeffs: Vec<f64> = order.iter().map(|&i| spec.entries[i].coeff).collect();
    let coeff = match dtype {
        DType::F32 => {
            let v: Vec<f32> = coeffs.iter().map(|&c| c as f32).collect();
            upload(device, if v.is_empty() { vec![0.0] } else { v })
        }
        DType::F64 => upload(device, if coeffs.is_empty() { vec![0.0] } else { coeffs }),
    };
    let packed: Vec<u32> = picked.iter().map(|p| p[0] | (p[1] << 16)).collect();
    GroupedEntries {
        packed: upload_u32(device, &packed),
        offsets: upload_u32(device, &offsets),
        first: upload_u32(device, &column(0)),
        second: upload_u32(device, &column(1)),
        third: upload_u32(device, &column(2)),
        coeff,
        groups,
        len: spec.entries.len(),
    }
}

pub(crate) fn tables<R: GpuRuntime>(
    device: &GpuDevice<R>,
    spec: &ContractionSpec,
    dtype: DType,
) -> Arc<SpecTables> {
    let key = spec_key(spec, dtype);
    let mut cache = device.spec_cache.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(key)
        .or_insert_with(|| {
            Arc::new(SpecTables {
                by_output: group(
                    device,
                    spec,
                    dtype,
                    spec.dims[2],
                    |e| e.slots[2] as usize,
                    |e| [e.slots[0], e.slots[1], e.path],
                ),
                by_path: group(
                    device,
                    spec,
                    dtype,
                    spec.num_paths,
                    |e| e.path as usize,
                    |e| e.slots,
                ),
            })
        })
        .clone()
}

/// `out[z, u, k] = Σ_{e ∈ group k} x[z, u, in0_e] · y[z, u, in1_e] · w[u', path_e] · c_e`.
#[cube(launch_unchecked)]
fn contract_kernel<F: Float>(
    x: &Array<F>,
    y: &Array<F>,
    w: &Array<F>,
    offsets: &Array<u32>,
    in0: &Array<u32>,
    in1: &Array<u32>,
    path: &Array<u32>,
    coeff: &Array<F>,
    out: &mut Array<F>,
    total: u32,
    channels: u32,
    dims_x: u32,
    dims_y: u32,
    dims_out: u32,
    num_paths: u32,
    #[comptime] per_channel: bool,
) {
    let t = ABSOLUTE_POS;
    if t < total as usize {
        let dout = dims_out as usize;
        let k = t % dout;
        let zu = t / dout;
        let mut w_row = 0usize;
        if comptime![per_channel] {
            w_row = (zu % channels as usize) * num_paths as usize;
        }
        let xb = zu * dims_x as usize;
        let yb = zu * dims_y as usize;
        let mut acc = F::new(0.0);
        for e in offsets[k] as usize..offsets[k + 1] as usize {
            acc += x[xb + in0[e] as usize]
                * y[yb + in1[e] as usize]
                * (w[w_row + path[e] as usize] * coeff[e]);
        }
        out[t] = acc;
    }
}

/// `partial[b, u, p] = Σ_{z ∈ block b} Σ_{e ∈ group p} x·y·g·c_e`.
#[cube(launch_unchecked)]
fn weight_grad_kernel<F: Float>(
    x: &Array<F>,
    y: &Array<F>,
    g: &Array<F>,
    offsets: &Array<u32>,
    in0: &Array<u32>,
    in1: &Array<u32>,
    outk: &Array<u32>,
    coeff: &Array<F>,
    partial: &mut Array<F>,
    total: u32,
    edges: u32,
    channels: u32,
    dims_x: u32,
    dims_y: u32,
    dims_out: u32,
    num_paths: u32,
    block: u32,
) {
    let t = ABSOLUTE_POS;
    if t < total as usize {
        let p = t % num_paths as usize;
        let u = (t / num_paths as usize) % channels as usize;
        let b = t / (num_paths as usize * channels as usize);
        let z0 = b * block as usize;
        let mut z1 = z0 + block as usize;
        if z1 > edges as usize {
            z1 = edges as usize;
        }
        let e0 = offsets[p] as usize;
        let e1 = offsets[p + 1] as usize;
        let mut acc = F::new(0.0);
        for z in z0..z1 {
            let zu = z * channels as usize + u;
            let xb = zu * dims_x as usize;
            let yb = zu * dims_y as usize;
            let gb = zu * dims_out as usize;
            for e in e0..e1 {
                acc += x[xb + in0[e] as usize]
                    * y[yb + in1[e] as usize]
                    * g[gb + outk[e] as usize]
                    * coeff[e];
            }
        }
        partial[t] = acc;
    }
}

impl<R: GpuRuntime> FusedOps for Gpu<R> {
    fn channel_contract(
        x: &GpuStorage<R>,
        y: &GpuStorage<R>,
        w: &GpuStorage<R>,
        edges: usize,
        channels: usize,
        spec: &ContractionSpec,
        per_channel: bool,
    ) -> GpuStorage<R> {
        let [dx, dy, dout] = spec.dims;
        let total = edges * channels * dout;
        let out = x.uninit_like(total);
        if total == 0 {
            return out;
        }
        let t = tables(&x.device, spec, x.dtype);
        let ge = &t.by_output;
        let (count, dim) = grid(x.client(), total);
        x.device.counters.launch();
        with_float!(x.dtype, F => unsafe {
            contract_kernel::launch_unchecked::<F, R>(
                x.client(), count, dim,
                x.arg(), y.arg(), w.arg(),
                arg(&ge.offsets, ge.groups + 1), arg(&ge.first, ge.len), arg(&ge.second, ge.len),
                arg(&ge.third, ge.len), arg(&ge.coeff, ge.len),
                out.arg(),
                u32_of(total), u32_of(channels), u32_of(dx), u32_of(dy), u32_of(dout),
                u32_of(spec.num_paths), per_channel,
            )
        });
        out
    }

    fn channel_contract_weight_grad(
        x: &GpuStorage<R>,
        y: &GpuStorage<R>,
        g: &GpuStorage<R>,
        edges: usize,
        channels: usize,
        spec: &ContractionSpec,
        per_channel: bool,
    ) -> GpuStorage<R> {
        let [dx, dy, dout] = spec.dims;
        let p = spec.num_paths;
        let rows = if per_channel { channels } else { 1 };
        let blocks = edges.div_ceil(EDGE_BLOCK);
        let total = blocks * channels * p;
        if total == 0 {
            return <Self as crate::backend::StorageOps>::full(&x.device, rows * p, 0.0, x.dtype);
        }
        let t = tables(&x.device, spec, x.dtype);
        let ge = &t.by_path;
        let partial = x.uninit_like(total);
        let (count, dim) = grid(x.client(), total);
        x.device.counters.launch();
        with_float!(x.dtype, F => unsafe {
            weight_grad_kernel::launch_unchecked::<F, R>(
                x.client(), count, dim,
                x.arg(), y.arg(), g.arg(),
                arg(&ge.offsets, ge.groups + 1), arg(&ge.first, ge.len), arg(&ge.second, ge.len),
                arg(&ge.third, ge.len), arg(&ge.coeff, ge.len),
                partial.arg(),
                u32_of(total), u32_of(edges), u32_of(channels), u32_of(dx), u32_of(dy),
                u32_of(dout), u32_of(p), u32_of(EDGE_BLOCK),
            )
        });
        // partial is [blocks, U, P]: per channel, sum over blocks; shared, over blocks
        // and channels together.
        if per_channel {
            Self::sum_axis(&partial, 1, blocks, channels * p)
        } else {
            Self::sum_axis(&partial, 1, blocks * channels, p)
        }
    }
}
