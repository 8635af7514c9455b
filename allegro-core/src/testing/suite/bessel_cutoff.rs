//! The fused Bessel basis × cutoff ([`crate::backend::InferenceOps::bessel_cutoff`] and
//! its adjoint) against their composition from tensor ops: values, the first derivative
//! (the adjoint kernel), the second (the adjoint's backward, through the composition)
//! and the adjoint's derivative with respect to its cotangent alone (the fused JVP),
//! for lengths inside and beyond the cutoff, two exponents, in f64 and f32. A backend
//! without the kernels (or without them for a dtype) composes both sides.

use super::{assert_gradients, random};
use crate::backend::Backend;
use crate::dtype::DType;
use crate::radial::{bessel_basis, bessel_cutoff, polynomial_cutoff};
use crate::rng::SplitMix64;
use crate::tensor::Tensor;
use crate::testing::tolerance::all_close;
use crate::{grad, no_grad};

/// Relative and absolute tolerance of each dtype.
fn tol(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F64 => (1e-12, 1e-12),
        DType::F32 => (1e-4, 1e-4),
    }
}

/// `f`, `∂⟨w, f⟩/∂x` and `∂⟨u, ∂⟨w, f⟩/∂x⟩/∂x` of `f_of(x)`, as host values.
fn derivatives<B: Backend>(
    f_of: &dyn Fn(&Tensor<B>) -> Tensor<B>,
    x: &Tensor<B>,
    w: &Tensor<B>,
    u: &Tensor<B>,
) -> [Vec<f64>; 3] {
    let x = x.tracked();
    let f = f_of(&x);
    let gx = grad(&[&f], Some(&[w]), &[&x], true).remove(0);
    let hx = grad(&[&gx], Some(&[u]), &[&x], false).remove(0);
    [f.to_vec_f64(), gx.to_vec_f64(), hx.to_vec_f64()]
}

/// Fused against composed.
pub fn bessel_cutoff_fused_vs_composed<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(17);
    let (e, n) = (41, 8);
    // Some lengths beyond the cutoff (x ≥ 1), where value and derivatives vanish.
    let x = random::<B>(&[e, 1], 0.05, 1.3, &mut rng, device);
    let weights = Tensor::<B>::from_f64(
        &(1..=n)
            .map(|k| k as f64 + 0.1 * k as f64 * k as f64 / 8.0)
            .collect::<Vec<_>>(),
        &[1, n],
        DType::F64,
        device,
    )
    .expect("shape");
    let w = random::<B>(&[e, n], -1.0, 1.0, &mut rng, device);
    let u = random::<B>(&[e, 1], -1.0, 1.0, &mut rng, device);
    for p in [6.0, 3.5] {
        for dtype in [DType::F64, DType::F32] {
            let [x, weights, w, u] = [&x, &weights, &w, &u].map(|t| t.cast(dtype));
            let fused = derivatives(&|x| bessel_cutoff(x, &weights, p), &x, &w, &u);
            let composed = derivatives(
                &|x| bessel_basis(x, &weights).mul(&polynomial_cutoff(x, p)),
                &x,
                &w,
                &u,
            );
            for (k, what) in ["f", "first derivative", "second derivative"]
                .iter()
                .enumerate()
            {
                let (rt, at) = tol(dtype);
                if let Err(err) = all_close(&fused[k], &composed[k], rt, at) {
                    panic!(
                        "bessel × cutoff on {}: {what} (p {p}, {dtype:?}): {err}",
                        B::name()
                    );
                }
            }
            // A force loss's parameter gradient: the adjoint differentiated with respect
            // to its cotangent only (the fused JVP when nothing is recorded).
            let cotangent = |f_of: &dyn Fn(&Tensor<B>) -> Tensor<B>| {
                let (x, w) = (x.tracked(), w.tracked());
                let f = f_of(&x);
                let gx = grad(&[&f], Some(&[&w]), &[&x], true).remove(0);
                grad(&[&gx], Some(&[&u]), &[&w], false)
                    .remove(0)
                    .to_vec_f64()
            };
            let fused_w = cotangent(&|x| bessel_cutoff(x, &weights, p));
            let composed_w =
                cotangent(&|x| bessel_basis(x, &weights).mul(&polynomial_cutoff(x, p)));
            let (rt, at) = tol(dtype);
            if let Err(err) = all_close(&fused_w, &composed_w, rt, at) {
                panic!(
                    "bessel × cutoff on {}: derivative with respect to the cotangent (p {p}, \
                     {dtype:?}): {err}",
                    B::name()
                );
            }
            let f = no_grad(|| bessel_cutoff(&x, &weights, p));
            assert!(!f.is_tracked(), "an untracked forward is a constant");
        }
    }
}

/// The fused op's first and second derivatives against central differences (float64),
/// at lengths inside and beyond the cutoff (the cutoff is twice differentiable at 1).
pub fn bessel_cutoff_finite_differences<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(23);
    let x = random::<B>(&[9, 1], 0.1, 1.3, &mut rng, device);
    let weights =
        Tensor::<B>::from_f64(&[1.0, 2.0, 3.0, 4.5], &[1, 4], DType::F64, device).expect("shape");
    for p in [6.0, 3.5] {
        let f = |ins: &[Tensor<B>]| bessel_cutoff(&ins[0], &weights, p);
        assert_gradients(
            &format!("bessel_cutoff (p {p})"),
            &f,
            std::slice::from_ref(&x),
        );
    }
}
