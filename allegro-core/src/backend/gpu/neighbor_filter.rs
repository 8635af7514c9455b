//! The edges within the cutoff among those of a longer list (a Verlet list: the cutoff
//! plus a skin), on the device, for positions that moved since the list was built.
//!
//! While no atom has moved more than half the skin, every pair now within the cutoff
//! is in the list built at the cutoff plus the skin; the edges of this call are those
//! of the list whose vector, `pos[j] − pos[i] + shift @ cell` as a model computes it,
//! is shorter than the pair's cutoff. The same count, scan and fill as the cell list
//! ([`super::neighbors`]), over each center's run of the longer list, so the result
//! keeps its grouping by center and its order.

use cubecl::prelude::*;
use cubecl::server::Handle;

use super::launch::{alloc, arg, grid, u32_of, upload_parts, upload_u32_parts};
use super::neighbors::{DeviceEdges, launch_scan, meta, squared_cutoffs, translation};
use super::transfer::download;
use super::{GpuIndices, GpuRuntime, GpuStorage};
use crate::dtype::DType;

/// One factor of a packed shift (`pack_shift`'s bias of 128).
#[cube]
fn unpacked(packed: u32, byte: u32) -> f64 {
    f64::cast_from((packed >> (8 * byte)) & 255) - 128.0
}

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn filter_kernel(
    positions: &Array<f64>,
    cell: &Array<f64>,
    cut2_table: &Array<f64>,
    types: &Array<u32>,
    list_offsets: &Array<u32>,
    list_neighbors: &Array<u32>,
    list_shifts: &Array<u32>,
    edge_offsets: &Array<u32>,
    counts: &mut Array<u32>,
    centers: &mut Array<u32>,
    neighbors: &mut Array<u32>,
    shifts: &mut Array<u32>,
    flags: &mut Array<u32>,
    n: u32,
    n_types: u32,
    typed: u32,
    rc2: f64,
    min2: f64,
    #[comptime] fill: bool,
) {
    let i = ABSOLUTE_POS;
    if i < n as usize {
        let mut ti = 0u32;
        if typed == 1 {
            ti = types[i];
        }
        let mut z = 0u32;
        if comptime![fill] {
            z = edge_offsets[i];
        }
        let mut found = 0u32;
        for q in list_offsets[i]..list_offsets[i + 1] {
            let q = q as usize;
            let j = list_neighbors[q] as usize;
            let packed = list_shifts[q];
            let (s0, s1, s2) = (
                unpacked(packed, 0),
                unpacked(packed, 1),
                unpacked(packed, 2),
            );
            // The vector a model computes, in its order of operations.
            let v0 = positions[3 * j] - positions[3 * i] + translation(s0, s1, s2, cell, 0);
            let v1 = positions[3 * j + 1] - positions[3 * i + 1] + translation(s0, s1, s2, cell, 1);
            let v2 = positions[3 * j + 2] - positions[3 * i + 2] + translation(s0, s1, s2, cell, 2);
            let d2 = v0 * v0 + v1 * v1 + v2 * v2;
            let mut cut2 = rc2;
            if typed == 1 {
                cut2 = cut2_table[(ti * n_types + types[j]) as usize];
            }
            if d2 < cut2 {
                if d2 < min2 {
                    flags[1] = 1;
                }
                if comptime![fill] {
                    centers[z as usize] = u32::cast_from(i);
                    neighbors[z as usize] = list_neighbors[q];
                    shifts[z as usize] = packed;
                }
                z += 1;
                found += 1;
            }
        }
        if !comptime![fill] {
            counts[i] = found;
        }
    }
}

/// How a filter ended.
pub enum FilterOutcome<R: GpuRuntime> {
    /// The edges within the cutoff.
    Edges(Box<DeviceEdges<R>>),
    /// Two atoms (or an atom and an image) closer than the minimum distance.
    TooClose,
}

/// The edges of `list` (built at a longer cutoff) within `cutoff`, or the per-type
/// cutoffs `(table [T·T], types [N])`, at `positions` (`[N, 3]` float64 on the device)
/// and `cell`: two launches and a scan, one read of the edge count.
pub fn filter_on_device<R: GpuRuntime>(
    positions: &GpuStorage<R>,
    cell: [[f64; 3]; 3],
    list: &DeviceEdges<R>,
    cutoff: f64,
    per_type_cutoff: Option<(&[f64], &[u32])>,
    min_distance: Option<f64>,
) -> FilterOutcome<R> {
    assert_eq!(positions.dtype, DType::F64, "filter: positions are float64");
    let device = &positions.device;
    let client = &device.client;
    let n = positions.len / 3;
    let (cut2_values, type_values, n_types, typed) = squared_cutoffs(cutoff, per_type_cutoff);
    let tables = upload_u32_parts(device, &[type_values, &[0u32; meta::LEN]]);
    let [types, meta_h]: [Handle; 2] = tables
        .try_into()
        .unwrap_or_else(|_| unreachable!("two parts"));
    let floats = upload_parts(device, &[cell.as_flattened(), &cut2_values[..]]);
    let [cell_h, cut2]: [Handle; 2] = floats
        .try_into()
        .unwrap_or_else(|_| unreachable!("two parts"));
    let counts = alloc(client, n, 4);
    let offsets = alloc(client, n + 1, 4);
    let (list_e, rc2) = (list.n_edges, cutoff * cutoff);
    let min2 = min_distance.map_or(-1.0, |d| d * d);
    let launch = |fill: bool, out: [(&Handle, usize); 3]| {
        let (count, dim) = grid(client, n);
        device.counters.launch();
        // SAFETY: per-atom tables hold `n` (×3) entries and `n + 1` offsets, the list
        // `list_e` edges, the outputs the total the count pass found.
        unsafe {
            filter_kernel::launch_unchecked::<R>(
                client,
                count,
                dim,
                positions.arg(),
                arg(&cell_h, 9),
                arg(&cut2, cut2_values.len()),
                arg(&types, type_values.len().max(1)),
                arg(&list.center_offsets.handle, n + 1),
                arg(&list.neighbors.handle, list_e),
                arg(&list.shifts.handle, list_e),
                arg(&offsets, n + 1),
                arg(&counts, n),
                arg(out[0].0, out[0].1),
                arg(out[1].0, out[1].1),
                arg(out[2].0, out[2].1),
                arg(&meta_h, meta::LEN),
                u32_of(n),
                n_types,
                typed,
                rc2,
                min2,
                fill,
            )
        };
    };
    if n > 0 {
        let unused = [
            alloc(client, 1, 4),
            alloc(client, 1, 4),
            alloc(client, 1, 4),
        ];
        launch(false, [(&unused[0], 1), (&unused[1], 1), (&unused[2], 1)]);
        launch_scan(device, &counts, &offsets, &meta_h, n);
    }
    let read: Vec<u32> = if n > 0 {
        download(device, meta_h.clone(), meta::LEN)
    } else {
        vec![0; meta::LEN]
    };
    if read[meta::TOO_CLOSE] != 0 {
        return FilterOutcome::TooClose;
    }
    let e = read[meta::TOTAL] as usize;
    let (centers, neighbors, shifts) = (
        alloc(client, e, 4),
        alloc(client, e, 4),
        alloc(client, e, 4),
    );
    if e > 0 {
        launch(true, [(&centers, e), (&neighbors, e), (&shifts, e)]);
    }
    let center_offsets = if n > 0 {
        GpuIndices::on_device(offsets, n + 1, device)
    } else {
        GpuIndices::from_host(device, &[0])
    };
    FilterOutcome::Edges(Box::new(DeviceEdges {
        centers: GpuIndices::on_device(centers, e, device).assume_sorted(),
        neighbors: GpuIndices::on_device(neighbors, e, device),
        shifts: GpuIndices::on_device(shifts, e, device),
        center_offsets: center_offsets.assume_sorted(),
        n_edges: e,
    }))
}
