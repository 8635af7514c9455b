//! Test support shipped with the crate, so every backend and every downstream crate
//! checks its ops the same way (as e3nn's `util.test` and cubek's `cpu-reference`).
//!
//! - [`finite_diff`]: gradients and second-order gradients against central differences.
//! - [`tolerance`]: the named tolerances of the project.
//! - [`crate::rng`]: the seeded generator (SplitMix64) for reproducible test data.
//! - [`suite`]: op checks generic over the backend, instantiated per backend in tests.
//! - [`plain_backend`]: [`PlainBackend`], the CPU's primitives without its fused kernels,
//!   so tests can run the reference bodies of Allegro's kernels.
//! - [`shared_dir`]: where the shared fixtures and data are.

pub mod finite_diff;
pub mod plain_backend;
pub mod suite;
pub mod tolerance;

pub use crate::rng::SplitMix64;
pub use allegro_base::shared_dir;
pub use finite_diff::{check_gradients, check_second_order};
pub use plain_backend::PlainBackend;

/// The default device of GPU runtime `R` for tests, or `None` (printing why) when there
/// is none; with `ALLEGRO_REQUIRE_GPU=1` a missing device panics instead, so CI cannot
/// pass by skipping.
#[cfg(feature = "gpu")]
pub fn gpu_test_device<R: crate::backend::gpu::GpuRuntime>()
-> Option<crate::backend::gpu::GpuDevice<R>> {
    match crate::backend::gpu::GpuDevice::<R>::try_default() {
        Ok(d) => Some(d),
        Err(e) if std::env::var("ALLEGRO_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
            panic!("ALLEGRO_REQUIRE_GPU=1 but {e}")
        }
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}
