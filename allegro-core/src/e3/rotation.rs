//! Rotations and Wigner D matrices of the real spherical harmonics.
//!
//! Rotation matrices act on column vectors, `x' = R x`, components (x, y, z).
//! The Wigner D matrix `D^l(R)` (flat `[2l+1, 2l+1]`, row-major) is the
//! representation in e3nn's real basis, characterised by
//! `Y^l(R x) = D^l(R) Y^l(x)` for the harmonics of
//! [`super::spherical_harmonics`]; in particular `D¹(R) = R`. It is orthogonal,
//! `D(I) = I`, `D(R₁R₂) = D(R₁) D(R₂)`, `D(Rᵀ) = D(R)ᵀ`, and the 3j symbols are
//! invariant: `Σ D¹ᵢₐ D²ⱼᵦ D³ₖ꜀ C_{abc} = C_{ijk}`.
//!
//! Construction: the generators of e3nn (`so3_generators`, `Q† J Q` with the
//! SU(2) generators `J` and the basis change `Q` of [`super::wigner_3j`]) give
//! `D^l(R) = exp(θ Σₐ nₐ Xₐ^l)` for `R` the rotation by angle `θ` about the
//! unit axis `n`.
//!
//! For O(3), an irrep `(l, p)` represents an improper `R` (det −1) as
//! `p · D^l(−R)` ([`irrep_d`]).

use super::complex::C64;
use super::linalg::{expm, matmul};
use super::wigner3j::change_basis_real_to_complex;
use super::{Irrep, Irreps, Parity};

/// A 3 × 3 matrix, rows first.
pub use allegro_base::Matrix3;

/// The real generators `(X_x, X_y, X_z)` of rotations about the x, y and z axes
/// for degree `l`, each flat `[2l+1, 2l+1]`, skew-symmetric:
/// `D^l(rotation by θ about axis a) = exp(θ X_a)`. For `l = 1`,
/// `(X_a)_{jk} = −ε_{ajk}`. They satisfy `[X_x, X_y] = X_z` (cyclic).
///
/// `X_x`, `X_y` are e3nn's `so3_generators(l)[0]` and `[1]`; `X_z` is their
/// commutator.
pub fn so3_generators(l: usize) -> [Vec<f64>; 3] {
    let d = 2 * l + 1;
    let q = change_basis_real_to_complex(l);
    let j = su2_generators(l);
    // X = Q† J Q, real part.
    let conj_t = |m: &[C64]| -> Vec<C64> {
        let mut t = vec![C64::ZERO; d * d];
        for r in 0..d {
            for c in 0..d {
                t[c * d + r] = m[r * d + c].conj();
            }
        }
        t
    };
    let cmul = |a: &[C64], b: &[C64]| -> Vec<C64> {
        let mut out = vec![C64::ZERO; d * d];
        for r in 0..d {
            for k in 0..d {
                let ark = a[r * d + k];
                if ark == C64::ZERO {
                    continue;
                }
                for c in 0..d {
                    out[r * d + c] = out[r * d + c] + ark * b[k * d + c];
                }
            }
        }
        out
    };
    let qh = conj_t(&q);
    let real = |g: &[C64]| -> Vec<f64> { cmul(&cmul(&qh, g), &q).iter().map(|v| v.re).collect() };
    let x = real(&j[0]);
    let y = real(&j[1]);
    let xy = matmul(&x, &y, d);
    let yx = matmul(&y, &x, d);
    let z = xy.iter().zip(&yx).map(|(a, b)| a - b).collect();
    [x, y, z]
}

/// e3nn's `su2_generators(l)` (complex, flat `[2l+1, 2l+1]`), the three
/// matrices `(J⁺ + J⁻)/2`, `i·diag(m)`, `−i(J⁺ − J⁻)/2` with e3nn's signs.
fn su2_generators(l: usize) -> [Vec<C64>; 3] {
    let d = 2 * l + 1;
    let jj = (l * (l + 1)) as f64;
    let mut raising = vec![0.0; d * d];
    let mut lowering = vec![0.0; d * d];
    for i in 0..d - 1 {
        // raising: diagonal −1, m = −l + i
        let m = i as f64 - l as f64;
        raising[(i + 1) * d + i] = -(jj - m * (m + 1.0)).sqrt();
        // lowering: diagonal +1, m = −l + 1 + i
        let m = i as f64 + 1.0 - l as f64;
        lowering[i * d + i + 1] = (jj - m * (m - 1.0)).sqrt();
    }
    let g0 = (0..d * d)
        .map(|k| C64::new(0.5 * (raising[k] + lowering[k]), 0.0))
        .collect();
    let mut g1 = vec![C64::ZERO; d * d];
    for i in 0..d {
        g1[i * d + i] = C64::new(0.0, i as f64 - l as f64);
    }
    let g2 = (0..d * d)
        .map(|k| C64::new(0.0, -0.5 * (raising[k] - lowering[k])))
        .collect();
    [g0, g1, g2]
}

/// `D^l` of the rotation by `angle` (radians, right-handed) about `axis`
/// (normalised here; a zero axis gives the identity).
pub fn wigner_d_axis_angle(l: usize, axis: &[f64; 3], angle: f64) -> Vec<f64> {
    let d = 2 * l + 1;
    let n = (axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]).sqrt();
    if n == 0.0 {
        return super::linalg::identity(d);
    }
    let g = so3_generators(l);
    let a: Vec<f64> = (0..d * d)
        .map(|k| angle / n * (axis[0] * g[0][k] + axis[1] * g[1][k] + axis[2] * g[2][k]))
        .collect();
    expm(&a, d)
}

/// `D^l(R)` for a proper rotation `R` (det +1), flat `[2l+1, 2l+1]`.
///
/// # Panics
/// If `R` is not a rotation (det ≠ +1 or not orthogonal, to 1e-6); use
/// [`irrep_d`] for improper matrices.
pub fn wigner_d(l: usize, r: &Matrix3) -> Vec<f64> {
    assert!(
        is_rotation(r, 1e-6),
        "wigner_d: {r:?} is not a proper rotation matrix"
    );
    let (axis, angle) = matrix_to_axis_angle(r);
    wigner_d_axis_angle(l, &axis, angle)
}

/// The matrix of the O(3) irrep `ir` at an orthogonal `R` (det ±1):
/// `D^l(R)` if det R = +1, `p · D^l(−R)` if det R = −1 (e3nn `D_from_matrix`).
///
/// # Panics
/// If `R` is not orthogonal to 1e-6.
pub fn irrep_d(ir: Irrep, r: &Matrix3) -> Vec<f64> {
    if det3(r) > 0.0 {
        return wigner_d(ir.l, r);
    }
    let neg = r.map(|row| row.map(|v| -v));
    let s = if ir.parity == Parity::Odd { -1.0 } else { 1.0 };
    wigner_d(ir.l, &neg).into_iter().map(|v| s * v).collect()
}

/// Block-diagonal matrix of `irreps` at an orthogonal `R`, flat `[dim, dim]`
/// (each `mul × ir` entry contributes `mul` copies of [`irrep_d`]).
pub fn irreps_d(irreps: &Irreps, r: &Matrix3) -> Vec<f64> {
    let dim = irreps.dim();
    let mut out = vec![0.0; dim * dim];
    let mut off = 0;
    for m in irreps {
        let block = irrep_d(m.ir, r);
        let d = m.ir.dim();
        for _ in 0..m.mul {
            for i in 0..d {
                for j in 0..d {
                    out[(off + i) * dim + off + j] = block[i * d + j];
                }
            }
            off += d;
        }
    }
    out
}

/// e3nn's `wigner_D(l, α, β, γ) = exp(α X_y) exp(β X_x) exp(γ X_y)`, the
/// representation of [`angles_to_matrix`]`(α, β, γ)` (Y-X-Y Euler angles).
pub fn wigner_d_from_angles(l: usize, alpha: f64, beta: f64, gamma: f64) -> Vec<f64> {
    let d = 2 * l + 1;
    let a = wigner_d_axis_angle(l, &[0.0, 1.0, 0.0], alpha);
    let b = wigner_d_axis_angle(l, &[1.0, 0.0, 0.0], beta);
    let c = wigner_d_axis_angle(l, &[0.0, 1.0, 0.0], gamma);
    matmul(&matmul(&a, &b, d), &c, d)
}

/// e3nn's `angles_to_matrix(α, β, γ) = R_y(α) R_x(β) R_y(γ)`.
pub fn angles_to_matrix(alpha: f64, beta: f64, gamma: f64) -> Matrix3 {
    let ry = |t: f64| axis_angle_to_matrix(&[0.0, 1.0, 0.0], t);
    let rx = |t: f64| axis_angle_to_matrix(&[1.0, 0.0, 0.0], t);
    mat3_mul(&mat3_mul(&ry(alpha), &rx(beta)), &ry(gamma))
}

/// Rotation by `angle` about `axis` (Rodrigues; the axis is normalised, a zero
/// axis gives the identity).
pub fn axis_angle_to_matrix(axis: &[f64; 3], angle: f64) -> Matrix3 {
    let n = (axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]).sqrt();
    if n == 0.0 {
        return [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    }
    let (half_s, half_c) = (angle / 2.0).sin_cos();
    quaternion_to_matrix(&[
        half_c,
        half_s * axis[0] / n,
        half_s * axis[1] / n,
        half_s * axis[2] / n,
    ])
}

/// Rotation matrix of the quaternion `(w, x, y, z)` (normalised here).
pub fn quaternion_to_matrix(q: &[f64; 4]) -> Matrix3 {
    let n = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
    let [w, x, y, z] = q.map(|v| v / n);
    [
        [
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y - w * z),
            2.0 * (x * z + w * y),
        ],
        [
            2.0 * (x * y + w * z),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z - w * x),
        ],
        [
            2.0 * (x * z - w * y),
            2.0 * (y * z + w * x),
            1.0 - 2.0 * (x * x + y * y),
        ],
    ]
}

/// Axis (unit) and angle in `[0, π]` of a proper rotation, robust at all
/// angles (via the quaternion, Shepperd's method). The identity gives
/// axis `(1, 0, 0)` and angle 0.
pub fn matrix_to_axis_angle(r: &Matrix3) -> ([f64; 3], f64) {
    let tr = r[0][0] + r[1][1] + r[2][2];
    let q = if tr > r[0][0].max(r[1][1]).max(r[2][2]) {
        let s = (1.0 + tr).sqrt() * 2.0;
        [
            0.25 * s,
            (r[2][1] - r[1][2]) / s,
            (r[0][2] - r[2][0]) / s,
            (r[1][0] - r[0][1]) / s,
        ]
    } else if r[0][0] >= r[1][1] && r[0][0] >= r[2][2] {
        let s = (1.0 + r[0][0] - r[1][1] - r[2][2]).sqrt() * 2.0;
        [
            (r[2][1] - r[1][2]) / s,
            0.25 * s,
            (r[0][1] + r[1][0]) / s,
            (r[0][2] + r[2][0]) / s,
        ]
    } else if r[1][1] >= r[2][2] {
        let s = (1.0 + r[1][1] - r[0][0] - r[2][2]).sqrt() * 2.0;
        [
            (r[0][2] - r[2][0]) / s,
            (r[0][1] + r[1][0]) / s,
            0.25 * s,
            (r[1][2] + r[2][1]) / s,
        ]
    } else {
        let s = (1.0 + r[2][2] - r[0][0] - r[1][1]).sqrt() * 2.0;
        [
            (r[1][0] - r[0][1]) / s,
            (r[0][2] + r[2][0]) / s,
            (r[1][2] + r[2][1]) / s,
            0.25 * s,
        ]
    };
    let [w, x, y, z] = if q[0] < 0.0 { q.map(|v| -v) } else { q };
    let v = (x * x + y * y + z * z).sqrt();
    if v == 0.0 {
        return ([1.0, 0.0, 0.0], 0.0);
    }
    ([x / v, y / v, z / v], 2.0 * v.atan2(w))
}

/// A rotation drawn uniformly (Haar measure) from three independent uniform
/// numbers in `[0, 1)` (Shoemake's subgroup algorithm); the caller supplies
/// the randomness, so any RNG (or a fixed seed) can be used.
pub fn rotation_from_uniform(u: [f64; 3]) -> Matrix3 {
    let tau = 2.0 * std::f64::consts::PI;
    let (a, b) = ((1.0 - u[0]).sqrt(), u[0].sqrt());
    let (s1, c1) = (tau * u[1]).sin_cos();
    let (s2, c2) = (tau * u[2]).sin_cos();
    quaternion_to_matrix(&[b * c2, a * s1, a * c1, b * s2])
}

/// Determinant of a 3 × 3 matrix (allegro-base's, shared with the structures crate).
pub use allegro_base::det3;

/// `a · b` for 3 × 3 matrices.
pub fn mat3_mul(a: &Matrix3, b: &Matrix3) -> Matrix3 {
    let mut c = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            c[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    c
}

/// `R x`.
pub fn mat3_vec(r: &Matrix3, x: &[f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| r[i][0] * x[0] + r[i][1] * x[1] + r[i][2] * x[2])
}

/// Whether `R` is orthogonal with det +1, to `tol`.
fn is_rotation(r: &Matrix3, tol: f64) -> bool {
    let mut ok = (det3(r) - 1.0).abs() < tol;
    for i in 0..3 {
        for j in 0..3 {
            let dot: f64 = (0..3).map(|k| r[k][i] * r[k][j]).sum();
            ok &= (dot - if i == j { 1.0 } else { 0.0 }).abs() < tol;
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l1_generators_are_cross_product_matrices() {
        let g = so3_generators(1);
        // (X_a)_{jk} = −ε_{ajk}
        let eps = |a: usize, j: usize, k: usize| -> f64 {
            match (a, j, k) {
                (0, 1, 2) | (1, 2, 0) | (2, 0, 1) => 1.0,
                (0, 2, 1) | (1, 0, 2) | (2, 1, 0) => -1.0,
                _ => 0.0,
            }
        };
        for a in 0..3 {
            for j in 0..3 {
                for k in 0..3 {
                    assert!(
                        (g[a][j * 3 + k] + eps(a, j, k)).abs() < 1e-14,
                        "axis {a}: {:?}",
                        g[a]
                    );
                }
            }
        }
    }

    #[test]
    fn axis_angle_round_trip_including_pi() {
        for (axis, angle) in [
            ([0.3, -0.5, 0.8], 0.7),
            ([1.0, 2.0, -1.0], std::f64::consts::PI),
            ([0.0, 0.0, 1.0], 3.0),
        ] {
            let r = axis_angle_to_matrix(&axis, angle);
            let (ax, an) = matrix_to_axis_angle(&r);
            let r2 = axis_angle_to_matrix(&ax, an);
            for i in 0..3 {
                for j in 0..3 {
                    assert!((r[i][j] - r2[i][j]).abs() < 1e-14);
                }
            }
        }
    }
}
