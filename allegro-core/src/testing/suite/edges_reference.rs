//! The backend's [`EdgeOps::edge_inputs`] against the reference built from primitive
//! ops ([`crate::backend::ops::edges_reference`]), its default, and both against a
//! plain host loop: several structures with their own cells, shifts up to the packing's
//! extremes, no edges at all.

use super::inference::{assert_close, download};
use crate::backend::ops::edges_reference::edge_inputs_reference;
use crate::backend::{
    Backend, EdgeInputs, EdgeOps, NeighborList, edge_vector_component, pack_shift,
};
use crate::dtype::{DType, HostData};
use crate::rng::SplitMix64;
use crate::tensor::{Indices, Tensor};

/// A random neighbor list of `structures` structures and its per-edge inputs by a plain
/// loop: `(vectors, [center types, neighbor types, edge types, edge batch])`.
struct Graph {
    positions: Vec<f64>,
    cells: Vec<f64>,
    types: Vec<u32>,
    batch: Vec<u32>,
    centers: Vec<u32>,
    neighbors: Vec<u32>,
    shifts: Vec<[i32; 3]>,
    num_types: usize,
}

impl Graph {
    fn random(rng: &mut SplitMix64, atoms: usize, edges: usize, structures: usize) -> Self {
        let num_types = 4;
        let batch: Vec<u32> = (0..atoms)
            .map(|a| (a * structures / atoms.max(1)) as u32)
            .collect();
        let pick = |rng: &mut SplitMix64, n: usize| rng.below(n as u64) as u32;
        let shift = |rng: &mut SplitMix64, z: usize| match z % 7 {
            // The extremes the packing holds.
            0 => [-128, 127, 0],
            _ => [0; 3].map(|_| pick(rng, 7) as i32 - 3),
        };
        Graph {
            positions: rng.vec_uniform(3 * atoms, -5.0, 5.0),
            cells: rng.vec_uniform(9 * structures, -4.0, 4.0),
            types: (0..atoms).map(|_| pick(rng, num_types)).collect(),
            centers: (0..edges).map(|_| pick(rng, atoms)).collect(),
            neighbors: (0..edges).map(|_| pick(rng, atoms)).collect(),
            shifts: (0..edges).map(|z| shift(rng, z)).collect(),
            batch,
            num_types,
        }
    }

    /// What `edge_inputs` must build, by a plain loop.
    fn expected(&self) -> (Vec<f64>, [Vec<u32>; 4]) {
        let mut vectors = Vec::with_capacity(3 * self.centers.len());
        let mut tables: [Vec<u32>; 4] = Default::default();
        for (z, (&i, &j)) in self.centers.iter().zip(&self.neighbors).enumerate() {
            let (i, j) = (i as usize, j as usize);
            let cell = &self.cells[9 * self.batch[i] as usize..][..9];
            let s = self.shifts[z].map(|c| c as f64);
            for d in 0..3 {
                let col = [cell[d], cell[3 + d], cell[6 + d]];
                let (pi, pj) = (self.positions[3 * i + d], self.positions[3 * j + d]);
                vectors.push(edge_vector_component(pi, pj, s, col));
            }
            let (ti, tj) = (self.types[i], self.types[j]);
            tables[0].push(ti);
            tables[1].push(tj);
            tables[2].push(ti * self.num_types as u32 + tj);
            tables[3].push(self.batch[i]);
        }
        (vectors, tables)
    }
}

/// The vectors and tables of a result, on the host.
fn on_host<B: Backend>(
    built: &EdgeInputs<B::Storage, B::IndexStorage>,
) -> (Vec<f64>, [Vec<u32>; 4]) {
    let tables = [
        &built.center_types,
        &built.neighbor_types,
        &built.edge_types,
        &built.edge_batch,
    ]
    .map(|t| B::indices_to_host(t));
    (download::<B>(&built.vectors), tables)
}

/// `edge_inputs` of the backend and of the reference against the plain loop.
pub fn edge_inputs_matches_reference<B: Backend>(device: &B::Device) {
    let mut rng = SplitMix64::new(8401);
    for (atoms, edges, structures) in [(5, 0, 1), (1, 1, 1), (40, 900, 3), (300, 5000, 2)] {
        let g = Graph::random(&mut rng, atoms, edges, structures);
        let f64s = |v: &[f64]| {
            Tensor::<B>::from_host(HostData::F64(v.to_vec()), &[v.len()], device)
                .expect("shape")
                .storage()
                .clone()
        };
        let (positions, cells) = (f64s(&g.positions), f64s(&g.cells));
        let packed: Vec<u32> = g
            .shifts
            .iter()
            .map(|&s| pack_shift(s).expect("in range"))
            .collect();
        let idx = |v: &[u32]| Indices::<B>::new(v, device);
        let (types, batch, centers, neighbors, shifts) = (
            idx(&g.types),
            idx(&g.batch),
            idx(&g.centers),
            idx(&g.neighbors),
            idx(&packed),
        );
        let list = || NeighborList {
            positions: &positions,
            cells: &cells,
            atom_types: types.storage(),
            batch: batch.storage(),
            centers: centers.storage(),
            neighbors: neighbors.storage(),
            shifts: shifts.storage(),
            n_edges: edges,
            num_types: g.num_types,
        };
        let built = <B as EdgeOps>::edge_inputs(list());
        let plain = edge_inputs_reference::<B>(list());
        let (want, want_tables) = g.expected();
        assert_eq!(
            B::storage_dtype(&plain.vectors),
            DType::F64,
            "vectors are float64"
        );
        for (way, result) in [("backend", &built), ("reference", &plain)] {
            let (vectors, tables) = on_host::<B>(result);
            let label = format!("edge_inputs {way} ({atoms} atoms, {edges} edges)");
            assert_eq!(tables, want_tables, "{label}: type tables");
            // Same operations in the same order; a kernel may still contract a
            // multiply-add, hence a tolerance at f64's precision.
            assert_close(&format!("{label}: vectors"), &vectors, &want, 1e-14);
        }
    }
}
