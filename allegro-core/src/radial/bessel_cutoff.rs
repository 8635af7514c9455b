//! The Bessel basis times the polynomial cutoff as one fused op on the tape (the
//! per-edge front of inference and training), with fused first and cotangent
//! derivatives.

use super::{bessel_basis, polynomial_cutoff};
use crate::autodiff::{is_grad_enabled, vjp_backward_by_composition};
use crate::backend::Backend;
use crate::tensor::Tensor;

/// `bessel_basis(x, weights) · polynomial_cutoff(x, p)` for `x` `[E, 1]` and `weights`
/// `[1, N]`: `[E, N]`. Where the backend has the fused kernel
/// ([`crate::backend::InferenceOps::bessel_cutoff`]) and the weights are not being
/// trained, one op whose backward is the fused adjoint (whose own backward, for second
/// and higher orders, differentiates the composition); otherwise the composition.
pub fn bessel_cutoff<B: Backend>(x: &Tensor<B>, weights: &Tensor<B>, p: f64) -> Tensor<B> {
    if weights.is_tracked() || x.rank() != 2 || x.dim(1) != 1 || weights.rank() != 2 {
        return composed(x, weights, p);
    }
    let Some(f) = B::bessel_cutoff(x.storage(), weights.storage(), p) else {
        return composed(x, weights, p);
    };
    let shape = [x.dim(0), weights.dim(1)];
    let w = weights.clone();
    Tensor::custom_op(
        "bessel_cutoff",
        &[x],
        |_| Tensor::from_storage(f, &shape),
        move |inputs: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, _: &[bool]| {
            vec![Some(vjp(&inputs[0], &w, g, p))]
        },
    )
}

/// `∂L/∂x` (`[E, 1]`) from `∂L/∂f` (`grad`, `[E, N]`) by the fused adjoint, as one op
/// whose own backward differentiates the composition.
fn vjp<B: Backend>(x: &Tensor<B>, weights: &Tensor<B>, grad: &Tensor<B>, p: f64) -> Tensor<B> {
    let fused = B::bessel_cutoff_vjp(x.storage(), weights.storage(), grad.storage(), p)
        .expect("a backend with a fused forward has its adjoint");
    let shape = [x.dim(0), 1];
    let w = weights.clone();
    Tensor::custom_op(
        "bessel_cutoff_vjp",
        &[x, grad],
        |_| Tensor::from_storage(fused, &shape),
        move |inputs: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, needs: &[bool]| {
            vjp_backward(&inputs[0], &w, &inputs[1], g, p, needs)
        },
    )
}

/// The backward of [`vjp`]: `∂⟨g, ∂L/∂x⟩` with respect to `x` and `grad`. When only the
/// latter is wanted and nothing is being recorded (the parameter gradient of a force
/// loss), the fused `g_z·f'(x_z)` ([`crate::backend::InferenceOps::bessel_cutoff_jvp`]);
/// otherwise by the composition ([`vjp_backward_by_composition`]).
fn vjp_backward<B: Backend>(
    x: &Tensor<B>,
    weights: &Tensor<B>,
    grad_f: &Tensor<B>,
    g: &Tensor<B>,
    p: f64,
    needs: &[bool],
) -> Vec<Option<Tensor<B>>> {
    let create = is_grad_enabled();
    if !create
        && !needs[0]
        && let Some(jvp) = B::bessel_cutoff_jvp(x.storage(), weights.storage(), g.storage(), p)
    {
        return vec![None, Some(Tensor::from_storage(jvp, grad_f.shape()))];
    }
    vjp_backward_by_composition(|x| composed(x, weights, p), x, grad_f, g, needs)
}

/// The map the fused op computes, from tensor ops (its oracle and second derivative).
fn composed<B: Backend>(x: &Tensor<B>, weights: &Tensor<B>, p: f64) -> Tensor<B> {
    bessel_basis(x, weights).mul(&polynomial_cutoff(x, p))
}
