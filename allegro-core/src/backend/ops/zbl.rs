//! The Ziegler–Biersack–Littmark pair energy of every edge as one fused map, and its
//! adjoint (nequip's `ZBL`, docs/model.md §7).
//!
//! `E_z = ½k_e·Z_i Z_j / r · φ(ξ) · u_p(x)` with `ξ = (Z_i^0.23 + Z_j^0.23)·r / a₀`
//! (`a₀ = 0.46850`), `φ(ξ) = Σ_k c_k e^{−d_k ξ}` and `x = r·s_{t_i t_j}` (the edge type's
//! `1/r_max`), `u_p` the polynomial cutoff (`super::bessel_cutoff`). Given `g_z = ∂L/∂E_z`:
//!
//! ```text
//! ∂E/∂r = ½k_e Z_i Z_j [ u (φ'(ξ)·ξ/r − φ)/r + φ u'(x)·s ] / r
//! ```
//!
//! Composed from tensor ops (`allegro_nn::pair::Zbl`) it is ~35 launches forward and as
//! many for its derivative; fused, one each. The row functions are the host's version
//! (the CPU backend runs them) and the GPU kernel's model; the composition is the
//! oracle both are tested against.

use std::sync::Arc;

use super::bessel_cutoff::cutoff_and_derivative;

/// The universal screening function's `(c_k, d_k)`.
pub const ZBL_SCREENING: [(f64, f64); 4] = [
    (0.02817, 0.20162),
    (0.28022, 0.40290),
    (0.50986, 0.94229),
    (0.18175, 3.19980),
];

/// The screening length's constant `a₀` (Å).
pub const ZBL_LENGTH: f64 = 0.46850;

/// The exponent of the atomic numbers in the screening length.
pub const ZBL_EXPONENT: f64 = 0.23;

/// What a fused ZBL map computes.
#[derive(Clone, Debug, PartialEq)]
pub struct ZblSpec {
    /// Atomic number of each type, `[T]`.
    pub atomic_numbers: Arc<[f64]>,
    /// `1/r_max` of each edge type `t_i·T + t_j`, `[T²]`.
    pub rmax_recip: Arc<[f64]>,
    /// `k_e/2`.
    pub half_ke: f64,
    /// The cutoff's exponent `p`.
    pub cutoff_p: f64,
}

impl ZblSpec {
    /// `Z^0.23` of each type (the kernels read it from a table).
    pub fn screening_powers(&self) -> Vec<f64> {
        self.atomic_numbers
            .iter()
            .map(|z| z.powf(ZBL_EXPONENT))
            .collect()
    }
}

/// `E_z` and `∂E_z/∂r` of one edge of length `r` between types `ti` and `tj`.
pub fn zbl_row(spec: &ZblSpec, r: f64, ti: usize, tj: usize) -> (f64, f64) {
    let t = spec.atomic_numbers.len();
    let (zi, zj) = (spec.atomic_numbers[ti], spec.atomic_numbers[tj]);
    let s = spec.rmax_recip[ti * t + tj];
    let a = (zi.powf(ZBL_EXPONENT) + zj.powf(ZBL_EXPONENT)) / ZBL_LENGTH;
    let xi = a * r;
    let (mut phi, mut dphi) = (0.0, 0.0);
    for (c, d) in ZBL_SCREENING {
        let term = c * (-d * xi).exp();
        phi += term;
        dphi -= d * term;
    }
    let (u, du) = cutoff_and_derivative(r * s, spec.cutoff_p);
    let q = spec.half_ke * zi * zj;
    let energy = q / r * phi * u;
    // d/dr [φ(a r)/r] = (a φ' r − φ)/r²; the cutoff's x = s·r.
    let grad = q * ((a * dphi * r - phi) / (r * r) * u + phi / r * du * s);
    (energy, grad)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The row's derivative is its central difference, inside the cutoff and beyond it.
    #[test]
    fn row_derivative_is_the_central_difference() {
        let spec = ZblSpec {
            atomic_numbers: Arc::from([1.0, 8.0, 26.0]),
            rmax_recip: Arc::from([0.2, 0.25, 0.2, 0.25, 1.0 / 6.0, 0.2, 0.2, 0.2, 0.25]),
            half_ke: 7.1998225,
            cutoff_p: 6.0,
        };
        for (ti, tj) in [(0, 1), (1, 1), (2, 0)] {
            for r in [0.4, 1.1, 2.7, 3.9, 4.5] {
                let h = 1e-6;
                let fd =
                    (zbl_row(&spec, r + h, ti, tj).0 - zbl_row(&spec, r - h, ti, tj).0) / (2.0 * h);
                let (e, g) = zbl_row(&spec, r, ti, tj);
                assert!(
                    (fd - g).abs() <= 1e-6 * g.abs().max(1e-3),
                    "types {ti},{tj}, r {r}: {g} vs {fd} (E {e})"
                );
            }
        }
        // Beyond the cutoff (r·s ≥ 1) the energy and its derivative vanish.
        assert_eq!(zbl_row(&spec, 5.5, 0, 0), (0.0, 0.0));
    }
}
