//! GPU buffers, host transfer, fill and dtype conversion.

use cubecl::prelude::*;
use cubecl::server::Handle;

use super::launch::{alloc, arg, grid, u32_of, with_float};
use super::transfer::{download, upload};
use super::{Gpu, GpuDevice, GpuIndices, GpuRuntime, Transfers};
use crate::backend::StorageOps;
use crate::dtype::{DType, HostData};

/// A float buffer on a GPU. Cloning shares the device allocation (cubecl handles are
/// reference counted and return to the memory pool when the last one drops).
pub struct GpuStorage<R: GpuRuntime> {
    pub(crate) handle: Handle,
    pub(crate) len: usize,
    pub(crate) dtype: DType,
    pub(crate) device: GpuDevice<R>,
}

impl<R: GpuRuntime> GpuStorage<R> {
    /// A new, uninitialised buffer of `len` elements of `dtype` on `device`.
    pub(crate) fn uninit(device: &GpuDevice<R>, len: usize, dtype: DType) -> Self {
        GpuStorage {
            handle: alloc(&device.client, len, dtype.size_in_bytes()),
            len,
            dtype,
            device: device.clone(),
        }
    }

    /// A new buffer like `self` (same device and dtype) of `len` elements.
    pub(crate) fn uninit_like(&self, len: usize) -> Self {
        Self::uninit(&self.device, len, self.dtype)
    }

    /// The kernel argument for this buffer.
    pub(crate) fn arg(&self) -> ArrayArg<R> {
        arg(&self.handle, self.len)
    }

    /// The compute client of this buffer's device.
    pub(crate) fn client(&self) -> &ComputeClient<R> {
        &self.device.client
    }

    /// A float64 buffer of `len` elements that `fill(first, values)` writes span by
    /// span in place: on CUDA straight into pinned staging memory, so the data is never
    /// copied on the host (a producer of positions, say, writes them there directly).
    pub fn upload_f64_with(
        device: &GpuDevice<R>,
        len: usize,
        mut fill: impl FnMut(usize, &mut [f64]),
    ) -> Self {
        device.counters.upload(8 * len);
        let handle = device
            .transfers
            .upload_with(&device.client, 8 * len, &mut |at, span| {
                fill(at / 8, bytemuck::cast_slice_mut(span))
            });
        GpuStorage {
            handle,
            len,
            dtype: DType::F64,
            device: device.clone(),
        }
    }

    /// Hands a float64 buffer to `read(first, values)` span by span, straight from the
    /// staging memory (no host copy on CUDA).
    pub fn download_f64_with(&self, mut read: impl FnMut(usize, &[f64])) {
        assert_eq!(
            self.dtype,
            DType::F64,
            "download_f64_with of a {} buffer",
            self.dtype
        );
        self.device.counters.download(8 * self.len);
        self.device.transfers.download_with(
            &self.device.client,
            self.handle.clone(),
            8 * self.len,
            &mut |at, span| read(at / 8, bytemuck::cast_slice(span)),
        );
    }
}

impl<R: GpuRuntime> Clone for GpuStorage<R> {
    fn clone(&self) -> Self {
        GpuStorage {
            handle: self.handle.clone(),
            len: self.len,
            dtype: self.dtype,
            device: self.device.clone(),
        }
    }
}

impl<R: GpuRuntime> std::fmt::Debug for GpuStorage<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuStorage<{}>({} × {})", R::NAME, self.len, self.dtype)
    }
}

#[cube(launch_unchecked)]
fn fill_kernel<F: Float + CubeElement>(out: &mut Array<F>, n: u32, value: F) {
    if ABSOLUTE_POS < n as usize {
        out[ABSOLUTE_POS] = value;
    }
}

#[cube(launch_unchecked)]
fn cast_kernel<F: Float, G: Float>(x: &Array<F>, out: &mut Array<G>, n: u32) {
    if ABSOLUTE_POS < n as usize {
        out[ABSOLUTE_POS] = G::cast_from(x[ABSOLUTE_POS]);
    }
}

fn cast_into<R: GpuRuntime, F: Float + CubeElement>(
    x: &GpuStorage<R>,
    dtype: DType,
) -> GpuStorage<R> {
    let out = GpuStorage::uninit(&x.device, x.len, dtype);
    if x.len > 0 {
        let (count, dim) = grid(x.client(), x.len);
        x.device.counters.launch();
        with_float!(dtype, G => unsafe {
            cast_kernel::launch_unchecked::<F, G, R>(
                x.client(), count, dim, x.arg(), out.arg(), u32_of(x.len),
            )
        });
    }
    out
}

impl<R: GpuRuntime> StorageOps for Gpu<R> {
    fn from_host(device: &GpuDevice<R>, data: HostData) -> GpuStorage<R> {
        let (handle, len, dtype) = match data {
            HostData::F32(v) if v.is_empty() => (alloc(&device.client, 0, 4), 0, DType::F32),
            HostData::F64(v) if v.is_empty() => (alloc(&device.client, 0, 8), 0, DType::F64),
            HostData::F32(v) => {
                let len = v.len();
                (upload(device, v), len, DType::F32)
            }
            HostData::F64(v) => {
                let len = v.len();
                (upload(device, v), len, DType::F64)
            }
        };
        GpuStorage {
            handle,
            len,
            dtype,
            device: device.clone(),
        }
    }

    fn synchronize(device: &GpuDevice<R>) {
        // A failed sync shows up again at the next read; timings only need the wait.
        let _ = device.synchronize();
    }

    fn to_host(storage: &GpuStorage<R>) -> HostData {
        if storage.len == 0 {
            return match storage.dtype {
                DType::F32 => HostData::F32(Vec::new()),
                DType::F64 => HostData::F64(Vec::new()),
            };
        }
        let (device, handle) = (&storage.device, storage.handle.clone());
        match storage.dtype {
            DType::F32 => HostData::F32(download(device, handle, storage.len)),
            DType::F64 => HostData::F64(download(device, handle, storage.len)),
        }
    }

    fn storage_dtype(storage: &GpuStorage<R>) -> DType {
        storage.dtype
    }

    fn storage_len(storage: &GpuStorage<R>) -> usize {
        storage.len
    }

    fn storage_device(storage: &GpuStorage<R>) -> GpuDevice<R> {
        storage.device.clone()
    }

    fn full(device: &GpuDevice<R>, len: usize, value: f64, dtype: DType) -> GpuStorage<R> {
        let out = GpuStorage::uninit(device, len, dtype);
        if len > 0 {
            let (count, dim) = grid(&device.client, len);
            device.counters.launch();
            with_float!(dtype, F => unsafe {
                fill_kernel::launch_unchecked::<F, R>(
                    &device.client, count, dim, out.arg(), u32_of(len), value as F,
                )
            });
        }
        out
    }

    fn cast(storage: &GpuStorage<R>, dtype: DType) -> GpuStorage<R> {
        with_float!(storage.dtype, F => cast_into::<R, F>(storage, dtype))
    }

    fn indices_from_host(device: &GpuDevice<R>, indices: &[u32]) -> GpuIndices<R> {
        GpuIndices::from_host(device, indices)
    }

    fn indices_from_host_many(device: &GpuDevice<R>, parts: &[&[u32]]) -> Vec<GpuIndices<R>> {
        GpuIndices::from_host_many(device, parts)
    }

    fn indices_filled(device: &GpuDevice<R>, len: usize, value: u32) -> GpuIndices<R> {
        GpuIndices::filled(device, len, value)
    }

    fn indices_run_starts(
        _device: &GpuDevice<R>,
        indices: &GpuIndices<R>,
        host: Vec<u32>,
    ) -> GpuIndices<R> {
        indices.run_starts(host)
    }

    fn indices_to_host(indices: &GpuIndices<R>) -> Vec<u32> {
        indices.host().clone()
    }

    fn indices_assume_sorted(indices: &GpuIndices<R>) -> GpuIndices<R> {
        indices.assume_sorted()
    }

    fn indices_narrow(
        indices: &GpuIndices<R>,
        start: usize,
        len: usize,
        minus: u32,
    ) -> GpuIndices<R> {
        indices.narrow_minus(start, len, minus)
    }

    fn device_counts(device: &GpuDevice<R>) -> crate::backend::DeviceCounts {
        device.device_counts()
    }
}
