//! The CPU backend: plain loops parallelised with rayon, faer for GEMM.
//!
//! This backend is the oracle of every other one. Its results do not depend on the
//! number of threads: parallel loops split work into fixed chunks and reductions combine
//! them in a fixed order.

mod edges;
mod element;
mod elementwise;
mod fused;
mod fused_lanes;
mod index;
mod inference;
mod malloc;
mod matmul;
mod optimizer;
mod reduce;
mod shape;
mod silu;
pub mod simd;
mod storage;

pub use element::CpuElement;
/// The CPU's counting sort, the oracle of the GPU's scatter tables in their tests.
#[cfg(all(test, feature = "vulkan"))]
pub(crate) use index::group_by_destination;
pub use malloc::keep_freed_buffers;
pub use storage::CpuStorage;

/// The CPU backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cpu;

/// The only CPU device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuDevice;

impl super::BackendTypes for Cpu {
    type Device = CpuDevice;
    type Storage = CpuStorage;
    type IndexStorage = std::sync::Arc<Vec<u32>>;

    fn name() -> &'static str {
        "cpu"
    }
}

/// Below this many elements a loop runs on one thread: spawning costs more than it saves.
pub(crate) const PAR_MIN_LEN: usize = 1 << 14;
