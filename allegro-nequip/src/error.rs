//! Shorthands for the errors of the run, evaluation and compile steps.
//!
//! Each part of this crate reports through the error type of the crate it extends, so a
//! caller handles one type per layer whatever the file format: the LMDB reader through
//! [`allegro_data::Error`] (it is a [`GraphSource`](allegro_data::GraphSource)), the
//! model import through [`allegro_nn::Error`], configs through
//! [`ConfigError`](crate::config::ConfigError), and runs, evaluation and compile through
//! [`allegro_train::Error`].

use allegro_train::Error;

/// An [`Error::Config`] for the setting `key`.
pub(crate) fn config_error(key: &str, message: impl Into<String>) -> Error {
    Error::Config {
        key: key.to_string(),
        message: message.into(),
    }
}

/// An [`Error::Io`] on the file at `path`.
pub(crate) fn io_error(path: &std::path::Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}
