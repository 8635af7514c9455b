//! Neighbor lists found on a GPU: the host bins the atoms (O(N),
//! [`allegro_data::cell_bins`]) and the device finds the edges
//! ([`allegro_core::backend::gpu::cell_list_on_device`]), so no per-edge work or upload
//! is left on the host. The edge set is [`allegro_data::neighbor_list`]'s, grouped by
//! center in the same order.

use allegro_core::backend::gpu::{
    CellListInput, CellListOutcome, DeviceEdges, FilterOutcome, Gpu, GpuDevice, GpuRuntime,
    cell_list_on_device, filter_on_device,
};
use allegro_core::backend::{EdgeOps, NeighborList, StorageOps};
use allegro_core::{HostData, Indices, Tensor};
use allegro_data::{
    AtomicGraph, FrameView, NeighborOptions, Structure, TypeMapper, cell_bins, neighbor_list,
};

use crate::edge_inputs::{NeighborListInputs, check_atoms};
use crate::energy_model::EnergyModel;
use crate::error::{Error, Result};
use crate::inputs::ModelInputs;
use crate::predictor::{Prediction, Predictor, non_finite_cause};

/// The edges of `frame` within `options`' cutoffs, found on `device`, with the checks
/// and errors of [`allegro_data::neighbor_list`] (atoms too close are named by running
/// that list, which then fails). `Ok(None)` when a cell shift exceeds the packed form
/// (a cell far thinner than the cutoff): the caller then uses the CPU list and
/// host-built edge vectors.
pub fn neighbor_list_on_gpu<R: GpuRuntime>(
    frame: &FrameView,
    options: &NeighborOptions,
    device: &GpuDevice<R>,
) -> Result<Option<DeviceEdges<R>>> {
    let Some(bins) = cell_bins(frame, options)? else {
        return Ok(Some(empty_edges(device)));
    };
    let per_type = options
        .per_type_cutoff
        .as_ref()
        .zip(frame.types)
        .map(|(t, types)| (t.values(), types));
    let input = CellListInput {
        positions: frame.positions,
        sorted_positions: &bins.sorted_positions,
        order: &bins.order,
        start: &bins.start,
        atom_bin: &bins.atom_bin,
        offset: &bins.offset,
        nbins: bins.nbins,
        reach: bins.reach,
        pbc: bins.pbc,
        cell: bins.cell,
        cutoff: options.cutoff,
        per_type_cutoff: per_type,
        min_distance: options.min_distance,
    };
    match cell_list_on_device(device, &input) {
        CellListOutcome::Edges(edges) => {
            let edges = *edges;
            if let Some(max) = options.max_edges
                && edges.n_edges > max
            {
                // The CPU list's own error names the structure.
                neighbor_list(frame, options)?;
            }
            Ok(Some(edges))
        }
        CellListOutcome::ShiftOverflow => Ok(None),
        CellListOutcome::TooClose => Err(too_close(frame, options)),
    }
}

/// The error for atoms the device found closer than the minimum distance: the CPU
/// list's, which names them.
fn too_close(frame: &FrameView, options: &NeighborOptions) -> Error {
    match neighbor_list(frame, options) {
        Err(e) => e.into(),
        // The device saw a pair within a rounding of the minimum distance that the CPU
        // list did not: say so rather than guess.
        Ok(_) => Error::Input(format!(
            "two atoms are closer than {} Å (found on the device; the CPU list puts them \
             just beyond it)",
            options.min_distance.unwrap_or(0.0)
        )),
    }
}

/// [`Predictor::predict_structure_on_device`] when `predictor` is on a GPU runtime this
/// build has (the route [`EnergyModel::predict_structure`] takes for every predictor);
/// `None` on other backends.
pub(crate) fn on_device_if_gpu<B: allegro_core::Backend>(
    predictor: &Predictor<B>,
    structure: &Structure,
) -> Option<Result<Prediction>> {
    let any = predictor as &dyn std::any::Any;
    #[cfg(feature = "cuda")]
    if let Some(p) = any.downcast_ref::<Predictor<allegro_core::backend::gpu::Cuda>>() {
        return Some(p.predict_structure_on_device(structure));
    }
    #[cfg(feature = "hip")]
    if let Some(p) = any.downcast_ref::<Predictor<allegro_core::backend::gpu::Hip>>() {
        return Some(p.predict_structure_on_device(structure));
    }
    #[cfg(feature = "vulkan")]
    if let Some(p) = any.downcast_ref::<Predictor<allegro_core::backend::gpu::Vulkan>>() {
        return Some(p.predict_structure_on_device(structure));
    }
    let _ = (any, structure);
    None
}

/// The edges of a structure without atoms.
fn empty_edges<R: GpuRuntime>(device: &GpuDevice<R>) -> DeviceEdges<R> {
    let none = Gpu::<R>::indices_from_host(device, &[]);
    DeviceEdges {
        centers: none.clone(),
        neighbors: none.clone(),
        shifts: none,
        center_offsets: Gpu::<R>::indices_from_host(device, &[0]),
        n_edges: 0,
    }
}

/// Per-atom arrays of one structure already on the device.
#[derive(Clone)]
pub struct DeviceAtoms<R: GpuRuntime> {
    /// Positions `[N, 3]`, float64.
    pub positions: Tensor<Gpu<R>>,
    /// Model type of each atom, `[N]`.
    pub atom_types: Indices<Gpu<R>>,
    /// Structure of each atom (all 0), `[N]`.
    pub batch: Indices<Gpu<R>>,
}

impl<R: GpuRuntime> DeviceAtoms<R> {
    /// Uploads `positions` and `atom_types` (the structure index of every atom, 0, is
    /// made on the device), after the checks of
    /// [`ModelInputs::from_neighbor_list`].
    pub fn upload(
        num_types: usize,
        positions: &[[f64; 3]],
        cell: [[f64; 3]; 3],
        atom_types: &[u32],
        device: &GpuDevice<R>,
    ) -> Result<Self> {
        let n = positions.len();
        let batch = vec![0u32; n];
        let cells = [cell];
        let list = NeighborListInputs {
            positions,
            cells: &cells,
            atom_types,
            batch: &batch,
            edge_center: &[],
            edge_neighbor: &[],
            edge_shifts: &[],
        };
        check_atoms(num_types, &list, n, 1)?;
        Ok(DeviceAtoms {
            positions: upload_positions(positions, device)?,
            atom_types: Indices::new(atom_types, device),
            // All zeros, written on the device.
            batch: Indices::filled(n, 0, device),
        })
    }
}

/// `positions` as a `[N, 3]` float64 tensor on `device`.
fn upload_positions<R: GpuRuntime>(
    positions: &[[f64; 3]],
    device: &GpuDevice<R>,
) -> Result<Tensor<Gpu<R>>> {
    Ok(Tensor::<Gpu<R>>::from_host(
        HostData::F64(positions.as_flattened().to_vec()),
        &[positions.len(), 3],
        device,
    )?)
}

impl<R: GpuRuntime> ModelInputs<Gpu<R>> {
    /// The inputs of one structure whose atoms are on the device and whose edges were
    /// found there ([`neighbor_list_on_gpu`], [`filter_on_device`]): the edge vectors
    /// and per-edge tables are built there, nothing per edge crosses.
    pub fn from_device_edges(
        num_types: usize,
        atoms: DeviceAtoms<R>,
        atom_types_host: &[u32],
        cell: [[f64; 3]; 3],
        edges: DeviceEdges<R>,
    ) -> Result<Self> {
        let n = atom_types_host.len();
        let device = atoms.positions.device();
        let cells_d = Tensor::<Gpu<R>>::from_host(
            HostData::F64(cell.as_flattened().to_vec()),
            &[1, 3, 3],
            &device,
        )?;
        let e = edges.n_edges;
        let built = Gpu::<R>::edge_inputs(NeighborList {
            positions: atoms.positions.storage(),
            cells: cells_d.storage(),
            atom_types: atoms.atom_types.storage(),
            batch: atoms.batch.storage(),
            centers: &edges.centers,
            neighbors: &edges.neighbors,
            shifts: &edges.shifts,
            n_edges: e,
            num_types,
        });
        let atom_max = (e > 0).then(|| n as u32 - 1);
        let type_max = (num_types > 0 && e > 0).then(|| num_types as u32 - 1);
        let per_edge = |s, max| Indices::<Gpu<R>>::from_storage(s, e, max);
        Ok(ModelInputs {
            n_atoms: n,
            n_frames: 1,
            atom_types: atoms.atom_types,
            atom_types_host: atom_types_host.to_vec(),
            batch: atoms.batch,
            batch_host: vec![0; n],
            edge_center: per_edge(edges.centers, atom_max),
            edge_neighbor: per_edge(edges.neighbors, atom_max),
            center_types: per_edge(built.center_types, type_max),
            neighbor_types: per_edge(built.neighbor_types, type_max),
            edge_types: per_edge(built.edge_types, type_max.map(|t| t * num_types as u32 + t)),
            edge_batch: per_edge(built.edge_batch, (e > 0).then_some(0)),
            edge_vectors: Tensor::from_storage(built.vectors, &[e, 3]),
            center_offsets: Indices::from_storage(edges.center_offsets, n + 1, Some(e as u32)),
            first_center: 0,
            graph_atoms: n,
        }
        .mark_sorted())
    }
}

/// A neighbor list kept on the device between calls: built at the cutoff plus the
/// skin, for the atoms as they were then.
struct VerletList<R: GpuRuntime> {
    positions: Vec<[f64; 3]>,
    cell: Option<[[f64; 3]; 3]>,
    pbc: [bool; 3],
    types: Vec<u32>,
    /// The per-atom tables that do not change while the list holds.
    atom_types: Indices<Gpu<R>>,
    batch: Indices<Gpu<R>>,
    list: DeviceEdges<R>,
}

impl<R: GpuRuntime> VerletList<R> {
    /// Whether every pair of `structure` within the cutoff is in the list: the same
    /// atoms, types, cell and periodicity, none moved half the skin or more.
    fn holds_for(&self, structure: &Structure, types: &[u32], skin: f64) -> bool {
        let half2 = 0.25 * skin * skin;
        self.positions.len() == structure.positions.len()
            && self.types == types
            && self.cell == structure.cell
            && self.pbc == structure.pbc
            && self
                .positions
                .iter()
                .zip(&structure.positions)
                .all(|(a, b)| {
                    let d = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
                    d[0] * d[0] + d[1] * d[1] + d[2] * d[2] < half2
                })
    }
}

impl<R: GpuRuntime> Predictor<Gpu<R>> {
    /// Energy, forces, virial and stress of one structure, its neighbor list found on
    /// the device at the model's cutoff ([`neighbor_list_on_gpu`]): the host bins the
    /// atoms (O(atoms)) and sends nothing per edge. With a Verlet skin
    /// ([`Predictor::with_neighbor_skin`], on by default) the list is built at the cutoff
    /// plus the skin and kept; while it holds, a call uploads the positions only and
    /// filters the list on the device ([`filter_on_device`]). The same edge set as the
    /// CPU list ([`EnergyModel::graph_of`]; in the same order without a skin), which also
    /// serves a cell whose shifts exceed the packed form. [`EnergyModel::predict_structure`]
    /// takes this route on a GPU.
    pub fn predict_structure_on_device(&self, structure: &Structure) -> Result<Prediction> {
        let data = |e: allegro_data::Error| Error::Input(e.to_string());
        structure.validate().map_err(data)?;
        let mapper = TypeMapper::new(&self.type_names()).map_err(data)?;
        let types = mapper.map(structure).map_err(data)?;
        let options = NeighborOptions::new(self.r_max());
        let frame = FrameView::of(structure, Some(&types));
        let cell = structure.cell.unwrap_or([[0.0; 3]; 3]);
        let num_types = self.model().num_types();
        let found = if self.neighbor_skin() > 0.0 {
            self.verlet_edges(structure, &types, &options)?
        } else {
            neighbor_list_on_gpu(&frame, &options, self.device())?
                .map(|edges| -> Result<_> {
                    let atoms = DeviceAtoms::upload(
                        num_types,
                        &structure.positions,
                        cell,
                        &types,
                        self.device(),
                    )?;
                    Ok((atoms, edges))
                })
                .transpose()?
        };
        let Some((atoms, edges)) = found else {
            // Shifts beyond the packed form: the CPU list and host-built vectors, said once.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                eprintln!(
                    "allegro: a cell shift beyond ±127 periods (a cell far thinner than the \
                     cutoff): the neighbor list is built on the host (said once)"
                )
            });
            return self.predict(&self.graph_of(structure)?);
        };
        let n = structure.n_atoms();
        let max_edges = self.max_edges_per_pass().filter(|&m| edges.n_edges > m);
        let out = self.guarded(|| {
            // Passes are planned from the center offsets: one read of N + 1 numbers.
            let offsets = max_edges.map(|_| Gpu::<R>::indices_to_host(&edges.center_offsets));
            let inputs = ModelInputs::from_device_edges(num_types, atoms, &types, cell, edges)?;
            Ok(match (max_edges, offsets) {
                (Some(max), Some(offsets)) => self.passes_of(&inputs, &offsets, max, false),
                _ => self.pass_of(&inputs, false),
            })
        })?;
        let finite = out.atomic_energies.iter().all(|e| e.is_finite())
            && out.forces.iter().all(|f| f.is_finite());
        if !finite {
            return Err(non_finite_cause(&self.graph_of(structure)?));
        }
        let graph = AtomicGraph {
            positions: structure.positions.clone(),
            atom_types: types,
            batch: vec![0; n],
            frame_ptr: vec![0, n],
            cells: vec![cell],
            pbc: vec![structure.pbc],
            ..AtomicGraph::default()
        };
        Ok(self.prediction(&graph, out))
    }

    /// The atoms on the device and the edges within `options`' cutoff by the kept
    /// Verlet list, rebuilt first when it no longer holds; `None` when shifts exceed
    /// the packed form.
    fn verlet_edges(
        &self,
        structure: &Structure,
        types: &[u32],
        options: &NeighborOptions,
    ) -> Result<Option<(DeviceAtoms<R>, DeviceEdges<R>)>> {
        let skin = self.neighbor_skin();
        let cell = structure.cell.unwrap_or([[0.0; 3]; 3]);
        let mut cache = self
            .neighbor_cache()
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let holds = cache
            .as_ref()
            .and_then(|c| c.downcast_ref::<VerletList<R>>())
            .is_some_and(|v| v.holds_for(structure, types, skin));
        if !holds {
            *cache = None;
            let longer = NeighborOptions {
                cutoff: options.cutoff + skin,
                ..options.clone()
            };
            let frame = FrameView::of(structure, Some(types));
            let Some(list) = neighbor_list_on_gpu(&frame, &longer, self.device())? else {
                return Ok(None);
            };
            let atoms = DeviceAtoms::upload(
                self.model().num_types(),
                &structure.positions,
                cell,
                types,
                self.device(),
            )?;
            *cache = Some(Box::new(VerletList {
                positions: structure.positions.clone(),
                cell: structure.cell,
                pbc: structure.pbc,
                types: types.to_vec(),
                atom_types: atoms.atom_types,
                batch: atoms.batch,
                list,
            }));
        }
        let kept = cache
            .as_ref()
            .and_then(|c| c.downcast_ref::<VerletList<R>>())
            .expect("a list was just kept");
        // While the list holds, the atoms' positions are all that go up.
        if let Some(i) = structure
            .positions
            .iter()
            .position(|p| !p.iter().all(|c| c.is_finite()))
        {
            return Err(Error::Input(format!(
                "atom {i} has a non-finite position {:?}",
                structure.positions[i]
            )));
        }
        let positions = upload_positions(&structure.positions, self.device())?;
        let edges = match filter_on_device(
            positions.storage(),
            cell,
            &kept.list,
            options.cutoff,
            None,
            options.min_distance,
        ) {
            FilterOutcome::Edges(edges) => *edges,
            FilterOutcome::TooClose => {
                return Err(too_close(&FrameView::of(structure, Some(types)), options));
            }
        };
        let atoms = DeviceAtoms {
            positions,
            atom_types: kept.atom_types.clone(),
            batch: kept.batch.clone(),
        };
        Ok(Some((atoms, edges)))
    }
}
