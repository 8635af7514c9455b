//! Parts written outside these crates, held as trait objects.
//!
//! A part's methods are generic over the backend (`forward::<B>`), so a user's part
//! cannot be a trait object as it is. The wrappers ([`crate::embedding::CustomEmbed`],
//! [`crate::tensor_product_custom::CustomTp`]) instantiate its methods for every
//! backend this build has — the CPU, and CUDA, HIP and Vulkan with their features —
//! behind an object-safe face whose arguments are `dyn Any`; a call finds its instance
//! by the arguments' types. A backend defined outside allegro-core has no instance:
//! the wrappers answer that with an error naming the part and the backend.

/// `$call::<B, $part>(args…)` for each backend of this build in turn; the first that
/// returns `Some` wins (`None`: no backend of this build matched the arguments).
macro_rules! on_each_backend {
    ($call:ident::<$part:ty>($($arg:expr),*)) => {{
        let found = $call::<allegro_core::backend::cpu::Cpu, $part>($($arg),*);
        #[cfg(feature = "cuda")]
        let found = found.or_else(|| {
            $call::<allegro_core::backend::gpu::Gpu<allegro_core::backend::gpu::CudaRuntime>, $part>(
                $($arg),*
            )
        });
        #[cfg(feature = "hip")]
        let found = found.or_else(|| {
            $call::<allegro_core::backend::gpu::Gpu<allegro_core::backend::gpu::HipRuntime>, $part>(
                $($arg),*
            )
        });
        #[cfg(feature = "vulkan")]
        let found = found.or_else(|| {
            $call::<allegro_core::backend::gpu::Gpu<allegro_core::backend::gpu::WgpuRuntime>, $part>(
                $($arg),*
            )
        });
        found
    }};
}
pub(crate) use on_each_backend;
