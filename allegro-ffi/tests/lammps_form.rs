//! The LAMMPS form (local + ghost atoms, full neighbor list) equals the periodic
//! computation once ghost forces are summed onto their owners.

use std::ffi::{CStr, CString, c_int};
use std::path::PathBuf;
use std::ptr::{null, null_mut};

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_ffi::*;
use allegro_nn::import::load_reference_json;
use allegro_nn::model_file::ModelFile;

fn last_error() -> String {
    unsafe { CStr::from_ptr(allegro_last_error()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn ghosts_reproduce_periodic_results() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/small_noparity.json");
    let (model, params, fx) = load_reference_json::<Cpu>(&path, &CpuDevice).unwrap();
    let file =
        std::env::temp_dir().join(format!("allegro-ffi-lammps-{}.allegro", std::process::id()));
    ModelFile::from_model(&model, &params, Default::default())
        .unwrap()
        .save(&file)
        .unwrap();
    let r_max = model.config().r_max;
    let mut handle = null_mut();
    let c = CString::new(file.to_str().unwrap()).unwrap();
    assert_eq!(
        unsafe { allegro_model_open(c.as_ptr(), &mut handle) },
        ALLEGRO_OK,
        "{}",
        last_error()
    );

    for frame_name in ["box", "triclinic"] {
        let frame = fx["frames"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == frame_name)
            .unwrap();
        let types: Vec<c_int> = frame["atom_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_i64().unwrap() as c_int)
            .collect();
        let pos: Vec<[f64; 3]> = frame["positions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| std::array::from_fn(|d| p[d].as_f64().unwrap()))
            .collect();
        let cell: Vec<[f64; 3]> = frame["cell"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| std::array::from_fn(|d| p[d].as_f64().unwrap()))
            .collect();
        let n = types.len();

        // Periodic reference through the simple entry point.
        let flat: Vec<f64> = pos.iter().flatten().copied().collect();
        let cell_flat: Vec<f64> = cell.iter().flatten().copied().collect();
        let (mut e_ref, mut f_ref, mut v_ref) = (0.0, vec![0.0; 3 * n], [0.0; 9]);
        let rc = unsafe {
            allegro_compute(
                handle,
                n,
                types.as_ptr(),
                flat.as_ptr(),
                cell_flat.as_ptr(),
                null(),
                &mut e_ref,
                null_mut(),
                f_ref.as_mut_ptr(),
                v_ref.as_mut_ptr(),
            )
        };
        assert_eq!(rc, ALLEGRO_OK, "{}", last_error());

        // Ghosts: every image within reach, then a full neighbor list of the locals.
        let (mut gx, mut gtypes, mut owner) =
            (pos.clone(), types.clone(), (0..n).collect::<Vec<_>>());
        let reach = 3;
        for a in -reach..=reach {
            for b in -reach..=reach {
                for cc in -reach..=reach {
                    if (a, b, cc) == (0, 0, 0) {
                        continue;
                    }
                    for (i, p) in pos.iter().enumerate() {
                        let q: [f64; 3] = std::array::from_fn(|d| {
                            p[d] + a as f64 * cell[0][d]
                                + b as f64 * cell[1][d]
                                + cc as f64 * cell[2][d]
                        });
                        let near = pos.iter().any(|l| {
                            (0..3).map(|d| (q[d] - l[d]).powi(2)).sum::<f64>() < r_max * r_max
                        });
                        if near {
                            gx.push(q);
                            gtypes.push(types[i]);
                            owner.push(i);
                        }
                    }
                }
            }
        }
        let ntotal = gx.len();
        let lists: Vec<Vec<c_int>> = (0..n)
            .map(|i| {
                (0..ntotal)
                    .filter(|&j| {
                        j != i
                            && (0..3).map(|d| (gx[j][d] - gx[i][d]).powi(2)).sum::<f64>()
                                < r_max * r_max
                    })
                    .map(|j| j as c_int)
                    .collect()
            })
            .collect();
        let ilist: Vec<c_int> = (0..n as c_int).collect();
        let numneigh: Vec<c_int> = lists.iter().map(|l| l.len() as c_int).collect();
        let firstneigh: Vec<*const c_int> = lists.iter().map(|l| l.as_ptr()).collect();
        let xs: Vec<f64> = gx.iter().flatten().copied().collect();
        let (mut e, mut f, mut v) = (0.0, vec![0.0; 3 * ntotal], [0.0; 9]);
        let rc = unsafe {
            allegro_compute_lammps(
                handle,
                n as c_int,
                (ntotal - n) as c_int,
                gtypes.as_ptr(),
                xs.as_ptr(),
                n as c_int,
                ilist.as_ptr(),
                numneigh.as_ptr(),
                firstneigh.as_ptr(),
                &mut e,
                null_mut(),
                f.as_mut_ptr(),
                v.as_mut_ptr(),
            )
        };
        assert_eq!(rc, ALLEGRO_OK, "{}", last_error());
        assert!(
            ((e - e_ref) / e_ref).abs() < 1e-12,
            "{frame_name}: energy {e} vs periodic {e_ref}"
        );
        let mut folded = vec![0.0; 3 * n];
        for (j, &o) in owner.iter().enumerate() {
            for d in 0..3 {
                folded[3 * o + d] += f[3 * j + d];
            }
        }
        let df = folded
            .iter()
            .zip(&f_ref)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(df < 1e-11, "{frame_name}: forces differ by {df:e}");
        let dv = v
            .iter()
            .zip(&v_ref)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(dv < 1e-10, "{frame_name}: virial differs by {dv:e}");
    }
    unsafe { allegro_model_free(handle) };
}
