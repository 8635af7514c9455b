//! The bad-input battery through the Rust entry point (`EnergyModel::predict_structure`):
//! a NaN or infinite position, a cell of zero volume, a species the model lacks and two
//! atoms at the same place are each an error that says what is wrong, never a panic and
//! never numbers. The C ABI (`allegro-ffi/tests/abi.rs`), LAMMPS
//! (`allegro-ffi/tests/lammps_plugin.rs`) and Python (`allegro-py/tests/test_errors.py`)
//! run the same cases through their own entry points.

mod common;

use allegro_core::backend::cpu::CpuDevice;
use allegro_data::{Species, Structure};
use allegro_nn::{EnergyModel, Predictor};

fn species(labels: &[&str]) -> Vec<Species> {
    labels.iter().map(|s| Species::new(s).unwrap()).collect()
}

/// A water molecule in a 10 Å box (every species in the fixture model).
fn water() -> Structure {
    let cell = [[10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]];
    Structure::new(
        species(&["O", "H", "H"]),
        vec![[5.0, 5.0, 5.0], [5.96, 5.0, 5.0], [4.76, 5.93, 5.0]],
        Some(cell),
        [true; 3],
    )
}

fn error_of(model: &impl EnergyModel, s: &Structure) -> String {
    match model.predict_structure(s) {
        Ok(p) => panic!("accepted, predicted {:?}", p.total_energy),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_structures_are_errors_that_say_what_is_wrong() {
    let (model, params, _) = common::load("small_noparity.json");
    let predictor = Predictor::new(model, &params, CpuDevice);
    assert!(predictor.predict_structure(&water()).is_ok());

    for bad in [f64::NAN, f64::INFINITY] {
        let mut s = water();
        s.positions[1][0] = bad;
        let e = error_of(&predictor, &s);
        assert!(
            e.contains("atom 1") && e.contains("non-finite position"),
            "{e}"
        );
    }

    let mut flat = water();
    flat.cell = Some([[10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [10.0, 10.0, 0.0]]);
    let e = error_of(&predictor, &flat);
    assert!(e.contains("cell"), "{e}");

    let mut gold = water();
    gold.species = species(&["O", "H", "Au"]);
    let e = error_of(&predictor, &gold);
    assert!(e.contains("Au"), "{e}");

    let mut same = water();
    same.positions[2] = same.positions[1];
    let e = error_of(&predictor, &same);
    assert!(e.contains("atoms 1 and 2") && e.contains("apart"), "{e}");
}
