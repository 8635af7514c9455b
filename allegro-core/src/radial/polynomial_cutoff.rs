//! The polynomial envelope that takes every edge contribution smoothly to zero at r_max.

use crate::backend::Backend;
use crate::tensor::Tensor;

/// `u_p(x) = [1 − (p+1)(p+2)/2·x^p + p(p+2)·x^{p+1} − p(p+1)/2·x^{p+2}] · [x < 1]`
/// (docs/model.md §2), elementwise. `u_p(1) = 0` with vanishing first and second
/// derivatives; beyond 1 it is exactly zero, value and gradient.
pub fn polynomial_cutoff<B: Backend>(x: &Tensor<B>, p: f64) -> Tensor<B> {
    let inside = x.lt(&x.full_like(&[], 1.0));
    let xp = x.powf(p);
    let poly = xp
        .mul_scalar(-(p + 1.0) * (p + 2.0) / 2.0)
        .add(&xp.mul(x).mul_scalar(p * (p + 2.0)))
        .add(&xp.mul(&x.square()).mul_scalar(-p * (p + 1.0) / 2.0))
        .add_scalar(1.0);
    poly.mul(&inside)
}
