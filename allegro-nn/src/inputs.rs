//! What the model reads: a batch of structures as one disjoint graph, on a backend.

use allegro_core::{Backend, HostData, Indices, Tensor};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Atoms and edges of a batch, ready for the model.
///
/// Edge `z` joins center `edge_center[z]` to neighbor `edge_neighbor[z]`; its vector
/// `edge_vectors[z] = pos[j] − pos[i] + shift·cell` is float64 (docs/model.md §1). Edges are
/// grouped by center in increasing order (reordered if given otherwise), so the edges
/// of atom `n` are `center_offsets[n]..center_offsets[n + 1]`.
#[derive(Clone, Debug)]
pub struct ModelInputs<B: Backend> {
    /// Number of atoms.
    pub n_atoms: usize,
    /// Number of structures.
    pub n_frames: usize,
    /// Type of each atom, `[N]`.
    pub atom_types: Indices<B>,
    /// Type of each atom, on the host.
    pub atom_types_host: Vec<u32>,
    /// Structure of each atom, `[N]`.
    pub batch: Indices<B>,
    /// Structure of each atom, on the host.
    pub batch_host: Vec<u32>,
    /// Center atom of each edge, `[E]`.
    pub edge_center: Indices<B>,
    /// Neighbor atom of each edge, `[E]`.
    pub edge_neighbor: Indices<B>,
    /// Type of each edge's center, `[E]`.
    pub center_types: Indices<B>,
    /// Type of each edge's neighbor, `[E]`.
    pub neighbor_types: Indices<B>,
    /// Edge type `t_i·T + t_j`, `[E]`.
    pub edge_types: Indices<B>,
    /// Structure of each edge (that of its center), `[E]`.
    pub edge_batch: Indices<B>,
    /// Edge vectors, `[E, 3]`, float64.
    pub edge_vectors: Tensor<B>,
    /// `[N + 1]` offsets of each atom's edges.
    pub center_offsets: Indices<B>,
    /// For a pass over some centers of a graph ([`ModelInputs::pass`]), the first of
    /// them: the per-atom arrays and `edge_center` number atoms from it. 0 otherwise.
    pub first_center: usize,
    /// Atoms of the whole graph, which `edge_neighbor` indexes (forces reach every atom
    /// an edge touches): `n_atoms` unless these are a pass's inputs.
    pub graph_atoms: usize,
}

/// Edges per task of the parallel per-edge loops.
const EDGE_CHUNK: usize = 1 << 14;

/// The stable order that sorts `centers`, or `None` when they are sorted already.
fn center_order(centers: &[u32], n: usize) -> Option<Vec<usize>> {
    if centers.windows(2).all(|w| w[0] <= w[1]) {
        return None;
    }
    let mut next = vec![0usize; n + 1];
    for &c in centers {
        next[c as usize + 1] += 1;
    }
    for a in 0..n {
        next[a + 1] += next[a];
    }
    let mut order = vec![0usize; centers.len()];
    for (z, &c) in centers.iter().enumerate() {
        order[next[c as usize]] = z;
        next[c as usize] += 1;
    }
    Some(order)
}

impl<B: Backend> ModelInputs<B> {
    /// Checks and uploads a batch given as host arrays. `batch` gives each atom's
    /// structure (`0..n_frames`); `num_types` is the model's number of types.
    pub fn new(
        num_types: usize,
        atom_types: &[u32],
        batch: &[u32],
        n_frames: usize,
        edge_center: &[u32],
        edge_neighbor: &[u32],
        edge_vectors: &[[f64; 3]],
        device: &B::Device,
    ) -> Result<Self> {
        let mut timer = crate::energy_forces::profile::StageTimer::<B>::start(device);
        let n = atom_types.len();
        let e = edge_center.len();
        if batch.len() != n {
            return Err(Error::Input(format!(
                "{} batch entries for {n} atoms",
                batch.len()
            )));
        }
        if edge_neighbor.len() != e || edge_vectors.len() != e {
            return Err(Error::Input(format!(
                "edge arrays differ in length: {e} centers, {} neighbors, {} vectors",
                edge_neighbor.len(),
                edge_vectors.len()
            )));
        }
        if let Some((i, t)) = atom_types
            .iter()
            .enumerate()
            .find(|(_, t)| **t as usize >= num_types)
        {
            return Err(Error::Input(format!(
                "atom {i} has type {t}, the model has {num_types} types"
            )));
        }
        if let Some((i, f)) = batch
            .iter()
            .enumerate()
            .find(|(_, f)| **f as usize >= n_frames)
        {
            return Err(Error::Input(format!(
                "atom {i} is in structure {f} of {n_frames}"
            )));
        }
        // Per-edge checks in one parallel pass over chunks (millions of edges per call
        // in MD); the first offending edge is reported.
        let bad = (0..e.div_ceil(EDGE_CHUNK))
            .into_par_iter()
            .find_map_first(|c| {
                let range = c * EDGE_CHUNK..((c + 1) * EDGE_CHUNK).min(e);
                range.into_iter().find(|&z| {
                    let v = &edge_vectors[z];
                    edge_center[z] as usize >= n
                        || edge_neighbor[z] as usize >= n
                        || !(v[0].is_finite() && v[1].is_finite() && v[2].is_finite())
                        || (v[0] == 0.0 && v[1] == 0.0 && v[2] == 0.0)
                })
            });
        if let Some(z) = bad {
            let (i, j, v) = (edge_center[z], edge_neighbor[z], edge_vectors[z]);
            return Err(Error::Input(if i as usize >= n || j as usize >= n {
                format!("edge {z} joins atoms {i} and {j}, there are {n}")
            } else if v.iter().any(|c| !c.is_finite()) {
                format!("edge {z} has a non-finite vector {v:?} (NaN positions?)")
            } else {
                format!("edge {z} has zero length: two atoms at the same place")
            }));
        }
        let sorted;
        let (edge_center, edge_neighbor, edge_vectors) = match center_order(edge_center, n) {
            None => (edge_center, edge_neighbor, edge_vectors),
            Some(order) => {
                sorted = (
                    order.iter().map(|&z| edge_center[z]).collect::<Vec<u32>>(),
                    order
                        .iter()
                        .map(|&z| edge_neighbor[z])
                        .collect::<Vec<u32>>(),
                    order
                        .iter()
                        .map(|&z| edge_vectors[z])
                        .collect::<Vec<[f64; 3]>>(),
                );
                (&sorted.0[..], &sorted.1[..], &sorted.2[..])
            }
        };
        let mut offsets = vec![0u32; n + 1];
        for &c in edge_center {
            offsets[c as usize + 1] += 1;
        }
        for a in 0..n {
            offsets[a + 1] += offsets[a];
        }
        let ct: Vec<u32> = edge_center
            .par_iter()
            .map(|&i| atom_types[i as usize])
            .collect();
        let nt: Vec<u32> = edge_neighbor
            .par_iter()
            .map(|&j| atom_types[j as usize])
            .collect();
        let et: Vec<u32> = ct
            .par_iter()
            .zip(nt.par_iter())
            .map(|(&a, &b)| a * num_types as u32 + b)
            .collect();
        let eb: Vec<u32> = edge_center.par_iter().map(|&i| batch[i as usize]).collect();
        timer.stage("inputs: checks and tables (host)");
        // All index tables in one transfer.
        let mut uploaded = Indices::new_many(
            &[
                atom_types,
                batch,
                edge_center,
                edge_neighbor,
                &ct,
                &nt,
                &et,
                &eb,
                &offsets,
            ],
            device,
        )
        .into_iter();
        let mut next = || uploaded.next().expect("one index buffer per table");
        let inputs = ModelInputs {
            n_atoms: n,
            n_frames,
            atom_types: next(),
            atom_types_host: atom_types.to_vec(),
            batch: next(),
            batch_host: batch.to_vec(),
            edge_center: next(),
            edge_neighbor: next(),
            center_types: next(),
            neighbor_types: next(),
            edge_types: next(),
            edge_batch: next(),
            center_offsets: next(),
            first_center: 0,
            graph_atoms: n,
            edge_vectors: Tensor::from_host(
                HostData::F64(edge_vectors.as_flattened().to_vec()),
                &[e, 3],
                device,
            )?,
        };
        timer.stage("inputs: upload");
        Ok(inputs.mark_sorted())
    }

    /// Declares the tables that are ascending by construction: edges are grouped by
    /// center, and when the atoms are in structure order (the host copy says so) so are
    /// `batch` and `edge_batch`. Scatter sums over them then need no sort and, on a GPU,
    /// no read back.
    pub(crate) fn mark_sorted(mut self) -> Self {
        self.edge_center = self.edge_center.assume_sorted();
        if self.batch_host.windows(2).all(|w| w[0] <= w[1]) {
            self.batch = self.batch.assume_sorted();
            self.edge_batch = self.edge_batch.assume_sorted();
        }
        self
    }

    /// Number of edges.
    pub fn n_edges(&self) -> usize {
        self.edge_vectors.dim(0)
    }

    /// The inputs of a pass over the centers `centers` of these (whole-graph) inputs:
    /// their edges, which are contiguous since edges are grouped by center. The per-atom
    /// arrays and `edge_center` cover those centers, numbered from `centers.start`
    /// (an Allegro atom's energy depends only on the edges it is the center of, so the
    /// pass gives their energies exactly); `edge_neighbor` keeps the whole graph's
    /// numbering, so the pass's forces reach every atom its edges touch. Everything is
    /// narrowed on the device: nothing crosses the bus.
    ///
    /// `offsets` are the host's copy of `center_offsets`.
    pub fn pass(&self, centers: std::ops::Range<usize>, offsets: &[u32]) -> Self {
        assert!(
            self.first_center == 0
                && centers.end <= self.n_atoms
                && offsets.len() == self.n_atoms + 1,
            "pass: centers {centers:?} of inputs over {} atoms (first {})",
            self.n_atoms,
            self.first_center
        );
        let (first, n) = (centers.start, centers.len());
        let (e0, e1) = (offsets[first] as usize, offsets[centers.end] as usize);
        let edges = |x: &Indices<B>| x.narrow(e0, e1 - e0);
        ModelInputs {
            n_atoms: n,
            n_frames: self.n_frames,
            atom_types: self.atom_types.narrow(first, n),
            atom_types_host: self.atom_types_host[centers.clone()].to_vec(),
            batch: self.batch.narrow(first, n),
            batch_host: self.batch_host[centers.clone()].to_vec(),
            edge_center: self
                .edge_center
                .narrow_minus(e0, e1 - e0, first as u32)
                .with_max((e1 > e0).then(|| n as u32 - 1)),
            edge_neighbor: edges(&self.edge_neighbor),
            center_types: edges(&self.center_types),
            neighbor_types: edges(&self.neighbor_types),
            edge_types: edges(&self.edge_types),
            edge_batch: edges(&self.edge_batch),
            edge_vectors: self.edge_vectors.narrow(0, e0, e1 - e0),
            center_offsets: self.center_offsets.narrow_minus(first, n + 1, e0 as u32),
            first_center: first,
            graph_atoms: self.n_atoms,
        }
    }

    /// The same inputs with other edge vectors (e.g. tracked ones for forces).
    pub fn with_edge_vectors(&self, edge_vectors: Tensor<B>) -> Self {
        ModelInputs {
            edge_vectors,
            ..self.clone()
        }
    }
}
