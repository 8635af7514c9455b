//! The LAMMPS form (local + ghost atoms, full neighbor list) equals the periodic
//! computation once ghost forces are summed onto their owners; bad input is an error
//! with a message.

mod common;

use std::ffi::{CStr, CString, c_int};
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

/// A periodic frame of the fixture: types, positions and cell rows.
struct Frame {
    types: Vec<c_int>,
    pos: Vec<[f64; 3]>,
    cell: Vec<[f64; 3]>,
}

/// The frame `name` of the fixture `fx`.
fn frame(fx: &serde_json::Value, name: &str) -> Frame {
    let frame = fx["frames"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap();
    let rows = |key: &str| -> Vec<[f64; 3]> {
        frame[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| std::array::from_fn(|d| p[d].as_f64().unwrap()))
            .collect()
    };
    Frame {
        types: frame["atom_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_i64().unwrap() as c_int)
            .collect(),
        pos: rows("positions"),
        cell: rows("cell"),
    }
}

/// Energy, forces and virial of the periodic frame through the simple entry point.
fn periodic(handle: *mut AllegroModel, fr: &Frame) -> (f64, Vec<f64>, [f64; 9]) {
    let n = fr.types.len();
    let flat: Vec<f64> = fr.pos.iter().flatten().copied().collect();
    let cell_flat: Vec<f64> = fr.cell.iter().flatten().copied().collect();
    let (mut e, mut f, mut v) = (0.0, vec![0.0; 3 * n], [0.0; 9]);
    let rc = unsafe {
        allegro_compute(
            handle,
            n,
            fr.types.as_ptr(),
            flat.as_ptr(),
            cell_flat.as_ptr(),
            null(),
            &mut e,
            null_mut(),
            f.as_mut_ptr(),
            v.as_mut_ptr(),
        )
    };
    assert_eq!(rc, ALLEGRO_OK, "{}", last_error());
    (e, f, v)
}

/// The locals followed by every periodic image within `r_max` of one, with the local
/// each ghost copies, and a full neighbor list of the locals.
struct Ghosts {
    x: Vec<[f64; 3]>,
    types: Vec<c_int>,
    owner: Vec<usize>,
    lists: Vec<Vec<c_int>>,
}

fn ghosts(fr: &Frame, r_max: f64) -> Ghosts {
    let (pos, cell, n) = (&fr.pos, &fr.cell, fr.types.len());
    let (mut x, mut types, mut owner) = (pos.clone(), fr.types.clone(), (0..n).collect::<Vec<_>>());
    let d2 = |p: &[f64; 3], q: &[f64; 3]| (0..3).map(|d| (p[d] - q[d]).powi(2)).sum::<f64>();
    let reach = 3;
    for a in -reach..=reach {
        for b in -reach..=reach {
            for c in -reach..=reach {
                if (a, b, c) == (0, 0, 0) {
                    continue;
                }
                for (i, p) in pos.iter().enumerate() {
                    let q: [f64; 3] = std::array::from_fn(|d| {
                        p[d] + a as f64 * cell[0][d] + b as f64 * cell[1][d] + c as f64 * cell[2][d]
                    });
                    if pos.iter().any(|l| d2(&q, l) < r_max * r_max) {
                        x.push(q);
                        types.push(fr.types[i]);
                        owner.push(i);
                    }
                }
            }
        }
    }
    let lists = (0..n)
        .map(|i| {
            (0..x.len())
                .filter(|&j| j != i && d2(&x[j], &x[i]) < r_max * r_max)
                .map(|j| j as c_int)
                .collect()
        })
        .collect();
    Ghosts {
        x,
        types,
        owner,
        lists,
    }
}

/// Energy, forces (ghosts included), virial and per-atom virial in the LAMMPS form.
fn lammps(handle: *mut AllegroModel, n: usize, g: &Ghosts) -> (f64, Vec<f64>, [f64; 9], Vec<f64>) {
    let ntotal = g.x.len();
    let ilist: Vec<c_int> = (0..n as c_int).collect();
    let numneigh: Vec<c_int> = g.lists.iter().map(|l| l.len() as c_int).collect();
    let firstneigh: Vec<*const c_int> = g.lists.iter().map(|l| l.as_ptr()).collect();
    let xs: Vec<f64> = g.x.iter().flatten().copied().collect();
    let (mut e, mut f, mut v) = (0.0, vec![0.0; 3 * ntotal], [0.0; 9]);
    let mut w = vec![0.0; 9 * ntotal];
    let rc = unsafe {
        allegro_compute_lammps(
            handle,
            n as c_int,
            (ntotal - n) as c_int,
            g.types.as_ptr(),
            xs.as_ptr(),
            n as c_int,
            ilist.as_ptr(),
            numneigh.as_ptr(),
            firstneigh.as_ptr(),
            &mut e,
            null_mut(),
            f.as_mut_ptr(),
            v.as_mut_ptr(),
            w.as_mut_ptr(),
        )
    };
    assert_eq!(rc, ALLEGRO_OK, "{}", last_error());
    (e, f, v, w)
}

/// The largest absolute difference of two equally long slices.
fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn ghosts_reproduce_periodic_results() {
    let path = common::shared_dir().join("fixtures/small_noparity.json");
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

    // Both entry points, in one pass and in passes of 16 edges (both go through the
    // predictor; passes must not change a result beyond rounding).
    let mut one_pass = std::collections::HashMap::new();
    for (max_edges, frame_name) in [
        (0u64, "box"),
        (0, "triclinic"),
        (16, "box"),
        (16, "triclinic"),
    ] {
        assert_eq!(
            unsafe { allegro_model_set_max_edges_per_pass(handle, max_edges) },
            ALLEGRO_OK
        );
        let fr = frame(&fx, frame_name);
        let n = fr.types.len();
        let (e_ref, f_ref, v_ref) = periodic(handle, &fr);
        let g = ghosts(&fr, r_max);
        let (e, f, v, w) = lammps(handle, n, &g);
        assert!(
            ((e - e_ref) / e_ref).abs() < 1e-12,
            "{frame_name}, passes of {max_edges}: energy {e} vs periodic {e_ref}"
        );
        let (e1, f1) = one_pass
            .entry(frame_name)
            .or_insert_with(|| (e_ref, f_ref.clone()))
            .clone();
        let df1 = max_diff(&f1, &f_ref);
        assert!(
            ((e_ref - e1) / e1).abs() < 1e-12 && df1 < 1e-11,
            "{frame_name}: passes of {max_edges} vs one pass: energy {e_ref} vs {e1}, forces {df1:e}"
        );
        // Ghost forces summed onto their owners give the periodic forces.
        let mut folded = vec![0.0; 3 * n];
        for (j, &o) in g.owner.iter().enumerate() {
            for d in 0..3 {
                folded[3 * o + d] += f[3 * j + d];
            }
        }
        let df = max_diff(&folded, &f_ref);
        assert!(df < 1e-11, "{frame_name}: forces differ by {df:e}");
        let dv = max_diff(&v, &v_ref);
        assert!(dv < 1e-10, "{frame_name}: virial differs by {dv:e}");
        // The per-atom shares (ghosts included) add up to the virial once symmetrised.
        let mut sum = [0.0f64; 9];
        for a in w.chunks(9) {
            for k in 0..9 {
                sum[k] += a[k];
            }
        }
        let ds = (0..9)
            .map(|k| (0.5 * (sum[k] + sum[3 * (k % 3) + k / 3]) - v[k]).abs())
            .fold(0.0, f64::max);
        assert!(
            ds < 1e-10,
            "{frame_name}: per-atom virial sums off by {ds:e}"
        );
        assert!(
            w.iter().any(|x| x.abs() > 1e-6),
            "{frame_name}: per-atom virial all zero"
        );
    }
    unsafe { allegro_model_free(handle) };
}

#[test]
fn bad_lammps_form_input_is_an_error() {
    let c = CString::new(common::small_model_file().to_str().unwrap()).unwrap();
    let mut m = null_mut();
    assert_eq!(
        unsafe { allegro_model_open(c.as_ptr(), &mut m) },
        ALLEGRO_OK
    );
    // Two local H atoms 1 Å apart and one ghost O; atom 0 sees 1 and 2.
    let types: [c_int; 3] = [0, 0, 1];
    let x = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.5, 0.0];
    let ilist: [c_int; 2] = [0, 1];
    let numneigh: [c_int; 2] = [2, 1];
    let (n0, n1): ([c_int; 2], [c_int; 1]) = ([1, 2], [0]);
    let first = [n0.as_ptr(), n1.as_ptr()];
    let (mut e, mut f) = (0.0, [0.0; 9]);
    let call = |nlocal: c_int,
                nghost: c_int,
                types: *const c_int,
                x: *const f64,
                inum: c_int,
                first: *const *const c_int,
                e: *mut f64,
                f: *mut f64| unsafe {
        allegro_compute_lammps(
            m,
            nlocal,
            nghost,
            types,
            x,
            inum,
            ilist.as_ptr(),
            numneigh.as_ptr(),
            first,
            e,
            null_mut(),
            f,
            null_mut(),
            null_mut(),
        )
    };
    let (t, xp, fp) = (types.as_ptr(), x.as_ptr(), first.as_ptr());
    let fo = f.as_mut_ptr();
    let ok = call(2, 1, t, xp, 2, fp, &mut e, fo);
    assert_eq!(ok, ALLEGRO_OK, "{}", last_error());
    // Each case is checked right after its call: the message is the last error.
    let expect = |rc: i32, code: i32, needle: &str| {
        assert_eq!(rc, code, "{needle}: {}", last_error());
        assert!(last_error().contains(needle), "{needle}: {}", last_error());
    };
    let err_null = ALLEGRO_ERR_NULL;
    let err_invalid = ALLEGRO_ERR_INVALID;
    expect(call(2, 1, null(), xp, 2, fp, &mut e, fo), err_null, "types");
    expect(call(2, 1, t, null(), 2, fp, &mut e, fo), err_null, "x is");
    expect(
        call(2, 1, t, xp, 2, null(), &mut e, fo),
        err_null,
        "firstneigh",
    );
    expect(call(2, 1, t, xp, 2, fp, null_mut(), fo), err_null, "energy");
    expect(
        call(2, 1, t, xp, 2, fp, &mut e, null_mut()),
        err_null,
        "forces",
    );
    expect(
        call(-1, 1, t, xp, 2, fp, &mut e, fo),
        err_invalid,
        "nlocal -1",
    );
    // More centers than local atoms.
    expect(call(1, 2, t, xp, 2, fp, &mut e, fo), err_invalid, "inum 2");
    // Neighbor 2 exists only when the ghost is counted.
    expect(
        call(2, 0, t, xp, 2, fp, &mut e, fo),
        err_invalid,
        "beyond nlocal",
    );
    let bad_types: [c_int; 3] = [0, 0, 5];
    let bt = bad_types.as_ptr();
    expect(
        call(2, 1, bt, xp, 2, fp, &mut e, fo),
        err_invalid,
        "atom 2 has type 5",
    );
    unsafe { allegro_model_free(m) };
}

/// A rank whose domain holds no atoms, and local atoms without neighbors (their energy
/// is the per-type shift, as for isolated atoms through `allegro_compute`).
#[test]
fn empty_ranks_and_atoms_without_edges() {
    let c = CString::new(common::small_model_file().to_str().unwrap()).unwrap();
    let mut m = null_mut();
    assert_eq!(
        unsafe { allegro_model_open(c.as_ptr(), &mut m) },
        ALLEGRO_OK
    );
    let (mut e, mut v) = (7.0, [1.0; 9]);
    let rc = unsafe {
        allegro_compute_lammps(
            m,
            0,
            0,
            null(),
            null(),
            0,
            null(),
            null(),
            null(),
            &mut e,
            null_mut(),
            null_mut(),
            v.as_mut_ptr(),
            null_mut(),
        )
    };
    assert_eq!(rc, ALLEGRO_OK, "{}", last_error());
    assert_eq!((e, v), (0.0, [0.0; 9]));

    // Two local atoms 20 Å apart and no neighbors.
    let types: [c_int; 2] = [0, 1];
    let x = [0.0, 0.0, 0.0, 20.0, 0.0, 0.0];
    let ilist: [c_int; 2] = [0, 1];
    let numneigh: [c_int; 2] = [0, 0];
    let first = [null(), null()];
    let (mut e, mut ae, mut f) = (0.0, [0.0; 2], [1.0; 6]);
    let rc = unsafe {
        allegro_compute_lammps(
            m,
            2,
            0,
            types.as_ptr(),
            x.as_ptr(),
            2,
            ilist.as_ptr(),
            numneigh.as_ptr(),
            first.as_ptr(),
            &mut e,
            ae.as_mut_ptr(),
            f.as_mut_ptr(),
            null_mut(),
            null_mut(),
        )
    };
    assert_eq!(rc, ALLEGRO_OK, "{}", last_error());
    let (mut e_ref, mut ae_ref) = (0.0, [0.0; 2]);
    let rc = unsafe {
        allegro_compute(
            m,
            2,
            types.as_ptr(),
            x.as_ptr(),
            null(),
            null(),
            &mut e_ref,
            ae_ref.as_mut_ptr(),
            null_mut(),
            null_mut(),
        )
    };
    assert_eq!(rc, ALLEGRO_OK, "{}", last_error());
    assert_eq!(ae, ae_ref, "per-atom energies without edges");
    assert!((e - e_ref).abs() <= 1e-12 * e_ref.abs().max(1.0));
    assert_eq!(f, [0.0; 6], "no edges, no forces");
    unsafe { allegro_model_free(m) };
}
