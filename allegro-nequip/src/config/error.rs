//! Errors and warnings of the config layer. Every message names the key path; the file
//! is attached by the caller that knows it ([`ConfigError::in_file`]).

use std::fmt;
use std::path::{Path, PathBuf};

/// A config that cannot be read: which file, which key, what is wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    /// The config file, when known.
    pub file: Option<PathBuf>,
    /// The key path, e.g. `training_module.val_metrics.metrics[6].per_type` (empty for
    /// the file as a whole).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error at `key` (no file yet).
    pub fn new(key: impl fmt::Display, message: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// The same error, naming `file` unless it already names one.
    pub fn in_file(mut self, file: &Path) -> Self {
        if self.file.is_none() {
            self.file = Some(file.to_path_buf());
        }
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for allegro_train::Error {
    fn from(e: ConfigError) -> Self {
        // allegro-train's error has one `key` slot: the file goes in front of the key path.
        let key = match &e.file {
            Some(file) => format!("{}: {}", file.display(), e.key),
            None => e.key.clone(),
        };
        allegro_train::Error::Config {
            key,
            message: e.message,
        }
    }
}

/// `Result` with [`ConfigError`].
pub type ConfigResult<T> = Result<T, ConfigError>;

/// Something the user should know that does not stop the run (e.g. the wandb logger
/// becoming a local CSV log).
#[derive(Clone, Debug, PartialEq)]
pub struct Warning {
    /// The key path the warning is about.
    pub key: String,
    /// The remark.
    pub message: String,
}

impl Warning {
    /// A warning about `key`.
    pub fn new(key: impl fmt::Display, message: impl Into<String>) -> Self {
        Warning {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_and_key() {
        let e = ConfigError::new("trainer.max_epoch", "unknown key").in_file(Path::new("s.yaml"));
        assert_eq!(e.to_string(), "s.yaml: `trainer.max_epoch`: unknown key");
        let e = e.in_file(Path::new("other.yaml"));
        assert_eq!(e.file.as_deref(), Some(Path::new("s.yaml")));
        let crate_err: allegro_train::Error = e.into();
        assert!(crate_err.to_string().contains("s.yaml: trainer.max_epoch"));
    }
}
