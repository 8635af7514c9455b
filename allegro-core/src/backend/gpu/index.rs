//! Gather and scatter-add along an axis.
//!
//! Scatter-add is deterministic without atomics: an index buffer keeps, next to the
//! indices, their positions sorted by destination (a stable counting sort, built once
//! on the host the first time the indices are scattered). One thread per output element
//! then adds its sources in increasing source order, the order the CPU backend uses.
//!
//! A destination with very many sources (the per-structure sums of a virial over all
//! edges) would leave one thread looping over them all; when a segment is longer than
//! [`LONG_SEGMENT`], segments are cut into chunks of [`CHUNK`] sources, the chunks summed
//! in parallel, then each destination's chunk sums added in order (a fixed association,
//! so still reproducible).

use std::sync::{Arc, OnceLock};

use cubecl::prelude::*;
use cubecl::server::Handle;

use super::launch::{alloc, arg, grid, u32_of, upload_u32, upload_u32_parts, with_float};
use super::{Gpu, GpuDevice, GpuRuntime, GpuStorage};
use crate::backend::IndexOps;

/// Segments longer than this are summed in chunks.
const LONG_SEGMENT: usize = 1024;
/// Sources per chunk of a long segment.
const CHUNK: usize = 256;

/// Chunks of the sorted order: chunk `c` covers `order[starts[c]..starts[c + 1]]`,
/// destination `d` owns chunks `offsets[d]..offsets[d + 1]`.
struct Chunks {
    starts: Handle,
    offsets: Handle,
    count: usize,
}

/// Sources grouped by destination: `order[offsets[d]..offsets[d + 1]]` are the
/// positions `m` with `idx[m] = d`, increasing. For ascending indices `order` is the
/// identity and the offsets are where each destination's run starts.
struct Segments {
    offsets: Handle,
    order: Handle,
    /// Destinations with a segment (`max(idx) + 1`); larger ones receive nothing.
    num_segments: usize,
    /// Present when some segment is longer than [`LONG_SEGMENT`].
    chunks: Option<Chunks>,
}

/// A `u32` index buffer on a GPU, with a host copy (indices are small next to the float
/// data and are read back for checks and for building scatter tables). Buffers uploaded
/// from the host keep the host copy they came from; buffers computed on the device
/// (per-edge tables built from per-atom ones) download it the first time it is asked for.
pub struct GpuIndices<R: GpuRuntime> {
    pub(crate) handle: Handle,
    host: Arc<OnceLock<Vec<u32>>>,
    len: usize,
    segments: Arc<OnceLock<Segments>>,
    /// Known to be ascending (declared by the producer, kept by narrowing): scatter
    /// tables are then runs, built without sorting, on the device when there is no
    /// host copy.
    sorted: bool,
    pub(super) device: GpuDevice<R>,
}

impl<R: GpuRuntime> GpuIndices<R> {
    pub(crate) fn from_host(device: &GpuDevice<R>, indices: &[u32]) -> Self {
        Self::with_host(upload_u32(device, indices), indices.to_vec(), device)
    }

    /// A buffer whose host copy is `host`.
    pub(super) fn with_host(handle: Handle, host: Vec<u32>, device: &GpuDevice<R>) -> Self {
        GpuIndices {
            handle,
            len: host.len(),
            host: Arc::new(OnceLock::from(host)),
            segments: Arc::new(OnceLock::new()),
            sorted: false,
            device: device.clone(),
        }
    }

    /// A buffer of `len` indices computed on the device; the host copy is read back
    /// when first needed.
    pub(crate) fn on_device(handle: Handle, len: usize, device: &GpuDevice<R>) -> Self {
        GpuIndices {
            handle,
            host: Arc::new(OnceLock::new()),
            len,
            segments: Arc::new(OnceLock::new()),
            sorted: false,
            device: device.clone(),
        }
    }

    /// Index buffers for several host arrays, uploaded together.
    pub(crate) fn from_host_many(device: &GpuDevice<R>, parts: &[&[u32]]) -> Vec<Self> {
        upload_u32_parts(device, parts)
            .into_iter()
            .zip(parts)
            .map(|(handle, p)| Self::with_host(handle, p.to_vec(), device))
            .collect()
    }

    /// The indices on the host (read back from the device the first time, for buffers
    /// computed there).
    pub(crate) fn host(&self) -> &Vec<u32> {
        self.host.get_or_init(|| {
            if self.len == 0 {
                return Vec::new();
            }
            super::transfer::download(&self.device, self.handle.clone(), self.len)
        })
    }

    /// Number of indices.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The same buffer, declared ascending (see [`GpuIndices::segments`]).
    pub(crate) fn assume_sorted(&self) -> Self {
        GpuIndices {
            sorted: true,
            ..self.clone()
        }
    }

    /// The scatter tables, built at the first scatter into `n` destinations (every index
    /// is below `n`, so later scatters into any `n` find their sources too).
    fn segments(&self, n: usize) -> &Segments {
        self.segments
            .get_or_init(|| match (self.sorted, self.host.get()) {
                (true, None) => self.runs_on_device(n),
                (true, Some(host)) => self.tables_from_host(host, true),
                (false, _) if self.sorts_on_device(n) => {
                    let (offsets, order) = super::scatter_tables::tables_on_device(
                        &self.device,
                        &self.handle,
                        self.len,
                        n,
                    );
                    Segments {
                        offsets,
                        order,
                        num_segments: n,
                        chunks: None,
                    }
                }
                (false, _) => self.tables_from_host(self.host(), false),
            })
    }

    /// Ascending indices without a host copy: each destination's run start by a binary
    /// search on the device, the identity order; no transfer. (A destination with very
    /// many sources is summed by one thread: no chunk tables without reading back.)
    fn runs_on_device(&self, n: usize) -> Segments {
        let client = &self.device.client;
        let offsets = alloc(client, n + 1, 4);
        let (count, dim) = grid(client, n + 1);
        self.device.counters.launch();
        // SAFETY: `offsets` holds n + 1 words, the index buffer `len`; the kernel guards
        // its position and reads indices below `len`.
        unsafe {
            run_starts_kernel::launch_unchecked::<R>(
                client,
                count,
                dim,
                arg(&self.handle, self.len),
                u32_of(self.len),
                arg(&offsets, n + 1),
                u32_of(n + 1),
            )
        }
        Segments {
            offsets,
            order: self.identity_order(),
            num_segments: n,
            chunks: None,
        }
    }

    /// Whether the scatter tables of unsorted indices are sorted on the device
    /// (`scatter_tables`: no read back of device-computed indices; for large host ones no
    /// host sort and no upload of the tables): when destinations have few sources on
    /// average (a neighbor index; a per-frame sum keeps the host's tables, with chunks).
    fn sorts_on_device(&self, n: usize) -> bool {
        // With a host copy the host's tables cost one upload and a sort on the host, so
        // small index buffers (a training batch's) keep them: five launches would cost
        // more host time than they save.
        let worth_it =
            self.host.get().is_none() || self.len >= super::scatter_tables::HOST_COPY_MIN_LEN;
        worth_it
            && self.len > 0
            && n > 0
            && self.len <= n.saturating_mul(super::scatter_tables::MAX_MEAN_FAN_IN)
    }

    /// Whether a scatter into `n` destinations scans the indices on the device instead of
    /// building sorted tables: when that would need a read back (no host copy, not
    /// declared ascending, no tables yet) and the scan is small.
    fn scans_on_device(&self, n: usize) -> bool {
        !self.sorted
            && self.host.get().is_none()
            && self.segments.get().is_none()
            && n.saturating_mul(self.len) <= SCAN_LIMIT
    }

    /// `0, 1, …, len − 1` on the device.
    fn identity_order(&self) -> Handle {
        let client = &self.device.client;
        let order = alloc(client, self.len, 4);
        if self.len > 0 {
            let (count, dim) = grid(client, self.len);
            self.device.counters.launch();
            // SAFETY: `order` holds `len` words; the kernel guards its position.
            unsafe {
                iota_kernel::launch_unchecked::<R>(
                    client,
                    count,
                    dim,
                    arg(&order, self.len),
                    u32_of(self.len),
                )
            }
        }
        order
    }

    /// The tables from the host copy: a counting sort of the positions by destination
    /// (for ascending indices, the identity, made on the device instead of uploaded),
    /// and chunk tables when a segment is long.
    fn tables_from_host(&self, host: &[u32], sorted: bool) -> Segments {
        let num_segments = if sorted {
            host.last().map_or(0, |&d| d as usize + 1)
        } else {
            host.iter().map(|&d| d as usize + 1).max().unwrap_or(0)
        };
        let mut offsets = vec![0u32; num_segments + 1];
        for &d in host {
            offsets[d as usize + 1] += 1;
        }
        for d in 0..num_segments {
            offsets[d + 1] += offsets[d];
        }
        let order = (!sorted).then(|| {
            let mut next = offsets.clone();
            let mut order = vec![0u32; self.len()];
            for (m, &d) in host.iter().enumerate() {
                order[next[d as usize] as usize] = m as u32;
                next[d as usize] += 1;
            }
            order
        });
        let longest = offsets.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        let chunk_tables = (longest as usize > LONG_SEGMENT).then(|| {
            let mut starts = Vec::new();
            let mut chunk_offsets = vec![0u32];
            for d in 0..num_segments {
                let (a, b) = (offsets[d] as usize, offsets[d + 1] as usize);
                starts.extend((a..b).step_by(CHUNK).map(|j| j as u32));
                chunk_offsets.push(starts.len() as u32);
            }
            let count = starts.len();
            starts.push(self.len() as u32);
            (starts, chunk_offsets, count)
        });
        // One upload for all the tables.
        let mut parts: Vec<&[u32]> = vec![&offsets];
        if let Some(order) = &order {
            parts.push(order);
        }
        if let Some((starts, chunk_offsets, _)) = &chunk_tables {
            parts.push(starts);
            parts.push(chunk_offsets);
        }
        let mut handles = upload_u32_parts(&self.device, &parts).into_iter();
        let offsets_handle = handles.next().expect("offsets");
        let order_handle = match order {
            Some(_) => handles.next().expect("order"),
            None => self.identity_order(),
        };
        let chunks = chunk_tables.map(|(_, _, count)| Chunks {
            starts: handles.next().expect("starts"),
            offsets: handles.next().expect("chunk offsets"),
            count,
        });
        Segments {
            offsets: offsets_handle,
            order: order_handle,
            num_segments,
            chunks,
        }
    }
}

#[cube(launch_unchecked)]
fn iota_kernel(out: &mut Array<u32>, len: u32) {
    if ABSOLUTE_POS < len as usize {
        out[ABSOLUTE_POS] = ABSOLUTE_POS as u32;
    }
}

/// `offsets[d]` = the first position `m` with `idx[m] ≥ d` (binary search in ascending
/// `idx`), for `d < count`.
#[cube(launch_unchecked)]
pub(super) fn run_starts_kernel(idx: &Array<u32>, len: u32, offsets: &mut Array<u32>, count: u32) {
    let d = ABSOLUTE_POS;
    if d < count as usize {
        let mut lo = 0u32;
        let mut hi = len;
        while lo < hi {
            let mid = (lo + hi) / 2;
            if (idx[mid as usize] as usize) < d {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        offsets[d] = lo;
    }
}

impl<R: GpuRuntime> Clone for GpuIndices<R> {
    fn clone(&self) -> Self {
        GpuIndices {
            handle: self.handle.clone(),
            host: self.host.clone(),
            len: self.len,
            segments: self.segments.clone(),
            sorted: self.sorted,
            device: self.device.clone(),
        }
    }
}

impl<R: GpuRuntime> std::fmt::Debug for GpuIndices<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuIndices<{}>({})", R::NAME, self.len())
    }
}

#[cube(launch_unchecked)]
fn narrow_minus_kernel(src: &Array<u32>, out: &mut Array<u32>, start: u32, len: u32, minus: u32) {
    if ABSOLUTE_POS < len as usize {
        out[ABSOLUTE_POS] = src[ABSOLUTE_POS + start as usize] - minus;
    }
}

impl<R: GpuRuntime> GpuIndices<R> {
    /// Indices `start..start + len` minus `minus`, by a kernel; the host copy, where
    /// there is one, is narrowed alike (so scatter tables need no download).
    pub(crate) fn narrow_minus(&self, start: usize, len: usize, minus: u32) -> Self {
        let device = &self.device;
        let handle = super::launch::alloc(&device.client, len, 4);
        if len > 0 {
            let (count, dim) = grid(&device.client, len);
            // SAFETY: `self` holds at least `start + len` indices (checked by the
            // caller) and `handle` `len`; the kernel guards `ABSOLUTE_POS < len`.
            device.counters.launch();
            unsafe {
                narrow_minus_kernel::launch_unchecked::<R>(
                    &device.client,
                    count,
                    dim,
                    arg(&self.handle, self.len),
                    arg(&handle, len),
                    u32_of(start),
                    u32_of(len),
                    minus,
                )
            }
        }
        let mut narrowed = GpuIndices::on_device(handle, len, device);
        // A run of ascending indices minus a constant is ascending.
        narrowed.sorted = self.sorted;
        if let Some(host) = self.host.get() {
            let part: Vec<u32> = host[start..start + len]
                .iter()
                .map(|&i| i - minus)
                .collect();
            let _ = narrowed.host.set(part);
        }
        narrowed
    }
}

#[cube(launch_unchecked)]
fn index_select_kernel<F: Float>(
    x: &Array<F>,
    idx: &Array<u32>,
    out: &mut Array<F>,
    total: u32,
    n: u32,
    idx_len: u32,
    inner: u32,
) {
    let t = ABSOLUTE_POS;
    if t < total as usize {
        let inner = inner as usize;
        let idx_len = idx_len as usize;
        let i = t % inner;
        let m = (t / inner) % idx_len;
        let o = t / (inner * idx_len);
        let src = idx[m] as usize;
        out[t] = x[(o * n as usize + src) * inner + i];
    }
}

#[cube(launch_unchecked)]
fn index_add_kernel<F: Float>(
    src: &Array<F>,
    offsets: &Array<u32>,
    order: &Array<u32>,
    out: &mut Array<F>,
    total: u32,
    n: u32,
    idx_len: u32,
    inner: u32,
    num_segments: u32,
) {
    let t = ABSOLUTE_POS;
    if t < total as usize {
        let inner = inner as usize;
        let n = n as usize;
        let i = t % inner;
        let d = (t / inner) % n;
        let o = t / (inner * n);
        let mut acc = F::new(0.0);
        if d < num_segments as usize {
            let base = o * idx_len as usize;
            for j in offsets[d] as usize..offsets[d + 1] as usize {
                let m = order[j] as usize;
                acc += src[(base + m) * inner + i];
            }
        }
        out[t] = acc;
    }
}

/// `out[o, d, i] = Σ_{m : idx[m] = d} src[o, m, i]` by scanning every `m` (in
/// increasing order) for each destination: for indices that exist only on the device
/// and few destinations (per-edge type tables in a training step), where building sorted
/// tables would need a read back.
#[cube(launch_unchecked)]
fn scan_add_kernel<F: Float>(
    src: &Array<F>,
    idx: &Array<u32>,
    out: &mut Array<F>,
    total: u32,
    n: u32,
    idx_len: u32,
    inner: u32,
) {
    let t = ABSOLUTE_POS;
    if t < total as usize {
        let inner = inner as usize;
        let n = n as usize;
        let i = t % inner;
        let d = (t / inner) % n;
        let o = t / (inner * n);
        let base = o * idx_len as usize;
        let mut acc = F::new(0.0);
        for m in 0..idx_len as usize {
            if idx[m] as usize == d {
                acc += src[(base + m) * inner + i];
            }
        }
        out[t] = acc;
    }
}

/// Destinations × sources up to which [`scan_add_kernel`] replaces a read back (each
/// output element then reads at most this many indices).
const SCAN_LIMIT: usize = 1 << 22;

/// `partial[o, c, i] = Σ_{j ∈ chunk c} src[o, order[j], i]`.
#[cube(launch_unchecked)]
fn chunk_sum_kernel<F: Float>(
    src: &Array<F>,
    order: &Array<u32>,
    starts: &Array<u32>,
    partial: &mut Array<F>,
    total: u32,
    idx_len: u32,
    num_chunks: u32,
    inner: u32,
) {
    let t = ABSOLUTE_POS;
    if t < total as usize {
        let inner = inner as usize;
        let num_chunks = num_chunks as usize;
        let i = t % inner;
        let c = (t / inner) % num_chunks;
        let o = t / (inner * num_chunks);
        let base = o * idx_len as usize;
        let mut acc = F::new(0.0);
        for j in starts[c] as usize..starts[c + 1] as usize {
            acc += src[(base + order[j] as usize) * inner + i];
        }
        partial[t] = acc;
    }
}

/// `out[o, d, i] = Σ_{c ∈ offsets[d]..offsets[d+1]} partial[o, c, i]`.
#[cube(launch_unchecked)]
fn range_sum_kernel<F: Float>(
    partial: &Array<F>,
    offsets: &Array<u32>,
    out: &mut Array<F>,
    total: u32,
    n: u32,
    num_chunks: u32,
    inner: u32,
    num_segments: u32,
) {
    let t = ABSOLUTE_POS;
    if t < total as usize {
        let inner = inner as usize;
        let n = n as usize;
        let i = t % inner;
        let d = (t / inner) % n;
        let o = t / (inner * n);
        let mut acc = F::new(0.0);
        if d < num_segments as usize {
            for c in offsets[d] as usize..offsets[d + 1] as usize {
                acc += partial[(o * num_chunks as usize + c) * inner + i];
            }
        }
        out[t] = acc;
    }
}

/// Scatter-add through chunks of the long segments (module docs).
fn index_add_chunked<R: GpuRuntime>(
    src: &GpuStorage<R>,
    seg: &Segments,
    chunks: &Chunks,
    (outer, idx_len, inner, n): (usize, usize, usize, usize),
) -> GpuStorage<R> {
    let client = src.client();
    let partial_len = outer * chunks.count * inner;
    let partial = src.uninit_like(partial_len);
    if partial_len > 0 {
        let (count, dim) = grid(client, partial_len);
        src.device.counters.launch();
        with_float!(src.dtype, F => unsafe {
            chunk_sum_kernel::launch_unchecked::<F, R>(
                client, count, dim,
                src.arg(), arg(&seg.order, idx_len), arg(&chunks.starts, chunks.count + 1),
                partial.arg(),
                u32_of(partial_len), u32_of(idx_len), u32_of(chunks.count), u32_of(inner),
            )
        });
    }
    let total = outer * n * inner;
    let out = src.uninit_like(total);
    let (count, dim) = grid(client, total);
    src.device.counters.launch();
    with_float!(src.dtype, F => unsafe {
        range_sum_kernel::launch_unchecked::<F, R>(
            client, count, dim,
            partial.arg(), arg(&chunks.offsets, seg.num_segments + 1), out.arg(),
            u32_of(total), u32_of(n), u32_of(chunks.count), u32_of(inner),
            u32_of(seg.num_segments),
        )
    });
    out
}

impl<R: GpuRuntime> IndexOps for Gpu<R> {
    fn index_select(
        x: &GpuStorage<R>,
        outer: usize,
        n: usize,
        inner: usize,
        idx: &GpuIndices<R>,
        idx_len: usize,
    ) -> GpuStorage<R> {
        let total = outer * idx_len * inner;
        let out = x.uninit_like(total);
        if total > 0 {
            let (count, dim) = grid(x.client(), total);
            x.device.counters.launch();
            with_float!(x.dtype, F => unsafe {
                index_select_kernel::launch_unchecked::<F, R>(
                    x.client(), count, dim,
                    x.arg(), arg(&idx.handle, idx_len), out.arg(),
                    u32_of(total), u32_of(n), u32_of(idx_len), u32_of(inner),
                )
            });
        }
        out
    }

    fn index_add(
        src: &GpuStorage<R>,
        outer: usize,
        idx: &GpuIndices<R>,
        idx_len: usize,
        inner: usize,
        n: usize,
    ) -> GpuStorage<R> {
        let total = outer * n * inner;
        let out = src.uninit_like(total);
        if total > 0 && idx.scans_on_device(n) {
            let (count, dim) = grid(src.client(), total);
            src.device.counters.launch();
            with_float!(src.dtype, F => unsafe {
                scan_add_kernel::launch_unchecked::<F, R>(
                    src.client(), count, dim,
                    src.arg(), arg(&idx.handle, idx_len), out.arg(),
                    u32_of(total), u32_of(n), u32_of(idx_len), u32_of(inner),
                )
            });
            return out;
        }
        if total > 0 {
            let seg = idx.segments(n);
            if let Some(chunks) = &seg.chunks {
                return index_add_chunked(src, seg, chunks, (outer, idx_len, inner, n));
            }
            let (count, dim) = grid(src.client(), total);
            src.device.counters.launch();
            with_float!(src.dtype, F => unsafe {
                index_add_kernel::launch_unchecked::<F, R>(
                    src.client(), count, dim,
                    src.arg(),
                    arg(&seg.offsets, seg.num_segments + 1),
                    arg(&seg.order, idx_len),
                    out.arg(),
                    u32_of(total), u32_of(n), u32_of(idx_len), u32_of(inner),
                    u32_of(seg.num_segments),
                )
            });
        }
        out
    }
}
