//! Buffer types of a backend and moving data between host and device.

use super::DeviceCounts;
use crate::dtype::{DType, HostData};

/// The types a backend owns: its device handle and its buffers.
///
/// Buffers are opaque: nothing outside the backend assumes they live in host memory,
/// so a GPU backend can keep them on the device.
pub trait BackendTypes: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// Where buffers live (a GPU ordinal, or a unit type for the CPU).
    type Device: Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static;
    /// A dense float buffer (f32 or f64; the dtype is part of the value).
    type Storage: Clone + std::fmt::Debug + Send + Sync + 'static;
    /// A dense buffer of `u32` indices.
    type IndexStorage: Clone + std::fmt::Debug + Send + Sync + 'static;

    /// Short name for messages and benchmark tables (`"cpu"`, `"cuda"`).
    fn name() -> &'static str;
}

/// Creation, transfer and conversion of buffers.
pub trait StorageOps: BackendTypes {
    /// Copies host data to a new buffer on `device`.
    fn from_host(device: &Self::Device, data: HostData) -> Self::Storage;
    /// Copies a buffer back to host memory.
    fn to_host(storage: &Self::Storage) -> HostData;
    /// Element type of a buffer.
    fn storage_dtype(storage: &Self::Storage) -> DType;
    /// Number of elements of a buffer.
    fn storage_len(storage: &Self::Storage) -> usize;
    /// Device a buffer lives on.
    fn storage_device(storage: &Self::Storage) -> Self::Device;
    /// A buffer of `len` elements, all equal to `value` (rounded to `dtype`).
    fn full(device: &Self::Device, len: usize, value: f64, dtype: DType) -> Self::Storage;
    /// Converts a buffer to another element type (a copy, even when the type is equal).
    fn cast(storage: &Self::Storage, dtype: DType) -> Self::Storage;
    /// Copies host indices to a new index buffer on `device`.
    fn indices_from_host(device: &Self::Device, indices: &[u32]) -> Self::IndexStorage;
    /// Copies several host index arrays to the device (one transfer where the backend
    /// can: each transfer has a fixed cost).
    fn indices_from_host_many(device: &Self::Device, parts: &[&[u32]]) -> Vec<Self::IndexStorage> {
        parts
            .iter()
            .map(|p| Self::indices_from_host(device, p))
            .collect()
    }
    /// An index buffer of `len` copies of `value` (a GPU writes it with a kernel instead
    /// of uploading it). Defaults to an upload.
    fn indices_filled(device: &Self::Device, len: usize, value: u32) -> Self::IndexStorage {
        Self::indices_from_host(device, &vec![value; len])
    }
    /// The run starts of ascending `indices` on `device`: `offsets[d]` = the first
    /// position whose index is at least `d`, for `d` in `0..=n`, where `host` holds those
    /// `n + 1` values already (the caller counted them). A GPU finds them on the device
    /// and keeps `host` as their host copy, uploading nothing; the default uploads `host`.
    fn indices_run_starts(
        device: &Self::Device,
        indices: &Self::IndexStorage,
        host: Vec<u32>,
    ) -> Self::IndexStorage {
        let _ = indices;
        Self::indices_from_host(device, &host)
    }
    /// Copies an index buffer back to host memory.
    fn indices_to_host(indices: &Self::IndexStorage) -> Vec<u32>;
    /// Indices `start..start + len` of a buffer, each minus `minus` (a pass over a range
    /// of center atoms numbers them from its first), as a new buffer on the same device
    /// without a round trip through the host. Every value in the range must be at
    /// least `minus`.
    fn indices_narrow(
        indices: &Self::IndexStorage,
        start: usize,
        len: usize,
        minus: u32,
    ) -> Self::IndexStorage;
    /// The same indices, declared ascending by their producer, so that scatter-adds
    /// over them need no sort (a GPU builds each destination's run on the device, with
    /// no read back). The default keeps them as they are (the CPU sorts nothing it
    /// would gain from).
    fn indices_assume_sorted(indices: &Self::IndexStorage) -> Self::IndexStorage {
        indices.clone()
    }
    /// Waits until all work queued on `device` has finished (for stage timings; a no-op
    /// where ops run synchronously).
    fn synchronize(_device: &Self::Device) {}
    /// What the host has asked of `device` since it was opened: bytes, transfers,
    /// waits and kernel launches (zeros where buffers live in host memory).
    fn device_counts(_device: &Self::Device) -> DeviceCounts {
        DeviceCounts::default()
    }
}
