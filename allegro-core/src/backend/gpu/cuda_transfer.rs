//! CUDA transfers through a ring of pinned (page-locked) host memory of our own, enqueued
//! on the stream cubecl launches this thread's kernels on (which the patched cubecl-cuda
//! hands out with every resource, `vendor/README.md`).
//!
//! An upload copies the caller's bytes into the next free span of the ring (several
//! threads for large ones) and enqueues a DMA from it, recording an event after it; a
//! span is handed out again only once its event has fired, so the host fills chunk k + 1
//! while chunk k crosses the bus, and small uploads between kernels never wait for them.
//! A download enqueues DMAs of several chunks, then copies each out as its event fires.
//! This is what PyTorch's caching host allocator does for `non_blocking` copies.

use std::mem::MaybeUninit;
use std::sync::Mutex;

use cubecl::bytes::Bytes;
use cubecl::cuda::{CudaDevice, CudaRuntime};
use cubecl::prelude::*;
use cubecl::server::Handle;
use cudarc::driver::{result, sys};
use rayon::prelude::*;

use super::transfer::{Transfers, copy_to_uninit};

/// Bytes copied per DMA: large enough that a copy's fixed cost (≈ 5 µs) is small next
/// to its transfer (≈ 80 µs at 50 GB/s), small enough to pipeline host copies with DMAs.
const CHUNK: usize = 4 << 20;
/// Pinned bytes per device. Uploads take consecutive spans and wrap around, so a span is
/// reused only after 64 MiB of later transfers: small uploads between kernels (a step's
/// scalars) never wait for the GPU, and a large one pipelines through several spans.
const RING_BYTES: usize = 64 << 20;
/// Alignment of every span handed out.
const SPAN_ALIGN: usize = 256;
/// Host copies longer than this are split over rayon's threads: one core copies
/// ≈ 6–10 GB/s, below the bus.
const PARALLEL_PIECE: usize = 512 << 10;

/// The pinned ring of one CUDA device, created at its first transfer.
pub struct CudaTransfers {
    index: usize,
    ring: Mutex<Option<PinnedRing>>,
}

impl Transfers<CudaRuntime> for CudaTransfers {
    fn open(device: &CudaDevice) -> Self {
        CudaTransfers {
            index: device.index,
            ring: Mutex::new(None),
        }
    }

    fn upload_with(
        &self,
        client: &ComputeClient<CudaRuntime>,
        len: usize,
        fill: &mut dyn FnMut(usize, &mut [u8]),
    ) -> Handle {
        let handle = client.empty(len.max(1));
        if len == 0 {
            return handle;
        }
        let managed = client
            .get_resource(handle.clone())
            .unwrap_or_else(|e| panic!("cuda upload: no device buffer: {e:?}"));
        let (dst, stream) = (managed.resource().ptr, managed.resource().stream);
        let mut guard = self.ring();
        let ring = guard.as_mut().expect("created by ring()");
        for at in (0..len).step_by(CHUNK) {
            let n = CHUNK.min(len - at);
            let span = ring.reserve(n);
            // SAFETY: `reserve` returned `n` pinned bytes no DMA is using.
            let staged = unsafe { ring.span_mut(span, n) };
            fill(at, staged);
            // SAFETY: `dst + at .. + n` lies inside the buffer just allocated for `len`
            // bytes; `staged` is pinned and is not reused before the event recorded
            // after the copy fires; `stream` is cubecl's live stream.
            unsafe {
                result::memcpy_htod_async(dst + at as u64, staged, stream)
                    .unwrap_or_else(|e| panic!("cuda upload: {e}"));
            }
            ring.busy_until_done(span, n, stream);
        }
        handle
    }

    fn upload(&self, client: &ComputeClient<CudaRuntime>, data: Bytes) -> Handle {
        self.upload_with(client, data.len(), &mut |at, span| {
            parallel_copy(&data[at..at + span.len()], span)
        })
    }

    fn download_with(
        &self,
        client: &ComputeClient<CudaRuntime>,
        handle: Handle,
        len: usize,
        read: &mut dyn FnMut(usize, &[u8]),
    ) {
        if len == 0 {
            return;
        }
        let managed = client
            .get_resource(handle)
            .unwrap_or_else(|e| panic!("cuda download: no device buffer: {e:?}"));
        let (src, stream) = (managed.resource().ptr, managed.resource().stream);
        let mut guard = self.ring();
        let ring = guard.as_mut().expect("created by ring()");
        let chunks: Vec<usize> = (0..len).step_by(CHUNK).collect();
        let size = |at: usize| CHUNK.min(len - at);
        // DMAs of up to AHEAD chunks are in flight while earlier ones are read. They
        // span at most half the ring behind its head, so the spans reserved meanwhile
        // (ahead of the head) never reach one that is not read yet.
        const AHEAD: usize = RING_BYTES / CHUNK / 2;
        let mut in_flight: std::collections::VecDeque<(usize, sys::CUevent)> = Default::default();
        let enqueue = |ring: &mut PinnedRing, at: usize| {
            let span = ring.reserve(size(at));
            // SAFETY: the span has `size(at)` pinned bytes no DMA is using; `src + at ..`
            // lies inside the buffer (`len` ≤ its size), and the kernels writing it
            // precede this copy on `stream`.
            unsafe {
                let staged = ring.span_mut(span, size(at));
                result::memcpy_dtoh_async(staged, src + at as u64, stream)
                    .unwrap_or_else(|e| panic!("cuda download: {e}"));
            }
            (span, ring.busy_until_done(span, size(at), stream))
        };
        let mut next = 0;
        while next < chunks.len().min(AHEAD) {
            in_flight.push_back(enqueue(ring, chunks[next]));
            next += 1;
        }
        for &at in &chunks {
            let (span, event) = in_flight.pop_front().expect("a span per chunk in flight");
            // A fired event may have been recycled for a later DMA on the same stream;
            // waiting for that one waits a little longer, never too little.
            wait(event);
            // SAFETY: the DMA into the span has completed (waited above) and wrote
            // `size(at)` bytes; no later span reserved during this download overlaps it.
            let staged = unsafe { ring.span(span, size(at)) };
            read(at, staged);
            if next < chunks.len() {
                in_flight.push_back(enqueue(ring, chunks[next]));
                next += 1;
            }
        }
        drop(managed);
    }

    fn download(
        &self,
        client: &ComputeClient<CudaRuntime>,
        handle: Handle,
        dst: &mut [MaybeUninit<u8>],
    ) {
        let len = dst.len();
        self.download_with(client, handle, len, &mut |at, span| {
            parallel_copy_out(span, &mut dst[at..at + span.len()])
        });
    }
}

impl CudaTransfers {
    /// The ring (created on first use), with its device's context current on this
    /// thread for the driver calls that follow.
    fn ring(&self) -> std::sync::MutexGuard<'_, Option<PinnedRing>> {
        let mut guard = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            // SAFETY: the context was retained by the ring and is still held.
            Some(ring) => unsafe { result::ctx::set_current(ring.context) }
                .unwrap_or_else(|e| panic!("cuda: set context: {e}")),
            None => {
                *guard = Some(
                    PinnedRing::new(self.index)
                        .unwrap_or_else(|e| panic!("cuda: pinned staging memory: {e}")),
                )
            }
        }
        guard
    }
}

/// A span of the ring that a DMA still uses, until its event fires.
struct Busy {
    start: usize,
    end: usize,
    event: sys::CUevent,
}

/// [`RING_BYTES`] of pinned host memory handed out as consecutive spans.
struct PinnedRing {
    base: *mut u8,
    head: usize,
    /// Spans in use, oldest first.
    busy: std::collections::VecDeque<Busy>,
    /// Events whose spans were released, for reuse.
    spare_events: Vec<sys::CUevent>,
    /// The device's primary context (cubecl's), retained.
    context: sys::CUcontext,
}

// SAFETY: the raw pointers are pinned host memory and CUDA events owned by the ring,
// which is only used behind its device's mutex.
unsafe impl Send for PinnedRing {}

impl PinnedRing {
    fn new(index: usize) -> Result<Self, result::DriverError> {
        let context = retain_primary_context(index)?;
        // SAFETY: plain allocation of page-locked memory in the current context.
        let base = unsafe { result::malloc_host(RING_BYTES, 0) }?.cast::<u8>();
        Ok(PinnedRing {
            base,
            head: 0,
            busy: Default::default(),
            spare_events: Vec::new(),
            context,
        })
    }

    /// The start of `len ≤ CHUNK` bytes that no DMA uses (waiting for the ones that
    /// did, which only happens once the ring has wrapped onto them).
    fn reserve(&mut self, len: usize) -> usize {
        debug_assert!(len <= CHUNK);
        // Spans whose DMA has finished are released first (cheap queries, oldest first:
        // on one stream they finish in order).
        while let Some(b) = self.busy.front() {
            // SAFETY: the event is live and was recorded.
            if unsafe { result::event::query(b.event) }.is_err() {
                break;
            }
            let b = self.busy.pop_front().expect("front exists");
            self.spare_events.push(b.event);
        }
        // Spans start 256-byte aligned: typed views of them (f64) stay aligned, and
        // DMAs of aligned spans are the fastest.
        self.head = self.head.next_multiple_of(SPAN_ALIGN);
        if self.head + len > RING_BYTES {
            self.head = 0;
        }
        let (start, end) = (self.head, self.head + len);
        let mut i = 0;
        while i < self.busy.len() {
            let b = &self.busy[i];
            if b.start < end && start < b.end {
                let b = self.busy.remove(i).expect("index in range");
                wait(b.event);
                self.spare_events.push(b.event);
            } else {
                i += 1;
            }
        }
        self.head = end;
        start
    }

    /// Marks `len` bytes at `start` busy until the work enqueued so far on `stream`
    /// (the DMA just issued) has run; returns the event that tells.
    fn busy_until_done(&mut self, start: usize, len: usize, stream: sys::CUstream) -> sys::CUevent {
        let event = self.spare_events.pop().unwrap_or_else(|| {
            result::event::create(sys::CUevent_flags::CU_EVENT_DISABLE_TIMING)
                .unwrap_or_else(|e| panic!("cuda: event create: {e}"))
        });
        // SAFETY: the event was created in this device's context and `stream` is live.
        unsafe { result::event::record(event, stream) }
            .unwrap_or_else(|e| panic!("cuda: event record: {e}"));
        self.busy.push_back(Busy {
            start,
            end: start + len,
            event,
        });
        event
    }

    /// The pinned bytes `start..start + len`, writable.
    ///
    /// # Safety
    /// The span must lie in the ring and no DMA or other borrow may use it.
    unsafe fn span_mut(&mut self, start: usize, len: usize) -> &mut [u8] {
        // SAFETY: per the contract.
        unsafe { std::slice::from_raw_parts_mut(self.base.add(start), len) }
    }

    /// The pinned bytes `start..start + len`.
    ///
    /// # Safety
    /// The span must lie in the ring and no DMA may be writing it.
    unsafe fn span(&self, start: usize, len: usize) -> &[u8] {
        // SAFETY: per the contract.
        unsafe { std::slice::from_raw_parts(self.base.add(start), len) }
    }
}

impl Drop for PinnedRing {
    fn drop(&mut self) {
        // Errors at teardown (the context may already be gone at exit) are ignored:
        // there is nothing left to protect.
        // SAFETY: the events and the pinned block came from this ring.
        unsafe {
            for b in self.busy.drain(..) {
                let _ = result::event::synchronize(b.event);
                let _ = result::event::destroy(b.event);
            }
            for e in self.spare_events.drain(..) {
                let _ = result::event::destroy(e);
            }
            let _ = result::free_host(self.base.cast());
        }
    }
}

/// Waits until `event` has fired.
fn wait(event: sys::CUevent) {
    // SAFETY: the event is live and was recorded.
    unsafe { result::event::synchronize(event) }
        .unwrap_or_else(|e| panic!("cuda: event wait: {e}"));
}

/// Retains device `index`'s primary context (the one cubecl uses) and makes it current
/// on this thread.
fn retain_primary_context(index: usize) -> Result<sys::CUcontext, result::DriverError> {
    result::init()?;
    let dev = result::device::get(index as i32)?;
    // SAFETY: retaining the primary context of a valid device; cubecl retains the same
    // one, and it stays alive while either holds it (the ring never releases it).
    unsafe {
        let ctx = result::primary_ctx::retain(dev)?;
        result::ctx::set_current(ctx)?;
        Ok(ctx)
    }
}

/// `dst = src`, split over threads when long.
fn parallel_copy(src: &[u8], dst: &mut [u8]) {
    if src.len() <= PARALLEL_PIECE {
        dst.copy_from_slice(src);
        return;
    }
    dst.par_chunks_mut(PARALLEL_PIECE)
        .zip(src.par_chunks(PARALLEL_PIECE))
        .for_each(|(d, s)| d.copy_from_slice(s));
}

/// `dst = src` for possibly uninitialised `dst`, split over threads when long.
fn parallel_copy_out(src: &[u8], dst: &mut [MaybeUninit<u8>]) {
    if src.len() <= PARALLEL_PIECE {
        copy_to_uninit(src, dst);
        return;
    }
    dst.par_chunks_mut(PARALLEL_PIECE)
        .zip(src.par_chunks(PARALLEL_PIECE))
        .for_each(|(d, s)| copy_to_uninit(s, d));
}
