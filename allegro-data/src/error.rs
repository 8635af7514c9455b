//! The one error type of the crate.
//!
//! Every variant names where the problem is: the file (when there is one), the frame
//! (0-based index in the file or dataset) and, for text input, the 1-based line. A caller
//! can always print the error and let a user find the bad line with an editor.

use std::fmt;
use std::path::PathBuf;

/// Where a structure came from: a file (or another named source), its frame index and
/// the 1-based line of its atom-count line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// File name or other source label (`"<memory>"` when there is none).
    pub source: String,
    /// 0-based frame index within the source.
    pub frame: usize,
    /// 1-based line of the frame's first line (the atom count); 0 when unknown.
    pub line: usize,
}

impl Origin {
    /// An origin for a structure that was not read from text.
    pub fn frame(frame: usize) -> Self {
        Origin {
            source: "<memory>".into(),
            frame,
            line: 0,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{} (frame {})", self.source, self.line, self.frame)
        } else {
            write!(f, "{} (frame {})", self.source, self.frame)
        }
    }
}

/// Shows an optional origin (file and frame), or `<memory>` for data with none.
pub fn describe(origin: Option<&Origin>) -> String {
    match origin {
        Some(o) => o.to_string(),
        None => "<memory>".to_string(),
    }
}

/// Errors of `allegro-data`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening, reading, writing or mapping a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The text of an extxyz file is malformed.
    #[error("{source_name}:{line} (frame {frame}): {message}")]
    Parse {
        /// File name (or `<memory>`).
        source_name: String,
        /// 0-based frame index.
        frame: usize,
        /// 1-based line number of the offending line.
        line: usize,
        /// What is wrong, in words.
        message: String,
    },
    /// A species is not in the [`TypeMapper`](crate::TypeMapper).
    #[error("{origin}: species {species:?} is not one of the model's types {known:?}")]
    UnknownSpecies {
        /// The species as written.
        species: String,
        /// Where the structure came from.
        origin: String,
        /// The type names the mapper knows.
        known: Vec<String>,
    },
    /// The cell cannot be used (singular, non-finite, missing although periodic, or so
    /// small that the number of periodic images explodes).
    #[error("{origin}: bad cell: {message}")]
    BadCell {
        /// Where the structure came from.
        origin: String,
        /// What is wrong, in words.
        message: String,
    },
    /// Two atoms (or an atom and a periodic image) sit closer than the allowed minimum.
    #[error(
        "{origin}: atoms {i} and {j} (cell shift {shift:?}) are {distance:.3e} Å apart, \
         closer than the minimum {min_distance:.1e} Å"
    )]
    AtomsTooClose {
        /// Where the structure came from.
        origin: String,
        /// First atom (0-based).
        i: usize,
        /// Second atom (0-based).
        j: usize,
        /// Integer cell shift of the image of `j`.
        shift: [i32; 3],
        /// Their distance in Å.
        distance: f64,
        /// The configured minimum.
        min_distance: f64,
    },
    /// The neighbor list has more edges than the configured maximum.
    #[error("{origin}: neighbor list overflow: more than {max_edges} edges")]
    TooManyEdges {
        /// Where the structure came from.
        origin: String,
        /// The configured maximum.
        max_edges: usize,
    },
    /// A structure is inconsistent (lengths disagree, non-finite values, ...).
    #[error("{origin}: {message}")]
    InvalidStructure {
        /// Where the structure came from.
        origin: String,
        /// What is wrong, in words.
        message: String,
    },
    /// An LMDB dataset cannot be opened or read.
    #[error("{path}: {message}")]
    Lmdb {
        /// The LMDB file or directory.
        path: PathBuf,
        /// What is wrong, in words.
        message: String,
    },
    /// Bad arguments to a function (split fractions, cutoff table, ...).
    #[error("{0}")]
    InvalidArgument(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
