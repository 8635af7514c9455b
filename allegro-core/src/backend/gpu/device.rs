//! A GPU device: the runtime's device id and its compute client.

use std::sync::{Arc, Mutex};

use cubecl::prelude::ComputeClient;
use cubecl::server::Handle;

use super::tables::TableCache;
use super::transfer::upload;
use crate::dtype::DType;

/// [`GpuDevice::float_table`]'s cache.
type FloatTables = Arc<Mutex<std::collections::HashMap<(DType, Vec<u64>), Handle>>>;
use super::{GpuRuntime, Transfers};
use crate::backend::{DeviceCounters, DeviceCounts};
use crate::error::{Error, Result};

/// A device of runtime `R` with its client (the queue kernels are launched on).
pub struct GpuDevice<R: GpuRuntime> {
    pub(crate) device: R::Device,
    pub(crate) client: ComputeClient<R>,
    pub(crate) spec_cache: super::fused::SpecCache,
    /// Small read-only `u32` tables (shapes, launch geometry) already on the device,
    /// by content: each upload has a fixed cost, and MD repeats the same few.
    tables: Arc<Mutex<TableCache>>,
    /// Small read-only float tables (spherical-harmonics coefficients), by dtype and
    /// content, uploaded once each.
    float_tables: FloatTables,
    /// This runtime's copy engine (CUDA: a pinned staging ring).
    pub(crate) transfers: Arc<R::Transfers>,
    /// Bytes and waits between host and device, for [`GpuDevice::device_counts`].
    pub(crate) counters: Arc<DeviceCounters>,
}

impl<R: GpuRuntime> GpuDevice<R> {
    /// The device `device` of runtime `R`.
    ///
    /// cubecl panics (in its own thread, then in ours) when the driver library is
    /// missing; this turns that into an error, so tests and the C ABI can fall back or
    /// report instead of aborting.
    pub fn try_new(device: R::Device) -> Result<Self> {
        let probe = device.clone();
        let client = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            R::client(&probe)
        }))
        .map_err(|_| {
            Error::Backend(format!(
                "no usable {} device: the runtime could not start (driver library missing?)",
                R::NAME
            ))
        })?;
        Ok(GpuDevice {
            transfers: Arc::new(R::Transfers::open(&device)),
            device,
            client,
            spec_cache: Default::default(),
            tables: Default::default(),
            float_tables: Default::default(),
            counters: Default::default(),
        })
    }

    /// The runtime's default device (the first GPU).
    pub fn try_default() -> Result<Self> {
        Self::try_new(R::Device::default())
    }

    /// The runtime's device number `index` (`cuda:1` is `try_index(1)`); an error names
    /// the devices there are when `index` is not one of them.
    pub fn try_index(index: usize) -> Result<Self> {
        use cubecl::device::{Device, DeviceId};
        let first = Self::try_default()?;
        let count = first.client.device_count_total();
        if index >= count {
            return Err(Error::Backend(format!(
                "{} device {index} requested, but this machine has {count}",
                R::NAME
            )));
        }
        if index == 0 {
            return Ok(first);
        }
        let type_id = first.device.to_id().type_id;
        let index_id =
            u16::try_from(index).map_err(|_| Error::Backend(format!("device {index}")))?;
        Self::try_new(R::Device::from_id(DeviceId { type_id, index_id }))
    }

    /// How many devices of this runtime the machine has (at least 1 when a device
    /// could be opened).
    pub fn count() -> Result<usize> {
        Ok(Self::try_default()?.client.device_count_total())
    }

    /// The compute client, for launching kernels.
    pub fn client(&self) -> &ComputeClient<R> {
        &self.client
    }

    /// Waits until every kernel launched so far has finished (for timing).
    pub fn synchronize(&self) -> Result<()> {
        self.counters.synchronization();
        cubecl::future::block_on(self.client.sync())
            .map_err(|e| Error::Backend(format!("{} synchronize failed: {e:?}", R::NAME)))
    }

    /// Runs `task` on the runtime's device thread and returns what it returns.
    ///
    /// cubecl serves each device from one thread: a launch or allocation from any other
    /// thread is a closure sent over a channel, and when the device thread is busy the
    /// sender spins. On the device thread itself each call runs in place. A training
    /// step of hundreds of small launches is bound by that host work (issue 16), so a
    /// program may run its whole loop here (`ALLEGRO_DEVICE_THREAD=1` for `train` with a short config).
    pub fn on_device_thread<T: Send + 'static>(
        &self,
        task: impl FnOnce() -> T + Send,
    ) -> Result<T> {
        self.client
            .exclusive(task)
            .map_err(|e| Error::Backend(format!("{}: the device thread is gone: {e:?}", R::NAME)))
    }

    /// Bytes, transfers, waits and kernel launches since this device was opened (shared
    /// by its clones).
    pub fn device_counts(&self) -> DeviceCounts {
        self.counters.read()
    }

    /// Device memory in bytes: `(in use by live buffers, reserved by the pools)`.
    /// Pools grow and are not returned while the process runs, so the reserved figure
    /// after a computation is its peak footprint.
    pub fn memory_usage(&self) -> Option<(u64, u64)> {
        self.client
            .memory_usage()
            .ok()
            .map(|u| (u.bytes_in_use, u.bytes_reserved))
    }
}

impl<R: GpuRuntime> GpuDevice<R> {
    /// A read-only table of `values` on the device: uploaded once per content (the
    /// handle must never be written).
    pub(crate) fn table(&self, values: &[u32]) -> Handle {
        let mut cache = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(self, values)
    }

    /// A read-only table of `values` in `dtype` on the device: uploaded once per dtype
    /// and content (the handle must never be written).
    pub(crate) fn float_table(&self, values: &[f64], dtype: DType) -> Handle {
        let key = (
            dtype,
            values.iter().map(|v| v.to_bits()).collect::<Vec<u64>>(),
        );
        let mut cache = self.float_tables.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = cache.get(&key) {
            return h.clone();
        }
        let handle = match dtype {
            DType::F64 => upload(self, values.to_vec()),
            DType::F32 => upload(self, values.iter().map(|&v| v as f32).collect::<Vec<f32>>()),
        };
        cache.insert(key, handle.clone());
        handle
    }

    /// Returns the pools' unused memory to the device, so that the next
    /// [`GpuDevice::memory_usage`] reports the footprint of what runs after.
    pub fn release_unused_memory(&self) {
        self.client.memory_cleanup();
    }
}

impl<R: GpuRuntime> Clone for GpuDevice<R> {
    fn clone(&self) -> Self {
        GpuDevice {
            device: self.device.clone(),
            client: self.client.clone(),
            spec_cache: self.spec_cache.clone(),
            tables: self.tables.clone(),
            float_tables: self.float_tables.clone(),
            transfers: self.transfers.clone(),
            counters: self.counters.clone(),
        }
    }
}

impl<R: GpuRuntime> PartialEq for GpuDevice<R> {
    fn eq(&self, other: &Self) -> bool {
        use cubecl::device::Device;
        self.device.to_id() == other.device.to_id()
    }
}

impl<R: GpuRuntime> std::fmt::Debug for GpuDevice<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuDevice<{}>({:?})", R::NAME, self.device)
    }
}
