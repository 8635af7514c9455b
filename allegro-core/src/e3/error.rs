//! The error type of the `e3` module.

use std::fmt;

/// Error returned by fallible functions of [`crate::e3`].
///
/// Every variant carries a message that names the offending input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum E3Error {
    /// A string could not be parsed as an [`Irrep`](super::Irrep) or
    /// [`Irreps`](super::Irreps); the payload is the input and the reason.
    Parse(String),
    /// An argument is outside the domain of the function (e.g. `l_max = 0` for
    /// Allegro, or a triangle condition that fails); the payload says which.
    InvalidArgument(String),
}

impl fmt::Display for E3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            E3Error::Parse(msg) => write!(f, "e3 parse error: {msg}"),
            E3Error::InvalidArgument(msg) => write!(f, "e3 invalid argument: {msg}"),
        }
    }
}

impl std::error::Error for E3Error {}
