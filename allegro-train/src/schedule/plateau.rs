//! `ReduceLROnPlateau` as `torch.optim.lr_scheduler.ReduceLROnPlateau` (mode `min`).
//!
//! Each [`step`](ReduceLROnPlateau::step) with a monitored value `x`:
//!
//! ```text
//! better  = x < best·(1 − threshold)      (threshold_mode rel)
//!         | x < best − threshold          (threshold_mode abs)
//! if better { best = x; bad = 0 } else { bad += 1 }
//! if cooldown_counter > 0 { cooldown_counter −= 1; bad = 0 }
//! if bad > patience {
//!     new = max(lr·factor, min_lr); if lr − new > eps { lr = new }
//!     cooldown_counter = cooldown; bad = 0
//! }
//! ```
//!
//! `best` starts at +∞; a NaN value is never better.

use serde::{Deserialize, Serialize};

use crate::error::{Result, config_error};
use crate::part_state::{decode_state, encode_state};
use crate::schedule::LrScheduler;

/// How `threshold` compares a value with the best so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdMode {
    /// Better when `x < best·(1 − threshold)`.
    Rel,
    /// Better when `x < best − threshold`.
    Abs,
}

/// Settings of [`ReduceLROnPlateau`]; defaults are torch's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlateauConfig {
    /// Factor the lr is multiplied by (default 0.1).
    pub factor: f64,
    /// Epochs without improvement tolerated (default 10).
    pub patience: u64,
    /// Minimal improvement (default 1e-4).
    pub threshold: f64,
    /// How `threshold` applies (default rel).
    pub threshold_mode: ThresholdMode,
    /// Epochs to wait after a reduction before counting again (default 0).
    pub cooldown: u64,
    /// Lower bound of the lr (default 0).
    pub min_lr: f64,
    /// Reductions smaller than this are skipped (default 1e-8).
    pub eps: f64,
}

impl Default for PlateauConfig {
    fn default() -> Self {
        PlateauConfig {
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
        }
    }
}

/// The scheduler: its settings and counters (all of it serialisable).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReduceLROnPlateau {
    /// Settings.
    pub config: PlateauConfig,
    /// Best value so far (+∞ before the first step).
    pub best: f64,
    /// Consecutive steps without improvement.
    pub num_bad_epochs: u64,
    /// Steps left in the cooldown.
    pub cooldown_counter: u64,
    /// Steps taken.
    pub last_epoch: u64,
}

impl ReduceLROnPlateau {
    /// A scheduler with `config` (checked as torch checks it).
    pub fn new(config: PlateauConfig) -> Result<Self> {
        if !(config.factor < 1.0 && config.factor >= 0.0) {
            return Err(config_error(
                "lr_scheduler.factor",
                format!("{} must be in [0, 1)", config.factor),
            ));
        }
        if config.min_lr.is_nan() || config.min_lr < 0.0 {
            return Err(config_error(
                "lr_scheduler.min_lr",
                format!("{} must be ≥ 0", config.min_lr),
            ));
        }
        Ok(ReduceLROnPlateau {
            config,
            best: f64::INFINITY,
            num_bad_epochs: 0,
            cooldown_counter: 0,
            last_epoch: 0,
        })
    }

    fn is_better(&self, x: f64) -> bool {
        let c = &self.config;
        match c.threshold_mode {
            ThresholdMode::Rel => x < self.best * (1.0 - c.threshold),
            ThresholdMode::Abs => x < self.best - c.threshold,
        }
    }

    /// Feeds the monitored value of an epoch; returns the lr to use from now on.
    pub fn step(&mut self, metric: f64, lr: f64) -> f64 {
        self.last_epoch += 1;
        if self.is_better(metric) {
            self.best = metric;
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        let mut lr = lr;
        if self.num_bad_epochs > self.config.patience {
            let new = (lr * self.config.factor).max(self.config.min_lr);
            if lr - new > self.config.eps {
                lr = new;
            }
            self.cooldown_counter = self.config.cooldown;
            self.num_bad_epochs = 0;
        }
        lr
    }
}

/// The name plateau states carry in checkpoints.
pub const KIND: &str = "ReduceLROnPlateau";

impl LrScheduler for ReduceLROnPlateau {
    fn kind(&self) -> &'static str {
        KIND
    }
    fn step(&mut self, metric: f64, lr: f64) -> f64 {
        ReduceLROnPlateau::step(self, metric, lr)
    }
    fn save_state(&self) -> Result<Vec<u8>> {
        encode_state("the plateau scheduler state", self)
    }
    fn load_state(&mut self, bytes: &[u8]) -> Result<()> {
        *self = decode_state("the plateau scheduler state", bytes)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patience_threshold_cooldown_min_lr_by_hand() {
        let mut s = ReduceLROnPlateau::new(PlateauConfig {
            factor: 0.5,
            patience: 2,
            threshold: 0.1,
            cooldown: 1,
            min_lr: 0.3,
            ..Default::default()
        })
        .unwrap();
        let mut lr = 1.0;
        // 10 sets best; 9.5 is not < 10·0.9 = 9: bad 1, 2; third bad (> patience 2)
        // halves lr, starts a cooldown of 1.
        for (x, want_lr, want_bad) in [
            (10.0, 1.0, 0),
            (9.5, 1.0, 1),
            (9.1, 1.0, 2),
            (9.05, 0.5, 0),
            // Cooldown step: bad is reset after counting.
            (9.5, 0.5, 0),
            (9.5, 0.5, 1),
            (9.5, 0.5, 2),
            // 0.5·0.5 = 0.25 < min_lr 0.3 → 0.3.
            (9.5, 0.3, 0),
            // Improvement: 8 < 10·0.9.
            (8.0, 0.3, 0),
        ] {
            lr = s.step(x, lr);
            assert_eq!((lr, s.num_bad_epochs), (want_lr, want_bad), "at {x}");
        }
        assert_eq!(s.best, 8.0);
        // At min_lr nothing changes any more (0.3 − 0.3 ≤ eps).
        for _ in 0..5 {
            lr = s.step(100.0, lr);
        }
        assert_eq!(lr, 0.3);
        let back: ReduceLROnPlateau =
            postcard::from_bytes(&postcard::to_stdvec(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn abs_mode_and_nan() {
        let mut s = ReduceLROnPlateau::new(PlateauConfig {
            patience: 0,
            threshold: 1.0,
            threshold_mode: ThresholdMode::Abs,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.step(5.0, 1.0), 1.0);
        // 4.5 is not < 5 − 1: bad 1 > patience 0 → lr·0.1.
        assert!((s.step(4.5, 1.0) - 0.1).abs() < 1e-16);
        assert!((s.step(f64::NAN, 0.1) - 0.01).abs() < 1e-17);
        assert!(
            ReduceLROnPlateau::new(PlateauConfig {
                factor: 1.0,
                ..Default::default()
            })
            .is_err()
        );
    }
}
