//! Wigner-3j symbols in e3nn's real basis.
//!
//! e3nn 0.6.0 builds them in three steps, reproduced here in `f64`:
//! 1. the SU(2) Clebsch–Gordan coefficients `⟨l₁ m₁ l₂ m₂ | l₃ m₃⟩` in the complex
//!    basis (Racah's formula, Condon–Shortley phase), indexed `[l₁+m₁][l₂+m₂][l₃+m₃]`;
//! 2. the change of basis to real harmonics, [`change_basis_real_to_complex`]:
//!    `C[j,l,m] = Σ_{i,k,n} Q₁[i,j] Q₂[k,l] conj(Q₃[n,m]) CG[i,k,n]`,
//!    whose result is real;
//! 3. normalisation to unit Frobenius norm, `Σ C² = 1`.
//!
//! The result is invariant, `C[i,j,k] = Σ D¹[i,a] D²[j,b] D³[k,c] C[a,b,c]` for
//! the Wigner D matrices of [`super::wigner_d`], and has the symmetries of the
//! 3j symbols under index permutations up to a sign.

use super::complex::C64;

/// Whether `(l1, l2, l3)` satisfies the triangle condition
/// `|l₁ − l₂| ≤ l₃ ≤ l₁ + l₂` (symmetric in the three arguments).
pub fn is_triangular(l1: usize, l2: usize, l3: usize) -> bool {
    l1.abs_diff(l2) <= l3 && l3 <= l1 + l2
}

/// Wigner-3j symbol `C[m₁][m₂][m₃]` of e3nn (`o3.wigner_3j(l1, l2, l3)`), flat
/// row-major with shape `[2l₁+1, 2l₂+1, 2l₃+1]`: entry `(i, j, k)` is at
/// `(i·(2l₂+1) + j)·(2l₃+1) + k`. Indices are e3nn's real-basis components
/// (for `l = 1` the order x, y, z, matching [`super::spherical_harmonics`]).
///
/// Normalised to `Σ C² = 1`. Entries that vanish by symmetry are exactly `0.0`
/// (values below `1e-13` in magnitude, which only arise from rounding, are
/// flushed to zero), so the sparsity pattern equals e3nn's.
///
/// # Panics
/// If the triangle condition fails ([`is_triangular`]), as e3nn asserts.
///
/// ```
/// use allegro_core::e3::wigner_3j;
/// let c = wigner_3j(1, 1, 0);
/// // δ_ij / √3
/// assert!((c[0] - 1.0 / 3f64.sqrt()).abs() < 1e-15 && c[1] == 0.0);
/// ```
pub fn wigner_3j(l1: usize, l2: usize, l3: usize) -> Vec<f64> {
    assert!(
        is_triangular(l1, l2, l3),
        "wigner_3j({l1}, {l2}, {l3}): triangle condition |l1 - l2| <= l3 <= l1 + l2 fails"
    );
    let (d1, d2, d3) = (2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1);
    let cg = su2_clebsch_gordan(l1, l2, l3);
    let q1 = change_basis_real_to_complex(l1);
    let q2 = change_basis_real_to_complex(l2);
    let q3 = change_basis_real_to_complex(l3);

    // t1[j,k,n] = Σ_i Q1[i,j] CG[i,k,n]
    let mut t1 = vec![C64::ZERO; d1 * d2 * d3];
    for i in 0..d1 {
        for j in 0..d1 {
            let q = q1[i * d1 + j];
            if q == C64::ZERO {
                continue;
            }
            for kn in 0..d2 * d3 {
                let c = cg[i * d2 * d3 + kn];
                if c != 0.0 {
                    t1[j * d2 * d3 + kn] = t1[j * d2 * d3 + kn] + q.scale(c);
                }
            }
        }
    }
    // t2[j,l,n] = Σ_k Q2[k,l] t1[j,k,n]
    let mut t2 = vec![C64::ZERO; d1 * d2 * d3];
    for j in 0..d1 {
        for k in 0..d2 {
            for l in 0..d2 {
                let q = q2[k * d2 + l];
                if q == C64::ZERO {
                    continue;
                }
                for n in 0..d3 {
                    let idx = (j * d2 + l) * d3 + n;
                    t2[idx] = t2[idx] + q * t1[(j * d2 + k) * d3 + n];
                }
            }
        }
    }
    // c[j,l,m] = Σ_n conj(Q3[n,m]) t2[j,l,n], real part
    let mut c = vec![0.0; d1 * d2 * d3];
    let mut max_imag: f64 = 0.0;
    for jl in 0..d1 * d2 {
        for m in 0..d3 {
            let mut acc = C64::ZERO;
            for n in 0..d3 {
                let q = q3[n * d3 + m];
                if q != C64::ZERO {
                    acc = acc + q.conj() * t2[jl * d3 + n];
                }
            }
            max_imag = max_imag.max(acc.im.abs());
            c[jl * d3 + m] = acc.re;
        }
    }
    debug_assert!(
        max_imag < 1e-10,
        "wigner_3j({l1},{l2},{l3}) not real: {max_imag}"
    );

    let norm = c.iter().map(|v| v * v).sum::<f64>().sqrt();
    for v in &mut c {
        *v /= norm;
        if v.abs() < 1e-13 {
            *v = 0.0;
        }
    }
    c
}

/// SU(2) Clebsch–Gordan coefficients `⟨l₁ m₁ l₂ m₂ | l₃ m₁+m₂⟩` for integer
/// degrees, flat `[2l₁+1, 2l₂+1, 2l₃+1]` indexed by `l + m` (complex basis,
/// Condon–Shortley phase, Racah's formula; e3nn `_su2_clebsch_gordan`).
/// All zeros if the triangle condition fails.
pub fn su2_clebsch_gordan(l1: usize, l2: usize, l3: usize) -> Vec<f64> {
    let (d1, d2, d3) = (2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1);
    let mut mat = vec![0.0; d1 * d2 * d3];
    if !is_triangular(l1, l2, l3) {
        return mat;
    }
    let (j1, j2, j3) = (l1 as i64, l2 as i64, l3 as i64);
    for m1 in -j1..=j1 {
        for m2 in -j2..=j2 {
            let m3 = m1 + m2;
            if m3.abs() <= j3 {
                let idx =
                    (((j1 + m1) as usize) * d2 + (j2 + m2) as usize) * d3 + (j3 + m3) as usize;
                mat[idx] = clebsch_gordan_coeff(j1, m1, j2, m2, j3, m3);
            }
        }
    }
    mat
}

/// `n!` in `f64` (exact up to `22!`, correctly rounded beyond).
fn factorial(n: i64) -> f64 {
    debug_assert!(n >= 0);
    (1..=n).map(|k| k as f64).product()
}

/// One Clebsch–Gordan coefficient by Racah's formula (integer `j`, `m`).
fn clebsch_gordan_coeff(j1: i64, m1: i64, j2: i64, m2: i64, j3: i64, m3: i64) -> f64 {
    if m3 != m1 + m2 {
        return 0.0;
    }
    let f = factorial;
    let vmin = (-j1 + j2 + m3).max(-j1 + m1).max(0);
    let vmax = (j2 + j3 + m1).min(j3 - j1 + j2).min(j3 + m3);
    let pre = ((2 * j3 + 1) as f64
        * f(j3 + j1 - j2)
        * f(j3 - j1 + j2)
        * f(j1 + j2 - j3)
        * f(j3 + m3)
        * f(j3 - m3)
        / (f(j1 + j2 + j3 + 1) * f(j1 - m1) * f(j1 + m1) * f(j2 - m2) * f(j2 + m2)))
    .sqrt();
    let mut s = 0.0;
    for v in vmin..=vmax {
        let sign = if (v + j2 + m2).rem_euclid(2) == 0 {
            1.0
        } else {
            -1.0
        };
        s += sign * f(j2 + j3 + m1 - v) * f(j1 - m1 + v)
            / (f(v) * f(j3 - j1 + j2 - v) * f(j3 + m3 - v) * f(v + j1 - j2 - m3));
    }
    pre * s
}

/// e3nn's `change_basis_real_to_complex(l)`: the unitary `Q` (flat
/// `[2l+1, 2l+1]`, row = complex index `l+m`, column = real index) with
/// `Q[l+m, l+|m|] = 1/√2, Q[l+m, l−|m|] = −i/√2` for `m < 0`, `Q[l, l] = 1`,
/// `Q[l+m, l+m] = (−1)^m/√2, Q[l+m, l−m] = i(−1)^m/√2` for `m > 0`, all times
/// `(−i)^l` (which makes the real-basis 3j symbols real).
pub(crate) fn change_basis_real_to_complex(l: usize) -> Vec<C64> {
    let d = 2 * l + 1;
    let s = std::f64::consts::FRAC_1_SQRT_2;
    let mut q = vec![C64::ZERO; d * d];
    for m in 1..=l {
        // m < 0 row: l - m
        q[(l - m) * d + (l + m)] = C64::new(s, 0.0);
        q[(l - m) * d + (l - m)] = C64::new(0.0, -s);
        // m > 0 row: l + m
        let sign = if m % 2 == 0 { 1.0 } else { -1.0 };
        q[(l + m) * d + (l + m)] = C64::new(sign * s, 0.0);
        q[(l + m) * d + (l - m)] = C64::new(0.0, sign * s);
    }
    q[l * d + l] = C64::new(1.0, 0.0);
    let phase = C64::minus_i_pow(l);
    q.iter().map(|&v| phase * v).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_norm_and_known_values() {
        for l1 in 0..=4usize {
            for l2 in 0..=4 {
                for l3 in l1.abs_diff(l2)..=l1 + l2 {
                    let c = wigner_3j(l1, l2, l3);
                    let n: f64 = c.iter().map(|v| v * v).sum();
                    assert!((n - 1.0).abs() < 1e-14, "({l1},{l2},{l3}) norm² = {n}");
                }
            }
        }
        let c = wigner_3j(0, 0, 0);
        assert_eq!(c, vec![1.0]);
    }

    #[test]
    fn clebsch_gordan_spot_values() {
        // ⟨1 1; 1 -1 | 0 0⟩ = 1/√3, ⟨1 0; 1 0 | 2 0⟩ = √(2/3)
        let cg = su2_clebsch_gordan(1, 1, 0);
        // index (l1+m1, l2+m2, l3+m3) = (2, 0, 0) → 6
        assert!((cg[6] - 1.0 / 3f64.sqrt()).abs() < 1e-15);
        let cg = su2_clebsch_gordan(1, 1, 2);
        assert!((cg[(3 + 1) * 5 + 2] - (2.0f64 / 3.0).sqrt()).abs() < 1e-15);
    }

    #[test]
    #[should_panic(expected = "triangle")]
    fn triangle_violation_panics() {
        let _ = wigner_3j(1, 1, 3);
    }
}
