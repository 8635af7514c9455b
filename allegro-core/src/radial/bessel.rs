//! The Bessel radial basis of Allegro's two-body embedding.

use crate::backend::Backend;
use crate::tensor::Tensor;

/// `b_n(x) = sinc(w_n x) · w_n = sin(π w_n x) / (π x)` with the normalised sinc, for
/// `x` of shape `[E, 1]` and weights `w` of shape `[1, N]` (nequip's `bessel_weights`,
/// initially `1..N`, optionally trainable). Result `[E, N]`.
///
/// Requires `x > 0` (edges never join an atom to itself, and the data layer rejects
/// coincident atoms); at `x = 0` the limit would be `w_n`.
pub fn bessel_basis<B: Backend>(x: &Tensor<B>, weights: &Tensor<B>) -> Tensor<B> {
    assert!(
        x.rank() == 2 && x.dim(1) == 1,
        "bessel_basis: x of shape {:?}",
        x.shape()
    );
    assert!(
        weights.rank() == 2 && weights.dim(0) == 1,
        "bessel_basis: weights of shape {:?}",
        weights.shape()
    );
    let pi = std::f64::consts::PI;
    x.mul(weights).mul_scalar(pi).sin().div(&x.mul_scalar(pi))
}
