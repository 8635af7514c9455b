//! The C ABI from Rust: results equal the Rust predictor's; bad input gives error codes
//! with messages, never a crash.

mod common;

use std::ffi::{CStr, CString};
use std::path::PathBuf;
use std::ptr::{null, null_mut};

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::{AtomicGraph, NeighborOptions, Species, Structure, TypeMapper};
use allegro_ffi::*;
use allegro_nn::Predictor;
use allegro_nn::import::load_reference_json;
use allegro_nn::model_file::ModelFile;

fn fixture() -> PathBuf {
    common::shared_dir().join("fixtures/small_noparity.json")
}

/// Writes the small fixture model as a `.allegro` file; returns its path and the
/// ethanol frame (types, positions) with the Rust predictor's results.
fn setup(name: &str) -> (CString, Vec<i32>, Vec<f64>, f64, Vec<[f64; 3]>) {
    let (model, params, fx) = load_reference_json::<Cpu>(&fixture(), &CpuDevice).unwrap();
    let dir = std::env::temp_dir().join(format!("allegro-ffi-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.allegro");
    ModelFile::from_model(&model, &params, Default::default())
        .unwrap()
        .save(&path)
        .unwrap();
    let frame = &fx["frames"][0];
    let types: Vec<i32> = frame["atom_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_i64().unwrap() as i32)
        .collect();
    let pos: Vec<f64> = frame["positions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
        .collect();
    let names = &model.config().type_names;
    let species: Vec<Species> = types
        .iter()
        .map(|&t| Species::new(&names[t as usize]).unwrap())
        .collect();
    let s = Structure::new(
        species,
        pos.chunks(3).map(|c| [c[0], c[1], c[2]]).collect(),
        None,
        [false; 3],
    );
    let mapper = TypeMapper::new(names).unwrap();
    let g = AtomicGraph::from_structure(&s, &mapper, &NeighborOptions::new(model.config().r_max))
        .unwrap();
    let p = Predictor::new(model, &params, CpuDevice)
        .predict(&g)
        .unwrap();
    (
        CString::new(path.to_str().unwrap()).unwrap(),
        types,
        pos,
        p.total_energy[0],
        p.forces,
    )
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(allegro_last_error()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn compute_equals_rust_predictor() {
    let (path, types, pos, e_ref, f_ref) = setup("compute");
    let mut model = null_mut();
    assert_eq!(
        unsafe { allegro_model_open(path.as_ptr(), &mut model) },
        ALLEGRO_OK,
        "{}",
        last_error()
    );
    let (mut r_max, mut n_types) = (0.0, 0);
    assert_eq!(
        unsafe { allegro_model_r_max(model, &mut r_max) },
        ALLEGRO_OK
    );
    assert_eq!(
        unsafe { allegro_model_num_types(model, &mut n_types) },
        ALLEGRO_OK
    );
    assert_eq!((r_max, n_types), (6.0, 15));
    let mut name = [0 as std::ffi::c_char; 8];
    assert_eq!(
        unsafe { allegro_model_type_name(model, 5, name.as_mut_ptr(), name.len()) },
        ALLEGRO_OK
    );
    assert_eq!(
        unsafe { CStr::from_ptr(name.as_ptr()) }.to_str().unwrap(),
        "H"
    );
    let n = types.len();
    let (mut e, mut ea, mut f, mut v) = (0.0, vec![0.0; n], vec![0.0; 3 * n], [0.0; 9]);
    let rc = unsafe {
        allegro_compute(
            model,
            n,
            types.as_ptr(),
            pos.as_ptr(),
            null(),
            null(),
            &mut e,
            ea.as_mut_ptr(),
            f.as_mut_ptr(),
            v.as_mut_ptr(),
        )
    };
    assert_eq!(rc, ALLEGRO_OK, "{}", last_error());
    assert_eq!(e, e_ref);
    assert_eq!(f, f_ref.iter().flatten().copied().collect::<Vec<_>>());
    assert!((ea.iter().sum::<f64>() - e).abs() < 1e-10);
    unsafe { allegro_model_free(model) };
}

#[test]
fn bad_input_gives_errors_with_messages() {
    let (path, types, pos, _, _) = setup("errors");
    let mut model = null_mut();
    // Null pointers.
    assert_eq!(
        unsafe { allegro_model_open(null(), &mut model) },
        ALLEGRO_ERR_NULL
    );
    assert!(last_error().contains("path"), "{}", last_error());
    assert_eq!(
        unsafe { allegro_model_open(path.as_ptr(), null_mut()) },
        ALLEGRO_ERR_NULL
    );
    let mut r = 0.0;
    assert_eq!(
        unsafe { allegro_model_r_max(null(), &mut r) },
        ALLEGRO_ERR_NULL
    );
    // A missing file and a truncated one.
    let missing = CString::new("/nonexistent/model.allegro").unwrap();
    assert_eq!(
        unsafe { allegro_model_open(missing.as_ptr(), &mut model) },
        ALLEGRO_ERR_MODEL_FILE
    );
    assert!(last_error().contains("nonexistent"), "{}", last_error());
    let bytes = std::fs::read(path.to_str().unwrap()).unwrap();
    let truncated = std::env::temp_dir().join(format!(
        "allegro-ffi-{}-truncated.allegro",
        std::process::id()
    ));
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let t = CString::new(truncated.to_str().unwrap()).unwrap();
    assert_eq!(
        unsafe { allegro_model_open(t.as_ptr(), &mut model) },
        ALLEGRO_ERR_MODEL_FILE
    );
    assert!(!last_error().is_empty());
    // A wrong type index and a too-small name buffer.
    assert_eq!(
        unsafe { allegro_model_open(path.as_ptr(), &mut model) },
        ALLEGRO_OK
    );
    let mut bad_types = types.clone();
    bad_types[0] = 99;
    let mut e = 0.0;
    let rc = unsafe {
        allegro_compute(
            model,
            types.len(),
            bad_types.as_ptr(),
            pos.as_ptr(),
            null(),
            null(),
            &mut e,
            null_mut(),
            null_mut(),
            null_mut(),
        )
    };
    assert_eq!(rc, ALLEGRO_ERR_INVALID);
    assert!(last_error().contains("type 99"), "{}", last_error());
    let mut small = [0 as std::ffi::c_char; 1];
    assert_eq!(
        unsafe { allegro_model_type_name(model, 0, small.as_mut_ptr(), 1) },
        ALLEGRO_ERR_INVALID
    );
    // Two atoms at the same place.
    let mut same = pos.clone();
    same[3..6].copy_from_slice(&pos[0..3]);
    let rc = unsafe {
        allegro_compute(
            model,
            types.len(),
            types.as_ptr(),
            same.as_ptr(),
            null(),
            null(),
            &mut e,
            null_mut(),
            null_mut(),
            null_mut(),
        )
    };
    assert_eq!(rc, ALLEGRO_ERR_COMPUTE, "{}", last_error());
    // Found by the neighbor list ("atoms 0 and 1 … are 0.000e0 Å apart"), or after the
    // model by a zero-length edge ("… at the same place") where the list is the caller's.
    let message = last_error();
    assert!(
        message.contains("atoms 0 and 1")
            && (message.contains("apart") || message.contains("same place")),
        "{message}"
    );
    // A NaN or infinite position, and a periodic cell of zero volume (its third row in
    // the plane of the first two): the bad-input battery of allegro-nn/tests/bad_inputs.rs.
    let compute = |pos: &[f64], cell: *const f64, pbc: *const i32| {
        let mut e = 0.0;
        let rc = unsafe {
            allegro_compute(
                model,
                types.len(),
                types.as_ptr(),
                pos.as_ptr(),
                cell,
                pbc,
                &mut e,
                null_mut(),
                null_mut(),
                null_mut(),
            )
        };
        (rc, last_error())
    };
    for bad in [f64::NAN, f64::INFINITY] {
        let mut p = pos.clone();
        p[4] = bad;
        let (rc, message) = compute(&p, null(), null());
        assert_ne!(rc, ALLEGRO_OK);
        assert!(message.contains("non-finite position"), "{message}");
    }
    let flat = [20.0, 0.0, 0.0, 0.0, 20.0, 0.0, 20.0, 20.0, 0.0];
    let periodic = [1i32, 1, 1];
    let (rc, message) = compute(&pos, flat.as_ptr(), periodic.as_ptr());
    assert_ne!(rc, ALLEGRO_OK);
    assert!(message.contains("cell"), "{message}");
    unsafe { allegro_model_free(model) };
    unsafe { allegro_model_free(null_mut()) };
}
