//! # allegro
//!
//! Allegro equivariant interatomic potentials in Rust, weight-compatible with
//! nequip-allegro: the umbrella crate that re-exports the workspace and owns the
//! examples, end-to-end tests and benchmarks. Each re-exported crate has its own tour.
//!
//! - [`core`]: tensors, backends, autodiff of any order, E(3) math, radial functions.
//! - [`data`]: structures, extxyz and LMDB, neighbor lists, datasets, statistics.
//! - [`nn`]: the Allegro model, energies, forces and stress, model files.
//! - [`train`]: losses, metrics, optimizers, schedulers, checkpoints, the trainer.
//! - [`nequip`]: nequip compatibility: checkpoints and packages, LMDB datasets, configs
//!   and their runs, `compile`.
//! - [`md`]: velocity-Verlet molecular dynamics with a trained model.
//! - [`cli`]: the `train` command (`examples/train.rs`), for our short YAML and nequip
//!   configs alike.
//!
//! The C ABI and the LAMMPS plugin are the separate crate `allegro-ffi`. Features `cuda`,
//! `hip` and `vulkan` add the GPU backend (`docs/gpu.md`), `mpi` data-parallel training
//! over MPI ranks.
//!
//! ## How the pieces fit
//!
//! Files become [`data::Structure`]s ([`nequip::read_structures`]: extxyz or nequip LMDB);
//! a [`data::TypeMapper`] and [`data::NeighborOptions`] turn each into a
//! [`data::AtomicGraph`], and graphs batch into one disjoint graph. An
//! [`nn::AllegroModel`] built from an [`nn::AllegroConfig`] maps a graph and a set of
//! [`nn::Parameters`] to energies, forces and stress; [`nn::Predictor`] is the inference
//! entry point. [`train::Trainer`] fits the parameters on a [`data::GraphSource`], and
//! [`nn::ModelFile`] stores the result as one `.allegro` file that the predictor,
//! [`md::VelocityVerlet`], the C ABI and LAMMPS all load. Everything is generic over a
//! [`core::Backend`]; [`core::backend::cpu::Cpu`] is the reference.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use allegro::core::backend::cpu::{Cpu, CpuDevice};
//! use allegro::data::{AtomicGraph, NeighborOptions, TypeMapper};
//! use allegro::nequip::read_structures;
//! use allegro::md::VelocityVerlet;
//! use allegro::nn::ModelFile;
//!
//! let predictor = ModelFile::load("model.allegro")?.into_predictor::<Cpu>(CpuDevice)?;
//! let config = predictor.model().config();
//! let mapper = TypeMapper::new(&config.type_names)?;
//! let options = NeighborOptions::new(config.r_max);
//! let frames = read_structures("structures.xyz", &Default::default())?; // or an LMDB
//! let p = predictor.predict(&AtomicGraph::from_structure(&frames[0], &mapper, &options)?)?;
//! println!("E = {} eV, F[0] = {:?} eV/Å", p.total_energy[0], p.forces[0]);
//!
//! // 100 NVE steps of 0.5 fs from 300 K; the largest drift checks energy conservation.
//! let md = VelocityVerlet::new(&predictor, &mapper, &frames[0], 0.5)?;
//! let mut state = md.start(frames[0].clone(), 300.0, 0)?;
//! let drift = md.run(&mut state, 100, |_, _| {})?;
//! println!("max |E - E0| = {drift:.1e} eV, T = {:.0} K", md.temperature(&state));
//! # Ok(()) }
//! ```

pub mod cli;
pub mod md;

pub use allegro_core as core;
pub use allegro_data as data;
pub use allegro_nequip as nequip;
pub use allegro_nn as nn;
pub use allegro_train as train;
