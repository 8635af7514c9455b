//! The LAMMPS form: local atoms, then ghost atoms, and a full neighbor list of the local
//! atoms (docs/model.md §12). No cell and no shifts: ghosts are explicit periodic images.

use std::ffi::c_int;

use allegro_data::AtomicGraph;
use allegro_nn::AtomOutputs;
use allegro_nn::device::DevicePredictor;
use allegro_nn::energy_forces::profile::StageTimer;
use rayon::prelude::*;

use crate::error::{ALLEGRO_ERR_COMPUTE, ALLEGRO_ERR_DEVICE, FfiError, guard};
use crate::model::{AllegroModel, model_ref};

/// Centers of LAMMPS's list per parallel task.
const CENTER_CHUNK: usize = 256;

/// LAMMPS's full neighbor list, as the pointers `allegro_compute_lammps` receives.
struct LammpsList {
    inum: usize,
    ilist: *const c_int,
    numneigh: *const c_int,
    firstneigh: *const *const c_int,
}

// SAFETY: the list is only read, during the call that received it.
unsafe impl Sync for LammpsList {}

impl LammpsList {
    /// Center `k`'s local index and its neighbors (mask bits still set).
    ///
    /// # Safety
    /// The pointers are valid as `allegro_compute_lammps` documents, and `k < inum`.
    unsafe fn entry(&self, k: usize) -> Result<(c_int, &[c_int]), FfiError> {
        // SAFETY: as the caller promises.
        unsafe {
            let i = *self.ilist.add(k);
            let n = usize::try_from(*self.numneigh.add(k))
                .map_err(|_| FfiError::invalid(format!("numneigh[{k}] is negative")))?;
            let first = *self.firstneigh.add(k);
            if n == 0 {
                return Ok((i, &[]));
            }
            if first.is_null() {
                return Err(FfiError::null(&format!("firstneigh[{k}]")));
            }
            Ok((i, std::slice::from_raw_parts(first, n)))
        }
    }
}

/// The pairs of `list` within the model's cutoff of their (center, neighbor) types, as
/// edges (center, neighbor), in parallel over centers. Pairs beyond it would contribute
/// exactly zero but cost as much as any other edge; LAMMPS's list holds them because of
/// its skin and the largest cutoff.
fn edges_within_cutoff(
    list: &LammpsList,
    nlocal: usize,
    positions: &[[f64; 3]],
    atom_types: &[u32],
    cutoffs: &[f64],
) -> Result<(Vec<u32>, Vec<u32>), FfiError> {
    let ntotal = positions.len();
    let n_types = (cutoffs.len() as f64).sqrt() as usize;
    let chunks: Vec<(Vec<u32>, Vec<u32>)> = (0..list.inum.div_ceil(CENTER_CHUNK))
        .into_par_iter()
        .map(|c| {
            let (mut centers, mut neighbors) = (Vec::new(), Vec::new());
            for k in c * CENTER_CHUNK..((c + 1) * CENTER_CHUNK).min(list.inum) {
                // SAFETY: k < inum; the pointers as the caller of the entry point promises.
                let (i, neighbors_of_i) = unsafe { list.entry(k) }?;
                let i = usize::try_from(i)
                    .ok()
                    .filter(|&i| i < nlocal)
                    .ok_or_else(|| {
                        FfiError::invalid(format!("ilist[{k}] = {i} is not a local atom"))
                    })?;
                let (ri, ti) = (positions[i], atom_types[i] as usize);
                for &j in neighbors_of_i {
                    // LAMMPS keeps special-bond bits (30, 31) and a history bit (29)
                    // above the index: its NEIGHMASK is 0x1FFFFFFF.
                    let j = (j & 0x1FFF_FFFF) as usize;
                    if j >= ntotal {
                        return Err(FfiError::invalid(format!(
                            "neighbor {j} of atom {i} is beyond nlocal + nghost = {ntotal}"
                        )));
                    }
                    let rj = positions[j];
                    let r2 = (0..3).map(|d| (rj[d] - ri[d]).powi(2)).sum::<f64>();
                    let rc = cutoffs[ti * n_types + atom_types[j] as usize];
                    if r2 < rc * rc {
                        centers.push(i as u32);
                        neighbors.push(j as u32);
                    }
                }
            }
            Ok((centers, neighbors))
        })
        .collect::<Result<_, FfiError>>()?;
    let e: usize = chunks.iter().map(|(c, _)| c.len()).sum();
    let (mut centers, mut neighbors) = (Vec::with_capacity(e), Vec::with_capacity(e));
    for (c, n) in chunks {
        centers.extend_from_slice(&c);
        neighbors.extend_from_slice(&n);
    }
    Ok((centers, neighbors))
}

/// The model on the LAMMPS form as one structure without a cell: ghosts are explicit
/// images, so every edge's cell shift is zero and its vector is `x[j] − x[i]`, built on
/// the device from the positions (`Predictor::atom_outputs`, in passes when the model
/// handle asks for them).
fn evaluate(
    predictor: &DevicePredictor,
    graph: &AtomicGraph,
    want_atom_virial: bool,
) -> Result<AtomOutputs, FfiError> {
    predictor
        .atom_outputs(graph, want_atom_virial)
        .map_err(|e| match e {
            allegro_nn::Error::Device(m) => FfiError(
                ALLEGRO_ERR_DEVICE,
                format!(
                    "{m} (through this ABI: allegro_model_set_max_edges_per_pass; in LAMMPS: \
                     pair_style allegro ... edges_per_pass N)"
                ),
            ),
            e => FfiError(ALLEGRO_ERR_COMPUTE, e.to_string()),
        })
}

/// Computes `nlocal` local atoms with `nghost` ghosts.
///
/// Inputs: `types[nlocal + nghost]` (model type indices), `x[(nlocal + nghost) * 3]`
/// (Å), and LAMMPS's full neighbor list: `inum` centers `ilist[inum]` (local indices),
/// `numneigh[inum]`, `firstneigh[inum]` (each an array of `numneigh[k]` atom indices,
/// LAMMPS's neighbor mask bits are stripped). Pairs beyond the model's cutoff for their
/// types are skipped (they would contribute exactly zero). A rank with no local atoms,
/// or local atoms without neighbors, is valid input.
///
/// On a GPU, positions, types and the kept pairs go to the device once per call and the
/// edge vectors are built there; with `allegro_model_set_max_edges_per_pass` the edges
/// are evaluated in passes of bounded memory. A failed GPU allocation is
/// `ALLEGRO_ERR_DEVICE`.
///
/// Outputs: `*energy`, the sum over local atoms; `atomic_energies[nlocal]` (or null);
/// `forces[(nlocal + nghost) * 3]` on local and ghost atoms (reverse-communicate ghost
/// forces to their owners, LAMMPS `newton on`); `virial[9]` (or null), `−Σ_z v ⊗ ∂E/∂v`
/// symmetrised, from the same edge vectors; `atom_virial[(nlocal + nghost) * 9]` (or
/// null), each atom's share `W_a = −½ Σ_{z ∋ a} v_z ⊗ ∂E/∂v_z` (row-major 3 × 3, not
/// symmetrised: LAMMPS's centroid form; symmetrise it for `compute stress/atom`), on
/// ghost atoms too (reverse-communicate them like forces). Over all atoms the
/// symmetrised shares add up to `virial`.
///
/// # Safety
/// Every pointer must be valid for the sizes above (`atomic_energies`, `virial`,
/// `atom_virial` may be null).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn allegro_compute_lammps(
    model: *const AllegroModel,
    nlocal: c_int,
    nghost: c_int,
    types: *const c_int,
    x: *const f64,
    inum: c_int,
    ilist: *const c_int,
    numneigh: *const c_int,
    firstneigh: *const *const c_int,
    energy: *mut f64,
    atomic_energies: *mut f64,
    forces: *mut f64,
    virial: *mut f64,
    atom_virial: *mut f64,
) -> i32 {
    guard(|| {
        let m = model_ref(model)?;
        let (nlocal, nghost, inum) = match (
            usize::try_from(nlocal),
            usize::try_from(nghost),
            usize::try_from(inum),
        ) {
            (Ok(a), Ok(b), Ok(c)) if c <= a => (a, b, c),
            _ => {
                return Err(FfiError::invalid(format!(
                    "nlocal {nlocal}, nghost {nghost}, inum {inum}"
                )));
            }
        };
        let ntotal = nlocal + nghost;
        for (p, name, needed) in [
            (types as *const u8, "types", ntotal > 0),
            (x as *const u8, "x", ntotal > 0),
            (ilist as *const u8, "ilist", inum > 0),
            (numneigh as *const u8, "numneigh", inum > 0),
            (firstneigh as *const u8, "firstneigh", inum > 0),
            (energy as *const u8, "energy", true),
            (forces as *const u8, "forces", ntotal > 0),
        ] {
            if p.is_null() && needed {
                return Err(FfiError::null(name));
            }
        }
        if ntotal == 0 {
            // A rank whose domain holds no atoms: nothing to add.
            // SAFETY: energy checked non-null; virial optional, 9 values.
            unsafe {
                *energy = 0.0;
                if !virial.is_null() {
                    std::slice::from_raw_parts_mut(virial, 9).fill(0.0);
                }
            }
            return Ok(());
        }
        // SAFETY: sizes as documented; [f64; 3] has f64's alignment.
        let (types, positions) = unsafe {
            (
                std::slice::from_raw_parts(types, ntotal),
                std::slice::from_raw_parts(x as *const [f64; 3], ntotal),
            )
        };
        let n_types = m.type_names.len();
        let atom_types = types
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                u32::try_from(t)
                    .ok()
                    .filter(|&t| (t as usize) < n_types)
                    .ok_or_else(|| {
                        FfiError::invalid(format!(
                            "atom {i} has type {t}, the model has {n_types} types"
                        ))
                    })
            })
            .collect::<Result<Vec<u32>, _>>()?;
        // Host stages of this entry point (ALLEGRO_PROFILE); the predictor times its own.
        let mut timer = StageTimer::host();
        let list = LammpsList {
            inum,
            ilist,
            numneigh,
            firstneigh,
        };
        let (edge_center, edge_neighbor) =
            edges_within_cutoff(&list, nlocal, positions, &atom_types, &m.cutoffs)?;
        let n_edges = edge_center.len();
        let graph = AtomicGraph {
            positions: positions.to_vec(),
            atom_types,
            batch: vec![0; ntotal],
            frame_ptr: vec![0, ntotal],
            cells: vec![[[0.0; 3]; 3]],
            pbc: vec![[false; 3]],
            edge_center,
            edge_neighbor,
            // Zero-filled memory: the allocator hands out untouched pages.
            edge_cell_shift: vec![[0; 3]; n_edges],
            ..AtomicGraph::default()
        };
        timer.stage("lammps: edges within cutoff (host)");
        let result = evaluate(&m.predictor, &graph, !atom_virial.is_null())?;
        timer.restart();
        let atomic = &result.atomic_energies;
        // SAFETY: output sizes as documented; optional ones checked for null.
        unsafe {
            *energy = atomic[..nlocal].iter().sum();
            if !atomic_energies.is_null() {
                std::slice::from_raw_parts_mut(atomic_energies, nlocal)
                    .copy_from_slice(&atomic[..nlocal]);
            }
            std::slice::from_raw_parts_mut(forces, 3 * ntotal).copy_from_slice(&result.forces);
            if !virial.is_null() {
                for (v, g) in std::slice::from_raw_parts_mut(virial, 9)
                    .iter_mut()
                    .zip(&result.strain_derivative)
                {
                    *v = -g;
                }
            }
            if let (false, Some(w)) = (atom_virial.is_null(), &result.atom_virial) {
                std::slice::from_raw_parts_mut(atom_virial, 9 * ntotal).copy_from_slice(w);
            }
        }
        timer.stage("lammps: results out (host)");
        Ok(())
    })
}
