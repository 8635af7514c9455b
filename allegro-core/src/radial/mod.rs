//! Radial functions of the normalised edge length `x = r / r_max`, as differentiable
//! tensor ops (docs/model.md §2–3).

mod bessel;
mod bessel_cutoff;
mod polynomial_cutoff;

pub use bessel::bessel_basis;
pub use bessel_cutoff::bessel_cutoff;
pub use polynomial_cutoff::polynomial_cutoff;
