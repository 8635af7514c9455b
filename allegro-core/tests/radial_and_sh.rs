//! Tensor-level spherical harmonics and radial functions: values against the f64
//! oracles and formulas, gradients of first and second order against finite differences.

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_core::e3::{ShNormalization, SphericalHarmonics, spherical_harmonics};
use allegro_core::radial::{bessel_basis, polynomial_cutoff};
use allegro_core::testing::SplitMix64;
use allegro_core::testing::suite::{assert_gradients, assert_values, random};
use allegro_core::{DType, Tensor};

type T = Tensor<Cpu>;

#[test]
fn spherical_harmonics_tensor_matches_oracle() {
    let mut rng = SplitMix64::new(71);
    for l_max in 0..=3 {
        for norm in [
            ShNormalization::Component,
            ShNormalization::Integral,
            ShNormalization::Norm,
        ] {
            for normalize in [true, false] {
                let v = random::<Cpu>(&[6, 3], -2.0, 2.0, &mut rng, &CpuDevice);
                let vv = v.to_vec_f64();
                let want: Vec<f64> = (0..6)
                    .flat_map(|e| {
                        spherical_harmonics(
                            l_max,
                            norm,
                            normalize,
                            &[vv[3 * e], vv[3 * e + 1], vv[3 * e + 2]],
                        )
                    })
                    .collect();
                let sh = SphericalHarmonics::new(l_max, norm, normalize);
                let f = move |xs: &[T]| sh.forward(&xs[0]);
                assert_values(
                    &format!("sh l_max {l_max} {norm:?} normalize {normalize}"),
                    &f,
                    &[v],
                    &want,
                );
            }
        }
    }
}

#[test]
fn spherical_harmonics_tensor_gradients() {
    let mut rng = SplitMix64::new(72);
    let v = random::<Cpu>(&[4, 3], 0.3, 1.5, &mut rng, &CpuDevice);
    let sh = SphericalHarmonics::new(3, ShNormalization::Component, true);
    let f = move |xs: &[T]| sh.forward(&xs[0]);
    assert_gradients("spherical harmonics l_max 3", &f, &[v]);
}

/// The fused harmonics (one op, its adjoint kernel, the composition's second
/// derivative) against finite differences to second order, as the composition above.
#[test]
fn spherical_harmonics_fused_gradients() {
    let mut rng = SplitMix64::new(74);
    let v = random::<Cpu>(&[4, 3], 0.3, 1.5, &mut rng, &CpuDevice);
    for normalize in [true, false] {
        let sh = SphericalHarmonics::new(3, ShNormalization::Component, normalize);
        let f = move |xs: &[T]| sh.forward_fused(&xs[0]);
        assert_gradients(
            "fused spherical harmonics l_max 3",
            &f,
            std::slice::from_ref(&v),
        );
    }
}

#[test]
fn bessel_basis_values_and_gradients() {
    let mut rng = SplitMix64::new(73);
    let x = random::<Cpu>(&[5, 1], 0.05, 1.2, &mut rng, &CpuDevice);
    let w = T::from_f64(&[1.0, 2.0, 3.0, 4.0], &[1, 4], DType::F64, &CpuDevice).unwrap();
    let xv = x.to_vec_f64();
    let pi = std::f64::consts::PI;
    let want: Vec<f64> = xv
        .iter()
        .flat_map(|&x| {
            (1..=4).map(move |n| (pi * n as f64 * x).sin() / (pi * n as f64 * x) * n as f64)
        })
        .collect();
    let f = |xs: &[T]| bessel_basis(&xs[0], &xs[1]);
    assert_values("bessel", &f, &[x.clone(), w.clone()], &want);
    assert_gradients("bessel", &f, &[x, w]);
}

#[test]
fn polynomial_cutoff_values_and_gradients() {
    let xv = [0.1, 0.5, 0.93, 0.999, 1.0, 1.3];
    let x = T::from_f64(&xv, &[6], DType::F64, &CpuDevice).unwrap();
    for p in [6.0, 3.0] {
        let want: Vec<f64> = xv
            .iter()
            .map(|&x: &f64| {
                if x < 1.0 {
                    1.0 - (p + 1.0) * (p + 2.0) / 2.0 * x.powf(p) + p * (p + 2.0) * x.powf(p + 1.0)
                        - p * (p + 1.0) / 2.0 * x.powf(p + 2.0)
                } else {
                    0.0
                }
            })
            .collect();
        let f = move |xs: &[T]| polynomial_cutoff(&xs[0], p);
        // Near x = 1 the polynomial cancels large terms: f32 loses ~1e-6 absolute there
        // (as the reference does), so the f32 comparison uses points away from 1.
        let got = f(std::slice::from_ref(&x)).to_vec_f64();
        allegro_core::testing::tolerance::all_close(&got, &want, 1e-12, 1e-14).unwrap();
        let x32 = T::from_f64(&xv[..2], &[2], DType::F32, &CpuDevice).unwrap();
        let got32 = polynomial_cutoff(&x32, p).to_vec_f64();
        allegro_core::testing::tolerance::all_close(&got32, &want[..2], 2e-6, 1e-6).unwrap();
        assert!(want[4].abs() < 1e-15, "u_p(1) = 0");
    }
    let inside = T::from_f64(&[0.1, 0.5, 0.93, 0.4], &[4], DType::F64, &CpuDevice).unwrap();
    let f = |xs: &[T]| polynomial_cutoff(&xs[0], 6.0);
    assert_gradients("polynomial cutoff", &f, &[inside]);
}
