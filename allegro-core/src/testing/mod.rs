//! Test support shipped with the crate, so every backend and every downstream crate
//! checks its ops the same way (as e3nn's `util.test` and cubek's `cpu-reference`).
//!
//! - [`finite_diff`]: gradients and second-order gradients against central differences.
//! - [`tolerance`]: the named tolerances of the project.
//! - [`rng`]: a tiny seeded generator for reproducible test data.
//! - [`suite`]: op checks generic over the backend, instantiated per backend in tests.

pub mod finite_diff;
pub mod rng;
pub mod suite;
pub mod tolerance;

pub use finite_diff::{check_gradients, check_second_order};
pub use rng::SplitMix64;
