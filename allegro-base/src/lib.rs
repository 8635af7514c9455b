//! # allegro-base
//!
//! The few pieces that both the tensor engine (`allegro-core`) and the structures crate
//! (`allegro-data`) need, in a crate with no dependencies, so that `allegro-data` does not
//! pull in the tensor engine (faer, cubecl) for a random generator and a determinant:
//!
//! - [`SplitMix64`]: the one seeded generator of the crates (weights, shuffles, splits).
//! - [`det3`]: the determinant of a 3 × 3 matrix ([`Matrix3`]), for cell volumes and
//!   rotations.
//! - [`shared_dir`]: where the tests' fixtures and data are.
//!
//! ```
//! use allegro_base::{SplitMix64, det3};
//!
//! let mut a = SplitMix64::new(7);
//! let mut b = SplitMix64::new(7);
//! assert_eq!(a.next_u64(), b.next_u64());
//! assert_eq!(det3(&[[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 4.0]]), 24.0);
//! ```

mod matrix3;
pub mod rng;
mod shared_dir;

pub use matrix3::{Matrix3, det3};
pub use rng::SplitMix64;
pub use shared_dir::shared_dir;
