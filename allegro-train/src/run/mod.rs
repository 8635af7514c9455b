//! A training run from the short YAML config of `examples/configs/*.yaml`, as a library:
//! config → data → model → trainer → outputs, on any backend.
//!
//! ```no_run
//! # fn main() -> allegro_train::Result<()> {
//! use allegro_core::backend::cpu::{Cpu, CpuDevice};
//! use allegro_train::run::{PreparedRun, RunConfig, train_and_test};
//!
//! let config = RunConfig::from_file("examples/configs/xtb.yaml".as_ref())?;
//! let prepared = PreparedRun::new(config, "examples/configs/xtb.yaml".as_ref())?;
//! let outcome = train_and_test::<Cpu>(&prepared, CpuDevice, &mut |_| {})?;
//! println!("test force RMSE {:?}", outcome.test.forces_rmse);
//! # Ok(()) }
//! ```
//!
//! The keys follow nequip's where they mean the same thing (`seed`, `cutoff_radius`,
//! `chemical_symbols`, `max_epochs`, the model block with `${training_data_stats:…}`);
//! nequip's own configs run through the crate `allegro-nequip`.

mod config;
mod plots;
mod prepare;
mod train;

pub use config::{DataConfig, LossConfig, MdConfig, RunConfig, SplitConfig};
pub use plots::{ParityPanel, learning_curve_svg, parity_svg};
pub use prepare::PreparedRun;
pub use train::{RunOutcome, TestReport, train_and_test};
