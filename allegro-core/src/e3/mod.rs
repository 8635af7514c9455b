//! E(3) mathematics in plain `f64`: irreps, real spherical harmonics, Wigner-3j
//! symbols, Wigner D matrices and the tensor-product bookkeeping of Allegro.
//!
//! Everything here reproduces e3nn 0.6.0 (as used by nequip-allegro 0.8.3) to
//! floating-point accuracy; `docs/conventions.md` states the conventions in one
//! place. Nothing here depends on the tensor engine: inputs and outputs are
//! `f64`, slices and `Vec`s, so the engine can turn them into constants.
//!
//! Dense arrays are returned flat in row-major (C) order; the doc comment of each
//! function gives the shape.

mod complex;
mod error;
mod irrep;
mod irreps;
mod spherical_harmonics;
mod wigner3j;

pub use error::E3Error;
pub use irrep::{Irrep, Parity};
pub use irreps::{Irreps, MulIr};
pub use spherical_harmonics::{
    Monomial, Polynomial, ShNormalization, ShPolynomials, eval_polynomial, normalize_vector,
    sh_polynomials, spherical_harmonics,
};
pub use wigner3j::{is_triangular, su2_clebsch_gordan, wigner_3j};
