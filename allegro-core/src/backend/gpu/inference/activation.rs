//! Nonlinearities and their derivatives inside kernels, by comptime code.

use cubecl::prelude::*;

use super::super::elementwise::{log1p_small, sigmoid};
use crate::backend::Activation;

/// No nonlinearity.
pub(crate) const NONE: u32 = 0;

/// The comptime code of an activation (0 = none).
pub(crate) fn code(f: Option<Activation>) -> u32 {
    match f {
        None => NONE,
        Some(Activation::Silu) => 1,
        Some(Activation::Mish) => 2,
        Some(Activation::Gelu) => 3,
        Some(Activation::ShiftedSoftplus) => 4,
        Some(Activation::Tanh) => 5,
        Some(Activation::Sigmoid) => 6,
        Some(Activation::Softplus) => 7,
    }
}

#[cube]
fn softplus<F: Float>(v: F) -> F {
    F::max(v, F::new(0.0)) + log1p_small::<F>(F::exp(-F::abs(v)))
}

/// `f(v)` for the activation of `code` (the identity for [`NONE`]).
#[cube]
pub(crate) fn value<F: Float>(v: F, #[comptime] code: u32) -> F {
    let mut r = v;
    if comptime![code == 1] {
        r = v * sigmoid::<F>(v);
    } else if comptime![code == 2] {
        r = v * F::tanh(softplus::<F>(v));
    } else if comptime![code == 3] {
        r = F::new(0.5) * v * (F::new(1.0) + F::erf(v * F::sqrt(F::new(0.5))));
    } else if comptime![code == 4] {
        r = softplus::<F>(v) - F::ln(F::new(2.0));
    } else if comptime![code == 5] {
        r = F::tanh(v);
    } else if comptime![code == 6] {
        r = sigmoid::<F>(v);
    } else if comptime![code == 7] {
        r = softplus::<F>(v);
    }
    r
}

/// `f'(v)` for the activation of `code` (1 for [`NONE`]).
#[cube]
pub(crate) fn derivative<F: Float>(v: F, #[comptime] code: u32) -> F {
    let mut r = F::new(1.0);
    if comptime![code == 1] {
        let s = sigmoid::<F>(v);
        r = s * (F::new(1.0) + v * (F::new(1.0) - s));
    } else if comptime![code == 2] {
        let t = F::tanh(softplus::<F>(v));
        r = t + v * (F::new(1.0) - t * t) * sigmoid::<F>(v);
    } else if comptime![code == 3] {
        // φ(v) = e^{−v²/2}/√(2π); constants from exact expressions, since `F::new`
        // takes an f32 literal (too coarse for f64 kernels).
        let inv_sqrt_2pi = F::sqrt(F::new(0.5)) / F::sqrt(F::acos(F::new(-1.0)));
        let phi = F::exp(F::new(-0.5) * v * v) * inv_sqrt_2pi;
        r = F::new(0.5) * (F::new(1.0) + F::erf(v * F::sqrt(F::new(0.5)))) + v * phi;
    } else if comptime![code == 4 || code == 7] {
        r = sigmoid::<F>(v);
    } else if comptime![code == 5] {
        let t = F::tanh(v);
        r = F::new(1.0) - t * t;
    } else if comptime![code == 6] {
        let s = sigmoid::<F>(v);
        r = s * (F::new(1.0) - s);
    }
    r
}
