//! What crossed between the host and a device: bytes, transfers and synchronisations,
//! counted by the backend so that a caller (or a test) can pin how much a call moves.

use std::ops::Sub;
use std::sync::atomic::{AtomicU64, Ordering};

/// Totals since a device was opened. Take two readings and subtract them for the cost
/// of what ran in between (`after - before`). A backend whose buffers live in host
/// memory (the CPU) moves nothing and reports zeros.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransferCounts {
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
}

impl Sub for TransferCounts {
    type Output = TransferCounts;

    fn sub(self, earlier: TransferCounts) -> TransferCounts {
        TransferCounts {
            bytes_to_device: self.bytes_to_device - earlier.bytes_to_device,
            uploads: self.uploads - earlier.uploads,
            bytes_to_host: self.bytes_to_host - earlier.bytes_to_host,
            downloads: self.downloads - earlier.downloads,
            synchronizations: self.synchronizations - earlier.synchronizations,
        }
    }
}

/// The running counters a device keeps (shared by its clones); see [`TransferCounts`].
#[derive(Debug, Default)]
pub struct TransferCounters {
    bytes_to_device: AtomicU64,
    uploads: AtomicU64,
    bytes_to_host: AtomicU64,
    downloads: AtomicU64,
    synchronizations: AtomicU64,
}

impl TransferCounters {
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

    /// The totals so far.
    pub fn read(&self) -> TransferCounts {
        TransferCounts {
            bytes_to_device: self.bytes_to_device.load(Ordering::Relaxed),
            uploads: self.uploads.load(Ordering::Relaxed),
            bytes_to_host: self.bytes_to_host.load(Ordering::Relaxed),
            downloads: self.downloads.load(Ordering::Relaxed),
            synchronizations: self.synchronizations.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_subtract_to_what_happened_between() {
        let c = TransferCounters::default();
        c.upload(100);
        let before = c.read();
        c.upload(24);
        c.download(8);
        c.synchronization();
        let d = c.read() - before;
        assert_eq!(
            d,
            TransferCounts {
                bytes_to_device: 24,
                uploads: 1,
                bytes_to_host: 8,
                downloads: 1,
                synchronizations: 2,
            }
        );
    }
}
