//! The learning-rate schedule interface the [`Trainer`](crate::Trainer) steps once per
//! epoch on the monitored validation value.

use crate::error::Result;

/// A rule that sets the learning rate from epoch to epoch.
pub trait LrScheduler: std::fmt::Debug + Send {
    /// The name checkpoints record; resuming with a scheduler of another name is refused.
    fn kind(&self) -> &'static str;
    /// Feeds the monitored value of a finished epoch and the current lr; returns the lr
    /// to use from now on.
    fn step(&mut self, metric: f64, lr: f64) -> f64;
    /// The state (settings and counters) as bytes for a checkpoint.
    fn save_state(&self) -> Result<Vec<u8>>;
    /// Restores what [`LrScheduler::save_state`] wrote.
    fn load_state(&mut self, bytes: &[u8]) -> Result<()>;
}
