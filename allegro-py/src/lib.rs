//! # allegro-py
//!
//! The Rust half of the `allegro` Python package (a wheel built by maturin, abi3, CPython
//! ≥ 3.9): the extension module `allegro._allegro`. It holds `Model` (`model.rs`) — a
//! `.allegro` file loaded on the CPU or a GPU (features `cuda`, `hip`, `vulkan`),
//! evaluated on NumPy arrays of one structure or a batch in one model pass — and the
//! exceptions. The ASE calculator (`allegro.AllegroCalculator`) is Python, in
//! `python/allegro/calculator.py`, over `Model`.
//!
//! No Rust panic reaches Python: every engine call runs under `error::guard`, and
//! failures are Python exceptions naming the file, structure, atom or argument
//! (`error.rs`).
//!
//! Build: `maturin build --release -m allegro-py/Cargo.toml` (or `pip install
//! ./allegro-py`). Test: `allegro-py/test.sh` builds the wheel, installs it with ASE into
//! a virtual environment, writes the test models (`examples/test_models.rs`) and runs the
//! pytest suite in `tests/`.

mod convert;
mod device;
mod error;
mod model;

use pyo3::prelude::*;

/// Fills the extension module `m` with what `allegro._allegro` holds: `Model`, the
/// exceptions, `__version__` and `backends` (the device kinds this build can run on:
/// `"cpu"`, and `"cuda"`, `"hip"`, `"vulkan"` per cargo feature).
///
/// A program with parts of its own (a custom radial embedding or tensor product,
/// `allegro_nn::registry`) builds its own extension module from this crate: its module
/// init registers the parts, then calls this. Models that name those parts then load
/// in that module, and only there (`allegro-py/parts-demo` is such a module, tested by
/// `tests/test_parts.py`).
pub fn init_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<model::Model>()?;
    m.add("AllegroError", py.get_type::<error::AllegroError>())?;
    m.add("DeviceError", py.get_type::<error::DeviceError>())?;
    m.add("ModelFileError", py.get_type::<error::ModelFileError>())?;
    m.add(
        "UnknownSpeciesError",
        py.get_type::<error::UnknownSpeciesError>(),
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let backends: Vec<&str> = [
        ("cpu", true),
        ("cuda", cfg!(feature = "cuda")),
        ("hip", cfg!(feature = "hip")),
        ("vulkan", cfg!(feature = "vulkan")),
    ]
    .into_iter()
    .filter_map(|(name, built)| built.then_some(name))
    .collect();
    m.add("backends", backends)
}

/// The extension module `allegro._allegro` (re-exported by the `allegro` package).
#[pymodule]
fn _allegro(m: &Bound<'_, PyModule>) -> PyResult<()> {
    init_module(m)
}
