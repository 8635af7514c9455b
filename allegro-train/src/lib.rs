//! # allegro-train
//!
//! Fitting Allegro models (nequip 0.19.1 semantics, docs/model.md §11): the parts of a
//! training loop, a [`Trainer`] made of them, and whole runs from a config file.
//!
//! ## Types you meet first
//!
//! - [`MetricsManager`]: named [`MetricEntry`]s (a [`Field`] and a [`Metric`] or [`Loss`]:
//!   [`Mse`], [`Rmse`], [`Mae`], [`MaxAbs`]) with normalised coefficients, whose weighted
//!   sum is the loss (a tensor) or the monitored validation value (pooled over an epoch);
//!   [`energy_force_loss`] and [`energy_force_metrics`] build nequip's ready-made ones.
//! - [`Trainer`]: model, weights, [`AdamW`] (torch semantics) and optionally
//!   [`ReduceLROnPlateau`], an [`Ema`] of the weights, [`GradClip`] and [`EarlyStopping`];
//!   [`Trainer::fit`] runs epochs as a [`FitConfig`] says, reports [`Progress`] and writes
//!   [`Checkpoint`]s (atomically; a resumed run repeats the uninterrupted one).
//!
//! ## How the pieces fit
//!
//! A step ([`Trainer::train_step`]): tracked weights, outputs with `create_graph`, the
//! loss manager's weighted sum, [`gradients`] by parameter name, optional [`clip`]ping,
//! an AdamW step, an EMA update. [`Trainer::fit`] adds seeded epoch orders over a
//! [`GraphSource`](allegro_data::GraphSource), validation with the EMA weights, the
//! scheduler, checkpoints, `metrics.csv` and early stopping; [`Trainer::fit_on`] runs it
//! as one rank of a data-parallel run over a [`Communicator`] ([`SingleProcess`],
//! [`ThreadGroup`], MPI with feature `mpi`), [`shard_loss`] keeping the loss exact. Above
//! the trainer, [`run`] does a whole run from the short YAML config (data → model →
//! trainer → model file and test errors); nequip's own configs, and compiling a
//! checkpoint into a `.allegro` file, are the crate `allegro-nequip`'s.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use allegro_core::backend::cpu::{Cpu, CpuDevice};
//! use allegro_data::{GraphSource, InMemoryDataset, NeighborOptions, TypeMapper};
//! use allegro_nn::{AllegroConfig, AllegroModel, ModelFile};
//! use allegro_train::{AdamW, AdamWConfig, FitConfig, LossCoeffs, Trainer};
//! use allegro_train::{energy_force_loss, energy_force_metrics};
//!
//! let mapper = TypeMapper::new(&["H", "O"])?;
//! let data = InMemoryDataset::from_extxyz("water.xyz", &Default::default())?
//!     .to_graphs(&mapper, &NeighborOptions::new(4.0))?;
//! let (train, val): (Vec<usize>, Vec<usize>) = ((0..90).collect(), (90..data.len()).collect());
//! let stats = data.statistics(Some(&train))?; // normalisation from the training frames
//! let config = AllegroConfig::from_json(&serde_json::json!({
//!     "type_names": ["H", "O"], "r_max": 4.0, "l_max": 1,
//!     "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed"},
//!     "avg_num_neighbors": stats.avg_num_neighbors,
//! }).to_string())?;
//! let model = AllegroModel::new(&config)?;
//! let names = &config.type_names;
//! let loss = energy_force_loss::<Cpu>(LossCoeffs::default(), true, names, vec![])?;
//! let metrics = energy_force_metrics::<Cpu>(&[("forces_rmse", 1.0)], false, names, vec![])?;
//! let params = model.init_parameters::<Cpu>(&CpuDevice);
//! let opt = AdamW::new(AdamWConfig { lr: 0.01, ..Default::default() })?;
//! let mut trainer = Trainer::new(model, params, opt, loss, metrics, CpuDevice)?.with_ema(0.99)?;
//! let fit = FitConfig { max_epochs: 10, batch_size: 5, ..Default::default() };
//! trainer.fit(&data, &train, &data, &val, &fit, &mut |_| {})?;
//! ModelFile::from_model(&trainer.model, trainer.eval_params(), Default::default())?
//!     .save("water.allegro")?;
//! # Ok(()) }
//! ```
pub mod checkpoint;
pub mod clip;
pub mod comm;
#[cfg(feature = "nccl")]
pub mod comm_nccl;
pub mod early_stopping;
pub mod ema;
pub mod error;
pub mod field;
mod fit_config;
pub mod grads;
pub mod loss;
pub mod manager;
pub mod metrics;
mod metrics_csv;
pub mod optim;
mod part_state;
mod pending;
mod pooled_form;
pub mod run;
pub mod schedule;
pub mod shard_loss;
mod step_check;
pub mod trainer;

pub use checkpoint::{
    Checkpoint, EpochRecord, ParamRecord, StateRecord, decode_state, encode_state,
    params_from_records, params_to_records, write_atomic,
};
pub use clip::{GradClip, clip_grad_norm, clip_grad_value, global_norm};
#[cfg(feature = "mpi")]
pub use comm::MpiCommunicator;
pub use comm::{Communicator, SingleProcess, ThreadGroup};
#[cfg(feature = "nccl")]
pub use comm_nccl::NcclCommunicator;
pub use early_stopping::{EarlyStopping, EarlyStoppingConfig, StopReason};
pub use ema::{Ema, EmaState};
pub use error::{Error, Result};
pub use field::Field;
pub use grads::{Gradients, gradients};
pub use loss::{LossCoeffs, energy_force_loss, energy_force_metrics};
pub use manager::{BatchMetrics, EpochMetrics, MetricEntry, MetricValues, MetricsManager};
pub use metrics::{ErrorStats, Loss, Mae, MaxAbs, Metric, Mse, Rmse};
pub use metrics_csv::metrics_csv;
pub use optim::{AdamW, AdamWConfig, AdamWState, Optimizer};
pub use schedule::{LrScheduler, PlateauConfig, ReduceLROnPlateau, ThresholdMode};
pub use shard_loss::{ErrorMap, PooledForm, PooledMetric, ShardSums};
pub use trainer::{FitConfig, FitSummary, NonFinitePolicy, Progress, Trainer, epoch_order};
