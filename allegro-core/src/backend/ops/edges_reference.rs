//! [`EdgeOps::edge_inputs`](super::edges::EdgeOps::edge_inputs) built from primitive
//! ops: the default of a backend without an edge kernel, and what that kernel is
//! compared with (`testing::suite::edges_reference`).
//!
//! The vectors are gathers of positions and cells ([`IndexOps::index_select`]) and
//! elementwise ops in the order of [`edge_vector_component`]
//! (`pos[j] − pos[i] + s₀·cell₀ + s₁·cell₁ + s₂·cell₂`), so they round as the CPU loop
//! does. The per-edge type tables are indices of indices, which no primitive gathers
//! (index buffers have no ops), so they are built on the host from the read-back
//! neighbor list; so are the shift factors, decoded from their packed bytes (small
//! integers, exact). No arithmetic on positions or cells goes through the host.
//!
//! [`edge_vector_component`]: super::edges::edge_vector_component

use super::edges::{EdgeInputs, NeighborList, unpack_shift};
use super::elementwise::{BinaryOp, ElementwiseOps};
use super::index::IndexOps;
use super::shape::ShapeOps;
use super::storage::StorageOps;
use crate::dtype::HostData;

/// Per-edge index tables, built on the host (module docs).
struct EdgeTables {
    center_types: Vec<u32>,
    neighbor_types: Vec<u32>,
    edge_types: Vec<u32>,
    edge_batch: Vec<u32>,
    /// Cell-shift factors `[E, 3]`.
    shifts: Vec<f64>,
}

fn edge_tables<B: StorageOps>(list: &NeighborList<'_, B::Storage, B::IndexStorage>) -> EdgeTables {
    let e = list.n_edges;
    let types = B::indices_to_host(list.atom_types);
    let batch = B::indices_to_host(list.batch);
    let centers = B::indices_to_host(list.centers);
    let neighbors = B::indices_to_host(list.neighbors);
    let packed = B::indices_to_host(list.shifts);
    let (centers, neighbors) = (&centers[..e], &neighbors[..e]);
    let t = list.num_types as u32;
    let type_of =
        |atoms: &[u32]| -> Vec<u32> { atoms.iter().map(|&a| types[a as usize]).collect() };
    let (center_types, neighbor_types) = (type_of(centers), type_of(neighbors));
    EdgeTables {
        edge_types: center_types
            .iter()
            .zip(&neighbor_types)
            .map(|(&ti, &tj)| ti * t + tj)
            .collect(),
        edge_batch: centers.iter().map(|&i| batch[i as usize]).collect(),
        shifts: packed[..e].iter().flat_map(|&s| unpack_shift(s)).collect(),
        center_types,
        neighbor_types,
    }
}

/// [`EdgeOps::edge_inputs`](super::edges::EdgeOps::edge_inputs) by gathers and
/// elementwise ops (module docs): `v_z = pos[j] − pos[i] + s·cell[batch[i]]` and the
/// type tables `t_i`, `t_j`, `t_i·T + t_j`, `batch[i]`.
pub fn edge_inputs_reference<B: StorageOps + ElementwiseOps + IndexOps + ShapeOps>(
    list: NeighborList<'_, B::Storage, B::IndexStorage>,
) -> EdgeInputs<B::Storage, B::IndexStorage> {
    let e = list.n_edges;
    let device = B::storage_device(list.positions);
    let dtype = B::storage_dtype(list.positions);
    let tables = edge_tables::<B>(&list);
    let mut index_tables = B::indices_from_host_many(
        &device,
        &[
            &tables.center_types,
            &tables.neighbor_types,
            &tables.edge_types,
            &tables.edge_batch,
        ],
    )
    .into_iter();
    let mut next = || index_tables.next().expect("four tables");
    let (center_types, neighbor_types, edge_types, edge_batch) = (next(), next(), next(), next());
    let vectors = if e == 0 {
        B::full(&device, 0, 0.0, dtype)
    } else {
        let atoms = B::storage_len(list.positions) / 3;
        let structures = B::storage_len(list.cells) / 9;
        let pi = B::index_select(list.positions, 1, atoms, 3, list.centers, e);
        let pj = B::index_select(list.positions, 1, atoms, 3, list.neighbors, e);
        // Each edge's cell, [E, 3 rows, 3 columns].
        let cell = B::index_select(list.cells, 1, structures, 9, &edge_batch, e);
        let s = B::from_host(&device, HostData::from_f64(&tables.shifts, dtype));
        let v3 = [e, 3];
        let mut v = B::binary(BinaryOp::Sub, &pj, &v3, &pi, &v3, &v3);
        for a in 0..3 {
            let factor = B::narrow(&s, e, 3, 1, a, 1);
            let row = B::narrow(&cell, e, 3, 3, a, 1);
            let term = B::binary(BinaryOp::Mul, &factor, &[e, 1], &row, &v3, &v3);
            v = B::binary(BinaryOp::Add, &v, &v3, &term, &v3, &v3);
        }
        v
    };
    EdgeInputs {
        vectors,
        center_types,
        neighbor_types,
        edge_types,
        edge_batch,
    }
}
