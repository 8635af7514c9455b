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

mod allegro_irreps;
mod complex;
mod error;
mod irrep;
mod irreps;
mod linalg;
mod rotation;
mod spherical_harmonics;
mod spherical_harmonics_tensor;
pub mod tensor_product;
mod wigner3j;

pub use allegro_irreps::AllegroTensorTrack;
pub use error::E3Error;
pub use irrep::{Irrep, Parity};
pub use irreps::{Irreps, MulIr};
pub use rotation::{
    Matrix3, angles_to_matrix, axis_angle_to_matrix, det3, irrep_d, irreps_d, mat3_mul, mat3_vec,
    matrix_to_axis_angle, quaternion_to_matrix, rotation_from_uniform, so3_generators, wigner_d,
    wigner_d_axis_angle, wigner_d_from_angles,
};
pub use spherical_harmonics::{
    Monomial, Polynomial, ShNormalization, ShPolynomials, eval_polynomial, normalize_vector,
    sh_polynomials, spherical_harmonics,
};
pub use spherical_harmonics_tensor::SphericalHarmonics;
pub use wigner3j::{is_triangular, su2_clebsch_gordan, wigner_3j};
