//! [`ModelInputs`] built on the device from per-atom arrays and a neighbor list.
//!
//! [`ModelInputs::new`] takes edge vectors computed on the host: 24 bytes of vector and
//! 24 of index tables per edge go to the device. Here the device receives the per-atom
//! arrays once and, per edge, its center, neighbor and packed cell shift (12 bytes); the
//! vectors and per-edge type tables are built there
//! ([`allegro_core::backend::EdgeOps::edge_inputs`]). Both
//! constructors give the same inputs (`tests/edge_inputs.rs`).

use allegro_core::backend::{NeighborList, pack_shift};
use allegro_core::{Backend, HostData, Indices, Tensor};
use allegro_data::AtomicGraph;
use rayon::prelude::*;

use crate::atom_types_cache::AtomTypesCache;
use crate::error::{Error, Result};
use crate::inputs::ModelInputs;

/// Per-atom arrays and a neighbor list on the host: what [`ModelInputs::from_neighbor_list`]
/// uploads.
#[derive(Clone, Copy, Debug)]
pub struct NeighborListInputs<'a> {
    /// Positions (Å), `[N]`.
    pub positions: &'a [[f64; 3]],
    /// Cell of each structure (rows are lattice vectors; zeros without one), `[F]`.
    pub cells: &'a [[[f64; 3]; 3]],
    /// Model type of each atom, `[N]`.
    pub atom_types: &'a [u32],
    /// Structure of each atom, `[N]`.
    pub batch: &'a [u32],
    /// Center of each edge, `[E]`.
    pub edge_center: &'a [u32],
    /// Neighbor of each edge, `[E]`.
    pub edge_neighbor: &'a [u32],
    /// Integer cell shift of each edge, `[E]` (empty: all zero, as for LAMMPS's lists
    /// with ghost atoms).
    pub edge_shifts: &'a [[i32; 3]],
}

impl<'a> NeighborListInputs<'a> {
    /// The arrays of a batched graph.
    pub fn of_graph(graph: &'a AtomicGraph) -> Self {
        NeighborListInputs {
            positions: &graph.positions,
            cells: &graph.cells,
            atom_types: &graph.atom_types,
            batch: &graph.batch,
            edge_center: &graph.edge_center,
            edge_neighbor: &graph.edge_neighbor,
            edge_shifts: &graph.edge_cell_shift,
        }
    }
}

/// Edges per task of the parallel loops.
const EDGE_CHUNK: usize = 1 << 14;

impl<B: Backend> ModelInputs<B> {
    /// Checks and uploads per-atom arrays and a neighbor list; edge vectors and per-edge
    /// tables are built on the device. `Ok(None)` when a cell shift does not fit the
    /// packed form (a component beyond ±127: a cell far smaller than the cutoff); the
    /// caller then uses [`ModelInputs::new`] with host-built vectors.
    ///
    /// Two distinct atoms at the same place give a zero-length edge that only the
    /// device sees: the model's outputs are then not finite ([`crate::Predictor`] checks
    /// them and names the edge).
    pub fn from_neighbor_list(
        num_types: usize,
        list: &NeighborListInputs<'_>,
        device: &B::Device,
    ) -> Result<Option<Self>> {
        Self::from_neighbor_list_reusing(num_types, list, device, None)
    }

    /// [`ModelInputs::from_neighbor_list`], taking the atom types from `types_cache`
    /// when they are the ones it holds (and keeping them there otherwise). A call then
    /// uploads the positions (24 bytes an atom), each structure's cell and, per edge,
    /// center, neighbor and packed shift (12 bytes): the structure index of a single
    /// structure's atoms and the center offsets are made on the device.
    pub fn from_neighbor_list_reusing(
        num_types: usize,
        list: &NeighborListInputs<'_>,
        device: &B::Device,
        types_cache: Option<&AtomTypesCache<B>>,
    ) -> Result<Option<Self>> {
        let n = list.positions.len();
        let n_frames = list.cells.len();
        let e = list.edge_center.len();
        check_atoms(num_types, list, n, n_frames)?;
        if list.edge_neighbor.len() != e
            || !(list.edge_shifts.is_empty() || list.edge_shifts.len() == e)
        {
            return Err(Error::Input(format!(
                "{e} edge centers, {} neighbors and {} cell shifts",
                list.edge_neighbor.len(),
                list.edge_shifts.len()
            )));
        }
        let zero = pack_shift([0, 0, 0]).expect("zero fits");
        let shift_of = |z: usize| {
            if list.edge_shifts.is_empty() {
                Some(zero)
            } else {
                pack_shift(list.edge_shifts[z])
            }
        };
        // Per-edge checks and packing in one parallel pass; the first offending edge is
        // reported.
        let packed: Vec<Option<u32>> = (0..e)
            .into_par_iter()
            .with_min_len(EDGE_CHUNK)
            .map(shift_of)
            .collect();
        let bad = (0..e)
            .into_par_iter()
            .with_min_len(EDGE_CHUNK)
            .find_first(|&z| {
                let (i, j) = (list.edge_center[z], list.edge_neighbor[z]);
                i as usize >= n || j as usize >= n || (i == j && packed[z] == Some(zero))
            });
        if let Some(z) = bad {
            let (i, j) = (list.edge_center[z], list.edge_neighbor[z]);
            return Err(Error::Input(if i as usize >= n || j as usize >= n {
                format!("edge {z} joins atoms {i} and {j}, there are {n}")
            } else {
                format!(
                    "edge {z} has zero length: atom {i} is its own neighbor without a cell shift"
                )
            }));
        }
        // Any shift beyond the packed form: the caller builds vectors on the host.
        let Some(mut shifts) = packed.into_par_iter().collect::<Option<Vec<u32>>>() else {
            return Ok(None);
        };
        let (mut centers, mut neighbors) = (list.edge_center.to_vec(), list.edge_neighbor.to_vec());
        if !centers.par_windows(2).all(|w| w[0] <= w[1]) {
            // Group edges by center (stable), as ModelInputs promises.
            let mut order: Vec<usize> = (0..e).collect();
            order.par_sort_by_key(|&z| centers[z]);
            centers = order.par_iter().map(|&z| list.edge_center[z]).collect();
            neighbors = order.par_iter().map(|&z| list.edge_neighbor[z]).collect();
            shifts = order.par_iter().map(|&z| shifts[z]).collect();
        }
        let offsets = run_starts(&centers, n);
        // One upload for the edge tables and whatever per-atom table the device cannot
        // make or does not hold already.
        let cached_types = types_cache.and_then(|c| c.get(list.atom_types));
        let mut parts: Vec<&[u32]> = vec![&centers, &neighbors, &shifts];
        if cached_types.is_none() {
            parts.push(list.atom_types);
        }
        if n_frames != 1 {
            parts.push(list.batch);
        }
        let mut uploaded = Indices::<B>::new_many(&parts, device).into_iter();
        let mut next = || uploaded.next().expect("one index buffer per table");
        let (edge_center, edge_neighbor, shift_table) = (next(), next(), next());
        let atom_types = cached_types.unwrap_or_else(|| {
            let types = next();
            if let Some(cache) = types_cache {
                cache.keep(list.atom_types, &types);
            }
            types
        });
        // One structure: every atom's index is 0 (check_atoms saw them all below 1).
        let batch = if n_frames == 1 {
            Indices::<B>::filled(n, 0, device)
        } else {
            next()
        };
        let center_offsets = edge_center.run_starts(offsets, device);
        let positions = Tensor::<B>::from_host(
            HostData::F64(list.positions.as_flattened().to_vec()),
            &[n, 3],
            device,
        )?;
        let cells = Tensor::<B>::from_host(
            HostData::F64(
                list.cells
                    .iter()
                    .flat_map(|c| c.as_flattened().iter().copied())
                    .collect(),
            ),
            &[n_frames, 3, 3],
            device,
        )?;
        let built = B::edge_inputs(NeighborList {
            positions: positions.storage(),
            cells: cells.storage(),
            atom_types: atom_types.storage(),
            batch: batch.storage(),
            centers: edge_center.storage(),
            neighbors: edge_neighbor.storage(),
            shifts: shift_table.storage(),
            n_edges: e,
            num_types,
        });
        let type_max = (num_types > 0 && e > 0).then(|| num_types as u32 - 1);
        let per_edge = |s, max| Indices::<B>::from_storage(s, e, max);
        Ok(Some(
            ModelInputs {
                n_atoms: n,
                n_frames,
                atom_types,
                atom_types_host: list.atom_types.to_vec(),
                batch,
                batch_host: list.batch.to_vec(),
                edge_center,
                edge_neighbor,
                center_types: per_edge(built.center_types, type_max),
                neighbor_types: per_edge(built.neighbor_types, type_max),
                edge_types: per_edge(built.edge_types, type_max.map(|t| t * num_types as u32 + t)),
                edge_batch: per_edge(
                    built.edge_batch,
                    (e > 0 && n_frames > 0).then(|| n_frames as u32 - 1),
                ),
                edge_vectors: Tensor::from_storage(built.vectors, &[e, 3]),
                center_offsets,
                first_center: 0,
                graph_atoms: n,
            }
            .mark_sorted(),
        ))
    }
}

/// Where each of `n` atoms' edges start in ascending `centers`, and their end: `[n + 1]`.
fn run_starts(centers: &[u32], n: usize) -> Vec<u32> {
    let mut offsets = vec![0u32; n + 1];
    for &c in centers {
        offsets[c as usize + 1] += 1;
    }
    for a in 0..n {
        offsets[a + 1] += offsets[a];
    }
    offsets
}

/// Per-atom checks: lengths, types, structures, finite positions.
pub(crate) fn check_atoms(
    num_types: usize,
    list: &NeighborListInputs<'_>,
    n: usize,
    n_frames: usize,
) -> Result<()> {
    if list.atom_types.len() != n || list.batch.len() != n {
        return Err(Error::Input(format!(
            "{n} positions, {} atom types and {} structure indices",
            list.atom_types.len(),
            list.batch.len()
        )));
    }
    if let Some((i, t)) = list
        .atom_types
        .iter()
        .enumerate()
        .find(|(_, t)| **t as usize >= num_types)
    {
        return Err(Error::Input(format!(
            "atom {i} has type {t}, the model has {num_types} types"
        )));
    }
    if let Some((i, f)) = list
        .batch
        .iter()
        .enumerate()
        .find(|(_, f)| **f as usize >= n_frames)
    {
        return Err(Error::Input(format!(
            "atom {i} is in structure {f} of {n_frames}"
        )));
    }
    if let Some(i) = list
        .positions
        .iter()
        .position(|p| !p.iter().all(|c| c.is_finite()))
    {
        return Err(Error::Input(format!(
            "atom {i} has a non-finite position {:?}",
            list.positions[i]
        )));
    }
    if let Some(f) = list
        .cells
        .iter()
        .position(|c| !c.as_flattened().iter().all(|x| x.is_finite()))
    {
        return Err(Error::Input(format!("structure {f} has a non-finite cell")));
    }
    Ok(())
}
