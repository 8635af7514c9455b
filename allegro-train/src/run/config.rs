//! The short run config's schema.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::early_stopping::EarlyStoppingConfig;
use crate::error::{Result, config_error, io_error};
use crate::optim::AdamWConfig;
use crate::schedule::PlateauConfig;
use crate::trainer::NonFinitePolicy;

/// Fractions of the frames in each split (they are normalised if they do not sum to 1).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    /// Training share.
    pub train: f64,
    /// Validation share.
    pub val: f64,
    /// Test share (default 0).
    #[serde(default)]
    pub test: f64,
}

/// Where the frames come from and how they are batched.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// An extxyz file with energies and forces.
    pub train_file: PathBuf,
    /// How its frames are split.
    pub split: SplitConfig,
    /// Training frames per batch.
    pub batch_size: usize,
    /// Validation frames per batch (default `batch_size`).
    #[serde(default)]
    pub val_batch_size: Option<usize>,
    /// Keep this many frames, drawn with the run's seed (default all).
    #[serde(default)]
    pub max_frames: Option<usize>,
    /// The comment-line key of the energy (default: the reader's usual keys).
    #[serde(default)]
    pub energy_key: Option<String>,
}

/// Loss coefficients.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossConfig {
    /// Per-atom energy MSE coefficient.
    pub total_energy: f64,
    /// Force MSE coefficient.
    pub forces: f64,
    /// Stress MSE coefficient (none: no stress term).
    #[serde(default)]
    pub stress: Option<f64>,
}

/// NVE molecular dynamics after training.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MdConfig {
    /// Which test frame starts the run.
    pub frame: usize,
    /// Velocity-Verlet steps.
    pub steps: usize,
    /// Time step (fs).
    pub dt_fs: f64,
    /// Initial Maxwell–Boltzmann temperature (K).
    pub temperature_k: f64,
}

/// A whole run.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Name of the run's folder under `output_dir`.
    pub run_name: String,
    /// Parent of the run folder (default `runs`).
    #[serde(default = "default_output_dir")]
    pub output_dir: PathBuf,
    /// Seed of the split, the shuffles, the weights and the MD velocities.
    pub seed: u64,
    /// Neighbor-list cutoff and the model's `r_max` unless the model block sets it.
    pub cutoff_radius: f64,
    /// The atom types, in model order.
    pub chemical_symbols: Vec<String>,
    /// Training epochs.
    pub max_epochs: u64,
    /// The data.
    pub data: DataConfig,
    /// The model block: `AllegroConfig`'s keys; `${training_data_stats:KEY}` values are
    /// filled from the training split ([`PreparedRun::model_config`](super::PreparedRun::model_config)).
    pub model: Value,
    /// Loss coefficients.
    pub loss_coeffs: LossConfig,
    /// Coefficients of the validation metrics whose weighted sum is monitored.
    pub metrics_coeffs: BTreeMap<String, f64>,
    /// AdamW settings.
    pub optimizer: AdamWConfig,
    /// ReduceLROnPlateau on the monitored sum (none: constant learning rate).
    #[serde(default)]
    pub lr_scheduler: Option<PlateauConfig>,
    /// EMA decay of the weights (none: no EMA).
    #[serde(default)]
    pub ema_decay: Option<f64>,
    /// Early stopping (none: run every epoch).
    #[serde(default)]
    pub early_stopping: Option<EarlyStoppingConfig>,
    /// Clip the gradient's global norm to this (none: no clipping).
    #[serde(default)]
    pub gradient_clip_norm: Option<f64>,
    /// What a batch with a NaN or infinite loss (or gradient norm, with clipping) does:
    /// `stop` (default) or `skip_batch`.
    #[serde(default)]
    pub non_finite: NonFinitePolicy,
    /// MD after training (run by the caller with the trained predictor).
    #[serde(default)]
    pub md: Option<MdConfig>,
    /// `cpu` (default), or `cuda` / `hip` / `vulkan` in a binary built with that feature.
    #[serde(default)]
    pub device: Option<String>,
}

fn default_output_dir() -> PathBuf {
    PathBuf::from("runs")
}

impl RunConfig {
    /// Reads a config file; unknown keys are errors naming the file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| io_error(path, e))?;
        Self::from_yaml_str(&text, &path.display().to_string())
    }

    /// Reads a config from YAML `text`; `origin` names it in errors.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Self> {
        serde_saphyr::from_str(text).map_err(|e| config_error(origin, e.to_string()))
    }

    /// The run's folder: `output_dir/run_name`.
    pub fn out_dir(&self) -> PathBuf {
        self.output_dir.join(&self.run_name)
    }
}
