//! The LAMMPS form: local atoms, then ghost atoms, and a full neighbor list of the local
//! atoms (spec §12). No cell and no shifts: ghosts are explicit periodic images.

use std::ffi::c_int;

use allegro_core::backend::cpu::CpuDevice;
use allegro_nn::ModelInputs;

use crate::error::{ALLEGRO_ERR_COMPUTE, FfiError, guard};
use crate::model::{AllegroModel, model_ref};

/// Computes `nlocal` local atoms with `nghost` ghosts.
///
/// Inputs: `types[nlocal + nghost]` (model type indices), `x[(nlocal + nghost) * 3]`
/// (Å), and LAMMPS's full neighbor list: `inum` centers `ilist[inum]` (local indices),
/// `numneigh[inum]`, `firstneigh[inum]` (each an array of `numneigh[k]` atom indices,
/// LAMMPS's neighbor mask bits are stripped). Pairs beyond the model's cutoff for their
/// types are skipped (they would contribute exactly zero).
///
/// Outputs: `*energy`, the sum over local atoms; `atomic_energies[nlocal]` (or null);
/// `forces[(nlocal + nghost) * 3]` on local and ghost atoms (reverse-communicate ghost
/// forces to their owners, LAMMPS `newton on`); `virial[9]` (or null), `−Σ_z v ⊗ ∂E/∂v`
/// symmetrised, from the same edge vectors.
///
/// # Safety
/// Every pointer must be valid for the sizes above (`atomic_energies`, `virial` may be
/// null).
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
) -> i32 {
    guard(|| {
        let m = model_ref(model)?;
        for (p, name) in [
            (types as *const u8, "types"),
            (x as *const u8, "x"),
            (ilist as *const u8, "ilist"),
            (numneigh as *const u8, "numneigh"),
            (firstneigh as *const u8, "firstneigh"),
            (energy as *const u8, "energy"),
            (forces as *const u8, "forces"),
        ] {
            if p.is_null() && !(inum == 0 && matches!(name, "ilist" | "numneigh" | "firstneigh")) {
                return Err(FfiError::null(name));
            }
        }
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
        let (mut center, mut neighbor, mut vectors) = (Vec::new(), Vec::new(), Vec::new());
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
                    center.push(i as u32);
                    neighbor.push(j as u32);
                    vectors.push(v);
                }
            }
        }
        let compute_error = |e: String| FfiError(ALLEGRO_ERR_COMPUTE, e);
        let batch = vec![0u32; ntotal];
        let inputs = ModelInputs::new(
            n_types,
            &atom_types,
            &batch,
            1,
            &center,
            &neighbor,
            &vectors,
            &CpuDevice,
        )
        .map_err(|e| compute_error(e.to_string()))?;
        let out = m
            .predictor
            .model()
            .outputs(m.predictor.parameters(), &inputs, false);
        let atomic = out.atomic_energies.to_vec_f64();
        let f = out.forces.to_vec_f64();
        let g = out.strain_derivative.to_vec_f64();
        // SAFETY: output sizes as documented; optional ones checked for null.
        unsafe {
            *energy = atomic[..nlocal].iter().sum();
            if !atomic_energies.is_null() {
                std::slice::from_raw_parts_mut(atomic_energies, nlocal)
                    .copy_from_slice(&atomic[..nlocal]);
            }
            std::slice::from_raw_parts_mut(forces, 3 * ntotal).copy_from_slice(&f);
            if !virial.is_null() {
                for (k, v) in std::slice::from_raw_parts_mut(virial, 9)
                    .iter_mut()
                    .enumerate()
                {
                    *v = -g[k];
                }
            }
        }
        Ok(())
    })
}
