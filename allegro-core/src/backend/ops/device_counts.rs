//! What the host asked of a device: bytes moved, transfers, synchronisations and kernel
//! launches, counted by the backend so that a caller (or a test) can pin what a call
//! costs outside its arithmetic.

use std::ops::Sub;
use std::sync::atomic::{AtomicU64, Ordering};

/// Totals since a device was opened. Take two readings and subtract them for the cost
/// of what ran in between (`after - before`). A backend whose buffers live in host
/// memory (the CPU) moves nothing, launches nothing and reports zeros.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceCounts {
    /// Bytes copied from host memory into device buffers.
    pub bytes_to_device: u64,
    /// Host-to-device copies (each has a fixed cost besides its bytes).
    pub uploads: u64,
    /// Bytes copied from device buffers back to host memory.
    pub bytes_to_host: u64,
    /// Device-to-host copies.
    pub downloads: u64,
    /// Times the host waited for the device: every download (it needs the kernels
    /// before it) and every explicit synchronisation.
    pub synchronizations: u64,
    /// Kernels launched.
    pub launches: u64,
}

impl Sub for DeviceCounts {
    type Output = DeviceCounts;

    fn sub(self, earlier: DeviceCounts) -> DeviceCounts {
        DeviceCounts {
            bytes_to_device: self.bytes_to_device - earlier.bytes_to_device,
            uploads: self.uploads - earlier.uploads,
            bytes_to_host: self.bytes_to_host - earlier.bytes_to_host,
            downloads: self.downloads - earlier.downloads,
            synchronizations: self.synchronizations - earlier.synchronizations,
            launches: self.launches - earlier.launches,
        }
    }
}

/// The running counters a device keeps (shared by its clones); see [`DeviceCounts`].
#[derive(Debug, Default)]
pub struct DeviceCounters {
    bytes_to_device: AtomicU64,
    uploads: AtomicU64,
    bytes_to_host: AtomicU64,
    downloads: AtomicU64,
    synchronizations: AtomicU64,
    launches: AtomicU64,
}

impl DeviceCounters {
    /// Counts one upload of `bytes`.
    pub fn upload(&self, bytes: usize) {
        self.bytes_to_device
            .fetch_add(bytes as u64, Ordering::Relaxed);
        self.uploads.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one download of `bytes` (and the synchronisation it implies).
    pub fn download(&self, bytes: usize) {
        self.bytes_to_host
            .fetch_add(bytes as u64, Ordering::Relaxed);
        self.downloads.fetch_add(1, Ordering::Relaxed);
        self.synchronizations.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one explicit synchronisation.
    pub fn synchronization(&self) {
        self.synchronizations.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one kernel launch.
    pub fn launch(&self) {
        self.launches.fetch_add(1, Ordering::Relaxed);
    }

    /// The totals so far.
    pub fn read(&self) -> DeviceCounts {
        DeviceCounts {
            bytes_to_device: self.bytes_to_device.load(Ordering::Relaxed),
            uploads: self.uploads.load(Ordering::Relaxed),
            bytes_to_host: self.bytes_to_host.load(Ordering::Relaxed),
            downloads: self.downloads.load(Ordering::Relaxed),
            synchronizations: self.synchronizations.load(Ordering::Relaxed),
            launches: self.launches.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_subtract_to_what_happened_between() {
        let c = DeviceCounters::default();
        c.upload(100);
        let before = c.read();
        c.upload(24);
        c.download(8);
        c.synchronization();
        c.launch();
        let d = c.read() - before;
        assert_eq!(
            d,
            DeviceCounts {
                bytes_to_device: 24,
                uploads: 1,
                bytes_to_host: 8,
                downloads: 1,
                synchronizations: 2,
                launches: 1,
            }
        );
    }
}
