//! Errors of model construction, weight import and model files.

/// Errors returned by `allegro-nn`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration key has a value the model cannot use.
    #[error("config `{key}`: {message}")]
    Config {
        /// The offending key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A weight is missing or has the wrong shape.
    #[error("weights: {0}")]
    Weights(String),
    /// A model file is not readable.
    #[error("model file {path}: {message}")]
    ModelFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// Input structures the model cannot evaluate.
    #[error("input: {0}")]
    Input(String),
    /// A path that has no way to evaluate a part of the model (the no-tape path and a
    /// custom tensor product); the message names the part.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The backend failed during a call (a GPU runtime's failed allocation).
    #[error("device: {0}")]
    Device(String),
    /// An error from the tensor engine.
    #[error(transparent)]
    Core(#[from] allegro_core::Error),
    /// An error of the E(3) bookkeeping.
    #[error(transparent)]
    E3(#[from] allegro_core::e3::E3Error),
    /// An error reading or preparing structures.
    #[error(transparent)]
    Data(#[from] allegro_data::Error),
    /// An I/O error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Shorthand for a [`Error::Config`].
pub(crate) fn config_error(key: &str, message: impl Into<String>) -> Error {
    Error::Config {
        key: key.to_string(),
        message: message.into(),
    }
}
