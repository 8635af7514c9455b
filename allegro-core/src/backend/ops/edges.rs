//! Per-edge model inputs built on the device from per-atom data and a neighbor list.
//!
//! A model call needs, for every edge `z = (i → j, s)`, the vector
//! `v_z = pos[j] − pos[i] + s·cell` (float64) and the types of its atoms and structure.
//! Built on the host, those are 48 bytes per edge to upload; from the device's copy of
//! the per-atom arrays, an edge costs the upload of its neighbor and its packed cell
//! shift (and center), 12 bytes. [`EdgeOps::edge_inputs`] is that construction;
//! the CPU backend's loop is its oracle. It defaults to [`edge_inputs_reference`], built
//! from the primitive ops, so a new backend needs no edge kernel to run the model.

use super::edges_reference::edge_inputs_reference;
use super::elementwise::ElementwiseOps;
use super::index::IndexOps;
use super::shape::ShapeOps;
use super::storage::StorageOps;

/// Bias of each packed cell-shift component ([`pack_shift`]).
const SHIFT_BIAS: i32 = 128;

/// A cell shift `s` (components in `−128..=127`) packed into one `u32`: byte `d` holds
/// `s[d] + 128`. `None` when a component does not fit (a cell far smaller than the
/// cutoff); callers then build the vectors on the host.
pub fn pack_shift(s: [i32; 3]) -> Option<u32> {
    let mut packed = 0u32;
    for (d, &c) in s.iter().enumerate() {
        let biased = c.checked_add(SHIFT_BIAS)?;
        if !(0..=255).contains(&biased) {
            return None;
        }
        packed |= (biased as u32) << (8 * d);
    }
    Some(packed)
}

/// The shift [`pack_shift`] packed, as the float64 factors of the cell rows.
pub fn unpack_shift(packed: u32) -> [f64; 3] {
    std::array::from_fn(|d| (((packed >> (8 * d)) & 255) as i32 - SHIFT_BIAS) as f64)
}

/// `pos[j] − pos[i] + s₀·cell₀ + s₁·cell₁ + s₂·cell₂`, component `d`, in this order of
/// operations (the host path's, so both round alike).
#[inline]
pub fn edge_vector_component(pi: f64, pj: f64, s: [f64; 3], cell_col: [f64; 3]) -> f64 {
    pj - pi + s[0] * cell_col[0] + s[1] * cell_col[1] + s[2] * cell_col[2]
}

/// What [`EdgeOps::edge_inputs`] reads: per-atom arrays and the neighbor list, all on
/// the device.
pub struct NeighborList<'a, S, I> {
    /// Positions `[N, 3]`, float64.
    pub positions: &'a S,
    /// Cells `[F, 3, 3]` (rows are lattice vectors), float64.
    pub cells: &'a S,
    /// Type of each atom `[N]`.
    pub atom_types: &'a I,
    /// Structure of each atom `[N]`.
    pub batch: &'a I,
    /// Center of each edge `[E]`.
    pub centers: &'a I,
    /// Neighbor of each edge `[E]`.
    pub neighbors: &'a I,
    /// Packed cell shift of each edge `[E]` ([`pack_shift`]).
    pub shifts: &'a I,
    /// Number of edges `E`.
    pub n_edges: usize,
    /// Number of atom types `T` (edge type = `t_i·T + t_j`).
    pub num_types: usize,
}

/// Per-edge inputs [`EdgeOps::edge_inputs`] builds.
pub struct EdgeInputs<S, I> {
    /// Edge vectors `[E, 3]`, float64.
    pub vectors: S,
    /// Type of each edge's center `[E]`.
    pub center_types: I,
    /// Type of each edge's neighbor `[E]`.
    pub neighbor_types: I,
    /// Edge type `t_i·T + t_j` `[E]`.
    pub edge_types: I,
    /// Structure of each edge (its center's) `[E]`.
    pub edge_batch: I,
}

/// Building per-edge inputs on the device (module docs). The supertraits are the
/// primitives the default body is built from.
pub trait EdgeOps: StorageOps + ElementwiseOps + IndexOps + ShapeOps {
    /// Edge vectors and per-edge type tables from per-atom data and the neighbor list.
    /// Indices must be in range (callers check them on the host). Defaults to
    /// [`edge_inputs_reference`].
    fn edge_inputs(
        list: NeighborList<'_, Self::Storage, Self::IndexStorage>,
    ) -> EdgeInputs<Self::Storage, Self::IndexStorage> {
        edge_inputs_reference::<Self>(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_pack_and_unpack() {
        for s in [[0, 0, 0], [-1, 2, -3], [127, -128, 5]] {
            let p = pack_shift(s).unwrap();
            assert_eq!(unpack_shift(p), s.map(|c| c as f64));
        }
        assert_eq!(pack_shift([128, 0, 0]), None);
        assert_eq!(pack_shift([0, -129, 0]), None);
        assert_eq!(pack_shift([i32::MAX, 0, 0]), None);
    }
}
