//! # allegro-py
//!
//! The Rust half of the `allegro` Python package (a wheel built by maturin, abi3, CPython
//! ≥ 3.9): the extension module `allegro._allegro`. It holds [`model::Model`] — a
//! `.allegro` file loaded on the CPU or a GPU (features `cuda`, `hip`, `vulkan`),
//! evaluated on NumPy arrays of one structure or a batch in one model pass — and the
//! exceptions. The ASE calculator (`allegro.AllegroCalculator`) is Python, in
//! `python/allegro/calculator.py`, over `Model`.
//!
//! No Rust panic reaches Python: every engine call runs under [`error::guard`], and
//! failures are Python exceptions naming the file, structure, atom or argument
//! ([`error`]).
//!
//! Build and test: `maturin build --release` in this folder (or `pip install .`), then
//! `pytest tests` (see `tests/conftest.py` for the model and reference files they need).

mod convert;
mod device;
mod error;
mod model;

use pyo3::prelude::*;

/// The extension module `allegro._allegro` (re-exported by the `allegro` package).
#[pymodule]
mod _allegro {
    #[pymodule_export]
    use super::error::{AllegroError, DeviceError, ModelFileError, UnknownSpeciesError};
    #[pymodule_export]
    use super::model::Model;

    use pyo3::prelude::*;

    /// Adds `__version__` (the crate's version).
    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
