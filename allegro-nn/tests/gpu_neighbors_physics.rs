//! Part of the physics battery (`tests/physics.rs`) with the neighbor list found on the
//! GPU and kept with a Verlet skin (`Predictor::predict_structure_on_device`): rotations,
//! translations, permutations, supercells, and forces and stress against central
//! differences (whose displaced copies reuse the kept list, filtered on the device), on
//! a molecule, a crystal and a cell thinner than the cutoff, float64.
//!
//! Runs with a GPU runtime feature (`vulkan`, `cuda`); without a device it prints that it
//! was skipped, unless `ALLEGRO_REQUIRE_GPU=1`.

#![cfg(feature = "gpu")]

mod common;

use allegro_core::backend::gpu::{Gpu, GpuRuntime};
use allegro_core::rng::SplitMix64;
use allegro_core::testing::gpu_test_device;
use allegro_data::{AtomicGraph, Structure};
use allegro_nn::testing::{
    EnergyModel, force_differences, permutation, random_cell, random_crystal, random_molecule,
    random_permutation, random_rotation, rotation, strain_differences, supercell, translation,
};
use allegro_nn::{Prediction, Predictor, Result};

/// As `tests/physics.rs`: rounding only, far below what a wrong term gives.
const SYMMETRY_RTOL: f64 = 1e-12;
/// Central differences with `FD_STEP` (eV/Å, eV/Å³).
const FD_ATOL: f64 = 1e-7;
const FD_STEP: f64 = 1e-5;

/// A GPU predictor whose structures go through the device's neighbor list.
struct OnDevice<R: GpuRuntime>(Predictor<Gpu<R>>);

impl<R: GpuRuntime> EnergyModel for OnDevice<R> {
    fn type_names(&self) -> Vec<String> {
        self.0.type_names()
    }
    fn cutoffs(&self) -> Vec<f64> {
        self.0.cutoffs()
    }
    fn predict(&self, graph: &AtomicGraph) -> Result<Prediction> {
        self.0.predict(graph)
    }
    fn predict_structure(&self, structure: &Structure) -> Result<Prediction> {
        self.0.predict_structure_on_device(structure)
    }
}

fn battery<R: GpuRuntime>() {
    let Some(device) = gpu_test_device::<R>() else {
        return;
    };
    let (model, params, _) = common::load("small_noparity.json");
    let model = OnDevice(Predictor::new(
        model,
        &params.to_backend::<Gpu<R>>(&device),
        device,
    ));
    let mut rng = SplitMix64::new(2024);
    let species = ["H", "C", "N", "O", "Si"];
    let crystal_cell = random_cell(&mut rng, 5.5, 0.25);
    let thin_cell = random_cell(&mut rng, 2.6, 0.2);
    let structures = [
        ("molecule", random_molecule(&mut rng, &species, 8, 4.0, 1.2)),
        (
            "crystal",
            random_crystal(&mut rng, &species, 6, crystal_cell, 1.4),
        ),
        (
            "cell thinner than the cutoff",
            random_crystal(&mut rng, &species, 2, thin_cell, 1.4),
        ),
    ];
    for (kind, s) in &structures {
        let q = random_rotation(&mut rng);
        let t = [(); 3].map(|_| rng.uniform_in(-20.0, 20.0));
        let perm = random_permutation(&mut rng, s.n_atoms());
        for (check, d) in [
            ("rotation", rotation(&model, s, &q).unwrap()),
            ("translation", translation(&model, s, t).unwrap()),
            ("permutation", permutation(&model, s, &perm).unwrap()),
        ] {
            eprintln!("{kind}, {check} on {}: {d:?}", R::NAME);
            assert!(d.max() <= SYMMETRY_RTOL, "{kind}, {check}: {d:?}");
        }
        if s.cell.is_some() {
            let d = supercell(&model, s, [2, 1, 2]).unwrap();
            eprintln!("{kind}, supercell on {}: {d:?}", R::NAME);
            assert!(d.max() <= SYMMETRY_RTOL, "{kind}, supercell: {d:?}");
        }
        let f = force_differences(&model, s, FD_STEP).unwrap();
        let g = strain_differences(&model, s, FD_STEP).unwrap();
        eprintln!(
            "{kind}, central differences on {}: forces {f:?}, stress {g:?}",
            R::NAME
        );
        assert!(
            f.max_abs_error <= FD_ATOL && f.scale > 1e-2,
            "{kind}: forces {f:?}"
        );
        assert!(g.max_abs_error <= FD_ATOL, "{kind}: stress {g:?}");
    }
}

#[cfg(feature = "vulkan")]
#[test]
fn physics_with_the_device_neighbor_list_vulkan() {
    battery::<allegro_core::backend::gpu::WgpuRuntime>();
}

#[cfg(feature = "cuda")]
#[test]
fn physics_with_the_device_neighbor_list_cuda() {
    battery::<allegro_core::backend::gpu::CudaRuntime>();
}
