//! The settings of [`Trainer::fit`](crate::Trainer::fit) ([`FitConfig`],
//! [`NonFinitePolicy`]) and what it reports ([`Progress`], [`FitSummary`]).

use std::path::PathBuf;

use crate::checkpoint::EpochRecord;
use crate::early_stopping::StopReason;
use crate::manager::MetricValues;

/// Settings of [`Trainer::fit`](crate::Trainer::fit).
#[derive(Clone, Debug, PartialEq)]
pub struct FitConfig {
    /// Epochs in total (a resumed run continues up to this).
    pub max_epochs: u64,
    /// Training frames per batch.
    pub batch_size: usize,
    /// Validation frames per batch.
    pub val_batch_size: usize,
    /// Reshuffle the training frames every epoch (torch `DataLoader(shuffle=True)`).
    pub shuffle: bool,
    /// Seed of the shuffles.
    pub seed: u64,
    /// Validation value that drives the scheduler, early stopping and `best.ckpt`
    /// (default `weighted_sum`).
    pub monitor: String,
    /// Directory for `best.ckpt`, `last.ckpt` and `metrics.csv` (none: write nothing).
    pub out_dir: Option<PathBuf>,
    /// Loader threads that build batches ahead of the step (torch's `num_workers`; 0:
    /// each batch is built on the training thread when it is needed). The batches are
    /// the same either way.
    pub loader_threads: usize,
    /// What a batch whose loss or gradient norm is NaN or infinite does to the run.
    pub non_finite: NonFinitePolicy,
    /// Steps (and validation batches) whose numbers are read back from the device at
    /// once (Lightning's `log_every_n_steps`, default 50): a step itself never waits for
    /// the device; [`Progress::Batch`] comes for these steps together, and a
    /// non-finite step is found and named at the next read. With
    /// [`NonFinitePolicy::SkipBatch`] and on several ranks every step is read at once.
    pub settle_every: usize,
}

/// What [`Trainer::fit`](crate::Trainer::fit) does with a batch whose loss or gradient
/// norm is not finite. Either way the step is not taken, and no checkpoint is written
/// with weights that are not finite.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NonFinitePolicy {
    /// Stop the run with [`Error::NonFinite`](crate::Error::NonFinite), naming the epoch,
    /// the batch and its frames; `last.ckpt` stays the last epoch's.
    #[default]
    Stop,
    /// Skip the batch (its errors are left out of the epoch's metrics), report it through
    /// [`Progress::SkippedBatch`], and go on.
    SkipBatch,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            max_epochs: 1,
            batch_size: 8,
            val_batch_size: 8,
            shuffle: true,
            seed: 0,
            monitor: "weighted_sum".into(),
            out_dir: None,
            loader_threads: 0,
            non_finite: NonFinitePolicy::Stop,
            settle_every: 50,
        }
    }
}

/// What [`Trainer::fit`](crate::Trainer::fit) reports while it runs.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A training batch is done.
    Batch {
        /// Epoch index.
        epoch: u64,
        /// Batch index in the epoch.
        batch: usize,
        /// Batches in the epoch.
        n_batches: usize,
        /// The batch's loss metrics (`weighted_sum` is the loss).
        values: &'a MetricValues,
    },
    /// A batch was skipped ([`NonFinitePolicy::SkipBatch`]).
    SkippedBatch {
        /// Epoch index.
        epoch: u64,
        /// Batch index in the epoch.
        batch: usize,
        /// Why, with the batch's frames (the message of
        /// [`Error::NonFinite`](crate::Error::NonFinite)).
        reason: String,
    },
    /// Validation is about to start.
    Validating {
        /// Epoch index.
        epoch: u64,
    },
    /// An epoch is done (and checkpoints are written).
    Epoch(&'a EpochRecord),
}

/// How a [`Trainer::fit`](crate::Trainer::fit) call ended.
#[derive(Clone, Debug, PartialEq)]
pub struct FitSummary {
    /// Epochs finished in total (including those before a resume).
    pub epochs: u64,
    /// Why it stopped before `max_epochs`, if it did.
    pub stopped_early: Option<StopReason>,
    /// Best monitored value.
    pub best_metric: Option<f64>,
}
