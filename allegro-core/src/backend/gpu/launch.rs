//! Launch helpers shared by the kernels: grid sizes, dtype dispatch, buffer allocation.

use cubecl::prelude::*;
use cubecl::server::Handle;

use super::transfer::upload;
use super::{GpuDevice, GpuRuntime};

/// Threads per cube for one-thread-per-element kernels.
pub(crate) const BLOCK: u32 = 256;

/// Grid and block for `n` independent threads (kernels guard `ABSOLUTE_POS < n`, since
/// the grid may be rounded up).
pub(crate) fn grid<R: GpuRuntime>(client: &ComputeClient<R>, n: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new_1d(BLOCK);
    (cubecl::calculate_cube_count_elemwise(client, n, dim), dim)
}

/// An uninitialised buffer for `len` elements of `elem_size` bytes (at least one, since
/// a zero-sized allocation is not allowed everywhere).
pub(crate) fn alloc<R: GpuRuntime>(
    client: &ComputeClient<R>,
    len: usize,
    elem_size: usize,
) -> Handle {
    client.empty(len.max(1) * elem_size)
}

/// A kernel argument for the `len` elements of `handle`.
pub(crate) fn arg<R: GpuRuntime>(handle: &Handle, len: usize) -> ArrayArg<R> {
    // SAFETY: every buffer this backend creates holds at least `len` elements of the
    // kernel's element type (lengths travel with the storage), and kernels guard their
    // indices against the lengths they are given.
    unsafe { ArrayArg::from_raw_parts(handle.clone(), len.max(1)) }
}

/// A `u32` table (shapes, strides, offsets, indices) uploaded to the device.
pub(crate) fn upload_u32<R: GpuRuntime>(device: &GpuDevice<R>, values: &[u32]) -> Handle {
    if values.is_empty() {
        upload(device, vec![0u32])
    } else {
        upload(device, values.to_vec())
    }
}

/// Bytes each part of [`upload_parts`] is aligned to: the strictest storage-buffer
/// offset alignment among the runtimes.
const PART_ALIGN_BYTES: usize = 256;

/// Several tables in one upload (each upload carries a fixed cost), returned as handles
/// into the one buffer.
pub(crate) fn upload_parts<R: GpuRuntime, E>(device: &GpuDevice<R>, parts: &[&[E]]) -> Vec<Handle>
where
    E: bytemuck::NoUninit + Default + Copy + Send + Sync,
{
    let size = std::mem::size_of::<E>();
    let align = PART_ALIGN_BYTES / size;
    let mut all: Vec<E> = Vec::new();
    let mut starts = Vec::with_capacity(parts.len());
    for p in parts {
        starts.push(all.len());
        all.extend_from_slice(p);
        // At least one element per part, then pad to the alignment.
        let end = (all.len() + 1).next_multiple_of(align);
        all.resize(end, E::default());
    }
    let handle = upload(device, all);
    starts
        .into_iter()
        .map(|s| handle.clone().offset_start((s * size) as u64))
        .collect()
}

/// [`upload_parts`] of `u32` tables (shapes, strides, offsets, indices).
pub(crate) fn upload_u32_parts<R: GpuRuntime>(
    device: &GpuDevice<R>,
    parts: &[&[u32]],
) -> Vec<Handle> {
    upload_parts(device, parts)
}

/// Runs `$body` with `$F` bound to the Rust float type of `$dtype`.
macro_rules! with_float {
    ($dtype:expr, $F:ident => $body:expr) => {
        match $dtype {
            $crate::dtype::DType::F32 => {
                type $F = f32;
                $body
            }
            $crate::dtype::DType::F64 => {
                type $F = f64;
                $body
            }
        }
    };
}
pub(crate) use with_float;

/// Converts a length or index to the `u32` kernels take, with a clear message if a
/// tensor outgrows 32-bit indexing.
pub(crate) fn u32_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or_else(|_| panic!("gpu backend: size {n} exceeds 32-bit indexing"))
}
