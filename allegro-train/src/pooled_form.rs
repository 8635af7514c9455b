//! [`PooledForm`]: how a loss term is a function of pooled sums of its errors, which is
//! what lets [`shard_loss`](crate::shard_loss) split a batch across ranks exactly.

use allegro_core::{Backend, Tensor};

/// How a loss term depends on pooled sums of its errors: `f(Σ φ(e), n)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PooledForm {
    /// `Σe² / n` (MSE).
    MeanSquare,
    /// `√(Σe² / n)` (RMSE).
    RootMeanSquare,
    /// `Σ|e| / n` (MAE).
    MeanAbs,
}

impl PooledForm {
    /// φ of a tensor of errors, summed: `Σ φ(e)` as a scalar tensor.
    pub(crate) fn local_sum<B: Backend>(self, errors: &Tensor<B>) -> Tensor<B> {
        match self {
            PooledForm::MeanSquare | PooledForm::RootMeanSquare => errors.square().sum_all(),
            PooledForm::MeanAbs => errors.abs().sum_all(),
        }
    }

    /// φ of host errors, summed.
    pub(crate) fn host_sum(self, errors: &[f64]) -> f64 {
        match self {
            PooledForm::MeanSquare | PooledForm::RootMeanSquare => {
                errors.iter().map(|e| e * e).sum()
            }
            PooledForm::MeanAbs => errors.iter().map(|e| e.abs()).sum(),
        }
    }

    /// `f(S, n)`.
    pub(crate) fn value(self, s: f64, n: f64) -> f64 {
        match self {
            PooledForm::MeanSquare | PooledForm::MeanAbs => s / n,
            PooledForm::RootMeanSquare => (s / n).sqrt(),
        }
    }

    /// `∂f/∂S` at `(S, n)`.
    pub(crate) fn derivative(self, s: f64, n: f64) -> f64 {
        match self {
            PooledForm::MeanSquare | PooledForm::MeanAbs => 1.0 / n,
            // d/dS √(S/n) = 1 / (2 √(S n)); at S = 0 the RMSE's gradient is 0/0: take 0,
            // as a batch with no error has nothing to move.
            PooledForm::RootMeanSquare if s > 0.0 => 0.5 / (s * n).sqrt(),
            PooledForm::RootMeanSquare => 0.0,
        }
    }
}
