//! Velocity-Verlet dynamics with a reference model conserves energy.

mod common;

use allegro::core::backend::cpu::{Cpu, CpuDevice};
use allegro::data::{Species, Structure, TypeMapper};
use allegro::md::VelocityVerlet;
use allegro::nn::Predictor;
use allegro::nn::import::load_reference_json;

#[test]
fn nve_conserves_energy() {
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
    let structure = Structure::new(species, positions, None, [false; 3]);
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
