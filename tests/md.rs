//! Velocity-Verlet dynamics with a reference model conserves energy.

mod common;

use allegro::core::backend::cpu::{Cpu, CpuDevice};
use allegro::data::{Species, Structure, TypeMapper};
use allegro::md::VelocityVerlet;
use allegro::nn::Predictor;
use allegro::nn::import::load_reference_json;

/// The fixture model and its first frame as a molecule.
fn fixture_molecule() -> (
    allegro::nn::AllegroModel,
    allegro::nn::Parameters<Cpu>,
    Structure,
) {
    let path = common::shared_dir().join("fixtures/small_noparity.json");
    let (model, params, fixture) = load_reference_json::<Cpu>(&path, &CpuDevice).unwrap();
    let frame = &fixture["frames"][0];
    let species: Vec<Species> = frame["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Species::new(s.as_str().unwrap()).unwrap())
        .collect();
    let positions: Vec<[f64; 3]> = frame["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| std::array::from_fn(|d| p[d].as_f64().unwrap()))
        .collect();
    (
        model,
        params,
        Structure::new(species, positions, None, [false; 3]),
    )
}

#[test]
fn nve_conserves_energy() {
    let (model, params, structure) = fixture_molecule();
    let mapper = TypeMapper::new(&model.config().type_names).unwrap();
    let predictor = Predictor::new(model, &params, CpuDevice);
    let md = VelocityVerlet::new(&predictor, &mapper, &structure, 0.25).unwrap();
    let mut state = md.start(structure, 300.0, 7).unwrap();
    let e0 = state.potential_energy + md.kinetic_energy(&state);
    let mut max_dev: f64 = 0.0;
    for _ in 0..100 {
        md.step(&mut state).unwrap();
        let e = state.potential_energy + md.kinetic_energy(&state);
        max_dev = max_dev.max((e - e0).abs());
    }
    // The random-weight fixture model is far from equilibrium: T rises, E_total must not.
    let t = md.temperature(&state);
    assert!(t > 10.0, "the system moves (T = {t} K)");
    assert!(
        max_dev < 1e-3,
        "total energy drifted by {max_dev} eV over 100 steps of 0.25 fs"
    );
    eprintln!("max |ΔE| = {max_dev:.2e} eV, final T = {t:.0} K");
}

/// The same dynamics on a GPU, whose neighbor list is found on the device and kept with
/// a Verlet skin (positions change every step; the list is rebuilt only when an atom
/// moved half the skin): the trajectory follows the CPU's (the same forces up to the
/// order of summation) and conserves energy as well.
#[cfg(feature = "vulkan")]
#[test]
fn nve_on_the_gpu_follows_the_cpu() {
    use allegro::core::backend::gpu::{Gpu, WgpuRuntime};
    let Some(device) = allegro::core::testing::gpu_test_device::<WgpuRuntime>() else {
        return;
    };
    let (model, params, structure) = fixture_molecule();
    let mapper = TypeMapper::new(&model.config().type_names).unwrap();
    let cpu = Predictor::new(model.clone(), &params, CpuDevice);
    let gpu = Predictor::new(
        model,
        &params.to_backend::<Gpu<WgpuRuntime>>(&device),
        device,
    );
    let on_cpu = VelocityVerlet::new(&cpu, &mapper, &structure, 0.25).unwrap();
    let on_gpu = VelocityVerlet::new(&gpu, &mapper, &structure, 0.25).unwrap();
    let mut a = on_cpu.start(structure.clone(), 300.0, 7).unwrap();
    let mut b = on_gpu.start(structure, 300.0, 7).unwrap();
    let mut worst: f64 = 0.0;
    for _ in 0..20 {
        on_cpu.step(&mut a).unwrap();
        on_gpu.step(&mut b).unwrap();
        for (p, q) in a.structure.positions.iter().zip(&b.structure.positions) {
            for d in 0..3 {
                worst = worst.max((p[d] - q[d]).abs());
            }
        }
    }
    eprintln!("GPU trajectory within {worst:.1e} Å of the CPU's after 20 steps");
    assert!(
        worst < 1e-9,
        "the GPU trajectory left the CPU's by {worst:e} Å"
    );
}
