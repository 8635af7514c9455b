//! Index buffers the device builds itself instead of receiving them: a constant buffer
//! (the structure index of a single structure's atoms) and the run starts of ascending
//! indices (the center offsets of edges grouped by center). Each moves 4 bytes an atom
//! that a call would otherwise upload. The host already knows their values (it checked
//! the inputs they come from), so each keeps that host copy: reading it later costs no
//! transfer.

use cubecl::prelude::*;

use super::index::run_starts_kernel;
use super::launch::{alloc, arg, grid, u32_of};
use super::{GpuDevice, GpuIndices, GpuRuntime};

#[cube(launch_unchecked)]
fn fill_u32_kernel(out: &mut Array<u32>, len: u32, value: u32) {
    if ABSOLUTE_POS < len as usize {
        out[ABSOLUTE_POS] = value;
    }
}

impl<R: GpuRuntime> GpuIndices<R> {
    /// `len` copies of `value`, written by a kernel (no upload).
    pub(crate) fn filled(device: &GpuDevice<R>, len: usize, value: u32) -> Self {
        let client = &device.client;
        let handle = alloc(client, len, 4);
        if len > 0 {
            let (count, dim) = grid(client, len);
            device.counters.launch();
            // SAFETY: `handle` holds `len` words; the kernel guards its position.
            unsafe {
                fill_u32_kernel::launch_unchecked::<R>(
                    client,
                    count,
                    dim,
                    arg(&handle, len),
                    u32_of(len),
                    value,
                )
            }
        }
        Self::with_host(handle, vec![value; len], device)
    }

    /// The run starts of these ascending indices, `offsets[d]` = the first position
    /// whose index is at least `d`, for `d` in `0..=n`, found on the device by binary
    /// search (no upload). `host` must hold those same `n + 1` values: it becomes the
    /// buffer's host copy (asserted in length only; tests compare the values).
    pub(crate) fn run_starts(&self, host: Vec<u32>) -> Self {
        let device = &self.device;
        let client = &device.client;
        let count_out = host.len();
        let handle = alloc(client, count_out, 4);
        if count_out > 0 {
            let (count, dim) = grid(client, count_out);
            device.counters.launch();
            // SAFETY: `handle` holds `count_out` words, the index buffer `len`; the
            // kernel guards its position and reads indices below `len`.
            unsafe {
                run_starts_kernel::launch_unchecked::<R>(
                    client,
                    count,
                    dim,
                    arg(&self.handle, self.len()),
                    u32_of(self.len()),
                    arg(&handle, count_out),
                    u32_of(count_out),
                )
            }
        }
        Self::with_host(handle, host, device)
    }
}

#[cfg(all(test, feature = "vulkan"))]
mod tests {
    use super::super::transfer::download;
    use super::*;
    use crate::backend::gpu::WgpuRuntime;
    use crate::testing::gpu_test_device;

    /// The values in the device buffer itself (not the host copy).
    fn on_device(idx: &GpuIndices<WgpuRuntime>) -> Vec<u32> {
        download(&idx.device, idx.handle.clone(), idx.len())
    }

    #[test]
    fn filled_indices_are_written_on_the_device() {
        let Some(device) = gpu_test_device::<WgpuRuntime>() else {
            return;
        };
        let before = device.device_counts();
        let idx = GpuIndices::filled(&device, 1000, 7);
        let counts = device.device_counts() - before;
        assert_eq!(counts.bytes_to_device, 0, "{counts:?}");
        assert_eq!(on_device(&idx), vec![7; 1000]);
        assert_eq!(idx.host(), &vec![7; 1000]);
        assert!(GpuIndices::filled(&device, 0, 1).host().is_empty());
    }

    #[test]
    fn run_starts_on_the_device_are_the_offsets() {
        let Some(device) = gpu_test_device::<WgpuRuntime>() else {
            return;
        };
        // Centers 0..12 with gaps (atoms without edges, at the start, middle and end).
        let centers: Vec<u32> = [1u32, 1, 1, 2, 4, 4, 7, 7, 7, 7, 9, 10].to_vec();
        let n = 13;
        let mut offsets = vec![0u32; n + 1];
        for &c in &centers {
            offsets[c as usize + 1] += 1;
        }
        for a in 0..n {
            offsets[a + 1] += offsets[a];
        }
        let idx = GpuIndices::from_host(&device, &centers);
        let before = device.device_counts();
        let starts = idx.run_starts(offsets.clone());
        let counts = device.device_counts() - before;
        assert_eq!(counts.bytes_to_device, 0, "{counts:?}");
        assert_eq!(on_device(&starts), offsets);
        // No edges at all: every atom's run starts at 0.
        let none = GpuIndices::from_host(&device, &[]);
        assert_eq!(on_device(&none.run_starts(vec![0; 4])), vec![0; 4]);
    }
}
