//! Early stopping as Lightning's `EarlyStopping` callback (mode `min`), which nequip
//! configs use, plus nequip ≤ 0.6's lower bound on the learning rate.
//!
//! Each epoch, with monitored value x and learning rate lr, the first rule that applies:
//!
//! ```text
//! check_finite and x not finite        → stop
//! stopping_threshold = s and x < s     → stop (good enough)
//! divergence_threshold = d and x > d   → stop (diverged)
//! lr_lower_bound = b and lr < b        → stop (nequip's early_stopping_lower_bounds: LR)
//! x + min_delta < best                 → best = x, wait = 0
//! otherwise                            → wait += 1; stop when wait ≥ patience
//! ```

use serde::{Deserialize, Serialize};

/// Settings of [`EarlyStopping`]; defaults are Lightning's (`patience` 3).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EarlyStoppingConfig {
    /// Least decrease counted as an improvement (default 0).
    pub min_delta: f64,
    /// Epochs without improvement before stopping (default 3).
    pub patience: u64,
    /// Stop when the value is not finite (default true).
    pub check_finite: bool,
    /// Stop once the value is below this.
    pub stopping_threshold: Option<f64>,
    /// Stop once the value is above this.
    pub divergence_threshold: Option<f64>,
    /// Stop once the learning rate is below this.
    pub lr_lower_bound: Option<f64>,
}

impl Default for EarlyStoppingConfig {
    fn default() -> Self {
        EarlyStoppingConfig {
            min_delta: 0.0,
            patience: 3,
            check_finite: true,
            stopping_threshold: None,
            divergence_threshold: None,
            lr_lower_bound: None,
        }
    }
}

/// Why training stopped early.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StopReason {
    /// The value was NaN or infinite.
    NotFinite(f64),
    /// The value went below `stopping_threshold`.
    Threshold(f64),
    /// The value went above `divergence_threshold`.
    Diverged(f64),
    /// The learning rate went below `lr_lower_bound`.
    LrLowerBound(f64),
    /// No improvement for `patience` epochs; the best value.
    Patience(f64),
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::NotFinite(x) => write!(f, "monitored value is {x}"),
            StopReason::Threshold(x) => {
                write!(f, "monitored value {x} reached the stopping threshold")
            }
            StopReason::Diverged(x) => {
                write!(f, "monitored value {x} passed the divergence threshold")
            }
            StopReason::LrLowerBound(lr) => {
                write!(f, "learning rate {lr} fell below its lower bound")
            }
            StopReason::Patience(best) => write!(
                f,
                "no improvement on the best value {best} for `patience` epochs"
            ),
        }
    }
}

/// Early stopping state: settings, best value and epochs waited (serialisable).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Settings.
    pub config: EarlyStoppingConfig,
    /// Best value so far (+∞ at first).
    pub best: f64,
    /// Epochs since the last improvement.
    pub wait: u64,
}

impl EarlyStopping {
    /// A fresh state.
    pub fn new(config: EarlyStoppingConfig) -> Self {
        EarlyStopping {
            config,
            best: f64::INFINITY,
            wait: 0,
        }
    }

    /// Feeds an epoch's monitored value and learning rate; `Some` means stop.
    pub fn check(&mut self, value: f64, lr: f64) -> Option<StopReason> {
        let c = &self.config;
        if c.check_finite && !value.is_finite() {
            return Some(StopReason::NotFinite(value));
        }
        if let Some(s) = c.stopping_threshold
            && value < s
        {
            return Some(StopReason::Threshold(value));
        }
        if let Some(d) = c.divergence_threshold
            && value > d
        {
            return Some(StopReason::Diverged(value));
        }
        if let Some(b) = c.lr_lower_bound
            && lr < b
        {
            return Some(StopReason::LrLowerBound(lr));
        }
        if value + c.min_delta.abs() < self.best {
            self.best = value;
            self.wait = 0;
            None
        } else {
            self.wait += 1;
            (self.wait >= c.patience).then_some(StopReason::Patience(self.best))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_by_hand() {
        let mut s = EarlyStopping::new(EarlyStoppingConfig {
            min_delta: 0.1,
            patience: 2,
            ..Default::default()
        });
        assert_eq!(s.check(1.0, 1.0), None);
        assert_eq!(s.check(0.95, 1.0), None); // not 0.1 better: wait 1
        assert_eq!(s.wait, 1);
        assert_eq!(s.check(0.85, 1.0), None); // 0.85 + 0.1 < 1: improvement
        assert_eq!((s.best, s.wait), (0.85, 0));
        assert_eq!(s.check(0.9, 1.0), None);
        assert_eq!(s.check(0.9, 1.0), Some(StopReason::Patience(0.85)));
        let mut s = EarlyStopping::new(EarlyStoppingConfig {
            stopping_threshold: Some(0.1),
            divergence_threshold: Some(10.0),
            lr_lower_bound: Some(1e-5),
            ..Default::default()
        });
        assert!(matches!(s.check(f64::NAN, 1.0), Some(StopReason::NotFinite(x)) if x.is_nan()));
        assert_eq!(s.check(0.05, 1.0), Some(StopReason::Threshold(0.05)));
        assert_eq!(s.check(11.0, 1.0), Some(StopReason::Diverged(11.0)));
        assert_eq!(s.check(1.0, 1e-6), Some(StopReason::LrLowerBound(1e-6)));
        assert_eq!(s.check(1.0, 1e-3), None);
    }
}
