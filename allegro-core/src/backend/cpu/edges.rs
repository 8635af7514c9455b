//! [`EdgeOps`] on the CPU: the plain loop every other backend is compared with.

use std::sync::Arc;

use rayon::prelude::*;

use super::{Cpu, CpuStorage};
use crate::backend::ops::edges::{EdgeInputs, EdgeOps, NeighborList, edge_vector_component};
use crate::backend::unpack_shift;

/// Edges per rayon task.
const CHUNK: usize = 1 << 14;

fn f64_values(s: &CpuStorage) -> &[f64] {
    match s {
        CpuStorage::F64(v) => v,
        CpuStorage::F32(_) => panic!("edge_inputs: positions and cells are float64"),
    }
}

impl EdgeOps for Cpu {
    fn edge_inputs(
        list: NeighborList<'_, CpuStorage, Arc<Vec<u32>>>,
    ) -> EdgeInputs<CpuStorage, Arc<Vec<u32>>> {
        let (pos, cells) = (f64_values(list.positions), f64_values(list.cells));
        let (types, batch) = (&list.atom_types[..], &list.batch[..]);
        let (centers, neighbors, shifts) =
            (&list.centers[..], &list.neighbors[..], &list.shifts[..]);
        let e = list.n_edges;
        let mut vectors = vec![0.0f64; 3 * e];
        vectors
            .par_chunks_mut(3 * CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| {
                for (k, v) in chunk.chunks_mut(3).enumerate() {
                    let z = c * CHUNK + k;
                    let (i, j) = (centers[z] as usize, neighbors[z] as usize);
                    let s = unpack_shift(shifts[z]);
                    let cell = &cells[9 * batch[i] as usize..][..9];
                    for d in 0..3 {
                        let col = [cell[d], cell[3 + d], cell[6 + d]];
                        v[d] = edge_vector_component(pos[3 * i + d], pos[3 * j + d], s, col);
                    }
                }
            });
        let per_edge = |f: &(dyn Fn(usize) -> u32 + Sync)| -> Arc<Vec<u32>> {
            Arc::new((0..e).into_par_iter().map(f).collect())
        };
        let t = list.num_types as u32;
        EdgeInputs {
            vectors: CpuStorage::from_vec_f64(vectors),
            center_types: per_edge(&|z| types[centers[z] as usize]),
            neighbor_types: per_edge(&|z| types[neighbors[z] as usize]),
            edge_types: per_edge(&|z| {
                types[centers[z] as usize] * t + types[neighbors[z] as usize]
            }),
            edge_batch: per_edge(&|z| batch[centers[z] as usize]),
        }
    }
}
