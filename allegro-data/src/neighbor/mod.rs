//! Neighbor lists: every ordered pair (i, j) and integer cell shift S with
//! `|pos[j] - pos[i] + S @ cell| < cutoff(t_i, t_j)`, except an atom with itself at S = 0.
//!
//! [`neighbor_list`] uses cell lists (O(N)): atoms are binned in fractional coordinates
//! of the cell (or of a bounding box along open directions) with bins at least one
//! cutoff thick, and each atom looks only at the bins within reach. Along a periodic
//! direction thinner than the cutoff the reach spans several periods, so every image of a
//! neighbor within the cutoff is found, each with its own shift. [`brute_force`] checks
//! every pair and every image in range, O(N²), and is the oracle in the tests.
//!
//! Both directions of every pair are present: (i, j, S) and (j, i, −S). Edges are ordered
//! by center atom.

mod brute_force;
mod cell_list;
mod pbc;

pub use brute_force::brute_force;
pub use cell_list::{CellBins, cell_bins, neighbor_list};
pub(crate) use pbc::{Geometry, check_cell};

use rayon::prelude::*;

use crate::error::{Error, Origin, Result};
use crate::structure::{Mat3, Structure};

/// A T×T table of cutoffs by (center type, neighbor type), as nequip's
/// `per_edge_type_cutoff`. It is not symmetrised: entry (a, b) applies to edges whose
/// center has type a and neighbor type b.
#[derive(Clone, Debug, PartialEq)]
pub struct CutoffTable {
    n_types: usize,
    values: Vec<f64>,
}

impl CutoffTable {
    /// Every entry equal to `r_max`.
    pub fn uniform(n_types: usize, r_max: f64) -> Self {
        CutoffTable {
            n_types,
            values: vec![r_max; n_types * n_types],
        }
    }

    /// Builds from a function of (center type, neighbor type).
    pub fn from_fn(n_types: usize, f: impl Fn(usize, usize) -> f64) -> Self {
        let values = (0..n_types * n_types)
            .map(|k| f(k / n_types, k % n_types))
            .collect();
        CutoffTable { n_types, values }
    }

    /// Sets the cutoff of edges from a center of type `center` to every neighbor type
    /// (nequip's `{A: 4.0}`).
    pub fn set_center(&mut self, center: usize, cutoff: f64) {
        for b in 0..self.n_types {
            self.values[center * self.n_types + b] = cutoff;
        }
    }

    /// Sets one entry (nequip's `{A: {B: 4.0}}`).
    pub fn set(&mut self, center: usize, neighbor: usize, cutoff: f64) {
        self.values[center * self.n_types + neighbor] = cutoff;
    }

    /// The cutoff of an edge from type `center` to type `neighbor`.
    #[inline]
    pub fn get(&self, center: usize, neighbor: usize) -> f64 {
        self.values[center * self.n_types + neighbor]
    }

    /// Number of types.
    pub fn n_types(&self) -> usize {
        self.n_types
    }

    /// All entries, row-major by center type (`values()[center · T + neighbor]`).
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The largest entry.
    pub fn max(&self) -> f64 {
        self.values.iter().copied().fold(0.0, f64::max)
    }
}

/// How to build a neighbor list.
#[derive(Clone, Debug, PartialEq)]
pub struct NeighborOptions {
    /// Global cutoff `r_max` (Å); pairs at exactly this distance are not neighbors.
    pub cutoff: f64,
    /// Optional per-type-pair cutoffs, each ≤ `cutoff`. Needs atom types.
    pub per_type_cutoff: Option<CutoffTable>,
    /// Two atoms (or an atom and an image) closer than this are an error; `None`
    /// disables the check. Default 1e-4 Å: such input is nearly always a duplicated atom.
    pub min_distance: Option<f64>,
    /// Fail if a structure would have more edges than this (`None`: no limit).
    pub max_edges: Option<usize>,
}

impl NeighborOptions {
    /// A global cutoff with the default checks.
    pub fn new(cutoff: f64) -> Self {
        NeighborOptions {
            cutoff,
            per_type_cutoff: None,
            min_distance: Some(1e-4),
            max_edges: None,
        }
    }

    pub(crate) fn validate(&self, n_types_needed: Option<u32>) -> Result<()> {
        if !(self.cutoff > 0.0 && self.cutoff.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "cutoff must be positive and finite, got {}",
                self.cutoff
            )));
        }
        if let Some(t) = &self.per_type_cutoff {
            if let Some(bad) = t.values.iter().find(|&&c| !(c >= 0.0 && c <= self.cutoff)) {
                return Err(Error::InvalidArgument(format!(
                    "per-type cutoff {bad} outside [0, r_max = {}]",
                    self.cutoff
                )));
            }
            if let Some(max_type) = n_types_needed
                && max_type as usize >= t.n_types
            {
                return Err(Error::InvalidArgument(format!(
                    "atom type {max_type} but the cutoff table has {} types",
                    t.n_types
                )));
            }
        }
        Ok(())
    }
}

/// The atoms a neighbor search needs, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct FrameView<'a> {
    /// Cartesian positions (Å).
    pub positions: &'a [[f64; 3]],
    /// Lattice vectors as rows, if any.
    pub cell: Option<&'a Mat3>,
    /// Periodic directions.
    pub pbc: [bool; 3],
    /// Atom types (needed only with per-type cutoffs).
    pub types: Option<&'a [u32]>,
    /// Where the frame came from, for error messages.
    pub origin: Option<&'a Origin>,
}

impl<'a> FrameView<'a> {
    /// A view of a structure, with optional atom types.
    pub fn of(s: &'a Structure, types: Option<&'a [u32]>) -> Self {
        FrameView {
            positions: &s.positions,
            cell: s.cell.as_ref(),
            pbc: s.pbc,
            types,
            origin: s.origin.as_ref(),
        }
    }

    pub(crate) fn describe(&self) -> String {
        crate::error::describe(self.origin)
    }
}

/// Edges of one structure. Edge z: center `center[z]`, neighbor `neighbor[z]`, image
/// `shift[z]`; its vector is `pos[neighbor] - pos[center] + shift @ cell`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NeighborList {
    /// Center atom i of each edge, `[n_edges]`.
    pub center: Vec<u32>,
    /// Neighbor atom j of each edge, `[n_edges]`.
    pub neighbor: Vec<u32>,
    /// Integer cell shift of each edge, `[n_edges]`.
    pub shift: Vec<[i32; 3]>,
}

impl NeighborList {
    /// Number of edges (both directions counted).
    pub fn len(&self) -> usize {
        self.center.len()
    }

    /// Whether there are no edges.
    pub fn is_empty(&self) -> bool {
        self.center.is_empty()
    }

    /// The edges as sorted `(i, j, shift)` triples, for comparing lists as sets.
    pub fn sorted_triples(&self) -> Vec<(u32, u32, [i32; 3])> {
        let mut v: Vec<_> = (0..self.len())
            .map(|z| (self.center[z], self.neighbor[z], self.shift[z]))
            .collect();
        v.sort_unstable();
        v
    }
}

/// Neighbor lists of many structures, in parallel over structures (rayon). `types[k]`
/// are the atom types of structure k, needed only with per-type cutoffs.
pub fn neighbor_lists(
    structures: &[Structure],
    types: Option<&[Vec<u32>]>,
    options: &NeighborOptions,
) -> Result<Vec<NeighborList>> {
    if let Some(t) = types
        && t.len() != structures.len()
    {
        return Err(Error::InvalidArgument(format!(
            "{} type lists for {} structures",
            t.len(),
            structures.len()
        )));
    }
    structures
        .par_iter()
        .enumerate()
        .map(|(k, s)| neighbor_list(&FrameView::of(s, types.map(|t| t[k].as_slice())), options))
        .collect()
}
