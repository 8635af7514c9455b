//! Spherical harmonics of edge vectors as one fused map per edge, and its adjoint.
//!
//! `Y(v) = m(û) · C`: the monomials `m_k = û_x^a û_y^b û_z^c` of the unit vector
//! `û = v / max(|v|, 1e-12)` (or `v` itself without normalisation) times a constant
//! coefficient matrix `C` (`e3::SphericalHarmonics` builds both). Composed from tensor
//! ops this is ~30 launches forward and ~70 for its derivative on a GPU; fused, one
//! each. The adjoint, given `∂L/∂Y`:
//!
//! ```text
//! g_k  = Σ_j ∂L/∂Y_j · C[k, j]
//! ∂L/∂û_d = Σ_k g_k · ∂m_k/∂û_d
//! ∂L/∂v = (∂L/∂û − û (û · ∂L/∂û)) / |v|      (normalised, |v| > 1e-12)
//! ```
//!
//! The row functions here are the host's version (the CPU backend runs them) and the
//! GPU kernel's model; the composition of tensor ops in `e3::SphericalHarmonics` is the
//! oracle both are tested against.

use std::sync::Arc;

/// Below this length an edge vector is not normalised by its length (the composition's
/// `max(|v|, 1e-12)`).
pub const MIN_LENGTH: f64 = 1e-12;

/// What a fused spherical-harmonics map computes.
#[derive(Clone, Debug, PartialEq)]
pub struct HarmonicsSpec {
    /// Exponents `[a, b, c]` of each monomial, `M` of them.
    pub exponents: Arc<[[u8; 3]]>,
    /// `C`, `[M, dim]` row-major.
    pub coefficients: Arc<[f64]>,
    /// Components of `Y`, `(l_max + 1)²`.
    pub dim: usize,
    /// Whether `v` is divided by its length first.
    pub normalize: bool,
}

/// `x^k` for a small integer `k` (the exponents are at most `l_max`).
#[inline]
fn power(x: f64, k: u8) -> f64 {
    (0..k).fold(1.0, |p, _| p * x)
}

/// The unit vector of `v` and the length it was divided by (1 without normalisation).
#[inline]
fn unit(spec: &HarmonicsSpec, v: [f64; 3]) -> ([f64; 3], f64) {
    if !spec.normalize {
        return (v, 1.0);
    }
    let len = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
        .sqrt()
        .max(MIN_LENGTH);
    ([v[0] / len, v[1] / len, v[2] / len], len)
}

/// `Y(v)` of one edge into `out` (`dim` values).
pub fn harmonics_row(spec: &HarmonicsSpec, v: [f64; 3], out: &mut [f64]) {
    let (u, _) = unit(spec, v);
    out.fill(0.0);
    for (k, e) in spec.exponents.iter().enumerate() {
        let m = power(u[0], e[0]) * power(u[1], e[1]) * power(u[2], e[2]);
        let row = &spec.coefficients[k * spec.dim..(k + 1) * spec.dim];
        for (o, c) in out.iter_mut().zip(row) {
            *o += m * c;
        }
    }
}

/// `∂L/∂v` of one edge from `∂L/∂Y` (`grad_y`, `dim` values).
pub fn harmonics_vjp_row(spec: &HarmonicsSpec, v: [f64; 3], grad_y: &[f64]) -> [f64; 3] {
    let (u, len) = unit(spec, v);
    let mut gu = [0.0f64; 3];
    for (k, e) in spec.exponents.iter().enumerate() {
        let row = &spec.coefficients[k * spec.dim..(k + 1) * spec.dim];
        let g: f64 = row.iter().zip(grad_y).map(|(c, gy)| c * gy).sum();
        for d in 0..3 {
            if e[d] == 0 {
                continue;
            }
            // ∂(u_d^a)/∂u_d = a·u_d^(a−1), times the other two factors.
            let mut dm = f64::from(e[d]) * power(u[d], e[d] - 1);
            for o in (0..3).filter(|&o| o != d) {
                dm *= power(u[o], e[o]);
            }
            gu[d] += g * dm;
        }
    }
    if !spec.normalize {
        return gu;
    }
    let raw = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    if raw <= MIN_LENGTH {
        // û = v / 1e-12: the length is a constant there.
        return gu.map(|g| g / MIN_LENGTH);
    }
    let dot = u[0] * gu[0] + u[1] * gu[1] + u[2] * gu[2];
    std::array::from_fn(|d| (gu[d] - u[d] * dot) / len)
}

/// `Σ_d h_d ∂Y/∂v_d` of one edge into `out` (`dim` values): the derivative of the
/// adjoint `∂L/∂v` with respect to `∂L/∂Y` along `h` (a force loss's parameter gradient
/// wants the cotangent's gradient, not the vector's).
pub fn harmonics_jvp_row(spec: &HarmonicsSpec, v: [f64; 3], h: [f64; 3], out: &mut [f64]) {
    let (u, len) = unit(spec, v);
    let du = if !spec.normalize {
        h
    } else if (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt() <= MIN_LENGTH {
        // û = v / 1e-12: the length is a constant there.
        h.map(|x| x / MIN_LENGTH)
    } else {
        let dot = u[0] * h[0] + u[1] * h[1] + u[2] * h[2];
        std::array::from_fn(|d| (h[d] - u[d] * dot) / len)
    };
    out.fill(0.0);
    for (k, e) in spec.exponents.iter().enumerate() {
        let mut dm = 0.0;
        for d in 0..3 {
            if e[d] == 0 {
                continue;
            }
            let mut part = f64::from(e[d]) * power(u[d], e[d] - 1) * du[d];
            for o in (0..3).filter(|&o| o != d) {
                part *= power(u[o], e[o]);
            }
            dm += part;
        }
        let row = &spec.coefficients[k * spec.dim..(k + 1) * spec.dim];
        for (o, c) in out.iter_mut().zip(row) {
            *o += dm * c;
        }
    }
}
