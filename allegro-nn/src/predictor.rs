//! Energies, forces, virial and stress (docs/model.md §8).

use std::sync::Arc;

use rayon::prelude::*;

use allegro_core::backend::{MatmulPrecision, edge_vector_component};
use allegro_core::{Backend, DType, Tensor, grad};
use allegro_data::AtomicGraph;

use crate::atom_types_cache::AtomTypesCache;
use crate::edge_inputs::NeighborListInputs;
use crate::energy_forces::EnergyForcesPlan;
use crate::energy_forces::profile::StageTimer;
use crate::error::{Error, Result};
use crate::forces::{Outputs, atom_virial};
use crate::inputs::ModelInputs;
use crate::model::AllegroModel;
use crate::parameters::Parameters;

/// Host-side results for a batch of structures.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Energy of each structure (eV).
    pub total_energy: Vec<f64>,
    /// Energy of each atom (eV).
    pub atomic_energies: Vec<f64>,
    /// Force on each atom (eV/Å).
    pub forces: Vec<[f64; 3]>,
    /// Virial `−∂E/∂ε` of each structure (eV).
    pub virial: Vec<[[f64; 3]; 3]>,
    /// Stress `∂E/∂ε / volume` (eV/Å³, ASE sign) of each periodic structure.
    pub stress: Vec<Option<[[f64; 3]; 3]>>,
}

/// The no-tape plan of `model`, or `None` (the tape) when the model has a part the
/// no-tape path has no kernels for; that is said once per process and part on stderr,
/// since the tape is several times slower.
fn no_tape_plan<B: Backend>(
    model: &AllegroModel,
    params: &Parameters<B>,
    precision: MatmulPrecision,
) -> Option<Arc<EnergyForcesPlan<B>>> {
    match EnergyForcesPlan::new(model, params, precision) {
        Ok(plan) => Some(Arc::new(plan)),
        Err(e) => {
            static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
            let message = e.to_string();
            let mut said = SAID.lock().unwrap_or_else(|p| p.into_inner());
            // The composed oracle is asked for by name; only a part is worth a word.
            if model
                .layers()
                .iter()
                .any(|l| l.fused_tensor_product().is_none())
                && !said.contains(&message)
            {
                eprintln!("allegro: {message}; evaluating on the tape");
                said.push(message);
            }
            None
        }
    }
}

/// A model with its weights on a device: the inference entry point.
///
/// Evaluates by the no-tape path ([`AllegroModel::energy_forces`], with weights prepared
/// once); [`Predictor::with_tape`] switches to the tape (the oracle).
#[derive(Clone, Debug)]
pub struct Predictor<B: Backend> {
    model: AllegroModel,
    params: Parameters<B>,
    device: B::Device,
    max_edges_per_pass: Option<usize>,
    plan: Option<Arc<EnergyForcesPlan<B>>>,
    /// Verlet skin (Å) of a neighbor list kept on a GPU between calls.
    neighbor_skin: f64,
    /// That list (shared by clones; each call checks it still holds).
    neighbor_cache: NeighborCache,
    /// The atom types of the last caller's list, kept on the device (shared by clones).
    types_cache: AtomTypesCache<B>,
}

/// A neighbor list a GPU predictor keeps between calls, of a type only its backend
/// knows ([`crate::gpu_neighbors`]).
#[derive(Clone, Debug, Default)]
#[cfg_attr(not(feature = "gpu"), allow(dead_code))] // read by the GPU backends only
pub(crate) struct NeighborCache(
    pub(crate) Arc<std::sync::Mutex<Option<Box<dyn std::any::Any + Send>>>>,
);

/// The default Verlet skin (Å): atoms may move half of it before the list is rebuilt.
pub const DEFAULT_NEIGHBOR_SKIN: f64 = 1.0;

impl<B: Backend> Predictor<B> {
    /// A predictor of `model` with `params` (cast to the model dtype, scales and shifts
    /// kept in float64).
    pub fn new(model: AllegroModel, params: &Parameters<B>, device: B::Device) -> Self {
        let params = params.cast(model.dtype(), AllegroModel::is_float64_parameter);
        let plan = no_tape_plan(&model, &params, MatmulPrecision::Exact);
        Predictor {
            model,
            params,
            device,
            max_edges_per_pass: None,
            plan,
            neighbor_skin: DEFAULT_NEIGHBOR_SKIN,
            neighbor_cache: NeighborCache::default(),
            types_cache: AtomTypesCache::default(),
        }
    }

    /// Evaluates through the generic tape (`true`), the oracle, instead of the no-tape
    /// path.
    pub fn with_tape(mut self, tape: bool) -> Self {
        self.plan = match (tape, self.plan.take()) {
            (true, _) => None,
            (false, Some(plan)) => Some(plan),
            (false, None) => no_tape_plan(&self.model, &self.params, MatmulPrecision::Exact),
        };
        self
    }

    /// Lets float32 products round their operands to TF32 on tensor cores (nequip's
    /// `allow_tf32`; about 1e-3 relative error in each product), or keeps them exact.
    pub fn with_matmul_precision(mut self, precision: MatmulPrecision) -> Self {
        if self.plan.is_some() {
            self.plan = no_tape_plan(&self.model, &self.params, precision);
        }
        self
    }

    /// Evaluates large graphs in passes of at most about `max_edges` edges, grouped by
    /// center atom, to bound memory.
    ///
    /// Exact, not an approximation: an Allegro atom's energy depends only on the edges
    /// it is the center of (every layer's environment sum runs over those), so a pass
    /// over the edges of a range of center atoms yields those atoms' energies, and the
    /// forces and strain derivative of their sum; passes add up to the whole. Results
    /// equal a single pass up to summation order.
    pub fn with_max_edges_per_pass(mut self, max_edges: usize) -> Self {
        self.set_max_edges_per_pass(Some(max_edges));
        self
    }

    /// Sets (or, with `None`, removes) the bound of
    /// [`Predictor::with_max_edges_per_pass`] in place.
    pub fn set_max_edges_per_pass(&mut self, max_edges: Option<usize>) {
        self.max_edges_per_pass = max_edges.map(|m| m.max(1));
    }

    /// The same model evaluated in another feature dtype.
    pub fn with_dtype(&self, dtype: DType) -> Self {
        let mut model = self.model.clone();
        model.set_dtype(dtype);
        let mut p = Predictor::new(model, &self.params, self.device.clone());
        p.max_edges_per_pass = self.max_edges_per_pass;
        p.neighbor_skin = self.neighbor_skin;
        match &self.plan {
            None => p.with_tape(true),
            Some(plan) => p.with_matmul_precision(plan.precision()),
        }
    }

    /// Whether it evaluates on the tape: asked for ([`Predictor::with_tape`]), or the
    /// model has a part the no-tape path has no kernels for
    /// ([`AllegroModel::no_tape_refusal`]).
    pub fn uses_tape(&self) -> bool {
        self.plan.is_none()
    }

    /// The model.
    pub fn model(&self) -> &AllegroModel {
        &self.model
    }

    /// The weights.
    pub fn parameters(&self) -> &Parameters<B> {
        &self.params
    }

    /// Energies, forces and strain derivatives of prepared inputs, by this predictor's
    /// path.
    pub fn outputs(&self, inputs: &ModelInputs<B>) -> Outputs<B> {
        match &self.plan {
            Some(plan) => self.model.energy_forces(plan, &self.params, inputs, false),
            None => self.model.outputs(&self.params, inputs, false),
        }
    }

    /// [`Predictor::outputs`] with the per-atom virial ([`Outputs::atom_virial`]).
    pub fn outputs_with_atom_virial(&self, inputs: &ModelInputs<B>) -> Outputs<B> {
        match &self.plan {
            Some(plan) => self.model.energy_forces(plan, &self.params, inputs, true),
            None => {
                // The tape: ∂E/∂v again (cheap next to the model), for the split.
                let v = inputs.edge_vectors.tracked();
                let tracked = inputs.with_edge_vectors(v.clone());
                let atomic = self.model.atomic_energies(&self.params, &tracked);
                let g = grad(&[&atomic.sum_all()], None, &[&v], false).remove(0);
                let mut out = self.model.outputs(&self.params, inputs, false);
                out.atom_virial = Some(atom_virial(inputs, &v.detach(), &g));
                out
            }
        }
    }

    /// A Verlet skin of `skin` Å for neighbor lists found on a GPU
    /// (`predict_structure_on_device`): the list is built at the cutoff plus the skin
    /// and reused, filtered on the device, while no atom has moved more than half of it
    /// (and the cell, types and atom count are unchanged). 0 builds a list every call.
    /// Default [`DEFAULT_NEIGHBOR_SKIN`].
    pub fn with_neighbor_skin(mut self, skin: f64) -> Self {
        self.neighbor_skin = skin.max(0.0);
        self.neighbor_cache = NeighborCache::default();
        self
    }

    /// The Verlet skin ([`Predictor::with_neighbor_skin`]).
    pub fn neighbor_skin(&self) -> f64 {
        self.neighbor_skin
    }

    /// The neighbor list kept between calls ([`Predictor::with_neighbor_skin`]).
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))] // read by the GPU backends only
    pub(crate) fn neighbor_cache(&self) -> &NeighborCache {
        &self.neighbor_cache
    }

    /// The largest number of edges of one pass, if set
    /// ([`Predictor::with_max_edges_per_pass`]).
    pub fn max_edges_per_pass(&self) -> Option<usize> {
        self.max_edges_per_pass
    }

    /// The device the weights live on.
    pub fn device(&self) -> &B::Device {
        &self.device
    }

    /// Model inputs for a batched graph: edge vectors `pos[j] − pos[i] + shift·cell`.
    /// The atom types stay on the device from one call to the next while they are the
    /// same ([`AtomTypesCache`]).
    pub fn inputs(&self, graph: &AtomicGraph) -> Result<ModelInputs<B>> {
        let list = NeighborListInputs::of_graph(graph);
        let num_types = self.model.num_types();
        let cache = Some(&self.types_cache);
        match ModelInputs::from_neighbor_list_reusing(num_types, &list, &self.device, cache)? {
            Some(inputs) => Ok(inputs),
            None => inputs_from_graph_on_host(graph, num_types, &self.device),
        }
    }

    /// Energies, forces, virial and stress of every structure in `graph`.
    pub fn predict(&self, graph: &AtomicGraph) -> Result<Prediction> {
        let out = self.atom_outputs(graph, false)?;
        Ok(self.prediction(graph, out))
    }

    /// Per-atom results of every structure in `graph` on the host: energies, forces,
    /// the strain derivative, and with `with_atom_virial` each atom's share of the
    /// virial ([`Outputs::atom_virial`]). In passes when
    /// [`Predictor::with_max_edges_per_pass`] asks for them; a failure inside the
    /// backend (a failed GPU allocation) and results that are not finite are errors.
    pub fn atom_outputs(&self, graph: &AtomicGraph, with_atom_virial: bool) -> Result<AtomOutputs> {
        let out = self.guarded(|| match self.max_edges_per_pass {
            Some(max) if graph.n_edges() > max => {
                self.predict_in_passes(graph, max, with_atom_virial)
            }
            _ => self.pass(graph, with_atom_virial),
        })?;
        let finite = out.atomic_energies.iter().all(|e| e.is_finite())
            && out.forces.iter().all(|f| f.is_finite());
        if !finite {
            return Err(non_finite_cause(graph));
        }
        Ok(out)
    }

    /// Runs `run`, a failure inside the backend being an error, not a crash: a GPU
    /// runtime answers a failed allocation with a panic on its thread, which reaches
    /// this one.
    pub(crate) fn guarded<T>(&self, run: impl FnOnce() -> Result<T>) -> Result<T> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).map_err(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Error::Device(format!(
                "the {} backend failed during the call ({message}); on a GPU this is \
                 most often memory: with_max_edges_per_pass bounds it",
                B::name()
            ))
        })?
    }

    /// One evaluation of `graph`: per-atom energies, flat forces, flat `G` (and the
    /// per-atom virial when asked for).
    fn pass(&self, graph: &AtomicGraph, with_atom_virial: bool) -> Result<AtomOutputs> {
        let mut timer = StageTimer::<B>::start(&self.device);
        let inputs = self.inputs(graph)?;
        timer.stage("inputs (host, upload)");
        Ok(self.pass_of(&inputs, with_atom_virial))
    }

    /// One evaluation of prepared inputs, its results read back.
    pub(crate) fn pass_of(&self, inputs: &ModelInputs<B>, with_atom_virial: bool) -> AtomOutputs {
        let mut timer = StageTimer::<B>::start(&self.device);
        let out = if with_atom_virial {
            self.outputs_with_atom_virial(inputs)
        } else {
            self.outputs(inputs)
        };
        timer.stage("model");
        let host = read_outputs(&out);
        timer.stage("pass results");
        host
    }

    /// [`Predictor::with_max_edges_per_pass`]: passes over ranges of center atoms.
    ///
    /// The whole graph goes to the device once; each pass is a range of its centers
    /// with their edges ([`ModelInputs::pass`], narrowed on the device), whose per-atom
    /// energies are concatenated and whose forces and strain derivatives are added up on
    /// the device. The host plans the ranges from the center offsets it already has and
    /// reads the results once, at the end.
    fn predict_in_passes(
        &self,
        graph: &AtomicGraph,
        max_edges: usize,
        with_atom_virial: bool,
    ) -> Result<AtomOutputs> {
        let mut timer = StageTimer::<B>::start(&self.device);
        let inputs = self.inputs(graph)?;
        // The host's copy of the offsets (uploaded with the inputs, not read back).
        let offsets = inputs.center_offsets.to_vec();
        timer.stage("passes: inputs of the whole graph");
        Ok(self.passes_of(&inputs, &offsets, max_edges, with_atom_virial))
    }

    /// [`Predictor::predict_in_passes`] of prepared inputs whose center offsets are
    /// `offsets`.
    pub(crate) fn passes_of(
        &self,
        inputs: &ModelInputs<B>,
        offsets: &[u32],
        max_edges: usize,
        with_atom_virial: bool,
    ) -> AtomOutputs {
        let mut timer = StageTimer::<B>::start(&self.device);
        let n = inputs.n_atoms;
        let mut energies: Vec<Tensor<B>> = Vec::new();
        // Forces, strain derivatives and per-atom virials, summed over the passes.
        let mut sums: Option<PassSums<B>> = None;
        let mut first = 0;
        while first < n {
            let mut last = first + 1;
            while last < n && (offsets[last + 1] - offsets[first]) as usize <= max_edges {
                last += 1;
            }
            let part = inputs.pass(first..last, offsets);
            let out = if with_atom_virial {
                self.outputs_with_atom_virial(&part)
            } else {
                self.outputs(&part)
            };
            energies.push(out.atomic_energies);
            sums = Some(match sums {
                None => (out.forces, out.strain_derivative, out.atom_virial),
                Some((f, g, w)) => (
                    f.add(&out.forces),
                    g.add(&out.strain_derivative),
                    w.zip(out.atom_virial).map(|(w, x)| w.add(&x)),
                ),
            });
            timer.stage("passes: one pass (device)");
            first = last;
        }
        let (forces, strain_derivative, atom_virial) = sums.expect("a graph with atoms");
        let parts: Vec<&Tensor<B>> = energies.iter().collect();
        let host = read_all(&parts, &forces, &strain_derivative, atom_virial.as_ref());
        timer.stage("passes: results");
        host
    }

    /// Host results in the per-structure form.
    pub(crate) fn prediction(&self, graph: &AtomicGraph, out: AtomOutputs) -> Prediction {
        let g = &out.strain_derivative;
        let forces = out.forces.chunks(3).map(|c| [c[0], c[1], c[2]]).collect();
        let mut total_energy = vec![0.0; graph.n_frames()];
        for (e, &b) in out.atomic_energies.iter().zip(&graph.batch) {
            total_energy[b as usize] += e;
        }
        let mut virial = Vec::new();
        let mut stress = Vec::new();
        for f in 0..graph.n_frames() {
            let m: [[f64; 3]; 3] =
                std::array::from_fn(|a| std::array::from_fn(|b| g[f * 9 + a * 3 + b]));
            virial.push(m.map(|row| row.map(|x| -x)));
            let periodic = graph.pbc[f].iter().any(|&p| p);
            let volume = allegro_data::structure::det3(&graph.cells[f]).abs();
            stress.push(periodic.then(|| {
                m.map(|row| row.map(|x| if volume > 0.0 { x / volume } else { f64::NAN }))
            }));
        }
        Prediction {
            total_energy,
            atomic_energies: out.atomic_energies,
            forces,
            virial,
            stress,
        }
    }
}

/// The per-atom results of `out` on the host ([`read_all`]).
fn read_outputs<B: Backend>(out: &Outputs<B>) -> AtomOutputs {
    let energies = [&out.atomic_energies];
    read_all(
        &energies,
        &out.forces,
        &out.strain_derivative,
        out.atom_virial.as_ref(),
    )
}

/// Per-atom energies (the concatenation of `energies`), forces, strain derivatives
/// and per-atom virials on the host, in one download: each download is a wait for the
/// device.
fn read_all<B: Backend>(
    energies: &[&Tensor<B>],
    forces: &Tensor<B>,
    strain_derivative: &Tensor<B>,
    atom_virial: Option<&Tensor<B>>,
) -> AtomOutputs {
    let mut parts: Vec<&Tensor<B>> = energies.to_vec();
    parts.extend([forces, strain_derivative]);
    parts.extend(atom_virial);
    let flat: Vec<Tensor<B>> = parts
        .iter()
        .map(|t| t.detach().reshape(&[t.numel()]).cast(DType::F64))
        .collect();
    let refs: Vec<&Tensor<B>> = flat.iter().collect();
    let all = Tensor::concat(&refs, 0).to_vec_f64();
    let mut rest = all.as_slice();
    let mut take = |n: usize| {
        let (head, tail) = rest.split_at(n);
        rest = tail;
        head.to_vec()
    };
    AtomOutputs {
        atomic_energies: take(energies.iter().map(|t| t.numel()).sum()),
        forces: take(forces.numel()),
        strain_derivative: take(strain_derivative.numel()),
        atom_virial: atom_virial.map(|w| take(w.numel())),
    }
}

/// What passes add up on the device: forces, strain derivatives, per-atom virials.
type PassSums<B> = (Tensor<B>, Tensor<B>, Option<Tensor<B>>);

/// Per-atom results on the host ([`Predictor::atom_outputs`]), flat and row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct AtomOutputs {
    /// Energy of each atom (eV), `[N]`.
    pub atomic_energies: Vec<f64>,
    /// Force on each atom (eV/Å), `[N·3]`.
    pub forces: Vec<f64>,
    /// `G = ∂E/∂ε` of each structure (eV), `[F·9]`: the virial is `−G`.
    pub strain_derivative: Vec<f64>,
    /// Each atom's share of the virial, `[N·9]` ([`Outputs::atom_virial`]), when asked
    /// for.
    pub atom_virial: Option<Vec<f64>>,
}

/// Uploads a batched graph: per-atom arrays and the neighbor list, with edge vectors
/// built on the device ([`ModelInputs::from_neighbor_list`]), or on the host when a cell
/// shift does not fit the packed form.
pub fn inputs_from_graph<B: Backend>(
    graph: &AtomicGraph,
    num_types: usize,
    device: &B::Device,
) -> Result<ModelInputs<B>> {
    let list = NeighborListInputs::of_graph(graph);
    match ModelInputs::from_neighbor_list(num_types, &list, device)? {
        Some(inputs) => Ok(inputs),
        None => inputs_from_graph_on_host(graph, num_types, device),
    }
}

/// [`inputs_from_graph`] with the edge vectors computed on the host
/// ([`ModelInputs::new`]): the oracle of the device-built inputs, and the route for cell
/// shifts beyond the packed form.
pub fn inputs_from_graph_on_host<B: Backend>(
    graph: &AtomicGraph,
    num_types: usize,
    device: &B::Device,
) -> Result<ModelInputs<B>> {
    let vectors = host_edge_vectors(graph);
    ModelInputs::new(
        num_types,
        &graph.atom_types,
        &graph.batch,
        graph.n_frames(),
        &graph.edge_center,
        &graph.edge_neighbor,
        &vectors,
        device,
    )
}

/// Why a prediction is not finite: a zero-length edge (two atoms at the same place,
/// which edge vectors built on the device do not reveal before the model runs), or
/// else the model itself (its weights).
pub(crate) fn non_finite_cause(graph: &AtomicGraph) -> Error {
    let vectors = host_edge_vectors(graph);
    match vectors.iter().position(|v| v.iter().all(|c| *c == 0.0)) {
        Some(z) => Error::Input(format!(
            "edge {z} has zero length: atoms {} and {} are at the same place",
            graph.edge_center[z], graph.edge_neighbor[z]
        )),
        None => Error::Input(
            "the model's energies or forces are not finite (its weights hold NaN or \
             infinity, or the structure overflows them)"
                .into(),
        ),
    }
}

/// `v = pos[j] − pos[i] + shift·cell` of every edge, in parallel over chunks of edges.
fn host_edge_vectors(graph: &AtomicGraph) -> Vec<[f64; 3]> {
    let mut vectors = vec![[0.0f64; 3]; graph.n_edges()];
    vectors
        .par_chunks_mut(1 << 14)
        .enumerate()
        .for_each(|(c, chunk)| {
            let first = c * (1 << 14);
            for (k, v) in chunk.iter_mut().enumerate() {
                let z = first + k;
                let (i, j) = (
                    graph.edge_center[z] as usize,
                    graph.edge_neighbor[z] as usize,
                );
                let s = graph.edge_cell_shift[z].map(|c| c as f64);
                let cell = &graph.cells[graph.batch[i] as usize];
                for d in 0..3 {
                    let col = [cell[0][d], cell[1][d], cell[2][d]];
                    v[d] =
                        edge_vector_component(graph.positions[i][d], graph.positions[j][d], s, col);
                }
            }
        });
    vectors
}
