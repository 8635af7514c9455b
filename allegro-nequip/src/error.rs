//! Shorthands for the errors of the run, evaluation and compile steps.
//!
//! Each part of this crate reports through the error type of the crate it extends, so a
//! caller handles one type per layer whatever the file format: the LMDB reader through
//! [`allegro_data::Error`] (it is a [`GraphSource`](allegro_data::GraphSource)), the
//! model import through [`allegro_nn::Error`], configs through
//! [`ConfigError`](crate::config::ConfigError), and runs, evaluation and compile through
//! [`allegro_train::Error`].

pub(crate) use allegro_train::error::{config_error, io_error};
