//! The pair loop of a cell-list neighbor search on the device.
//!
//! The host sorts the atoms into bins at least one cutoff thick (allegro-data's
//! `cell_bins`: O(N), and the positions are on the host anyway); the device then finds
//! every edge, one thread per center atom, in two passes over the same loop: the first
//! counts each atom's edges, a scan turns the counts into offsets (edges come out
//! grouped by center, in center order, as models want them), and the second writes
//! them. Per edge the host neither computes nor uploads anything: what a model call
//! then uploads is O(atoms), not O(edges).
//!
//! The loop is the CPU cell list's (`allegro_data::neighbor_list`), test for test: the
//! global cutoff first, then the pair's own, and an edge within 1e-9 of its cutoff
//! decided on the vector a model computes (`pos[j] − pos[i] + shift @ cell`) rather than
//! on the wrapped positions. The edge set is the CPU's; only the order of a center's
//! edges differs (bins are walked in the same order, so it is the same too, unless a
//! device's fused multiply-adds move a distance across the cutoff by a rounding).
//!
//! Two atoms closer than the minimum distance, and a cell shift beyond the packed form
//! (±127 periods), are flagged, not reported: the caller then runs the CPU list, which
//! names the atoms or builds vectors on the host.

use cubecl::prelude::*;
use cubecl::server::Handle;

use super::launch::{alloc, arg, grid, u32_of, upload_parts, upload_u32_parts};
use super::transfer::download;
use super::{GpuDevice, GpuIndices, GpuRuntime};

/// What the device needs of a cell-list search: allegro-data's `CellBins` as plain
/// arrays, the original positions and the cutoffs.
#[derive(Clone, Copy, Debug)]
pub struct CellListInput<'a> {
    /// Positions as given (Å), `[N]`.
    pub positions: &'a [[f64; 3]],
    /// Wrapped positions in bin order, `[N]`.
    pub sorted_positions: &'a [[f64; 3]],
    /// Atoms sorted by bin, `[N]`.
    pub order: &'a [u32],
    /// `order[start[l]..start[l + 1]]` are bin `l`'s atoms, `[bins + 1]`.
    pub start: &'a [u32],
    /// Bin of each atom, `[N]`.
    pub atom_bin: &'a [[u32; 3]],
    /// Whole cells the wrapping removed from each atom, `[N]`.
    pub offset: &'a [[i32; 3]],
    /// Bins per direction.
    pub nbins: [u32; 3],
    /// Bins looked through on each side.
    pub reach: [u32; 3],
    /// Periodic directions.
    pub pbc: [bool; 3],
    /// Cell rows (zero rows where there is none).
    pub cell: [[f64; 3]; 3],
    /// The global cutoff (Å).
    pub cutoff: f64,
    /// Per-type-pair cutoffs, `[T·T]` row-major by center type, with `types`; `None`:
    /// the global cutoff for every pair.
    pub per_type_cutoff: Option<(&'a [f64], &'a [u32])>,
    /// Pairs closer than this are flagged (`None`: no check).
    pub min_distance: Option<f64>,
}

/// Edges found on the device, grouped by center in center order.
pub struct DeviceEdges<R: GpuRuntime> {
    /// Center of each edge, `[E]`.
    pub centers: GpuIndices<R>,
    /// Neighbor of each edge, `[E]`.
    pub neighbors: GpuIndices<R>,
    /// Packed cell shift of each edge (`pack_shift`), `[E]`.
    pub shifts: GpuIndices<R>,
    /// `[N + 1]` offsets of each atom's edges.
    pub center_offsets: GpuIndices<R>,
    /// Number of edges `E`.
    pub n_edges: usize,
}

/// How a device search ended.
pub enum CellListOutcome<R: GpuRuntime> {
    /// The edges.
    Edges(Box<DeviceEdges<R>>),
    /// Two atoms (or an atom and an image) closer than the minimum distance.
    TooClose,
    /// A cell shift beyond the packed form (a cell far thinner than the cutoff).
    ShiftOverflow,
}

/// Entries of the `u32` parameter table.
mod param {
    pub const NBINS: usize = 0;
    pub const REACH: usize = 3;
    pub const PBC: usize = 6;
    pub const N_TYPES: usize = 9;
    pub const TYPED: usize = 10;
    pub const LEN: usize = 11;
}

/// Entries of the result table the host reads.
pub(super) mod meta {
    /// Edges in total.
    pub const TOTAL: usize = 0;
    /// Some pair closer than the minimum distance.
    pub const TOO_CLOSE: usize = 1;
    /// Some shift beyond ±127.
    pub const OVERFLOW: usize = 2;
    pub const LEN: usize = 3;
}

/// Threads of the one cube that scans the counts.
const SCAN_THREADS: u32 = 256;

/// The bin reached from `b` by step `k` of `0..2·reach + 1` along a direction of `n`
/// bins, wrapped when periodic; `n` (no bin) when it falls outside an open direction.
#[cube]
#[allow(clippy::manual_range_contains)] // cube functions take comparisons, not ranges
fn stepped_bin(b: u32, k: u32, reach: u32, n: u32, periodic: u32) -> u32 {
    let raw = i32::cast_from(b) + i32::cast_from(k) - i32::cast_from(reach);
    let ni = i32::cast_from(n);
    let mut out = n;
    if periodic == 1 {
        out = u32::cast_from(((raw % ni) + ni) % ni);
    } else if raw >= 0 && raw < ni {
        out = u32::cast_from(raw);
    }
    out
}

/// The periods crossed by that step (0 along an open direction).
#[cube]
fn stepped_image(b: u32, k: u32, reach: u32, n: u32, periodic: u32) -> i32 {
    let raw = i32::cast_from(b) + i32::cast_from(k) - i32::cast_from(reach);
    let ni = i32::cast_from(n);
    let mut image = 0i32;
    if periodic == 1 {
        let wrapped = ((raw % ni) + ni) % ni;
        image = (raw - wrapped) / ni;
    }
    image
}

/// Component `d` of `s @ cell` for integer factors `s` (the host's order of operations).
#[cube]
pub(super) fn translation(s0: f64, s1: f64, s2: f64, cell: &Array<f64>, d: usize) -> f64 {
    s0 * cell[d] + s1 * cell[3 + d] + s2 * cell[6 + d]
}

/// One byte of a packed shift, or 256 when `c` is outside −128..=127.
#[cube]
#[allow(clippy::manual_range_contains)] // cube functions take comparisons, not ranges
pub(super) fn shift_byte(c: i32) -> u32 {
    let biased = c + 128;
    let mut byte = 256u32;
    if biased >= 0 && biased <= 255 {
        byte = u32::cast_from(biased);
    }
    byte
}

#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
fn cell_list_kernel(
    positions: &Array<f64>,
    sorted: &Array<f64>,
    cell: &Array<f64>,
    cut2_table: &Array<f64>,
    order: &Array<u32>,
    start: &Array<u32>,
    atom_bin: &Array<u32>,
    offset: &Array<i32>,
    types: &Array<u32>,
    params: &Array<u32>,
    edge_offsets: &Array<u32>,
    counts: &mut Array<u32>,
    centers: &mut Array<u32>,
    neighbors: &mut Array<u32>,
    shifts: &mut Array<u32>,
    flags: &mut Array<u32>,
    n: u32,
    rc2: f64,
    min2: f64,
    #[comptime] fill: bool,
) {
    let i = ABSOLUTE_POS;
    if i < n as usize {
        let n1 = params[param::NBINS + 1];
        let n2 = params[param::NBINS + 2];
        let typed = params[param::TYPED];
        let n_types = params[param::N_TYPES];
        let oi0 = offset[3 * i];
        let oi1 = offset[3 * i + 1];
        let oi2 = offset[3 * i + 2];
        let (fo0, fo1, fo2) = (
            f64::cast_from(oi0),
            f64::cast_from(oi1),
            f64::cast_from(oi2),
        );
        // The wrapped position, as the host computed the sorted ones.
        let ri0 = positions[3 * i] - translation(fo0, fo1, fo2, cell, 0);
        let ri1 = positions[3 * i + 1] - translation(fo0, fo1, fo2, cell, 1);
        let ri2 = positions[3 * i + 2] - translation(fo0, fo1, fo2, cell, 2);
        let mut ti = 0u32;
        if typed == 1 {
            ti = types[i];
        }
        let mut z = 0u32;
        if comptime![fill] {
            z = edge_offsets[i];
        }
        let mut found = 0u32;
        let w0 = 2 * params[param::REACH] + 1;
        let w1 = 2 * params[param::REACH + 1] + 1;
        let w2 = 2 * params[param::REACH + 2] + 1;
        for k0 in 0..w0 {
            let b0 = stepped_bin(
                atom_bin[3 * i],
                k0,
                params[param::REACH],
                params[param::NBINS],
                params[param::PBC],
            );
            let s0 = stepped_image(
                atom_bin[3 * i],
                k0,
                params[param::REACH],
                params[param::NBINS],
                params[param::PBC],
            );
            for k1 in 0..w1 {
                let b1 = stepped_bin(
                    atom_bin[3 * i + 1],
                    k1,
                    params[param::REACH + 1],
                    n1,
                    params[param::PBC + 1],
                );
                let s1 = stepped_image(
                    atom_bin[3 * i + 1],
                    k1,
                    params[param::REACH + 1],
                    n1,
                    params[param::PBC + 1],
                );
                for k2 in 0..w2 {
                    let b2 = stepped_bin(
                        atom_bin[3 * i + 2],
                        k2,
                        params[param::REACH + 2],
                        n2,
                        params[param::PBC + 2],
                    );
                    let s2 = stepped_image(
                        atom_bin[3 * i + 2],
                        k2,
                        params[param::REACH + 2],
                        n2,
                        params[param::PBC + 2],
                    );
                    if b0 < params[param::NBINS] && b1 < n1 && b2 < n2 {
                        let (f0, f1, f2) =
                            (f64::cast_from(s0), f64::cast_from(s1), f64::cast_from(s2));
                        let base0 = translation(f0, f1, f2, cell, 0) - ri0;
                        let base1 = translation(f0, f1, f2, cell, 1) - ri1;
                        let base2 = translation(f0, f1, f2, cell, 2) - ri2;
                        let l = (b0 * n1 + b1) * n2 + b2;
                        let first = start[l as usize];
                        let last = start[l as usize + 1];
                        let origin = s0 == 0 && s1 == 0 && s2 == 0;
                        for q in first..last {
                            let q = q as usize;
                            let v0 = sorted[3 * q] + base0;
                            let v1 = sorted[3 * q + 1] + base1;
                            let v2 = sorted[3 * q + 2] + base2;
                            let d2 = v0 * v0 + v1 * v1 + v2 * v2;
                            let j = order[q];
                            if d2 < rc2 * (1.0 + 1e-10) && !(origin && j as usize == i) {
                                let ju = j as usize;
                                let sh0 = s0 + oi0 - offset[3 * ju];
                                let sh1 = s1 + oi1 - offset[3 * ju + 1];
                                let sh2 = s2 + oi2 - offset[3 * ju + 2];
                                let mut cut2 = rc2;
                                if typed == 1 {
                                    cut2 = cut2_table[(ti * n_types + types[ju]) as usize];
                                }
                                // Near the cutoff, the vector a model computes decides.
                                let mut dist2 = d2;
                                let tol = 1e-9 * cut2;
                                if d2 - cut2 <= tol && cut2 - d2 <= tol {
                                    let (g0, g1, g2) = (
                                        f64::cast_from(sh0),
                                        f64::cast_from(sh1),
                                        f64::cast_from(sh2),
                                    );
                                    let w0 = positions[3 * ju] - positions[3 * i]
                                        + translation(g0, g1, g2, cell, 0);
                                    let w1 = positions[3 * ju + 1] - positions[3 * i + 1]
                                        + translation(g0, g1, g2, cell, 1);
                                    let w2 = positions[3 * ju + 2] - positions[3 * i + 2]
                                        + translation(g0, g1, g2, cell, 2);
                                    dist2 = w0 * w0 + w1 * w1 + w2 * w2;
                                }
                                if dist2 < cut2 {
                                    if dist2 < min2 {
                                        flags[1] = 1;
                                    }
                                    let c0 = shift_byte(sh0);
                                    let c1 = shift_byte(sh1);
                                    let c2 = shift_byte(sh2);
                                    if c0 > 255 || c1 > 255 || c2 > 255 {
                                        flags[2] = 1;
                                    }
                                    if comptime![fill] {
                                        centers[z as usize] = u32::cast_from(i);
                                        neighbors[z as usize] = j;
                                        shifts[z as usize] =
                                            (c0 & 255) | ((c1 & 255) << 8) | ((c2 & 255) << 16);
                                    }
                                    z += 1;
                                    found += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        if !comptime![fill] {
            counts[i] = found;
        }
    }
}

/// Exclusive scan of `counts` (`n` of them) into `offsets[0..=n]` by one cube: each
/// thread sums a contiguous chunk, the chunk sums are scanned in shared memory, and
/// each thread writes its chunk's offsets. The total also goes to `meta[0]`.
#[cube(launch_unchecked)]
fn exclusive_scan_kernel(
    counts: &Array<u32>,
    offsets: &mut Array<u32>,
    meta: &mut Array<u32>,
    n: u32,
) {
    let t = UNIT_POS;
    let per = n.div_ceil(SCAN_THREADS);
    let mut begin = t * per;
    if begin > n {
        begin = n;
    }
    let mut end = begin + per;
    if end > n {
        end = n;
    }
    let mut own = 0u32;
    for q in begin..end {
        own += counts[q as usize];
    }
    let mut partial = SharedMemory::<u32>::new(SCAN_THREADS as usize);
    partial[t as usize] = own;
    sync_cube();
    // Inclusive Hillis–Steele scan of the chunk sums.
    #[unroll]
    for step in 0..8u32 {
        let d = comptime![1u32 << step];
        let mut add = 0u32;
        if t >= d {
            add = partial[(t - d) as usize];
        }
        sync_cube();
        partial[t as usize] += add;
        sync_cube();
    }
    let mut run = partial[t as usize] - own;
    for q in begin..end {
        offsets[q as usize] = run;
        run += counts[q as usize];
    }
    if t == SCAN_THREADS - 1 {
        offsets[n as usize] = partial[t as usize];
        meta[0] = partial[t as usize];
    }
}

/// The squared cutoffs a pair loop reads: the per-type table (`[T·T]`, with the atom
/// types, `T` and 1 for "typed") or the global cutoff alone (no types, 1, 0).
pub(super) fn squared_cutoffs<'a>(
    cutoff: f64,
    per_type: Option<(&[f64], &'a [u32])>,
) -> (Vec<f64>, &'a [u32], u32, u32) {
    match per_type {
        Some((table, types)) => (
            table.iter().map(|c| c * c).collect(),
            types,
            (table.len() as f64).sqrt().round() as u32,
            1,
        ),
        None => (vec![cutoff * cutoff], &[], 1, 0),
    }
}

/// Launches [`exclusive_scan_kernel`]: `counts` (`n`) into `offsets` (`n + 1`), the
/// total into `meta[0]`.
pub(super) fn launch_scan<R: GpuRuntime>(
    device: &GpuDevice<R>,
    counts: &Handle,
    offsets: &Handle,
    meta: &Handle,
    n: usize,
) {
    device.counters.launch();
    // SAFETY: `counts` has `n` entries, `offsets` `n + 1`, `meta` three.
    unsafe {
        exclusive_scan_kernel::launch_unchecked::<R>(
            &device.client,
            CubeCount::Static(1, 1, 1),
            CubeDim::new_1d(SCAN_THREADS),
            arg(counts, n),
            arg(offsets, n + 1),
            arg(meta, meta::LEN),
            u32_of(n),
        )
    };
}

/// Finds the edges of `input` on `device`: two launches of the pair loop and one scan,
/// one download of three numbers between them (the total and the flags).
pub fn cell_list_on_device<R: GpuRuntime>(
    device: &GpuDevice<R>,
    input: &CellListInput<'_>,
) -> CellListOutcome<R> {
    let n = input.positions.len();
    let client = &device.client;
    let (cut2_values, type_values, n_types, typed) =
        squared_cutoffs(input.cutoff, input.per_type_cutoff);
    let mut params = [0u32; param::LEN];
    params[param::NBINS..param::NBINS + 3].copy_from_slice(&input.nbins);
    params[param::REACH..param::REACH + 3].copy_from_slice(&input.reach);
    for k in 0..3 {
        params[param::PBC + k] = input.pbc[k] as u32;
    }
    params[param::N_TYPES] = n_types;
    params[param::TYPED] = typed;
    let offset: Vec<u32> = input
        .offset
        .iter()
        .flat_map(|o| o.map(|c| c as u32))
        .collect();
    let tables = upload_u32_parts(
        device,
        &[
            input.order,
            input.start,
            input.atom_bin.as_flattened(),
            &offset,
            type_values,
            &params,
            &[0u32; meta::LEN],
        ],
    );
    let [order, start, atom_bin, offset, types, params, meta]: [Handle; 7] = tables
        .try_into()
        .unwrap_or_else(|_| unreachable!("seven parts"));
    let floats = upload_parts(
        device,
        &[
            input.positions.as_flattened(),
            input.sorted_positions.as_flattened(),
            input.cell.as_flattened(),
            &cut2_values,
        ],
    );
    let [positions, sorted, cell, cut2]: [Handle; 4] = floats
        .try_into()
        .unwrap_or_else(|_| unreachable!("four parts"));
    let counts = alloc(client, n, 4);
    let offsets = alloc(client, n + 1, 4);
    let rc2 = input.cutoff * input.cutoff;
    let min2 = input.min_distance.map_or(-1.0, |d| d * d);
    let bins = input.start.len().saturating_sub(1);
    let n_flat = 3 * n;
    let launch = |fill: bool, out: [(&Handle, usize); 3]| {
        let (count, dim) = grid(client, n);
        device.counters.launch();
        // SAFETY: every buffer holds the elements the kernel indexes: per-atom tables
        // `n` (×3), bins `bins + 1`, edges the total the count pass found.
        unsafe {
            cell_list_kernel::launch_unchecked::<R>(
                client,
                count,
                dim,
                arg(&positions, n_flat),
                arg(&sorted, n_flat),
                arg(&cell, 9),
                arg(&cut2, cut2_values.len()),
                arg(&order, n),
                arg(&start, bins + 1),
                arg(&atom_bin, n_flat),
                arg(&offset, n_flat),
                arg(&types, type_values.len().max(1)),
                arg(&params, param::LEN),
                arg(&offsets, n + 1),
                arg(&counts, n),
                arg(out[0].0, out[0].1),
                arg(out[1].0, out[1].1),
                arg(out[2].0, out[2].1),
                arg(&meta, meta::LEN),
                u32_of(n),
                rc2,
                min2,
                fill,
            )
        };
    };
    // The count pass writes no edges; its edge outputs get buffers of their own (writable
    // bindings must not alias on some runtimes).
    let unused = [
        alloc(client, 1, 4),
        alloc(client, 1, 4),
        alloc(client, 1, 4),
    ];
    launch(false, [(&unused[0], 1), (&unused[1], 1), (&unused[2], 1)]);
    launch_scan(device, &counts, &offsets, &meta, n);
    let read: Vec<u32> = download(device, meta.clone(), meta::LEN);
    if read[meta::TOO_CLOSE] != 0 {
        return CellListOutcome::TooClose;
    }
    if read[meta::OVERFLOW] != 0 {
        return CellListOutcome::ShiftOverflow;
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
    CellListOutcome::Edges(Box::new(DeviceEdges {
        centers: GpuIndices::on_device(centers, e, device).assume_sorted(),
        neighbors: GpuIndices::on_device(neighbors, e, device),
        shifts: GpuIndices::on_device(shifts, e, device),
        center_offsets: GpuIndices::on_device(offsets, n + 1, device).assume_sorted(),
        n_edges: e,
    }))
}
