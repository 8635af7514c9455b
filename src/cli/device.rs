//! `--device` strings and the GPU a rank takes.

#[cfg(any(feature = "cuda", feature = "hip", feature = "vulkan"))]
use crate::train::Communicator;

/// `--device`'s kind and optional number: `cuda:1` → (`cuda`, 1), `cuda` → (`cuda`, none).
pub fn split_device(device: &str) -> Result<(&str, Option<usize>), String> {
    match device.split_once(':') {
        Some((kind, n)) => n
            .parse::<usize>()
            .map(|n| (kind, Some(n)))
            .map_err(|_| format!("--device {device}: `{n}` is not a device number")),
        None => Ok((device, None)),
    }
}

/// Readies the process for training on `device`: on CUDA, the allocator of exclusive
/// pages (a training step keeps its whole tape alive while it allocates hundreds more
/// buffers, and cubecl's default pools scan every live slice per allocation; see
/// [`crate::core::backend::gpu::MemoryPools`]). Call before any device opens.
pub fn prepare_training(device: &str) {
    #[cfg(feature = "cuda")]
    if split_device(device).is_ok_and(|(kind, _)| kind == "cuda") {
        use crate::core::backend::gpu::{MemoryPools, set_cuda_memory_pools};
        set_cuda_memory_pools(MemoryPools::Exclusive);
    }
    #[cfg(not(feature = "cuda"))]
    let _ = device;
}

/// GPU `index`, or without one the GPU of this rank's place within its node (as
/// Lightning's DDP takes `LOCAL_RANK`; a launcher that gives each rank one visible GPU
/// makes that GPU 0 for every rank).
#[cfg(any(feature = "cuda", feature = "hip", feature = "vulkan"))]
pub(crate) fn gpu_index<R: crate::core::backend::gpu::GpuRuntime>(
    index: Option<usize>,
    comm: &dyn Communicator,
) -> Result<usize, String> {
    use crate::core::backend::gpu::GpuDevice;
    match index {
        Some(i) => Ok(i),
        None => Ok(comm.local_rank() % GpuDevice::<R>::count().map_err(|e| e.to_string())?),
    }
}

/// The GPU [`gpu_index`] picks.
#[cfg(any(feature = "cuda", feature = "hip", feature = "vulkan"))]
pub(crate) fn gpu_device<R: crate::core::backend::gpu::GpuRuntime>(
    index: Option<usize>,
    comm: &dyn Communicator,
) -> Result<crate::core::backend::gpu::GpuDevice<R>, String> {
    let index = gpu_index::<R>(index, comm)?;
    crate::core::backend::gpu::GpuDevice::try_index(index).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_strings() {
        assert_eq!(split_device("cpu").unwrap(), ("cpu", None));
        assert_eq!(split_device("cuda:3").unwrap(), ("cuda", Some(3)));
        assert!(split_device("cuda:x").unwrap_err().contains("`x`"));
    }
}
