//! Errors of training: bad settings, unusable labels, unreadable checkpoints.

/// Errors returned by `allegro-train`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting has a value training cannot use.
    #[error("config `{key}`: {message}")]
    Config {
        /// The offending setting.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// Labels a loss or metric needs are missing or inconsistent.
    #[error("labels: {0}")]
    Labels(String),
    /// A state (optimizer, EMA, scheduler, parameters) does not fit what it is loaded into.
    #[error("state: {0}")]
    State(String),
    /// A training step met a loss or a gradient norm that is NaN or infinite; the step
    /// was not taken (the weights are those before it).
    #[error("the {what} is {value} at step {step}{place}")]
    NonFinite {
        /// `loss` or `gradient norm`.
        what: &'static str,
        /// The value.
        value: f64,
        /// The optimizer step it would have been.
        step: u64,
        /// Where in the run: `", epoch E, batch B (frames …)"` once the fit loop knows it.
        place: String,
    },
    /// A checkpoint file is not readable.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An error of the model.
    #[error(transparent)]
    Nn(#[from] allegro_nn::Error),
    /// An error of the data pipeline.
    #[error(transparent)]
    Data(#[from] allegro_data::Error),
    /// An error of the tensor engine.
    #[error(transparent)]
    Core(#[from] allegro_core::Error),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Shorthand for an [`Error::Config`] of the setting `key` (also the crates above this one
/// build their config errors with it).
pub fn config_error(key: &str, message: impl Into<String>) -> Error {
    Error::Config {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Shorthand for an [`Error::Io`] on the file at `path`.
pub fn io_error(path: &std::path::Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}
