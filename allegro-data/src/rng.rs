//! The crates' one random generator, [`allegro_base::rng::SplitMix64`], re-exported
//! here for shuffles and splits.

pub use allegro_base::rng::SplitMix64;
