//! Host↔device copies: the one place buffers cross, so that every byte and every wait
//! is counted ([`crate::backend::DeviceCounts`]) and each runtime copies its fastest way.
//!
//! cubecl 0.10's own upload copies the data twice on the host and sends it from pageable
//! memory (its `create` turns even pinned staging into a fresh `Vec`), 0.5–2 GB/s on the
//! H200; CUDA therefore copies through a pinned ring of our own ([`super::cuda_transfer`]).
//! The other runtimes keep cubecl's transfers ([`CubeclTransfers`]).

use std::mem::MaybeUninit;

use cubecl::bytes::Bytes;
use cubecl::prelude::*;
use cubecl::server::Handle;

use super::{GpuDevice, GpuRuntime};

/// How a runtime moves bytes between host and device.
pub trait Transfers<R: Runtime>: Send + Sync + 'static {
    /// The copy engine of `device` (created once per opened device).
    fn open(device: &R::Device) -> Self;
    /// A new device buffer of `len` bytes (at least one is allocated) whose contents
    /// `fill(offset, span)` writes, span by span, straight into the runtime's staging
    /// memory where it has one (CUDA: pinned memory, so nothing is copied on the host).
    /// The copy is ordered before every kernel launched afterwards from this thread.
    fn upload_with(
        &self,
        client: &ComputeClient<R>,
        len: usize,
        fill: &mut dyn FnMut(usize, &mut [u8]),
    ) -> Handle;
    /// A new device buffer holding `data` (at least one byte is allocated).
    fn upload(&self, client: &ComputeClient<R>, data: Bytes) -> Handle {
        self.upload_with(client, data.len(), &mut |at, span| {
            span.copy_from_slice(&data[at..at + span.len()])
        })
    }
    /// Hands the first `len` bytes of `handle`, span by span, to `read(offset, span)`,
    /// after every kernel launched before from this thread.
    fn download_with(
        &self,
        client: &ComputeClient<R>,
        handle: Handle,
        len: usize,
        read: &mut dyn FnMut(usize, &[u8]),
    );
    /// Fills `dst` with the first `dst.len()` bytes of `handle`.
    fn download(&self, client: &ComputeClient<R>, handle: Handle, dst: &mut [MaybeUninit<u8>]) {
        let len = dst.len();
        self.download_with(client, handle, len, &mut |at, span| {
            copy_to_uninit(span, &mut dst[at..at + span.len()])
        });
    }
}

/// cubecl's own transfers (Vulkan, HIP).
#[derive(Debug, Default)]
pub struct CubeclTransfers;

impl<R: Runtime> Transfers<R> for CubeclTransfers {
    fn open(_device: &R::Device) -> Self {
        CubeclTransfers
    }

    fn upload_with(
        &self,
        client: &ComputeClient<R>,
        len: usize,
        fill: &mut dyn FnMut(usize, &mut [u8]),
    ) -> Handle {
        // Eight-byte words, so that typed views of the span (f64) are aligned.
        let mut words = vec![0u64; len.div_ceil(8).max(1)];
        fill(0, &mut bytemuck::cast_slice_mut(&mut words)[..len]);
        self.upload(client, Bytes::from_elems(words))
    }

    fn upload(&self, client: &ComputeClient<R>, data: Bytes) -> Handle {
        client.create(data)
    }

    fn download_with(
        &self,
        client: &ComputeClient<R>,
        handle: Handle,
        len: usize,
        read: &mut dyn FnMut(usize, &[u8]),
    ) {
        let bytes = client.read_one_unchecked(handle);
        if (bytes.as_ptr() as usize).is_multiple_of(8) {
            read(0, &bytes[..len]);
        } else {
            // Typed views of the span (f64) need it aligned.
            let mut words = vec![0u64; len.div_ceil(8)];
            let aligned = &mut bytemuck::cast_slice_mut(&mut words)[..len];
            aligned.copy_from_slice(&bytes[..len]);
            read(0, aligned);
        }
    }
}

/// `dst = src` for possibly uninitialised `dst` of the same length.
pub(crate) fn copy_to_uninit(src: &[u8], dst: &mut [MaybeUninit<u8>]) {
    assert_eq!(src.len(), dst.len());
    // SAFETY: both spans have `src.len()` bytes and do not overlap (one is borrowed
    // shared, the other exclusively); writing initialises `dst`.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast::<u8>(), src.len());
    }
}

/// Uploads `data` (at least one element is allocated), counting it.
pub(crate) fn upload<R: GpuRuntime, E>(device: &GpuDevice<R>, data: Vec<E>) -> Handle
where
    E: bytemuck::NoUninit + Send + Sync,
{
    let bytes = Bytes::from_elems(data);
    device.counters.upload(bytes.len());
    device.transfers.upload(&device.client, bytes)
}

/// The first `len` elements of `handle`, downloaded (counted: bytes and one wait).
pub(crate) fn download<R: GpuRuntime, E: bytemuck::Pod>(
    device: &GpuDevice<R>,
    handle: Handle,
    len: usize,
) -> Vec<E> {
    let mut out: Vec<E> = Vec::with_capacity(len);
    if len == 0 {
        return out;
    }
    let bytes = len * std::mem::size_of::<E>();
    device.counters.download(bytes);
    {
        let spare = &mut out.spare_capacity_mut()[..len];
        // SAFETY: `MaybeUninit<E>` has `E`'s size and layout, so the span is
        // `bytes` possibly-uninitialised bytes; `MaybeUninit<u8>` has no alignment need.
        let dst = unsafe {
            std::slice::from_raw_parts_mut(spare.as_mut_ptr().cast::<MaybeUninit<u8>>(), bytes)
        };
        device.transfers.download(&device.client, handle, dst);
    }
    // SAFETY: `download` initialised all `len` elements' bytes, and every bit pattern is a
    // valid `E` (`Pod`).
    unsafe { out.set_len(len) };
    out
}
