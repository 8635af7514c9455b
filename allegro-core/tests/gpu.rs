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

/// `upload_f64_with` and `download_f64_with` hand out spans in order that cover the
/// buffer exactly (several 4 MiB staging spans on CUDA), and count what they move.
fn fill_and_read_spans<R: allegro_core::backend::gpu::GpuRuntime>() {
    use allegro_core::backend::gpu::GpuStorage;
    let Some(device) = allegro_core::testing::gpu_test_device::<R>() else {
        return;
    };
    for len in [1usize, 4096, (4 << 20) / 8 + 7, 3 << 20] {
        let before = device.device_counts();
        let mut next = 0;
        let storage = GpuStorage::upload_f64_with(&device, len, |first, span| {
            assert_eq!(first, next, "spans out of order");
            for (k, v) in span.iter_mut().enumerate() {
                *v = (first + k) as f64 * 0.25 - 1.0;
            }
            next += span.len();
        });
        assert_eq!(next, len, "spans do not cover the buffer");
        let mut back = Vec::with_capacity(len);
        storage.download_f64_with(|first, span| {
            assert_eq!(first, back.len(), "read spans out of order");
            back.extend_from_slice(span);
        });
        assert!(
            back.iter()
                .enumerate()
                .all(|(i, &v)| v == i as f64 * 0.25 - 1.0),
            "{len} values changed on the way"
        );
        let moved = device.device_counts() - before;
        assert_eq!(
            (
                moved.bytes_to_device,
                moved.bytes_to_host,
                moved.uploads,
                moved.downloads
            ),
            (8 * len as u64, 8 * len as u64, 1, 1),
            "counts for {len} values"
        );
    }
}

#[cfg(feature = "vulkan")]
#[test]
fn vulkan_fill_and_read_spans() {
    fill_and_read_spans::<allegro_core::backend::gpu::WgpuRuntime>();
}

#[cfg(feature = "cuda")]
#[test]
fn cuda_fill_and_read_spans() {
    fill_and_read_spans::<allegro_core::backend::gpu::CudaRuntime>();
}
