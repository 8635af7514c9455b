//! How a CUDA device's allocator finds room for a buffer, chosen per program.
//!
//! cubecl's default pools cut buffers from large pages; each allocation coalesces and
//! scans every slice of every page of its pool, so its cost grows with the number of
//! buffers alive. Inference keeps few buffers alive and profits from the tight packing
//! (23,559 atoms: 10.5 GiB at peak, 15.3 GiB with exclusive pages, at the same speed).
//! A training step keeps its whole tape alive, a thousand buffers and more, while it
//! allocates hundreds more: there, exclusive pages (one buffer per page, pages in size
//! buckets, so an allocation scans only its bucket) made an epoch of the seed recipe
//! 4.4 → 3.6 s on an H100 (`docs/perf.md`).

/// The allocator of devices opened after [`set_cuda_memory_pools`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryPools {
    /// cubecl's default: buffers cut from large pages (tightest packing).
    Sliced,
    /// One buffer per page, pages in size buckets (fastest with many live buffers).
    Exclusive,
}

/// Chooses the pools of CUDA devices opened from now on (a device keeps those it was
/// opened with); `ALLEGRO_CUDA_MEMORY=exclusive|subslices` overrides the choice.
#[cfg(feature = "cuda")]
pub fn set_cuda_memory_pools(pools: MemoryPools) {
    use cubecl::MemoryConfiguration;
    cubecl::cuda::set_memory_configuration(match pools {
        MemoryPools::Sliced => MemoryConfiguration::SubSlices,
        MemoryPools::Exclusive => MemoryConfiguration::ExclusivePages,
    });
}
