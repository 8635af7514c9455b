//! Batching: the disjoint union of graphs.

use crate::graph::{AtomicGraph, BatchLabels};

impl AtomicGraph {
    /// The disjoint union of `graphs` in order: atoms and frames are concatenated, atom
    /// indices of edges offset by the atoms before them, `batch` and `frame_ptr` renumbered.
    /// Batching graphs that are themselves batches works (frames stay separate).
    pub fn batch(graphs: &[AtomicGraph]) -> AtomicGraph {
        let n_atoms: usize = graphs.iter().map(AtomicGraph::n_atoms).sum();
        let n_edges: usize = graphs.iter().map(AtomicGraph::n_edges).sum();
        let n_frames: usize = graphs.iter().map(AtomicGraph::n_frames).sum();
        let mut out = AtomicGraph {
            positions: Vec::with_capacity(n_atoms),
            atom_types: Vec::with_capacity(n_atoms),
            batch: Vec::with_capacity(n_atoms),
            frame_ptr: Vec::with_capacity(n_frames + 1),
            cells: Vec::with_capacity(n_frames),
            pbc: Vec::with_capacity(n_frames),
            edge_center: Vec::with_capacity(n_edges),
            edge_neighbor: Vec::with_capacity(n_edges),
            edge_cell_shift: Vec::with_capacity(n_edges),
            labels: BatchLabels {
                total_energy: Vec::with_capacity(n_frames),
                forces: Vec::with_capacity(n_atoms),
                stress: Vec::with_capacity(n_frames),
                virial: Vec::with_capacity(n_frames),
                atomic_energies: Vec::with_capacity(n_atoms),
            },
        };
        out.frame_ptr.push(0);
        for g in graphs {
            let atom_offset = out.positions.len();
            let frame_offset = out.cells.len() as u32;
            out.positions.extend_from_slice(&g.positions);
            out.atom_types.extend_from_slice(&g.atom_types);
            out.batch.extend(g.batch.iter().map(|&b| b + frame_offset));
            out.frame_ptr
                .extend(g.frame_ptr[1..].iter().map(|&p| p + atom_offset));
            out.cells.extend_from_slice(&g.cells);
            out.pbc.extend_from_slice(&g.pbc);
            let a = atom_offset as u32;
            out.edge_center.extend(g.edge_center.iter().map(|&i| i + a));
            out.edge_neighbor
                .extend(g.edge_neighbor.iter().map(|&j| j + a));
            out.edge_cell_shift.extend_from_slice(&g.edge_cell_shift);
            let (l, m) = (&mut out.labels, &g.labels);
            l.total_energy.extend_from_slice(&m.total_energy);
            l.forces.extend_from_slice(&m.forces);
            l.stress.extend_from_slice(&m.stress);
            l.virial.extend_from_slice(&m.virial);
            l.atomic_energies.extend_from_slice(&m.atomic_energies);
        }
        out
    }
}
