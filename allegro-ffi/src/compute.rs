//! Energies, forces and virial of a periodic (or open) configuration.

use allegro_data::{Species, Structure};
use allegro_nn::EnergyModel;

use crate::error::{ALLEGRO_ERR_COMPUTE, FfiError, guard};
use crate::model::{AllegroModel, model_ref};

/// Computes a configuration of `n_atoms` atoms for codes without their own neighbor
/// list. `types[i]` are model type indices; `positions` is `[n_atoms][3]` (Å); `cell`
/// is `[3][3]` (rows = lattice vectors) or null for an open system; `pbc` is `[3]` or
/// null (all periodic when a cell is given). Outputs: `*energy` (eV), and when non-null
/// `atomic_energies[n_atoms]`, `forces[n_atoms][3]` (eV/Å), `virial[3][3]` (eV).
///
/// # Safety
/// Every non-null pointer must be valid for the sizes above.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn allegro_compute(
    model: *const AllegroModel,
    n_atoms: usize,
    types: *const i32,
    positions: *const f64,
    cell: *const f64,
    pbc: *const i32,
    energy: *mut f64,
    atomic_energies: *mut f64,
    forces: *mut f64,
    virial: *mut f64,
) -> i32 {
    guard(|| {
        let m = model_ref(model)?;
        if types.is_null() || positions.is_null() || energy.is_null() {
            return Err(FfiError::null(if types.is_null() {
                "types"
            } else if positions.is_null() {
                "positions"
            } else {
                "energy"
            }));
        }
        if n_atoms == 0 || n_atoms > 1 << 31 {
            return Err(FfiError::invalid(format!("n_atoms = {n_atoms}")));
        }
        // SAFETY: non-null and sized as documented.
        let (types, positions) = unsafe {
            (
                std::slice::from_raw_parts(types, n_atoms),
                std::slice::from_raw_parts(positions, 3 * n_atoms),
            )
        };
        let species = types
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                usize::try_from(t)
                    .ok()
                    .and_then(|t| m.type_names.get(t))
                    .and_then(|name| Species::new(name))
                    .ok_or_else(|| {
                        FfiError::invalid(format!(
                            "atom {i} has type {t}, the model has {} types",
                            m.type_names.len()
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cell_rows = (!cell.is_null()).then(|| {
            // SAFETY: non-null, 9 values as documented.
            let c = unsafe { std::slice::from_raw_parts(cell, 9) };
            [[c[0], c[1], c[2]], [c[3], c[4], c[5]], [c[6], c[7], c[8]]]
        });
        let pbc = if pbc.is_null() {
            [cell_rows.is_some(); 3]
        } else {
            // SAFETY: non-null, 3 values as documented.
            let p = unsafe { std::slice::from_raw_parts(pbc, 3) };
            [p[0] != 0, p[1] != 0, p[2] != 0]
        };
        let pos: Vec<[f64; 3]> = positions.chunks(3).map(|c| [c[0], c[1], c[2]]).collect();
        let structure = Structure::new(species, pos, cell_rows, pbc);
        // The one route from a structure: typed by the model's names, neighbor list at
        // its cutoff, predicted (`EnergyModel::predict_structure`).
        let p = m
            .predictor
            .predict_structure(&structure)
            .map_err(|e| FfiError(ALLEGRO_ERR_COMPUTE, e.to_string()))?;
        // SAFETY: each output pointer is checked non-null and sized as documented.
        unsafe {
            *energy = p.total_energy[0];
            if !atomic_energies.is_null() {
                std::slice::from_raw_parts_mut(atomic_energies, n_atoms)
                    .copy_from_slice(&p.atomic_energies);
            }
            if !forces.is_null() {
                let f = std::slice::from_raw_parts_mut(forces, 3 * n_atoms);
                for (dst, src) in f.chunks_mut(3).zip(&p.forces) {
                    dst.copy_from_slice(src);
                }
            }
            if !virial.is_null() {
                let v = std::slice::from_raw_parts_mut(virial, 9);
                for a in 0..3 {
                    v[3 * a..3 * a + 3].copy_from_slice(&p.virial[0][a]);
                }
            }
        }
        Ok(())
    })
}
