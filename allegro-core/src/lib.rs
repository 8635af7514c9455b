//! allegro-core

/// E(3) math in `f64`: irreps, spherical harmonics, Wigner-3j and D matrices, Allegro tensor-product paths.
pub mod e3;
