//! # allegro
//!
//! Allegro equivariant interatomic potentials in Rust: the umbrella crate that
//! re-exports the workspace and owns the examples, end-to-end tests and benchmarks.
//!
//! - [`core`]: tensors, backends, autodiff of any order, E(3) math, radial functions.
//! - [`nn`]: the Allegro model, energies, forces and stress, model files.
//! - [`data`]: structures, extxyz, neighbor lists, datasets, statistics.
//! - [`train`]: losses, metrics, optimizers, schedulers, checkpoints, the trainer.
//! - [`md`]: velocity-Verlet molecular dynamics with a trained model.

pub mod md;

pub use allegro_core as core;
pub use allegro_data as data;
pub use allegro_nn as nn;
pub use allegro_train as train;
