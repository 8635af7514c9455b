//! Error metrics: MSE, RMSE, MAE and maximum absolute error, on tensors (differentiable,
//! for losses) and on host values accumulated over an epoch (for monitoring).
//!
//! A metric reduces the errors `e_k = pred_k − target_k` of one field to a number. Over an
//! epoch the errors of all batches are pooled in an [`ErrorStats`] (count, `Σe²`, `Σ|e|`,
//! `max|e|`), so the epoch RMSE is `√(Σ_all e² / n_all)`, not the mean of batch RMSEs
//! (nequip's `_MeanX` accumulators do the same).

use allegro_core::{Backend, Indices, Tensor};
use serde::{Deserialize, Serialize};

use crate::pooled_form::PooledForm;

/// Sufficient statistics of a set of errors: enough for every built-in metric.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorStats {
    /// Number of errors.
    pub count: u64,
    /// `Σ e²`.
    pub sum_sq: f64,
    /// `Σ |e|`.
    pub sum_abs: f64,
    /// `max |e|` (0 when empty).
    pub max_abs: f64,
}

impl ErrorStats {
    /// Statistics of `errors`.
    pub fn of(errors: &[f64]) -> Self {
        let mut s = ErrorStats::default();
        s.extend(errors);
        s
    }

    /// Adds one error.
    pub fn push(&mut self, e: f64) {
        self.count += 1;
        self.sum_sq += e * e;
        self.sum_abs += e.abs();
        // NaN errors must show, not vanish in `max`.
        if e.abs() > self.max_abs || e.is_nan() {
            self.max_abs = e.abs();
        }
    }

    /// Adds every error of `errors`.
    pub fn extend(&mut self, errors: &[f64]) {
        for &e in errors {
            self.push(e);
        }
    }

    /// Pools two sets of statistics.
    pub fn merge(&mut self, other: &ErrorStats) {
        self.count += other.count;
        self.sum_sq += other.sum_sq;
        self.sum_abs += other.sum_abs;
        if other.max_abs > self.max_abs || other.max_abs.is_nan() {
            self.max_abs = other.max_abs;
        }
    }

    /// Whether no error was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// A reduction of errors to one number, computed from pooled [`ErrorStats`].
pub trait Metric: std::fmt::Debug + Send + Sync {
    /// Short name used in metric names (`"mse"`, `"rmse"`, `"mae"`, `"maxabserr"`).
    fn name(&self) -> &str;

    /// The metric of pooled errors; NaN when `stats` is empty.
    fn compute(&self, stats: &ErrorStats) -> f64;

    /// The metric of a set of host errors.
    fn evaluate(&self, errors: &[f64]) -> f64 {
        self.compute(&ErrorStats::of(errors))
    }
}

/// A metric that is also a differentiable function of the errors, so it can be a loss term.
pub trait Loss<B: Backend>: Metric {
    /// The metric of a 1-D tensor of errors as a scalar tensor `[]`, differentiable with
    /// respect to whatever the errors track. `errors` is never empty.
    fn loss(&self, errors: &Tensor<B>) -> Tensor<B>;

    /// The metric as a function of pooled sums of its errors, when it is one: what makes
    /// a batch split across data-parallel ranks differentiate exactly
    /// ([`crate::shard_loss`]). `None` (the default) keeps the term out of data-parallel
    /// training.
    fn pooled_form(&self) -> Option<PooledForm> {
        None
    }
}

/// Mean squared error `Σe²/n`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mse;

/// Root mean squared error `√(Σe²/n)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rmse;

/// Mean absolute error `Σ|e|/n`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mae;

/// Maximum absolute error `max|e|` (its gradient flows to the largest error only).
#[derive(Clone, Copy, Debug, Default)]
pub struct MaxAbs;

fn mean(sum: f64, count: u64) -> f64 {
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

impl Metric for Mse {
    fn name(&self) -> &str {
        "mse"
    }
    fn compute(&self, s: &ErrorStats) -> f64 {
        mean(s.sum_sq, s.count)
    }
}

impl Metric for Rmse {
    fn name(&self) -> &str {
        "rmse"
    }
    fn compute(&self, s: &ErrorStats) -> f64 {
        mean(s.sum_sq, s.count).sqrt()
    }
}

impl Metric for Mae {
    fn name(&self) -> &str {
        "mae"
    }
    fn compute(&self, s: &ErrorStats) -> f64 {
        mean(s.sum_abs, s.count)
    }
}

impl Metric for MaxAbs {
    fn name(&self) -> &str {
        "maxabserr"
    }
    fn compute(&self, s: &ErrorStats) -> f64 {
        if s.count == 0 { f64::NAN } else { s.max_abs }
    }
}

impl<B: Backend> Loss<B> for Mse {
    fn loss(&self, errors: &Tensor<B>) -> Tensor<B> {
        errors.square().mean_all()
    }
    fn pooled_form(&self) -> Option<PooledForm> {
        Some(PooledForm::MeanSquare)
    }
}

impl<B: Backend> Loss<B> for Rmse {
    fn loss(&self, errors: &Tensor<B>) -> Tensor<B> {
        errors.square().mean_all().sqrt()
    }
    fn pooled_form(&self) -> Option<PooledForm> {
        Some(PooledForm::RootMeanSquare)
    }
}

impl<B: Backend> Loss<B> for Mae {
    fn loss(&self, errors: &Tensor<B>) -> Tensor<B> {
        errors.abs().mean_all()
    }
    fn pooled_form(&self) -> Option<PooledForm> {
        Some(PooledForm::MeanAbs)
    }
}

impl<B: Backend> Loss<B> for MaxAbs {
    fn loss(&self, errors: &Tensor<B>) -> Tensor<B> {
        let host = errors.to_vec_f64();
        let k = host
            .iter()
            .enumerate()
            .fold((0, -1.0f64), |(bk, bv), (k, v)| {
                if v.abs() > bv || v.is_nan() {
                    (k, v.abs())
                } else {
                    (bk, bv)
                }
            })
            .0;
        let idx = Indices::new(&[k as u32], &errors.device());
        errors.index_select(0, &idx).abs().sum_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allegro_core::backend::cpu::{Cpu, CpuDevice};
    use allegro_core::{DType, grad};

    const E: [f64; 4] = [0.5, -2.0, 1.5, 0.0];

    fn t(v: &[f64]) -> Tensor<Cpu> {
        Tensor::from_f64(v, &[v.len()], DType::F64, &CpuDevice).unwrap()
    }

    #[test]
    fn host_values_by_hand() {
        // Σe² = 0.25 + 4 + 2.25 + 0 = 6.5; Σ|e| = 4; max = 2.
        assert_eq!(Mse.evaluate(&E), 6.5 / 4.0);
        assert_eq!(Rmse.evaluate(&E), (6.5f64 / 4.0).sqrt());
        assert_eq!(Mae.evaluate(&E), 1.0);
        assert_eq!(MaxAbs.evaluate(&E), 2.0);
        assert!(Mse.evaluate(&[]).is_nan() && MaxAbs.evaluate(&[]).is_nan());
    }

    #[test]
    fn pooled_rmse_is_not_the_mean_of_batch_rmses() {
        let (a, b) = ([3.0], [0.0, 0.0, 0.0]);
        let mut s = ErrorStats::of(&a);
        s.merge(&ErrorStats::of(&b));
        assert_eq!(Rmse.compute(&s), (9.0f64 / 4.0).sqrt());
        assert_eq!(s, ErrorStats::of(&[3.0, 0.0, 0.0, 0.0]));
    }

    #[test]
    fn tensor_values_match_host_and_gradients_by_hand() {
        let metrics: [Box<dyn Loss<Cpu>>; 4] = [
            Box::new(Mse),
            Box::new(Rmse),
            Box::new(Mae),
            Box::new(MaxAbs),
        ];
        let n = E.len() as f64;
        let rmse = (6.5f64 / 4.0).sqrt();
        // d/de_k of each metric, written out.
        let expected: [Vec<f64>; 4] = [
            E.iter().map(|e| 2.0 * e / n).collect(),
            E.iter().map(|e| e / (n * rmse)).collect(),
            E.iter()
                .map(|e| e.signum() * (*e != 0.0) as u8 as f64 / n)
                .collect(),
            vec![0.0, -1.0, 0.0, 0.0],
        ];
        for (m, want) in metrics.iter().zip(expected) {
            let x = t(&E).tracked();
            let v = m.loss(&x);
            assert!((v.item() - m.evaluate(&E)).abs() < 1e-15, "{}", m.name());
            let g = grad(&[&v], None, &[&x], false).remove(0).to_vec_f64();
            for (a, b) in g.iter().zip(&want) {
                assert!((a - b).abs() < 1e-15, "{}: {g:?} vs {want:?}", m.name());
            }
        }
    }
}
