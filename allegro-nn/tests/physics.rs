//! Physics of randomly initialised Allegro models on random structures (issue 2's
//! battery): O(3) equivariance, translation and permutation invariance, strict locality,
//! batching, periodic images, small cells and supercells, and forces and stress against
//! finite differences. The checks live in `allegro_nn::testing`; here are the models,
//! the structures and the tolerances.

mod common;

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_core::rng::SplitMix64;
use allegro_data::Structure;
use allegro_nn::testing::{
    self, Deviation, EnergyModel, batching, extra_edges, force_differences, lattice_images,
    locality, magnitudes, permutation, random_cell, random_crystal, random_molecule,
    random_permutation, random_reflection, random_rotation, rotation, strain_differences,
    supercell, translation,
};
use allegro_nn::{AllegroConfig, AllegroModel, Predictor};

/// Two f64 evaluations of the same physics (rotated, translated, permuted, batched,
/// wrapped, replicated, with extra edges) differ only by rounding: ~1e-16 per operation,
/// summed over at most a few hundred edges per atom. 1e-12 relative (to the largest
/// value of each quantity) is four orders above what we see and six below the 1e-6 a
/// wrong sign, index or missing term gives.
const SYMMETRY_RTOL: f64 = 1e-12;
/// Energy change of an atom that no cutoff connects to the moved atom (eV). The model is
/// exactly local, so only the summation order of its remaining edges may change (the
/// neighbor list is rebuilt): rounding of a few eV.
const LOCALITY_ATOL: f64 = 1e-12;
/// A move that does reach an atom changes its energy by far more than rounding (eV):
/// guards against a vacuous locality check.
const LOCALITY_MIN_EFFECT: f64 = 1e-6;
/// Central-difference step (Å, and strain): truncation error ~h²·E'''/6 ≈ 1e-10 and
/// rounding error ~1e-16·|E|/h ≈ 1e-10 for the energies of these structures.
const FD_STEP: f64 = 1e-5;
/// Forces against −∂E/∂r by central differences (eV/Å): the issue's 1e-7, ~100 times the
/// errors of the difference quotient itself.
const FORCE_FD_ATOL: f64 = 1e-7;
/// Stress against (1/V) ∂E/∂ε (eV/Å³), or G = ∂E/∂ε (eV) without a cell; as the forces.
const STRESS_FD_ATOL: f64 = 1e-7;
/// Smallest largest-force of a structure (eV/Å) for its checks to mean anything.
const MIN_FORCE: f64 = 1e-2;

/// A model from the fixture `small_noparity.json`'s config (l_max 1, no parity, 1 layer,
/// 15 types), a second one with l_max 3, parity, 2 layers, ZBL, per-type
/// avg_num_neighbors, scales and shifts and per-edge-type cutoffs, and a third with
/// splines, l_max 2, 3 layers, no path-channel coupling and no forward normalisation.
fn models() -> Vec<(&'static str, Predictor<Cpu>, Vec<&'static str>)> {
    let text = std::fs::read_to_string(common::fixture_path("small_noparity.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let small: AllegroConfig = serde_json::from_value(json["config"].clone()).unwrap();
    let rich = AllegroConfig::from_json(
        r#"{
        "seed": 7, "model_dtype": "float64", "type_names": ["H", "C", "O", "Si"],
        "r_max": 4.0, "per_edge_type_cutoff": {"H": 2.5, "C": {"O": 3.0, "Si": 3.5}},
        "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed",
            "num_bessels": 6, "bessel_trainable": true, "polynomial_cutoff_p": 6},
        "radial_chemical_embed_dim": 8, "scalar_embed_mlp_hidden_layers_width": 16,
        "l_max": 3, "parity": true, "tp_path_channel_coupling": true, "num_layers": 2,
        "num_scalar_features": 16, "num_tensor_features": 4,
        "allegro_mlp_hidden_layers_width": 32, "allegro_mlp_nonlinearity": "silu",
        "readout_mlp_hidden_layers_width": 8,
        "avg_num_neighbors": {"H": 6.0, "C": 9.5, "O": 7.0, "Si": 12.0},
        "per_type_energy_scales": [0.8, 1.3, 1.1, 2.0],
        "per_type_energy_shifts": [-1.2, -3.4, -2.1, -5.0],
        "pair_potential": {"_target_": "nequip.nn.pair_potential.ZBL", "units": "metal",
            "chemical_species": ["H", "C", "O", "Si"]}
    }"#,
    )
    .unwrap();
    let spline = AllegroConfig::from_json(
        r#"{
        "seed": 3, "model_dtype": "float64", "type_names": ["A", "B", "C"], "r_max": 3.5,
        "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodySplineScalarEmbed",
            "num_splines": 8, "spline_span": 6},
        "l_max": 2, "parity": true, "tp_path_channel_coupling": false,
        "forward_normalize": false, "num_layers": 3, "num_scalar_features": 8,
        "num_tensor_features": 4, "allegro_mlp_hidden_layers_width": 16,
        "allegro_mlp_nonlinearity": "gelu", "readout_mlp_nonlinearity": null,
        "avg_num_neighbors": 10.0, "per_type_energy_scales": 1.5,
        "per_type_energy_shifts": [0.5, -0.5, 1.0]
    }"#,
    )
    .unwrap();
    [
        ("small_noparity", small, vec!["H", "C", "N", "O", "Si"]),
        ("lmax3_zbl", rich, vec!["H", "C", "O", "Si"]),
        ("spline_lmax2", spline, vec!["A", "B", "C"]),
    ]
    .into_iter()
    .map(|(name, config, species)| {
        let model = AllegroModel::new(&config).unwrap();
        let params = model.init_parameters::<Cpu>(&CpuDevice);
        (name, Predictor::new(model, &params, CpuDevice), species)
    })
    .collect()
}

/// A molecule, a triclinic crystal and a cell smaller than the cutoff (many images).
fn structures(
    rng: &mut SplitMix64,
    species: &[&str],
    r_max: f64,
) -> Vec<(&'static str, Structure)> {
    let crystal_cell = random_cell(rng, 5.5, 0.25);
    let small_cell = random_cell(rng, 2.6, 0.2);
    assert!(
        small_cell
            .iter()
            .all(|row| row.iter().map(|x| x * x).sum::<f64>().sqrt() < r_max)
    );
    vec![
        ("molecule", random_molecule(rng, species, 8, 4.0, 1.2)),
        (
            "crystal",
            random_crystal(rng, species, 6, crystal_cell, 1.4),
        ),
        (
            "small cell",
            random_crystal(rng, species, 2, small_cell, 1.4),
        ),
    ]
}

/// Runs `check` on every model and structure, asserting the forces are not negligible,
/// and returns the worst deviation.
fn each(
    label: &str,
    mut check: impl FnMut(&Predictor<Cpu>, &Structure, &mut SplitMix64) -> Deviation,
) -> Deviation {
    let mut rng = SplitMix64::new(2024);
    let mut worst = Deviation::default();
    for (name, model, species) in models() {
        for (kind, s) in structures(&mut rng, &species, model.r_max()) {
            let p = testing::evaluate(&model, &s).unwrap();
            let [_, f, _] = magnitudes(&p);
            assert!(
                f > MIN_FORCE,
                "{name} / {kind}: max |F| = {f:e}, too small to test"
            );
            let d = check(&model, &s, &mut rng);
            eprintln!("{label}: {name} / {kind}: {d:?}");
            worst = worst.worst(d);
        }
    }
    eprintln!("{label}: worst {worst:?}");
    worst
}

fn assert_within(label: &str, d: Deviation, tol: f64) {
    assert!(d.max() <= tol, "{label}: deviation {d:?} above {tol:e}");
}

#[test]
fn rotations_and_reflections() {
    let d = each("rotation", |m, s, rng| {
        let q = random_rotation(rng);
        rotation(m, s, &q).unwrap()
    });
    assert_within("rotation", d, SYMMETRY_RTOL);
    let d = each("reflection", |m, s, rng| {
        let q = random_reflection(rng);
        rotation(m, s, &q).unwrap()
    });
    assert_within("reflection", d, SYMMETRY_RTOL);
}

#[test]
fn translation_invariance() {
    let d = each("translation", |m, s, rng| {
        let t = [(); 3].map(|_| rng.uniform_in(-20.0, 20.0));
        translation(m, s, t).unwrap()
    });
    assert_within("translation", d, SYMMETRY_RTOL);
}

#[test]
fn permutation_invariance() {
    let d = each("permutation", |m, s, rng| {
        let perm = random_permutation(rng, s.n_atoms());
        permutation(m, s, &perm).unwrap()
    });
    assert_within("permutation", d, SYMMETRY_RTOL);
}

#[test]
fn extra_edges_change_nothing() {
    let d = each("extra edges", |m, s, _| {
        extra_edges(m, s, 1.5 * m.r_max()).unwrap()
    });
    assert_within("extra edges", d, SYMMETRY_RTOL);
}

#[test]
fn batch_equals_singles() {
    let mut rng = SplitMix64::new(11);
    let mut worst = Deviation::default();
    for (name, model, species) in models() {
        let mut all: Vec<Structure> = structures(&mut rng, &species, model.r_max())
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        all.push(random_molecule(&mut rng, &species, 5, 3.0, 1.2));
        all.swap(0, 2);
        let d = batching(&model, &all).unwrap();
        eprintln!("batch: {name}: {d:?}");
        worst = worst.worst(d);
    }
    assert_within("batch", worst, SYMMETRY_RTOL);
}

#[test]
fn wrapped_and_unwrapped_images() {
    let d = each("lattice images", |m, s, rng| {
        if s.cell.is_none() {
            return Deviation::default();
        }
        let shifts: Vec<[i32; 3]> = (0..s.n_atoms())
            .map(|_| [(); 3].map(|_| rng.below(5) as i32 - 2))
            .collect();
        lattice_images(m, s, &shifts).unwrap()
    });
    assert_within("lattice images", d, SYMMETRY_RTOL);
}

#[test]
fn small_cell_matches_supercell() {
    let d = each("supercell", |m, s, _| {
        if s.cell.is_none() {
            return Deviation::default();
        }
        let g = testing::graph(m, s, m.r_max()).unwrap();
        let self_images = (0..g.n_edges())
            .filter(|&z| g.edge_center[z] == g.edge_neighbor[z])
            .count();
        eprintln!(
            "supercell: {} atoms, {} edges, {self_images} to an atom's own images",
            s.n_atoms(),
            g.n_edges()
        );
        if s.n_atoms() == 2 {
            // The small cell: every atom sees several of its own images.
            assert!(
                self_images >= 4 * s.n_atoms(),
                "the small cell is not small"
            );
        }
        supercell(m, s, [2, 1, 3]).unwrap()
    });
    assert_within("supercell", d, SYMMETRY_RTOL);
}

#[test]
fn forces_are_minus_energy_gradient() {
    let mut rng = SplitMix64::new(5);
    let mut worst = 0.0f64;
    for (name, model, species) in models() {
        for (kind, s) in structures(&mut rng, &species, model.r_max()) {
            let fd = force_differences(&model, &s, FD_STEP).unwrap();
            eprintln!("forces vs FD: {name} / {kind}: {fd:?}");
            assert!(
                fd.scale > MIN_FORCE,
                "{name} / {kind}: forces too small to test"
            );
            assert!(
                fd.max_abs_error <= FORCE_FD_ATOL,
                "{name} / {kind}: forces off finite differences by {:e}",
                fd.max_abs_error
            );
            worst = worst.max(fd.max_abs_error);
        }
    }
    eprintln!("forces vs FD: worst {worst:e} eV/Å");
}

#[test]
fn stress_is_strain_derivative() {
    let mut rng = SplitMix64::new(6);
    let mut worst = 0.0f64;
    for (name, model, species) in models() {
        for (kind, s) in structures(&mut rng, &species, model.r_max()) {
            let fd = strain_differences(&model, &s, FD_STEP).unwrap();
            eprintln!("stress vs FD: {name} / {kind}: {fd:?}");
            assert!(fd.scale > 1e-4, "{name} / {kind}: stress too small to test");
            assert!(
                fd.max_abs_error <= STRESS_FD_ATOL,
                "{name} / {kind}: stress off finite differences by {:e}",
                fd.max_abs_error
            );
            worst = worst.max(fd.max_abs_error);
        }
    }
    eprintln!("stress vs FD: worst {worst:e}");
}

/// A point at distance in `band` from `center`, at least `min_distance` from `others`.
fn point_near(
    rng: &mut SplitMix64,
    center: [f64; 3],
    band: (f64, f64),
    others: &[[f64; 3]],
    min_distance: f64,
) -> [f64; 3] {
    loop {
        let u = [(); 3].map(|_| rng.normal());
        let norm = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        let d = rng.uniform_in(band.0, band.1);
        let p: [f64; 3] = std::array::from_fn(|a| center[a] + u[a] / norm * d);
        let clear = others
            .iter()
            .all(|o| (0..3).map(|a| (o[a] - p[a]).powi(2)).sum::<f64>().sqrt() >= min_distance);
        if clear {
            return p;
        }
    }
}

#[test]
fn strict_locality() {
    let mut rng = SplitMix64::new(9);
    for (name, model, species) in models() {
        let r = model.r_max();
        // Two clusters more than r_max apart; atom k of the second moves inside it, then
        // far away. Edges across the gap are in the graph (1.5·r_max) and must be cut.
        let a = random_molecule(&mut rng, &species, 4, 3.0, 1.2);
        let b = random_molecule(&mut rng, &species, 4, 3.0, 1.2);
        let mut s = a.clone();
        s.species.extend_from_slice(&b.species);
        let gap = 3.0 + r + 2.3;
        s.positions
            .extend(b.positions.iter().map(|p| [p[0] + gap, p[1], p[2]]));
        let k = 6;
        let others: Vec<[f64; 3]> = (4..8).filter(|&i| i != k).map(|i| s.positions[i]).collect();
        let inside = point_near(&mut rng, s.positions[5], (1.2, 2.0), &others, 1.2);
        let far = [gap + 3.0 + r + 1.0, 0.5, -1.0];
        for (move_name, to) in [("within its cluster", inside), ("beyond r_max", far)] {
            let l = locality(&model, &s, k, to).unwrap();
            eprintln!("locality: {name}: atom moved {move_name}: {l:?}");
            assert!(
                l.unaffected >= 4,
                "{name}: the first cluster should be out of reach"
            );
            assert!(
                l.max_change_unaffected <= LOCALITY_ATOL,
                "{name}: moving atom {k} {move_name} changed an atom out of its reach by {:e} eV",
                l.max_change_unaffected
            );
            assert!(
                l.max_change_affected >= LOCALITY_MIN_EFFECT,
                "{name}: the move changed nothing at all: vacuous"
            );
        }
    }
}

/// With `{H: 2.5}` every H→* edge stops at 2.5 Å while C→H reaches r_max = 4 Å: an O
/// or C moving between 2.6 and 3.9 Å of an H leaves the H's energy alone but not its own.
#[test]
fn per_edge_type_cutoff_locality() {
    let mut rng = SplitMix64::new(10);
    let (name, model, _) = models().swap_remove(1);
    assert_eq!(model.cutoffs()[0], 2.5, "{name}: H→H cutoff");
    let mut trial = 0;
    let mut draws = 0;
    while trial < 4 {
        draws += 1;
        assert!(
            draws <= 40,
            "40 draws gave only {trial} moves that reach an atom"
        );
        let mut s = random_molecule(&mut rng, &["C", "O", "Si"], 4, 3.0, 1.2);
        // The H sits next to atom 0, the moving atom k = 4 is a C or an O 2.6–3.9 Å
        // from the H, twice.
        let h = point_near(&mut rng, s.positions[0], (1.0, 1.3), &s.positions[1..], 1.1);
        s.positions.push(h);
        s.species.push(allegro_data::Species::new("H").unwrap());
        let from = point_near(&mut rng, h, (2.6, 3.9), &s.positions, 1.2);
        let to = point_near(&mut rng, h, (2.6, 3.9), &s.positions, 1.2);
        s.positions.push(from);
        let moving = if trial % 2 == 0 { "C" } else { "O" };
        s.species.push(allegro_data::Species::new(moving).unwrap());
        let l = locality(&model, &s, 5, to).unwrap();
        eprintln!("per-edge-type locality: {name} / {moving}: {l:?}");
        assert!(
            l.unaffected_within_r_max >= 1,
            "the H should be within r_max, unaffected"
        );
        assert!(
            l.max_change_unaffected <= LOCALITY_ATOL,
            "{name}: an H→{moving} edge beyond its 2.5 Å cutoff changed the H by {:e} eV",
            l.max_change_unaffected
        );
        // A draw whose moving atom reaches no atom but the H is no test of the cutoff
        // (nothing could change); draw again.
        if l.max_change_affected >= LOCALITY_MIN_EFFECT {
            trial += 1;
        }
    }
}
