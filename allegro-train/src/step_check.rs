//! The finiteness check of a training step, kept on the device.
//!
//! A step whose loss or gradients are NaN or infinite must not be taken. Read on the
//! host, that check is a wait for the device in every step; here it is a one-element
//! tensor, `Σg² + loss` (NaN or infinite exactly when the loss or a gradient is), turned
//! into a gate that the optimizer and the EMA obey on the device: 1 while every step so
//! far was finite, 0 from the first one that was not (so that one and all later steps
//! are not taken, and the weights stay those before it). The host reads the checks
//! later, with the metrics, and names the step ([`crate::Trainer::settle`]).

use allegro_core::backend::CompareOp;
use allegro_core::{Backend, Tensor, no_grad};

use crate::clip::GradClip;
use crate::grads::{Gradients, sum_of_squares_tensor};
use crate::manager::PreparedBatch;

/// A step enqueued on the device whose numbers the host has not read yet.
#[derive(Debug)]
pub(crate) struct PendingStep<B: Backend> {
    /// The step's number (the trainer's `global_step` when it was enqueued).
    pub(crate) step: u64,
    /// Its predictions and label groups, for the metrics.
    pub(crate) batch: PreparedBatch<B>,
    /// `Σg² + loss`, one element.
    pub(crate) check: Tensor<B>,
}

/// `Σg² + loss` as a one-element tensor of the gradients' dtype (the loss's without
/// gradients), and `Σg²` itself (what norm clipping needs).
pub(crate) fn step_check<B: Backend>(
    loss: &Tensor<B>,
    grads: &Gradients<B>,
) -> (Tensor<B>, Option<Tensor<B>>) {
    no_grad(|| {
        let loss = loss.detach().reshape(&[1]);
        match sum_of_squares_tensor(grads) {
            Some(sq) => (sq.add(&loss.cast(sq.dtype())), Some(sq)),
            None => (loss, None),
        }
    })
}

/// 1 where `x` is finite, else 0 (`x − x` is 0 for every finite value, NaN otherwise).
pub(crate) fn finite_mask<B: Backend>(x: &Tensor<B>) -> Tensor<B> {
    no_grad(|| x.sub(x).compare(&x.zeros_like(), CompareOp::Eq))
}

/// The gate after a step with check `check`: `previous · [check finite]`.
pub(crate) fn next_gate<B: Backend>(previous: Option<Tensor<B>>, check: &Tensor<B>) -> Tensor<B> {
    let ok = finite_mask(check);
    match previous {
        Some(g) => no_grad(|| g.mul(&ok.cast(g.dtype()))),
        None => ok,
    }
}

/// Applies `clip` to `grads` on the device, the global norm taken from `sum_sq`
/// (`Σg²`): the same factor `min(1, max / (‖g‖ + 1e-6))` as [`GradClip::apply`], without
/// reading the norm (multiplying by exactly 1 leaves a gradient as it is).
pub(crate) fn clip_on_device<B: Backend>(
    clip: &GradClip,
    grads: &mut Gradients<B>,
    sum_sq: Option<&Tensor<B>>,
) {
    match *clip {
        GradClip::Norm(max) => {
            let Some(sq) = sum_sq else { return };
            no_grad(|| {
                let norm = sq.sqrt().add_scalar(1e-6);
                let coef = sq.full_like(&[1], max).div(&norm).minimum(&sq.ones_like());
                for (_, g) in grads.iter_mut() {
                    *g = g.mul(&coef.cast(g.dtype()));
                }
            });
        }
        GradClip::Value(v) => crate::clip::clip_grad_value(grads, v),
    }
}
