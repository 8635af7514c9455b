//! Between Python's arrays and the engine: ASE-style arrays (atomic numbers, positions,
//! cell, pbc) become a [`Structure`] typed by chemical symbol, and a [`Prediction`]
//! becomes one dict of NumPy arrays per structure.

use allegro_data::{Species, Structure, TypeMapper};
use allegro_nn::Prediction;
use numpy::ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::{AllegroError, UnknownSpeciesError};

/// One structure as Python passes it: atomic numbers `[N]`, positions `[N, 3]` (Å), the
/// cell `[3, 3]` (rows = lattice vectors; `None` or zeros for an open system) and the
/// periodic directions (`None`: periodic wherever a cell is given).
pub(crate) type PyStructure<'py> = (
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray2<'py, f64>,
    Option<PyReadonlyArray2<'py, f64>>,
    Option<[bool; 3]>,
);

/// The [`Structure`] of ASE-style arrays. Each atom's species is the chemical symbol of
/// its atomic number; one the model has no type for is [`UnknownSpeciesError`]. `what`
/// names the structure in messages (`""` for a single one).
pub(crate) fn structure(
    (numbers, positions, cell, pbc): &PyStructure<'_>,
    mapper: &TypeMapper,
    what: &str,
) -> PyResult<Structure> {
    let numbers = numbers.as_array();
    let positions = positions.as_array();
    let n = numbers.len();
    if positions.dim() != (n, 3) {
        return Err(PyValueError::new_err(format!(
            "{what}positions have shape {:?}, expected ({n}, 3) for {n} atomic numbers",
            positions.shape()
        )));
    }
    let species = species(numbers, mapper, what)?;
    let cell = cell
        .as_ref()
        .map(|c| cell_rows(c.as_array(), what))
        .transpose()?;
    // A zero cell is ASE's "no cell".
    let cell = cell.filter(|c| c.iter().flatten().any(|&x| x != 0.0));
    let pbc = pbc.unwrap_or([cell.is_some(); 3]);
    let positions = positions
        .rows()
        .into_iter()
        .map(|r| [r[0], r[1], r[2]])
        .collect();
    Ok(Structure::new(species, positions, cell, pbc))
}

fn species(
    numbers: ArrayView1<'_, i64>,
    mapper: &TypeMapper,
    what: &str,
) -> PyResult<Vec<Species>> {
    let known = || mapper.chemical_symbols().join(", ");
    numbers
        .iter()
        .enumerate()
        .map(|(i, &z)| {
            let sp = u8::try_from(z)
                .ok()
                .and_then(Species::from_atomic_number)
                .ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "{what}atom {i} has atomic number {z}, not an element (0 to 118)"
                    ))
                })?;
            match mapper.type_of(sp.as_str()) {
                Some(_) => Ok(sp),
                None => Err(UnknownSpeciesError::new_err(format!(
                    "{what}atom {i} is {sp} (Z = {z}), which the model has no type for; its \
                     types are {}",
                    known()
                ))),
            }
        })
        .collect()
}

fn cell_rows(cell: ArrayView2<'_, f64>, what: &str) -> PyResult<[[f64; 3]; 3]> {
    if cell.dim() != (3, 3) {
        return Err(PyValueError::new_err(format!(
            "{what}cell has shape {:?}, expected (3, 3)",
            cell.shape()
        )));
    }
    Ok(std::array::from_fn(|a| {
        std::array::from_fn(|b| cell[[a, b]])
    }))
}

/// The results of frame `f` of `p` (atoms `atoms`) as a dict: `energy` (eV), `energies`
/// `[N]` (eV), `forces` `[N, 3]` (eV/Å), `virial` `[3, 3]` (eV) and, for a periodic
/// structure, `stress` `[3, 3]` (eV/Å³, ASE's sign: positive under tension).
pub(crate) fn results<'py>(
    py: Python<'py>,
    p: &Prediction,
    f: usize,
    atoms: std::ops::Range<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let n = atoms.len();
    let out = PyDict::new(py);
    out.set_item("energy", p.total_energy[f])?;
    let energies = Array1::from_vec(p.atomic_energies[atoms.clone()].to_vec());
    out.set_item("energies", energies.into_pyarray(py))?;
    let forces = p.forces[atoms].as_flattened().to_vec();
    let forces = Array2::from_shape_vec((n, 3), forces)
        .map_err(|e| AllegroError::new_err(format!("forces: {e}")))?;
    out.set_item("forces", forces.into_pyarray(py))?;
    out.set_item("virial", matrix(&p.virial[f]).into_pyarray(py))?;
    if let Some(s) = &p.stress[f] {
        out.set_item("stress", matrix(s).into_pyarray(py))?;
    }
    Ok(out)
}

fn matrix(m: &[[f64; 3]; 3]) -> Array2<f64> {
    Array2::from_shape_fn((3, 3), |(a, b)| m[a][b])
}
