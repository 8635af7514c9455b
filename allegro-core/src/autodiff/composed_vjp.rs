//! The backward of a fused adjoint by differentiating the composition it replaces: how a
//! fused op (one kernel forward, one for its adjoint) stays differentiable to any order.

use super::grad::grad;
use super::mode::{is_grad_enabled, with_grad_enabled};
use crate::backend::Backend;
use crate::tensor::Tensor;

/// `∂⟨g, ∂⟨c, f(x)⟩/∂x⟩` with respect to `x` and the cotangent `c` (in that order, each
/// only where `needs` asks for it), where `f` is the composition of tensor ops a fused
/// op computes and the fused adjoint gave `∂⟨c, f(x)⟩/∂x`. Differentiable further when
/// the graph is being recorded (the inputs themselves are then differentiated), else
/// computed from local copies.
pub fn vjp_backward_by_composition<B: Backend>(
    f: impl Fn(&Tensor<B>) -> Tensor<B>,
    x: &Tensor<B>,
    cotangent: &Tensor<B>,
    g: &Tensor<B>,
    needs: &[bool],
) -> Vec<Option<Tensor<B>>> {
    let create = is_grad_enabled();
    let local = |t: &Tensor<B>| {
        if create && t.is_tracked() {
            t.clone()
        } else {
            t.detach().tracked()
        }
    };
    let (x, c) = (local(x), local(cotangent));
    with_grad_enabled(true, || {
        let y = f(&x);
        let gx = grad(&[&y], Some(&[&c]), &[&x], true).remove(0);
        let mut out = grad(&[&gx], Some(&[g]), &[&x, &c], create).into_iter();
        needs.iter().map(|&n| out.next().filter(|_| n)).collect()
    })
}
