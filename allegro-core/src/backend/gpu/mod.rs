//! The GPU backend: the op traits of [`crate::backend`] as cubecl kernels.
//!
//! One implementation, [`Gpu<R>`], serves every cubecl runtime: CUDA (`cuda` feature),
//! HIP (`hip`) and Vulkan/SPIR-V (`vulkan`, which CI runs on Mesa's lavapipe CPU
//! driver so the very same kernels are tested without a GPU).
//!
//! Kernels are written plainly, one thread per output element, with sums in a fixed
//! order so results are reproducible run to run (no float atomics): scatter-add walks a
//! destination-sorted copy of its indices, long reductions add fixed chunks in chunk
//! order. The CPU backend is the oracle; `tests/gpu.rs` runs the generic op suite here.

#[cfg(feature = "cubek")]
mod cubek_gemm;
#[cfg(feature = "cuda")]
mod cublas;
#[cfg(feature = "cuda")]
mod cuda_transfer;
mod device;
mod edges;
mod elementwise;
mod fused;
mod index;
mod index_built;
mod inference;
mod launch;
mod matmul;
mod memory_pools;
mod neighbor_filter;
mod neighbors;
mod optimizer;
mod reduce;
mod scatter_tables;
mod shape;
mod storage;
mod tables;
mod transfer;
mod vendor_gemm;

use std::marker::PhantomData;

use cubecl::prelude::Runtime;

/// cubecl's host byte buffer, which [`Transfers::upload`] takes.
pub use cubecl::bytes::Bytes;
#[cfg(feature = "cubek")]
pub use cubek_gemm::{CubekRoutine, cubek_matmul_f32};
#[cfg(feature = "cuda")]
pub use cublas::{CublasMath, cublas_available, cublas_gemm_f32, cublas_matmul_f32};
#[cfg(feature = "cuda")]
pub use cuda_transfer::CudaTransfers;
pub use device::GpuDevice;
pub use index::GpuIndices;
pub use inference::{
    DEFAULT_VENDOR_MIN_ROWS, ExactF32Matmul, exact_f32_matmul, set_exact_f32_matmul,
    set_vendor_min_rows,
};
pub use memory_pools::MemoryPools;
#[cfg(feature = "cuda")]
pub use memory_pools::set_cuda_memory_pools;
pub use neighbor_filter::{FilterOutcome, filter_on_device};
pub use neighbors::{CellListInput, CellListOutcome, DeviceEdges, cell_list_on_device};
pub use storage::GpuStorage;
pub use transfer::{CubeclTransfers, Transfers};
pub use vendor_gemm::{StridedF32, VendorGemm};

#[cfg(feature = "cuda")]
pub use cubecl::cuda::{CudaDevice, CudaRuntime};
#[cfg(feature = "hip")]
pub use cubecl::hip::{AmdDevice, HipRuntime};
#[cfg(feature = "vulkan")]
pub use cubecl::wgpu::{WgpuDevice, WgpuRuntime};

/// A cubecl runtime this backend runs on, with a short name for messages and tables.
pub trait GpuRuntime: Runtime {
    /// `"cuda"`, `"hip"` or `"vulkan"`.
    const NAME: &'static str;
    /// Whether kernels can evaluate `exp`, `ln`, `sin`, `tanh`, `pow`, `erf` … in f64.
    /// Vulkan's SPIR-V extended instructions exist for 16- and 32-bit floats only
    /// (lavapipe returns garbage or f32-accurate values for f64), so that runtime
    /// evaluates those maps of f64 buffers on the host.
    const F64_TRANSCENDENTALS: bool;
    /// How buffers cross between host and device on this runtime.
    type Transfers: Transfers<Self>;

    /// Whether [`GpuRuntime::vendor_gemm_f32`] runs products here (the vendor's library
    /// exists and loads). The default: no vendor library.
    fn has_vendor_gemm() -> bool {
        false
    }

    /// Runs `gemm` through the vendor's BLAS: `None` where this runtime has none (the
    /// default), else whether it was enqueued.
    fn vendor_gemm_f32(gemm: &VendorGemm<'_, Self>) -> Option<crate::error::Result<()>> {
        let _ = gemm;
        None
    }
}

#[cfg(feature = "cuda")]
impl GpuRuntime for CudaRuntime {
    const NAME: &'static str = "cuda";
    const F64_TRANSCENDENTALS: bool = true;
    type Transfers = CudaTransfers;

    fn has_vendor_gemm() -> bool {
        cublas_available()
    }

    fn vendor_gemm_f32(gemm: &VendorGemm<'_, Self>) -> Option<crate::error::Result<()>> {
        let math = if gemm.tf32 {
            CublasMath::Tf32
        } else {
            CublasMath::Exact
        };
        cublas_available()
            .then(|| cublas_gemm_f32(gemm.a, gemm.w, gemm.out, gemm.dims, gemm.beta, math))
    }
}

#[cfg(feature = "hip")]
impl GpuRuntime for HipRuntime {
    const NAME: &'static str = "hip";
    const F64_TRANSCENDENTALS: bool = true;
    type Transfers = CubeclTransfers;
}

#[cfg(feature = "vulkan")]
impl GpuRuntime for WgpuRuntime {
    const NAME: &'static str = "vulkan";
    const F64_TRANSCENDENTALS: bool = false;
    type Transfers = CubeclTransfers;
}

/// The GPU backend over the cubecl runtime `R`.
pub struct Gpu<R: GpuRuntime>(PhantomData<fn() -> R>);

impl<R: GpuRuntime> Clone for Gpu<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R: GpuRuntime> Copy for Gpu<R> {}

impl<R: GpuRuntime> Default for Gpu<R> {
    fn default() -> Self {
        Gpu(PhantomData)
    }
}

impl<R: GpuRuntime> std::fmt::Debug for Gpu<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gpu<{}>", R::NAME)
    }
}

impl<R: GpuRuntime> super::BackendTypes for Gpu<R> {
    type Device = GpuDevice<R>;
    type Storage = GpuStorage<R>;
    type IndexStorage = GpuIndices<R>;

    fn name() -> &'static str {
        R::NAME
    }
}

/// The CUDA backend.
#[cfg(feature = "cuda")]
pub type Cuda = Gpu<CudaRuntime>;

/// The HIP (ROCm) backend.
#[cfg(feature = "hip")]
pub type Hip = Gpu<HipRuntime>;

/// The Vulkan backend (SPIR-V kernels through wgpu; lavapipe on machines without a GPU).
#[cfg(feature = "vulkan")]
pub type Vulkan = Gpu<WgpuRuntime>;
