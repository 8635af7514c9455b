//! The generic op suite (`allegro_core::testing::suite`) on the GPU backend, for each
//! runtime feature that is on (`vulkan`, `cuda`, `hip`).
//!
//! Without a usable device the tests print that they were skipped, unless
//! `ALLEGRO_REQUIRE_GPU=1` is set (CI sets it for lavapipe), when they fail.

#![cfg(feature = "gpu")]

/// One GPU test per suite check, for the runtime `R` in scope where it expands.
macro_rules! gpu_tests {
    ($($module:ident :: $check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                if let Some(d) = allegro_core::testing::gpu_test_device::<R>() {
                    allegro_core::testing::suite::$module::$check::<allegro_core::backend::gpu::Gpu<R>>(&d);
                }
            }
        )*
    };
}

#[cfg(feature = "vulkan")]
mod vulkan {
    type R = allegro_core::backend::gpu::WgpuRuntime;
    allegro_core::for_each_suite_check!(gpu_tests);
}

#[cfg(feature = "cuda")]
mod cuda {
    type R = allegro_core::backend::gpu::CudaRuntime;
    allegro_core::for_each_suite_check!(gpu_tests);
}

#[cfg(feature = "hip")]
mod hip {
    type R = allegro_core::backend::gpu::HipRuntime;
    allegro_core::for_each_suite_check!(gpu_tests);
}
