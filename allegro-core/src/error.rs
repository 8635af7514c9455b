//! The error type of fallible `allegro-core` functions.

/// Errors returned by fallible functions of `allegro-core`.
///
/// Tensor arithmetic on shapes that do not fit is a programming error and panics with
/// a message naming the op; everything that depends on user input returns this type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Data given to build a tensor do not match the requested shape.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A value could not be parsed (dtype names, irreps strings, ...).
    #[error("parse error: {0}")]
    Parse(String),
    /// A backend could not be used (no device, missing driver, unsupported dtype).
    #[error("backend unavailable: {0}")]
    Backend(String),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
