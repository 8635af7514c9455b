//! Fused optimizer updates: an AdamW step and the EMA's move towards the weights, each
//! one pass over a parameter's buffers.
//!
//! Written with tensor ops, an AdamW step is fourteen elementwise launches per parameter
//! and the EMA three more; on a GPU a training step of the seed model spent more launches
//! there than in the tensor product. The defaults below are exactly those tensor ops (the
//! plain reference, which a backend gets for free); a GPU overrides them with one kernel
//! each that evaluates the same expressions in the same order.

use super::elementwise::{BinaryOp, ElementwiseOps, UnaryOp};
use super::shape::ShapeOps;
use super::storage::StorageOps;

/// The scalars of one AdamW step (torch's `AdamW` with `amsgrad=False`), computed on the
/// host once per step and rounded to the buffers' dtype by the backend:
///
/// ```text
/// θ  ← decay·θ                                  (skipped when decay is None)
/// m  ← m + (g − m)·(1 − β₁)
/// v  ← β₂·v + (1 − β₂)·g²
/// θ  ← θ − m / (√v · inv_bias2_sqrt + ε) · step_size
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWScalars {
    /// `1 − lr·weight_decay`, or `None` without weight decay.
    pub decay: Option<f64>,
    /// `β₁`.
    pub beta1: f64,
    /// `β₂`.
    pub beta2: f64,
    /// `1 / √(1 − β₂ᵗ)`.
    pub inv_bias2_sqrt: f64,
    /// `ε`.
    pub eps: f64,
    /// `lr / (1 − β₁ᵗ)`.
    pub step_size: f64,
}

/// The new values of one parameter after an AdamW step.
#[derive(Clone, Debug)]
pub struct AdamWUpdate<S> {
    /// The parameter θ.
    pub theta: S,
    /// The first moment m (`exp_avg`).
    pub exp_avg: S,
    /// The second moment v (`exp_avg_sq`).
    pub exp_avg_sq: S,
}

/// Fused optimizer updates. All buffers of a call have one length and dtype.
///
/// Each update may be gated: `gate` is a one-element buffer on the device whose value
/// decides whether the update is taken (non-zero) or the outputs equal the inputs (0).
/// A trainer computes it on the device from the step's loss and gradients, so that a
/// step with a NaN or infinite gradient is not taken without the host reading anything.
pub trait OptimizerOps: ElementwiseOps + StorageOps + ShapeOps {
    /// One AdamW step of a parameter `theta` with gradient `grad` and moments
    /// `exp_avg`, `exp_avg_sq` ([`AdamWScalars`]), taken where `gate` allows it.
    fn adamw_step(
        theta: &Self::Storage,
        grad: &Self::Storage,
        exp_avg: &Self::Storage,
        exp_avg_sq: &Self::Storage,
        s: &AdamWScalars,
        gate: Option<&Self::Storage>,
    ) -> AdamWUpdate<Self::Storage> {
        adamw_step_reference::<Self>(theta, grad, exp_avg, exp_avg_sq, s, gate)
    }

    /// `avg + (theta − avg)·weight` (torch's `lerp`, the EMA's update), taken where
    /// `gate` allows it (else `avg`).
    fn lerp(
        avg: &Self::Storage,
        theta: &Self::Storage,
        weight: f64,
        gate: Option<&Self::Storage>,
    ) -> Self::Storage {
        lerp_reference::<Self>(avg, theta, weight, gate)
    }
}

/// `new` where the one-element `gate` is non-zero, else `old` (the reference's gating:
/// one broadcast and one select).
fn gated<B: ElementwiseOps + StorageOps + ShapeOps>(
    gate: Option<&B::Storage>,
    new: B::Storage,
    old: &B::Storage,
) -> B::Storage {
    match gate {
        None => new,
        Some(g) => {
            let n = B::storage_len(old);
            B::select(&B::broadcast_to(g, &[1], &[n]), &new, old)
        }
    }
}

/// [`OptimizerOps::adamw_step`] by elementwise ops, one launch each (the reference every
/// fused version is compared with).
pub fn adamw_step_reference<B: ElementwiseOps + StorageOps + ShapeOps>(
    theta: &B::Storage,
    grad: &B::Storage,
    exp_avg: &B::Storage,
    exp_avg_sq: &B::Storage,
    s: &AdamWScalars,
    gate: Option<&B::Storage>,
) -> AdamWUpdate<B::Storage> {
    let (theta0, exp_avg0, exp_avg_sq0) = (theta, exp_avg, exp_avg_sq);
    let unary = |op, x: &B::Storage| B::unary(op, x);
    let binary = |op, a: &B::Storage, b: &B::Storage| binary_same::<B>(op, a, b);
    let theta = match s.decay {
        Some(d) => unary(UnaryOp::MulScalar(d), theta),
        None => theta.clone(),
    };
    let step_m = unary(
        UnaryOp::MulScalar(1.0 - s.beta1),
        &binary(BinaryOp::Sub, grad, exp_avg),
    );
    let exp_avg = binary(BinaryOp::Add, exp_avg, &step_m);
    let g2 = unary(
        UnaryOp::MulScalar(1.0 - s.beta2),
        &unary(UnaryOp::Square, grad),
    );
    let exp_avg_sq = binary(
        BinaryOp::Add,
        &unary(UnaryOp::MulScalar(s.beta2), exp_avg_sq),
        &g2,
    );
    let denom = unary(
        UnaryOp::AddScalar(s.eps),
        &unary(
            UnaryOp::MulScalar(s.inv_bias2_sqrt),
            &unary(UnaryOp::Sqrt, &exp_avg_sq),
        ),
    );
    let step = unary(
        UnaryOp::MulScalar(s.step_size),
        &binary(BinaryOp::Div, &exp_avg, &denom),
    );
    AdamWUpdate {
        theta: gated::<B>(gate, binary(BinaryOp::Sub, &theta, &step), theta0),
        exp_avg: gated::<B>(gate, exp_avg, exp_avg0),
        exp_avg_sq: gated::<B>(gate, exp_avg_sq, exp_avg_sq0),
    }
}

/// [`OptimizerOps::lerp`] by elementwise ops (the reference).
pub fn lerp_reference<B: ElementwiseOps + StorageOps + ShapeOps>(
    avg: &B::Storage,
    theta: &B::Storage,
    weight: f64,
    gate: Option<&B::Storage>,
) -> B::Storage {
    let d = B::unary(
        UnaryOp::MulScalar(weight),
        &binary_same::<B>(BinaryOp::Sub, theta, avg),
    );
    gated::<B>(gate, binary_same::<B>(BinaryOp::Add, avg, &d), avg)
}

/// A binary op of two buffers of one length (no broadcasting).
fn binary_same<B: ElementwiseOps + StorageOps>(
    op: BinaryOp,
    a: &B::Storage,
    b: &B::Storage,
) -> B::Storage {
    let shape = [B::storage_len(a)];
    B::binary(op, a, &shape, b, &shape, &shape)
}
