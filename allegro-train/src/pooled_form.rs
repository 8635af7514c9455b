//! [`PooledForm`]: how a loss term is a function of pooled sums of its errors, which is
//! what lets [`shard_loss`](crate::shard_loss) split a batch across ranks exactly.
//!
//! A term is `m = f(S_1, …, S_K, n)` with `S_k = Σ φ_k(e)` over its errors (φ one of the
//! [`ErrorMap`]s). MSE, RMSE and MAE are built in (`K = 1`); a loss of one's own opens
//! the form with [`PooledForm::custom`] and a [`PooledMetric`] (e.g. a mix of squared
//! and absolute errors: `K = 2`), and then trains data-parallel like a built-in one.

use std::sync::Arc;

use allegro_core::{Backend, Tensor};

/// An elementwise map `φ` of the errors whose sum a pooled metric reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorMap {
    /// `e²`.
    Square,
    /// `|e|`.
    Abs,
}

impl ErrorMap {
    /// `Σ φ(e)` of a tensor of errors, as a scalar tensor.
    pub(crate) fn local_sum<B: Backend>(self, errors: &Tensor<B>) -> Tensor<B> {
        match self {
            ErrorMap::Square => errors.square().sum_all(),
            ErrorMap::Abs => errors.abs().sum_all(),
        }
    }

    /// `Σ φ(e)` of host errors.
    pub(crate) fn host_sum(self, errors: &[f64]) -> f64 {
        match self {
            ErrorMap::Square => errors.iter().map(|e| e * e).sum(),
            ErrorMap::Abs => errors.iter().map(|e| e.abs()).sum(),
        }
    }
}

/// A metric as a function of pooled sums, `f(S_1, …, S_K, n)`, with its gradient.
pub trait PooledMetric: std::fmt::Debug + Send + Sync {
    /// The maps `φ_k` whose sums `S_k` the metric reads, in order.
    fn maps(&self) -> Vec<ErrorMap>;
    /// `f(S, n)`; `sums` has one entry per map, `n > 0`.
    fn value(&self, sums: &[f64], n: f64) -> f64;
    /// `∂f/∂S_k` at `(S, n)`, one per map.
    fn gradient(&self, sums: &[f64], n: f64) -> Vec<f64>;
}

/// How a loss term depends on pooled sums of its errors.
#[derive(Clone, Debug)]
pub enum PooledForm {
    /// `Σe² / n` (MSE).
    MeanSquare,
    /// `√(Σe² / n)` (RMSE).
    RootMeanSquare,
    /// `Σ|e| / n` (MAE).
    MeanAbs,
    /// A form of one's own.
    Custom(Arc<dyn PooledMetric>),
}

impl PooledForm {
    /// The form of a [`PooledMetric`].
    pub fn custom(metric: impl PooledMetric + 'static) -> Self {
        PooledForm::Custom(Arc::new(metric))
    }

    /// The maps whose sums the form reads.
    pub fn maps(&self) -> Vec<ErrorMap> {
        match self {
            PooledForm::MeanSquare | PooledForm::RootMeanSquare => vec![ErrorMap::Square],
            PooledForm::MeanAbs => vec![ErrorMap::Abs],
            PooledForm::Custom(m) => m.maps(),
        }
    }

    /// `f(S, n)`.
    pub fn value(&self, sums: &[f64], n: f64) -> f64 {
        match self {
            PooledForm::MeanSquare | PooledForm::MeanAbs => sums[0] / n,
            PooledForm::RootMeanSquare => (sums[0] / n).sqrt(),
            PooledForm::Custom(m) => m.value(sums, n),
        }
    }

    /// `∂f/∂S_k` at `(S, n)`.
    pub fn gradient(&self, sums: &[f64], n: f64) -> Vec<f64> {
        match self {
            PooledForm::MeanSquare | PooledForm::MeanAbs => vec![1.0 / n],
            // d/dS √(S/n) = 1 / (2 √(S n)); at S = 0 the RMSE's gradient is 0/0: take 0,
            // as a batch with no error has nothing to move.
            PooledForm::RootMeanSquare if sums[0] > 0.0 => vec![0.5 / (sums[0] * n).sqrt()],
            PooledForm::RootMeanSquare => vec![0.0],
            PooledForm::Custom(m) => m.gradient(sums, n),
        }
    }
}
