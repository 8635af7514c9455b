//! The LAMMPS form: local atoms, then ghost atoms, and a full neighbor list of the local
//! atoms (spec §12). No cell and no shifts: ghosts are explicit periodic images.

use std::ffi::c_int;

use allegro_core::Backend;
use allegro_nn::{ModelInputs, Predictor};

use crate::device::with_predictor;
use crate::error::{ALLEGRO_ERR_COMPUTE, FfiError, guard};
use crate::model::{AllegroModel, model_ref};

/// The pairs within the model's cutoffs, as edges with their vectors.
struct Edges {
    center: Vec<u32>,
    neighbor: Vec<u32>,
    vectors: Vec<[f64; 3]>,
}

/// What one call computes, on the host.
struct LammpsResult {
    atomic_energies: Vec<f64>,
    forces: Vec<f64>,
    strain_derivative: Vec<f64>,
    atom_virial: Option<Vec<f64>>,
}

/// The model on `edges` of `atom_types` (all atoms, local and ghost, one structure).
fn evaluate<B: Backend>(
    predictor: &Predictor<B>,
    atom_types: &[u32],
    edges: &Edges,
    want_atom_virial: bool,
) -> Result<LammpsResult, FfiError> {
    let compute_error = |e: String| FfiError(ALLEGRO_ERR_COMPUTE, e);
    let batch = vec![0u32; atom_types.len()];
    let inputs = ModelInputs::new(
        predictor.model().num_types(),
        atom_types,
        &batch,
        1,
        &edges.center,
        &edges.neighbor,
        &edges.vectors,
        predictor.device(),
    )
    .map_err(|e| compute_error(e.to_string()))?;
    let out = if want_atom_virial {
        predictor.outputs_with_atom_virial(&inputs)
    } else {
        predictor.outputs(&inputs)
    };
    Ok(LammpsResult {
        atomic_energies: out.atomic_energies.to_vec_f64(),
        forces: out.forces.to_vec_f64(),
        strain_derivative: out.strain_derivative.to_vec_f64(),
        atom_virial: out.atom_virial.map(|w| w.to_vec_f64()),
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
        // SAFETY: sizes as documented.
        let (types, x) = unsafe {
            (
                std::slice::from_raw_parts(types, ntotal),
                std::slice::from_raw_parts(x, 3 * ntotal),
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
        let cutoffs = &m.cutoffs;
        let mut edges = Edges {
            center: Vec::new(),
            neighbor: Vec::new(),
            vectors: Vec::new(),
        };
        for k in 0..inum {
            // SAFETY: ilist, numneigh, firstneigh have inum entries; firstneigh[k] has numneigh[k].
            let (i, list) = unsafe {
                let i = *ilist.add(k);
                let n = usize::try_from(*numneigh.add(k))
                    .map_err(|_| FfiError::invalid("negative numneigh"))?;
                let first = *firstneigh.add(k);
                if first.is_null() && n > 0 {
                    return Err(FfiError::null("firstneigh entry"));
                }
                (
                    i,
                    if n == 0 {
                        &[][..]
                    } else {
                        std::slice::from_raw_parts(first, n)
                    },
                )
            };
            let i = usize::try_from(i)
                .ok()
                .filter(|&i| i < nlocal)
                .ok_or_else(|| {
                    FfiError::invalid(format!("ilist[{k}] = {i} is not a local atom"))
                })?;
            for &j in list {
                // LAMMPS keeps special-bond bits (30, 31) and a history bit (29) above
                // the index: its NEIGHMASK is 0x1FFFFFFF.
                let j = (j & 0x1FFF_FFFF) as usize;
                if j >= ntotal {
                    return Err(FfiError::invalid(format!(
                        "neighbor {j} of atom {i} is beyond nlocal + nghost = {ntotal}"
                    )));
                }
                let v = [
                    x[3 * j] - x[3 * i],
                    x[3 * j + 1] - x[3 * i + 1],
                    x[3 * j + 2] - x[3 * i + 2],
                ];
                let r2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
                let rc = cutoffs[atom_types[i] as usize * n_types + atom_types[j] as usize];
                if r2 < rc * rc {
                    edges.center.push(i as u32);
                    edges.neighbor.push(j as u32);
                    edges.vectors.push(v);
                }
            }
        }
        let result = with_predictor!(&m.predictor, |p| evaluate(
            p,
            &atom_types,
            &edges,
            !atom_virial.is_null()
        ))?;
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
        Ok(())
    })
}
