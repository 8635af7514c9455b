//! The fused spherical harmonics ([`crate::backend::InferenceOps::edge_harmonics`] and
//! its adjoint) against their composition from tensor ops: values, the first derivative
//! (the adjoint kernel), the second (the adjoint's backward, through the composition)
//! and the adjoint's derivative with respect to its cotangent alone (the fused JVP), for
//! l_max 0–4, with and without normalisation, in f64 and f32. A backend without the
//! kernels composes both sides (and passes trivially).

use super::random;
use crate::backend::Backend;
use crate::dtype::DType;
use crate::e3::{ShNormalization, SphericalHarmonics};
use crate::rng::SplitMix64;
use crate::tensor::Tensor;
use crate::testing::tolerance::all_close;
use crate::{grad, no_grad};

/// Relative and absolute tolerance of each dtype.
fn tol(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F64 => (1e-12, 1e-13),
        DType::F32 => (2e-5, 2e-5),
    }
}

/// `Y`, `∂⟨w, Y⟩/∂v` and `∂⟨u, ∂⟨w, Y⟩/∂v⟩/∂v` of `y_of(v)`, all as host values.
fn derivatives<B: Backend>(
    y_of: &dyn Fn(&Tensor<B>) -> Tensor<B>,
    v: &Tensor<B>,
    w: &Tensor<B>,
    u: &Tensor<B>,
) -> [Vec<f64>; 3] {
    let v = v.tracked();
    let y = y_of(&v);
    let gv = grad(&[&y], Some(&[w]), &[&v], true).remove(0);
    let hv = grad(&[&gv], Some(&[u]), &[&v], false).remove(0);
    [y.to_vec_f64(), gv.to_vec_f64(), hv.to_vec_f64()]
}

/// Fused against composed.
pub fn harmonics_fused_vs_composed<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(91);
    for l_max in 0..=4 {
        for normalize in [true, false] {
            let sh = SphericalHarmonics::new(l_max, ShNormalization::Component, normalize);
            let e = 37;
            let v = random::<B>(&[e, 3], -1.5, 1.5, &mut rng, device);
            let w = random::<B>(&[e, sh.dim()], -1.0, 1.0, &mut rng, device);
            let u = random::<B>(&[e, 3], -1.0, 1.0, &mut rng, device);
            for dtype in [DType::F64, DType::F32] {
                let [v, w, u] = [&v, &w, &u].map(|x| x.cast(dtype));
                let fused = derivatives(&|x| sh.forward_fused(x), &v, &w, &u);
                let composed = derivatives(&|x| sh.forward(x), &v, &w, &u);
                for (k, what) in ["Y", "first derivative", "second derivative"]
                    .iter()
                    .enumerate()
                {
                    let (rt, at) = tol(dtype);
                    if let Err(err) = all_close(&fused[k], &composed[k], rt, at) {
                        panic!(
                            "harmonics on {}: {what} (l_max {l_max}, normalize {normalize}, \
                             {dtype:?}): {err}",
                            B::name()
                        );
                    }
                }
            }
            // A force loss's parameter gradient: the adjoint differentiated with respect
            // to its cotangent only (the fused JVP when nothing is recorded).
            for dtype in [DType::F64, DType::F32] {
                let [v, w, u] = [&v, &w, &u].map(|x| x.cast(dtype));
                let cotangent = |y_of: &dyn Fn(&Tensor<B>) -> Tensor<B>| {
                    let (v, w) = (v.tracked(), w.tracked());
                    let y = y_of(&v);
                    let gv = grad(&[&y], Some(&[&w]), &[&v], true).remove(0);
                    grad(&[&gv], Some(&[&u]), &[&w], false)
                        .remove(0)
                        .to_vec_f64()
                };
                let fused = cotangent(&|x| sh.forward_fused(x));
                let composed = cotangent(&|x| sh.forward(x));
                let (rt, at) = tol(dtype);
                if let Err(err) = all_close(&fused, &composed, rt, at) {
                    panic!(
                        "harmonics on {}: derivative with respect to the cotangent (l_max \
                         {l_max}, normalize {normalize}, {dtype:?}): {err}",
                        B::name()
                    );
                }
            }
            // Without tracking the fused forward records nothing.
            let y = no_grad(|| sh.forward_fused(&v));
            assert!(!y.is_tracked(), "an untracked forward is a constant");
        }
    }
}
