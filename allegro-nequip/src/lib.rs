//! # allegro-nequip
//!
//! Everything that exists to read or run nequip's files and configs, in one crate above
//! the model and the trainer: nequip's trained models (Lightning checkpoints and
//! `.nequip.zip` packages), its config language and runs, and the step `nequip-compile`
//! does. The crates below know nothing of nequip's formats, so a program that only runs
//! `.allegro` model files (the C ABI, LAMMPS, the Python package) links none of this.
//!
//! ## Types you meet first
//!
//! - [`import_nequip`]: a nequip checkpoint or package read into an
//!   [`AllegroModel`](allegro_nn::AllegroModel) and its checked weights
//!   ([`NequipModel`]).
//! - [`compile()`]: any trained model (our checkpoint, a nequip checkpoint or package) to
//!   one `.allegro` [`ModelFile`](allegro_nn::ModelFile), as `nequip-compile` does.
//! - [`NequipRunConfig`]: a nequip (Hydra) config read, overridden, audited and resolved
//!   into typed settings; [`run_nequip`] runs it as `nequip-train` does.
//! - [`NequipLmdb`]: nequip's LMDB datasets, read (checked, nothing executed) and written
//!   ([`write_nequip_lmdb`]); [`LmdbGraphs`] streams one as a
//!   [`GraphSource`](allegro_data::GraphSource); [`read_structures`] reads extxyz or LMDB
//!   by path.
//!
//! ## How the pieces fit
//!
//! [`pickle`] is the codec of Python's pickle subset that torch and nequip write (an
//! allow-list of globals, bounded sizes) and of torch's zip archives; [`lmdb`] reads and
//! writes nequip's datasets with it. [`model`] turns a nequip file into an [`AllegroConfig`](allegro_nn::AllegroConfig)
//! (nequip's model keys, [`model::model_config`]) and a `state_dict`, checked against
//! the model that config builds by allegro-nn's
//! [`parameters_from_tensors`](allegro_nn::import::parameters_from_tensors). [`config`]
//! reads a run config; [`train`] assembles allegro-train's [`Trainer`](allegro_train::Trainer)
//! from it (loss and metric lists, AdamW, ReduceLROnPlateau, EMA, early stopping,
//! `training_data_stats`) and [`eval`] evaluates a checkpoint on the config's validation
//! and test sets, writing nequip's metric names. Each part reports through the error
//! type of the crate it extends (see [`error`](mod@error)).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::path::Path;
//!
//! use allegro_nequip::{NequipRunConfig, compile, run_nequip};
//!
//! // A model nequip-train wrote, as one `.allegro` file.
//! let compiled = compile(Path::new("best.ckpt"))?;
//! compiled.file.save("model.allegro")?;
//!
//! // A nequip config with Hydra overrides, run on the CPU.
//! let (config, _warnings) =
//!     NequipRunConfig::from_file(Path::new("demo.yaml"), &["trainer.max_epochs=1"])?;
//! let report = run_nequip(&config, &mut |_| {})?;
//! println!("{} datasets evaluated", report.metrics.len());
//! # Ok(()) }
//! ```

pub mod compile;
pub mod config;
pub mod error;
pub mod eval;
pub mod lmdb;
pub mod model;
pub mod pickle;
pub mod train;

pub use compile::{CompileSource, Compiled, compile};
pub use config::NequipRunConfig;
pub use eval::{DatasetMetrics, evaluate_checkpoint};
pub use lmdb::{
    LmdbGraphs, NequipLmdb, NequipLmdbWriter, decode_frame, is_lmdb, read_structures,
    write_nequip_lmdb,
};
pub use model::{NequipFormat, NequipModel, import_nequip};
pub use train::{NequipRunReport, run_nequip, run_nequip_on, run_nequip_ranks};
