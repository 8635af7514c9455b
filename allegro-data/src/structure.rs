//! One atomic structure with its labels, as read from or written to extxyz.

use std::collections::BTreeMap;

use crate::error::{Error, Origin, Result, describe};
use crate::species::Species;

/// A 3×3 matrix, row-major. For a cell, the rows are the lattice vectors (ASE).
pub type Mat3 = [[f64; 3]; 3];

/// A free-form value of the extxyz comment line (ASE's `atoms.info`).
#[derive(Clone, Debug, PartialEq)]
pub enum InfoValue {
    /// An integer such as `step=12`.
    Int(i64),
    /// A real number such as `temperature=300.0`.
    Real(f64),
    /// `T`/`F`/`True`/`False`.
    Bool(bool),
    /// Text such as `molecule=methane` or `subset="train set"`.
    Str(String),
    /// Several integers, `key="1 2 3"`.
    IntArray(Vec<i64>),
    /// Several reals, `key="1.0 2.5"`.
    RealArray(Vec<f64>),
    /// Several booleans, `key="T F T"`.
    BoolArray(Vec<bool>),
}

/// The values of an extra per-atom column group of `Properties` (any column that is not
/// species, positions or a known label), kept so that writing a file back loses nothing.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnData {
    /// `R` columns, row-major `[n_atoms * width]`.
    Real(Vec<f64>),
    /// `I` columns, row-major.
    Int(Vec<i64>),
    /// `L` columns (`T`/`F`), row-major.
    Bool(Vec<bool>),
    /// `S` columns, row-major.
    Str(Vec<String>),
}

/// An extra per-atom property: its name, number of columns and values.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Property name as in `Properties`.
    pub name: String,
    /// Number of columns per atom.
    pub width: usize,
    /// The values, `n_atoms * width` of them.
    pub data: ColumnData,
}

/// Reference labels of a structure. Units: eV, Å, eV/Å, eV/Å³.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Labels {
    /// Total potential energy (eV).
    pub energy: Option<f64>,
    /// Forces per atom (eV/Å), `[n_atoms]`.
    pub forces: Option<Vec<[f64; 3]>>,
    /// Stress (eV/Å³) in ASE's sign convention: σ = (1/V) ∂E/∂ε, positive under
    /// tension. Read from 3×3 or Voigt-6 (xx yy zz yz xz xy), always kept as 3×3.
    pub stress: Option<Mat3>,
    /// Virial (eV), ASE convention: virial = −V·σ.
    pub virial: Option<Mat3>,
    /// Per-atom energies (eV), `[n_atoms]`.
    pub atomic_energies: Option<Vec<f64>>,
    /// Every other key of the comment line (`molecule`, `subset`, ...).
    pub info: BTreeMap<String, InfoValue>,
    /// Every other per-atom column group of `Properties`, in file order.
    pub arrays: Vec<Column>,
}

/// An atomic structure: species, positions, an optional cell with periodic directions,
/// and labels.
///
/// `origin` records where the structure was read from so that later errors (unknown
/// species, atoms on top of each other, ...) can name file, frame and line. It is
/// provenance, not content: `==` ignores it.
#[derive(Clone, Debug, Default)]
pub struct Structure {
    /// Species of each atom, `[n_atoms]`.
    pub species: Vec<Species>,
    /// Cartesian positions (Å), `[n_atoms]`.
    pub positions: Vec<[f64; 3]>,
    /// Lattice vectors as rows (Å), if the structure has a cell.
    pub cell: Option<Mat3>,
    /// Periodic boundary conditions along each lattice vector.
    pub pbc: [bool; 3],
    /// Reference energies, forces, stress and free-form info.
    pub labels: Labels,
    /// Where the structure came from (not compared by `==`).
    pub origin: Option<Origin>,
}

impl PartialEq for Structure {
    fn eq(&self, other: &Self) -> bool {
        self.species == other.species
            && self.positions == other.positions
            && self.cell == other.cell
            && self.pbc == other.pbc
            && self.labels == other.labels
    }
}

impl Structure {
    /// A structure with no labels. `pbc` is all false when there is no cell.
    pub fn new(
        species: Vec<Species>,
        positions: Vec<[f64; 3]>,
        cell: Option<Mat3>,
        pbc: [bool; 3],
    ) -> Self {
        Structure {
            species,
            positions,
            cell,
            pbc,
            labels: Labels::default(),
            origin: None,
        }
    }

    /// Number of atoms.
    pub fn n_atoms(&self) -> usize {
        self.positions.len()
    }

    /// Whether any direction is periodic.
    pub fn is_periodic(&self) -> bool {
        self.pbc.iter().any(|&p| p)
    }

    /// Volume of the cell (Å³), `None` without a cell.
    pub fn volume(&self) -> Option<f64> {
        self.cell.map(|c| det3(&c).abs())
    }

    /// Human-readable location for error messages.
    pub fn describe(&self) -> String {
        describe(self.origin.as_ref())
    }

    /// Checks that array lengths agree and every number is finite; periodic structures
    /// must have a cell. Called by the extxyz reader and before building a graph.
    pub fn validate(&self) -> Result<()> {
        let n = self.n_atoms();
        let bad = |message: String| Error::InvalidStructure {
            origin: self.describe(),
            message,
        };
        if self.species.len() != n {
            return Err(bad(format!(
                "{} species for {} positions",
                self.species.len(),
                n
            )));
        }
        if let Some((i, p)) = self
            .positions
            .iter()
            .enumerate()
            .find(|(_, p)| !p.iter().all(|x| x.is_finite()))
        {
            return Err(bad(format!("atom {i} has a non-finite position {p:?}")));
        }
        if let Some(c) = &self.cell {
            if !c.iter().flatten().all(|x| x.is_finite()) {
                return Err(bad(format!("non-finite cell {c:?}")));
            }
        } else if self.is_periodic() {
            return Err(Error::BadCell {
                origin: self.describe(),
                message: format!("pbc {:?} but no cell", self.pbc),
            });
        }
        if let Some(f) = &self.labels.forces
            && f.len() != n
        {
            return Err(bad(format!("{} forces for {} atoms", f.len(), n)));
        }
        if let Some(e) = &self.labels.atomic_energies
            && e.len() != n
        {
            return Err(bad(format!(
                "{} per-atom energies for {} atoms",
                e.len(),
                n
            )));
        }
        for col in &self.labels.arrays {
            let len = match &col.data {
                ColumnData::Real(v) => v.len(),
                ColumnData::Int(v) => v.len(),
                ColumnData::Bool(v) => v.len(),
                ColumnData::Str(v) => v.len(),
            };
            if len != n * col.width {
                return Err(bad(format!(
                    "column {:?} has {len} values, expected {}",
                    col.name,
                    n * col.width
                )));
            }
        }
        Ok(())
    }
}

/// Determinant of a 3×3 matrix (allegro-core's, the crates' one).
pub use allegro_base::det3;

/// Cross product.
pub(crate) fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Euclidean norm.
pub(crate) fn norm(a: [f64; 3]) -> f64 {
    (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt()
}

/// Converts Voigt-6 (xx yy zz yz xz xy, ASE order) to a symmetric 3×3 matrix.
pub fn voigt_to_matrix(v: [f64; 6]) -> Mat3 {
    [[v[0], v[5], v[4]], [v[5], v[1], v[3]], [v[4], v[3], v[2]]]
}

/// Converts a 3×3 matrix to Voigt-6 (xx yy zz yz xz xy), taking the upper triangle.
pub fn matrix_to_voigt(m: &Mat3) -> [f64; 6] {
    [m[0][0], m[1][1], m[2][2], m[1][2], m[0][2], m[0][1]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voigt_round_trip() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let m = voigt_to_matrix(v);
        assert_eq!(m, [[1.0, 6.0, 5.0], [6.0, 2.0, 4.0], [5.0, 4.0, 3.0]]);
        assert_eq!(matrix_to_voigt(&m), v);
    }

    #[test]
    fn validate_catches_nan_and_lengths() {
        let h = Species::new("H").unwrap();
        let mut s = Structure::new(
            vec![h, h],
            vec![[0.0; 3], [f64::NAN, 0.0, 0.0]],
            None,
            [false; 3],
        );
        assert!(s.validate().unwrap_err().to_string().contains("atom 1"));
        s.positions[1] = [1.0, 0.0, 0.0];
        s.validate().unwrap();
        s.labels.forces = Some(vec![[0.0; 3]]);
        assert!(s.validate().is_err());
        s.labels.forces = None;
        s.pbc = [true, false, false];
        assert!(matches!(s.validate(), Err(Error::BadCell { .. })));
    }

    #[test]
    fn origin_is_not_content() {
        let mut a = Structure::default();
        let b = Structure::default();
        a.origin = Some(Origin::frame(3));
        assert_eq!(a, b);
    }
}
