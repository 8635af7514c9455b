//! Wigner D matrices: the defining properties (orthogonality, homomorphism,
//! `D¹ = R`), equivariance of the spherical harmonics `Y(Rx) = D(R) Y(x)`
//! including reflections, and invariance of the 3j symbols under `D ⊗ D ⊗ D`.

mod e3_common;
#[allow(unused_imports)]
use e3_common::RandomGeometry;

use allegro_core::e3::{
    Irrep, Irreps, Parity, ShNormalization, ShPolynomials, angles_to_matrix, det3, irrep_d,
    irreps_d, mat3_mul, mat3_vec, wigner_3j, wigner_d, wigner_d_from_angles,
};
use e3_common::SplitMix64;

const TOL: f64 = 1e-12;

fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            for j in 0..n {
                c[i * n + j] += a[i * n + k] * b[k * n + j];
            }
        }
    }
    c
}

fn matvec(a: &[f64], x: &[f64]) -> Vec<f64> {
    let n = x.len();
    (0..n)
        .map(|i| (0..n).map(|j| a[i * n + j] * x[j]).sum())
        .collect()
}

#[test]
fn d_is_orthogonal_homomorphism_and_d1_is_r() {
    let mut rng = SplitMix64::new(7);
    for _ in 0..10 {
        let (r1, r2) = (rng.rotation(), rng.rotation());
        for l in 0..=5 {
            let d = 2 * l + 1;
            let (d1, d2) = (wigner_d(l, &r1), wigner_d(l, &r2));
            let d12 = wigner_d(l, &mat3_mul(&r1, &r2));
            let prod = matmul(&d1, &d2, d);
            assert!(
                e3_common::max_abs_diff(&d12, &prod) < TOL,
                "l={l} homomorphism"
            );
            let mut d1t = vec![0.0; d * d];
            for i in 0..d {
                for j in 0..d {
                    d1t[j * d + i] = d1[i * d + j];
                }
            }
            let eye = matmul(&d1, &d1t, d);
            for i in 0..d {
                for j in 0..d {
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((eye[i * d + j] - want).abs() < TOL, "l={l} orthogonality");
                }
            }
        }
        let d1 = wigner_d(1, &r1);
        let flat: Vec<f64> = r1.iter().flatten().copied().collect();
        assert!(e3_common::max_abs_diff(&d1, &flat) < TOL, "D¹(R) = R");
    }
}

#[test]
fn euler_angles_agree_with_matrix() {
    let (a, b, c) = (0.3, -1.2, 2.5);
    let r = angles_to_matrix(a, b, c);
    for l in 0..=4 {
        let err = e3_common::max_abs_diff(&wigner_d_from_angles(l, a, b, c), &wigner_d(l, &r));
        assert!(err < TOL, "l={l}: {err:e}");
    }
}

#[test]
fn spherical_harmonics_are_equivariant() {
    let l_max = 6;
    let table = ShPolynomials::new(l_max);
    let mut rng = SplitMix64::new(11);
    let mut worst: f64 = 0.0;
    for _ in 0..20 {
        let r = rng.rotation();
        let x = rng.vec3();
        let y = table.eval(ShNormalization::Component, &x);
        let sh_irreps = Irreps::spherical_harmonics(l_max, Parity::Odd);
        // rotation and rotation-reflection (−R) in one go through irreps_d
        for rr in [r, r.map(|row| row.map(|v| -v))] {
            assert!(det3(&rr).abs() > 0.99);
            let y_rr = table.eval(ShNormalization::Component, &mat3_vec(&rr, &x));
            let dy = matvec(&irreps_d(&sh_irreps, &rr), &y);
            let err = e3_common::max_abs_diff(&y_rr, &dy);
            assert!(err < TOL * 10.0, "equivariance error {err:e}");
            worst = worst.max(err);
        }
    }
    eprintln!("SH equivariance (l <= {l_max}, incl. reflections): max error {worst:e}");
}

#[test]
fn wigner_3j_is_invariant() {
    let mut rng = SplitMix64::new(3);
    let r = rng.rotation();
    let mut worst: f64 = 0.0;
    for l1 in 0..=4usize {
        for l2 in 0..=4usize {
            for l3 in l1.abs_diff(l2)..=(l1 + l2).min(4) {
                let c = wigner_3j(l1, l2, l3);
                let (d1, d2, d3) = (2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1);
                let (m1, m2, m3) = (wigner_d(l1, &r), wigner_d(l2, &r), wigner_d(l3, &r));
                let mut rotated = vec![0.0; c.len()];
                for i in 0..d1 {
                    for j in 0..d2 {
                        for k in 0..d3 {
                            let mut acc = 0.0;
                            for a in 0..d1 {
                                for b in 0..d2 {
                                    for cc in 0..d3 {
                                        acc += m1[i * d1 + a]
                                            * m2[j * d2 + b]
                                            * m3[k * d3 + cc]
                                            * c[(a * d2 + b) * d3 + cc];
                                    }
                                }
                            }
                            rotated[(i * d2 + j) * d3 + k] = acc;
                        }
                    }
                }
                let err = e3_common::max_abs_diff(&rotated, &c);
                assert!(err < TOL, "w3j({l1},{l2},{l3}) not invariant: {err:e}");
                worst = worst.max(err);
            }
        }
    }
    eprintln!("3j invariance (l <= 4): max error {worst:e}");
}

#[test]
fn parity_of_irrep_d() {
    let minus_i = [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]];
    for (ir, sign) in [
        ("1o", -1.0),
        ("1e", 1.0),
        ("2e", 1.0),
        ("2o", -1.0),
        ("0o", -1.0),
    ] {
        let ir: Irrep = ir.parse().unwrap();
        let d = irrep_d(ir, &minus_i);
        let n = ir.dim();
        for i in 0..n {
            for j in 0..n {
                let want = if i == j { sign } else { 0.0 };
                assert!((d[i * n + j] - want).abs() < TOL);
            }
        }
    }
}
