//! [`EdgeOps`] as one kernel: a thread per edge reads its center, neighbor and packed
//! shift, and writes the edge vector and the four per-edge type tables.

use cubecl::prelude::*;

use super::launch::{alloc, arg, grid, u32_of};
use super::{Gpu, GpuIndices, GpuRuntime, GpuStorage};
use crate::backend::ops::edges::{EdgeInputs, EdgeOps, NeighborList};
use crate::dtype::DType;

/// One shift component from its byte (`pack_shift`'s bias of 128).
#[cube]
fn shift_component(packed: u32, byte: u32) -> f64 {
    f64::cast_from((packed >> (8 * byte)) & 255) - 128.0
}

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn edge_inputs_kernel(
    positions: &Array<f64>,
    cells: &Array<f64>,
    atom_types: &Array<u32>,
    batch: &Array<u32>,
    centers: &Array<u32>,
    neighbors: &Array<u32>,
    shifts: &Array<u32>,
    vectors: &mut Array<f64>,
    center_types: &mut Array<u32>,
    neighbor_types: &mut Array<u32>,
    edge_types: &mut Array<u32>,
    edge_batch: &mut Array<u32>,
    n_edges: u32,
    num_types: u32,
) {
    let z = ABSOLUTE_POS;
    if z < n_edges as usize {
        let i = centers[z] as usize;
        let j = neighbors[z] as usize;
        let packed = shifts[z];
        let s0 = shift_component(packed, 0);
        let s1 = shift_component(packed, 1);
        let s2 = shift_component(packed, 2);
        let f = batch[i];
        let c = 9 * f as usize;
        // The host path's order of operations (`edge_vector_component`).
        #[unroll]
        for d in 0..3usize {
            let diff = positions[3 * j + d] - positions[3 * i + d];
            vectors[3 * z + d] =
                diff + s0 * cells[c + d] + s1 * cells[c + 3 + d] + s2 * cells[c + 6 + d];
        }
        let ti = atom_types[i];
        let tj = atom_types[j];
        center_types[z] = ti;
        neighbor_types[z] = tj;
        edge_types[z] = ti * num_types + tj;
        edge_batch[z] = f;
    }
}

impl<R: GpuRuntime> EdgeOps for Gpu<R> {
    fn edge_inputs(
        list: NeighborList<'_, GpuStorage<R>, GpuIndices<R>>,
    ) -> EdgeInputs<GpuStorage<R>, GpuIndices<R>> {
        assert!(
            list.positions.dtype == DType::F64 && list.cells.dtype == DType::F64,
            "edge_inputs: positions and cells are float64"
        );
        let device = &list.positions.device;
        let client = &device.client;
        let e = list.n_edges;
        let vectors = GpuStorage::uninit(device, 3 * e, DType::F64);
        let table = || alloc(client, e, 4);
        let (ct, nt, et, eb) = (table(), table(), table(), table());
        if e > 0 {
            let (count, dim) = grid(client, e);
            let n = list.atom_types.len();
            device.counters.launch();
            unsafe {
                edge_inputs_kernel::launch_unchecked::<R>(
                    client,
                    count,
                    dim,
                    list.positions.arg(),
                    list.cells.arg(),
                    arg(&list.atom_types.handle, n),
                    arg(&list.batch.handle, n),
                    arg(&list.centers.handle, e),
                    arg(&list.neighbors.handle, e),
                    arg(&list.shifts.handle, e),
                    vectors.arg(),
                    arg(&ct, e),
                    arg(&nt, e),
                    arg(&et, e),
                    arg(&eb, e),
                    u32_of(e),
                    u32_of(list.num_types),
                )
            };
        }
        EdgeInputs {
            vectors,
            center_types: GpuIndices::on_device(ct, e, device),
            neighbor_types: GpuIndices::on_device(nt, e, device),
            edge_types: GpuIndices::on_device(et, e, device),
            edge_batch: GpuIndices::on_device(eb, e, device),
        }
    }
}
