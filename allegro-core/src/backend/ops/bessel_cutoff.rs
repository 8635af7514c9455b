//! The Bessel radial basis times the polynomial cutoff as one fused map per edge, and its
//! adjoint.
//!
//! `f_n(x) = b_n(x)·u_p(x)` with `b_n(x) = sin(π w_n x)/(π x)` (`crate::radial::bessel_basis`)
//! and `u_p(x) = 1 − c₁x^p + c₂x^{p+1} − c₃x^{p+2}` below 1, zero from 1 on
//! (`crate::radial::polynomial_cutoff`; c₁ = (p+1)(p+2)/2, c₂ = p(p+2), c₃ = p(p+1)/2).
//! Composed from tensor ops the pair is ~20 launches forward and ~40 for its derivative
//! on a GPU; fused, one each. The adjoint, given `g_n = ∂L/∂f_n`:
//!
//! ```text
//! b_n'(x) = (w_n cos(π w_n x) − b_n(x)) / x
//! u_p'(x) = −p c₁ x^{p−1} + (p+1) c₂ x^p − (p+2) c₃ x^{p+1}   (x < 1; else 0)
//! ∂L/∂x  = Σ_n g_n (b_n'(x) u_p(x) + b_n(x) u_p'(x))
//! ```
//!
//! The row functions here are the host's version (the CPU backend runs them) and the GPU
//! kernel's model; the composition in `crate::radial` is the oracle both are tested
//! against. The weights `w_n` are inputs, not constants, but the fused map gives no
//! gradient for them: callers take it only where the weights are not being trained.

/// The cutoff's coefficients `(c₁, c₂, c₃)` for exponent `p`.
#[inline]
pub fn cutoff_coefficients(p: f64) -> (f64, f64, f64) {
    (
        (p + 1.0) * (p + 2.0) / 2.0,
        p * (p + 2.0),
        p * (p + 1.0) / 2.0,
    )
}

/// `u_p(x)` and `u_p'(x)`.
#[inline]
pub fn cutoff_and_derivative(x: f64, p: f64) -> (f64, f64) {
    if x >= 1.0 {
        return (0.0, 0.0);
    }
    let (c1, c2, c3) = cutoff_coefficients(p);
    let xp = x.powf(p);
    let u = 1.0 - c1 * xp + c2 * xp * x - c3 * xp * x * x;
    let du = (-p * c1 + (p + 1.0) * c2 * x - (p + 2.0) * c3 * x * x) * xp / x;
    (u, du)
}

/// `f_n(x)` for every weight, into `out` (one value per weight).
pub fn bessel_cutoff_row(x: f64, weights: &[f64], p: f64, out: &mut [f64]) {
    let (u, _) = cutoff_and_derivative(x, p);
    let pi = std::f64::consts::PI;
    for (o, w) in out.iter_mut().zip(weights) {
        *o = (pi * w * x).sin() / (pi * x) * u;
    }
}

/// `b(x)` and `b'(x)` of the basis function of weight `w`.
#[inline]
fn basis_and_derivative(x: f64, w: f64) -> (f64, f64) {
    let pi = std::f64::consts::PI;
    let (s, c) = (pi * w * x).sin_cos();
    let b = s / (pi * x);
    (b, (w * c - b) / x)
}

/// `∂L/∂x` of one edge from `∂L/∂f` (`grad`, one value per weight).
pub fn bessel_cutoff_vjp_row(x: f64, weights: &[f64], p: f64, grad: &[f64]) -> f64 {
    let (u, du) = cutoff_and_derivative(x, p);
    weights
        .iter()
        .zip(grad)
        .map(|(&w, g)| {
            let (b, db) = basis_and_derivative(x, w);
            g * (db * u + b * du)
        })
        .sum()
}

/// `h·f_n'(x)` for every weight, into `out`: the derivative of the adjoint
/// `Σ_n g_n f_n'(x)` with respect to `g_n` along `h` (the second backward pass of a
/// force loss, which wants the cotangent's gradient and not the length's).
pub fn bessel_cutoff_jvp_row(x: f64, weights: &[f64], p: f64, h: f64, out: &mut [f64]) {
    let (u, du) = cutoff_and_derivative(x, p);
    for (o, &w) in out.iter_mut().zip(weights) {
        let (b, db) = basis_and_derivative(x, w);
        *o = h * (db * u + b * du);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows' derivative is their central difference.
    #[test]
    fn adjoint_row_is_the_derivative_of_the_row() {
        let weights = [1.0, 2.0, 3.5, 8.0];
        let grad = [0.3, -1.1, 0.7, 0.25];
        let f = |x: f64| {
            let mut out = [0.0; 4];
            bessel_cutoff_row(x, &weights, 6.0, &mut out);
            out.iter().zip(&grad).map(|(o, g)| o * g).sum::<f64>()
        };
        for x in [0.05, 0.3, 0.77, 0.999] {
            let h = 1e-6;
            let fd = (f(x + h) - f(x - h)) / (2.0 * h);
            let got = bessel_cutoff_vjp_row(x, &weights, 6.0, &grad);
            assert!(
                (fd - got).abs() <= 1e-7 * got.abs().max(1.0),
                "x {x}: {got} vs {fd}"
            );
        }
        // From the cutoff on, value and derivative vanish.
        assert_eq!(f(1.0), 0.0);
        assert_eq!(bessel_cutoff_vjp_row(1.2, &weights, 6.0, &grad), 0.0);
    }
}
