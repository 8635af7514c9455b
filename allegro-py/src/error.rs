//! Python exceptions of the module, and the guard that keeps Rust panics out of Python.
//!
//! Every failure reaches Python as an exception with a message naming the file, atom or
//! argument at fault: a missing or unreadable model file is the `OSError` subclass its
//! errno gives (`FileNotFoundError` …, with `.filename`), a corrupt one
//! [`ModelFileError`], a species the model has no type for [`UnknownSpeciesError`],
//! arrays of the wrong shape `ValueError` (of the wrong dtype `TypeError`, raised by the
//! argument conversion), a device this build lacks [`DeviceError`], anything else from
//! the engine [`AllegroError`].

use pyo3::exceptions::{PyException, PyOSError, PyValueError};
use pyo3::{PyErr, create_exception};

create_exception!(
    allegro,
    AllegroError,
    PyException,
    "Base class of the errors raised by allegro (a failed evaluation)."
);
create_exception!(
    allegro,
    ModelFileError,
    AllegroError,
    "A model file that is not a valid `.allegro` file (corrupt, truncated, newer format)."
);
create_exception!(
    allegro,
    UnknownSpeciesError,
    AllegroError,
    "An atom whose chemical symbol is not one of the model's types."
);
create_exception!(
    allegro,
    DeviceError,
    AllegroError,
    "A device this build has no backend for, or one that could not start."
);

/// An error of an engine call, as the Python exception that fits it.
pub(crate) fn engine_error(e: allegro_nn::Error) -> PyErr {
    match e {
        allegro_nn::Error::ModelFile { .. } => ModelFileError::new_err(e.to_string()),
        allegro_nn::Error::Device(_) => DeviceError::new_err(e.to_string()),
        allegro_nn::Error::Input(_) | allegro_nn::Error::Data(_) => {
            PyValueError::new_err(e.to_string())
        }
        _ => AllegroError::new_err(e.to_string()),
    }
}

/// An I/O failure on `path` as Python's `OSError(errno, message, filename)`, which
/// Python turns into the subclass of that errno (`FileNotFoundError` for `ENOENT`).
pub(crate) fn os_error(e: &std::io::Error, path: &str) -> PyErr {
    PyOSError::new_err((
        e.raw_os_error().unwrap_or(0),
        e.to_string(),
        path.to_string(),
    ))
}

/// Runs `f`, turning a panic into [`AllegroError`] instead of letting PyO3 raise its
/// `PanicException` (a `BaseException` that `except Exception` does not catch). The
/// engine is not expected to panic on any input; this is the last line of defence.
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T, PyErr>) -> Result<T, PyErr> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        Err(AllegroError::new_err(format!(
            "internal error (a bug in allegro-rs, please report it): {message}"
        )))
    })
}
