//! # allegro-train
//!
//! Everything about fitting an Allegro model, as parts a training loop is made of
//! (nequip 0.19.1 semantics, docs/model.md §11):
//!
//! - [`metrics`]: [`Metric`] and [`Loss`] traits; MSE, RMSE, MAE, max-abs.
//! - [`field`]: which output is compared with which label; the per-atom modifier.
//! - [`MetricsManager`]: named metrics with normalised coefficients whose weighted sum
//!   is the loss (a tensor) or the monitored validation value (pooled over an epoch);
//!   [`loss`] has nequip's ready-made managers.
//! - [`gradients`] of a loss by parameter name, [`clip`]ping by global norm or value.
//! - [`AdamW`] (torch semantics), [`ReduceLROnPlateau`], [`Ema`] of the weights,
//!   [`EarlyStopping`].
//! - [`Checkpoint`]: the whole training state, written atomically.
//! - [`Trainer`]: the seed's loop (train, validate with EMA weights, schedule, checkpoint,
//!   stop early, resume), built from the parts above.
//! - [`run`]: a whole run from the short YAML config (data → model → trainer → model
//!   file and test errors); [`nequip_train`] runs nequip's own configs.
pub mod checkpoint;
pub mod clip;
pub mod comm;
pub mod compile;
pub mod early_stopping;
pub mod ema;
pub mod error;
pub mod field;
pub mod grads;
pub mod loss;
pub mod manager;
pub mod metrics;
pub mod nequip_config;
pub mod nequip_eval;
pub mod nequip_train;
pub mod optim;
pub mod run;
pub mod schedule;
pub mod shard_loss;
pub mod trainer;

pub use checkpoint::{
    Checkpoint, EpochRecord, ParamRecord, params_from_records, params_to_records, write_atomic,
};
pub use clip::{GradClip, clip_grad_norm, clip_grad_value, global_norm};
#[cfg(feature = "mpi")]
pub use comm::MpiCommunicator;
pub use comm::{Communicator, SingleProcess, ThreadGroup};
pub use early_stopping::{EarlyStopping, EarlyStoppingConfig, StopReason};
pub use ema::{Ema, EmaState};
pub use error::{Error, Result};
pub use field::Field;
pub use grads::{Gradients, gradients};
pub use loss::{LossCoeffs, energy_force_loss, energy_force_metrics};
pub use manager::{BatchMetrics, EpochMetrics, MetricEntry, MetricValues, MetricsManager};
pub use metrics::{ErrorStats, Loss, Mae, MaxAbs, Metric, Mse, Rmse};
pub use optim::{AdamW, AdamWConfig, AdamWState};
pub use schedule::{PlateauConfig, ReduceLROnPlateau, ThresholdMode};
pub use shard_loss::{PooledForm, ShardSums};
pub use trainer::{FitConfig, FitSummary, Progress, Trainer, epoch_order, metrics_csv};
