//! Model metadata through the C ABI: cutoffs per edge type, dtype, type lookup by name,
//! and errors (with messages) for a wrong type name and null pointers.

mod common;

use std::ffi::{CStr, CString};
use std::ptr::{null, null_mut};

use allegro_ffi::*;

fn last_error() -> String {
    unsafe { CStr::from_ptr(allegro_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// Opens the small water model (types H, O; H–H cutoff 3 Å, others 4 Å).
fn open() -> *mut AllegroModel {
    let path = CString::new(common::small_model_file().to_str().unwrap()).unwrap();
    let mut model = null_mut();
    assert_eq!(
        unsafe { allegro_model_open(path.as_ptr(), &mut model) },
        ALLEGRO_OK,
        "{}",
        last_error()
    );
    model
}

#[test]
fn metadata_matches_the_model() {
    let model = open();
    assert_eq!(allegro_abi_version(), ALLEGRO_ABI_VERSION);
    let (mut r_max, mut n, mut dtype) = (0.0, 0, 0);
    unsafe {
        assert_eq!(allegro_model_r_max(model, &mut r_max), ALLEGRO_OK);
        assert_eq!(allegro_model_num_types(model, &mut n), ALLEGRO_OK);
        assert_eq!(allegro_model_dtype(model, &mut dtype), ALLEGRO_OK);
    }
    assert_eq!((r_max, n, dtype), (4.0, 2, ALLEGRO_DTYPE_FLOAT64));
    let mut table = [[0.0; 2]; 2];
    for (c, row) in table.iter_mut().enumerate() {
        for (nb, x) in row.iter_mut().enumerate() {
            let rc = unsafe { allegro_model_cutoff(model, c as i32, nb as i32, x) };
            assert_eq!(rc, ALLEGRO_OK, "{}", last_error());
        }
    }
    // 1/(1/r) round trip inside the model: equal to within an ulp or so.
    let expected = [[3.0, 4.0], [4.0, 4.0]];
    for (row, want) in table.iter().zip(expected) {
        for (x, w) in row.iter().zip(want) {
            assert!((x - w).abs() < 1e-14, "{table:?}");
        }
    }
    for (name, want) in [("H", 0), ("O", 1)] {
        let c = CString::new(name).unwrap();
        let mut index = -1;
        let rc = unsafe { allegro_model_type_index(model, c.as_ptr(), &mut index) };
        assert_eq!((rc, index), (ALLEGRO_OK, want));
    }
    unsafe { allegro_model_free(model) };
}

#[test]
fn wrong_type_name_is_an_error_listing_the_types() {
    let model = open();
    let mut index = 7;
    for bad in ["Xx", "h", "", "O "] {
        let c = CString::new(bad).unwrap();
        let rc = unsafe { allegro_model_type_index(model, c.as_ptr(), &mut index) };
        assert_eq!(rc, ALLEGRO_ERR_INVALID);
        let msg = last_error();
        assert!(
            msg.contains(&format!("`{bad}`")) && msg.contains("H O"),
            "{msg}"
        );
    }
    assert_eq!(index, 7, "the output is untouched on error");
    let mut cutoff = 0.0;
    assert_eq!(
        unsafe { allegro_model_cutoff(model, 0, 2, &mut cutoff) },
        ALLEGRO_ERR_INVALID
    );
    assert!(last_error().contains("neighbor type 2"), "{}", last_error());
    assert_eq!(
        unsafe { allegro_model_cutoff(model, -1, 0, &mut cutoff) },
        ALLEGRO_ERR_INVALID
    );
    unsafe { allegro_model_free(model) };
}

#[test]
fn null_pointers_are_errors() {
    let model = open();
    let h = CString::new("H").unwrap();
    let (mut i, mut x) = (0, 0.0);
    let cases: [(&str, i32); 9] = unsafe {
        [
            (
                "model",
                allegro_model_type_index(null(), h.as_ptr(), &mut i),
            ),
            ("name", allegro_model_type_index(model, null(), &mut i)),
            (
                "index",
                allegro_model_type_index(model, h.as_ptr(), null_mut()),
            ),
            ("model", allegro_model_cutoff(null(), 0, 0, &mut x)),
            ("cutoff", allegro_model_cutoff(model, 0, 0, null_mut())),
            ("model", allegro_model_dtype(null(), &mut i)),
            ("dtype", allegro_model_dtype(model, null_mut())),
            ("r_max", allegro_model_r_max(model, null_mut())),
            ("n", allegro_model_num_types(model, null_mut())),
        ]
    };
    for (k, (what, rc)) in cases.iter().enumerate() {
        assert_eq!(*rc, ALLEGRO_ERR_NULL, "case {k} ({what})");
    }
    // The message names the last null argument.
    assert_eq!(last_error(), "n is a null pointer");
    unsafe { allegro_model_free(model) };
}
