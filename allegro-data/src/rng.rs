//! The crates' one random generator, [`allegro_core::rng::SplitMix64`], re-exported
//! here for shuffles and splits.

pub use allegro_core::rng::SplitMix64;
