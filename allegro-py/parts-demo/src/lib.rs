//! An extension module of one's own, as a program with its own parts builds it: the
//! module init registers the parts (those of `examples/custom_parts/`), then fills the
//! module with what `allegro._allegro` holds ([`allegro_py::init_module`]). A model file
//! that names the parts loads through this module's `Model`, and is refused by the
//! plain `allegro` package (`allegro-py/tests/test_parts.py`, `test_errors.py`).

use pyo3::prelude::*;

#[allow(dead_code)]
#[path = "../../../examples/custom_parts/parts.rs"]
mod parts;

/// `_allegro_parts_demo`: `allegro._allegro` with the example's parts registered.
#[pymodule]
fn _allegro_parts_demo(m: &Bound<'_, PyModule>) -> PyResult<()> {
    parts::register();
    allegro_py::init_module(m)
}
