//! The graph a model consumes: atoms, directed edges with cell shifts, and labels, for
//! one frame or a disjoint batch of frames.

use crate::error::Result;
use crate::neighbor::{FrameView, NeighborOptions, neighbor_list};
use crate::structure::{Mat3, Structure};
use crate::type_mapper::TypeMapper;

/// Labels of a graph, aligned with its atoms and frames. Units: eV, eV/Å, eV/Å³.
/// A label missing for some frame is `None` there, so frames with and without forces
/// (say) can share a batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchLabels {
    /// Total energy per frame, `[n_frames]`.
    pub total_energy: Vec<Option<f64>>,
    /// Force per atom, `[n_atoms]`.
    pub forces: Vec<Option<[f64; 3]>>,
    /// Stress per frame (ASE sign: positive under tension), `[n_frames]`.
    pub stress: Vec<Option<Mat3>>,
    /// Virial per frame (ASE: −V·σ), `[n_frames]`.
    pub virial: Vec<Option<Mat3>>,
    /// Per-atom energy, `[n_atoms]`.
    pub atomic_energies: Vec<Option<f64>>,
}

/// One or more frames as a single disjoint graph (nequip's `AtomicDataDict`).
///
/// Edge z goes from `edge_center[z]` (i) to `edge_neighbor[z]` (j); its vector is
/// `positions[j] - positions[i] + edge_cell_shift[z] @ cells[batch[i]]`. Atom indices are
/// global over the batch; frame f owns atoms `frame_ptr[f]..frame_ptr[f + 1]`, and edges
/// never cross frames.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AtomicGraph {
    /// Cartesian positions (Å), `[n_atoms]`.
    pub positions: Vec<[f64; 3]>,
    /// Model type index of each atom, `[n_atoms]`.
    pub atom_types: Vec<u32>,
    /// Frame index of each atom, `[n_atoms]`.
    pub batch: Vec<u32>,
    /// Atom offsets of the frames, `[n_frames + 1]`, starting at 0.
    pub frame_ptr: Vec<usize>,
    /// Cell of each frame, rows = lattice vectors; zeros when the frame has none,
    /// `[n_frames]`.
    pub cells: Vec<Mat3>,
    /// Periodic directions of each frame, `[n_frames]`.
    pub pbc: Vec<[bool; 3]>,
    /// Center atom i of each edge, `[n_edges]`.
    pub edge_center: Vec<u32>,
    /// Neighbor atom j of each edge, `[n_edges]`.
    pub edge_neighbor: Vec<u32>,
    /// Integer cell shift of each edge, `[n_edges]`.
    pub edge_cell_shift: Vec<[i32; 3]>,
    /// Reference labels.
    pub labels: BatchLabels,
}

impl AtomicGraph {
    /// The graph of one structure: types from `mapper`, edges from a cell-list neighbor
    /// search with `options`. Errors name the structure's file, frame and line.
    pub fn from_structure(
        s: &Structure,
        mapper: &TypeMapper,
        options: &NeighborOptions,
    ) -> Result<AtomicGraph> {
        s.validate()?;
        let atom_types = mapper.map(s)?;
        let nl = neighbor_list(&FrameView::of(s, Some(&atom_types)), options)?;
        let n = s.n_atoms();
        let l = &s.labels;
        Ok(AtomicGraph {
            positions: s.positions.clone(),
            atom_types,
            batch: vec![0; n],
            frame_ptr: vec![0, n],
            cells: vec![s.cell.unwrap_or([[0.0; 3]; 3])],
            pbc: vec![s.pbc],
            edge_center: nl.center,
            edge_neighbor: nl.neighbor,
            edge_cell_shift: nl.shift,
            labels: BatchLabels {
                total_energy: vec![l.energy],
                forces: match &l.forces {
                    Some(f) => f.iter().map(|&x| Some(x)).collect(),
                    None => vec![None; n],
                },
                stress: vec![l.stress],
                virial: vec![l.virial],
                atomic_energies: match &l.atomic_energies {
                    Some(e) => e.iter().map(|&x| Some(x)).collect(),
                    None => vec![None; n],
                },
            },
        })
    }

    /// Number of atoms.
    pub fn n_atoms(&self) -> usize {
        self.positions.len()
    }

    /// Number of directed edges.
    pub fn n_edges(&self) -> usize {
        self.edge_center.len()
    }

    /// Number of frames.
    pub fn n_frames(&self) -> usize {
        self.frame_ptr.len().saturating_sub(1)
    }

    /// The vector of every edge, `pos[j] - pos[i] + shift @ cell`, `[n_edges]`.
    pub fn edge_vectors(&self) -> Vec<[f64; 3]> {
        (0..self.n_edges())
            .map(|z| {
                let (i, j) = (self.edge_center[z] as usize, self.edge_neighbor[z] as usize);
                let c = &self.cells[self.batch[i] as usize];
                let s = self.edge_cell_shift[z].map(f64::from);
                let (pi, pj) = (self.positions[i], self.positions[j]);
                let mut v = [0.0; 3];
                for a in 0..3 {
                    v[a] = pj[a] - pi[a] + (s[0] * c[0][a] + s[1] * c[1][a] + s[2] * c[2][a]);
                }
                v
            })
            .collect()
    }

    /// Number of atoms of each frame, `[n_frames]`.
    pub fn atoms_per_frame(&self) -> Vec<usize> {
        self.frame_ptr.windows(2).map(|w| w[1] - w[0]).collect()
    }
}
