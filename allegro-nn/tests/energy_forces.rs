//! The no-tape energy + forces path (`AllegroModel::energy_forces`, what `Predictor`
//! runs) against the tape (`Predictor::with_tape`, the oracle) on models that exercise
//! every branch of the path: Bessel and spline embeddings, l_max 1–3, parity on and
//! off, one to four layers, coupled and shared path weights, every nonlinearity, latent
//! MLPs of one layer, readouts with and without hidden nonlinearities, per-type
//! environment normalisation, scales, shifts, per-edge-type cutoffs and ZBL; float64 and
//! float32.

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_core::rng::SplitMix64;
use allegro_data::{AtomicGraph, NeighborOptions, Structure, TypeMapper};
use allegro_nn::testing::{
    Deviation, compare, evaluate, magnitudes, random_cell, random_crystal, random_molecule,
};
use allegro_nn::{AllegroConfig, AllegroModel, Predictor};

/// Both paths compute the same sums in different orders (fused kernels, hand-derived
/// backward): rounding only. Relative to the largest value of each quantity.
const F64_RTOL: f64 = 1e-12;
/// The issue's float32 bar: both paths in float32, against each other.
const F32_RTOL: f64 = 1e-5;

fn config(json: &str, dtype: &str) -> AllegroConfig {
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["model_dtype"] = dtype.into();
    AllegroConfig::from_json(&v.to_string()).unwrap()
}

const SEED_LIKE: &str = r#"{
    "seed": 11, "type_names": ["H", "O"], "r_max": 4.0,
    "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed",
        "num_bessels": 8, "bessel_trainable": false, "polynomial_cutoff_p": 6},
    "radial_chemical_embed_dim": 8,
    "scalar_embed_mlp_hidden_layers_depth": 2, "scalar_embed_mlp_hidden_layers_width": 16,
    "scalar_embed_mlp_nonlinearity": "silu",
    "l_max": 2, "parity": true, "tp_path_channel_coupling": true, "num_layers": 2,
    "num_scalar_features": 16, "num_tensor_features": 8,
    "allegro_mlp_hidden_layers_depth": 2, "allegro_mlp_hidden_layers_width": 32,
    "allegro_mlp_nonlinearity": "silu",
    "readout_mlp_hidden_layers_depth": 1, "readout_mlp_hidden_layers_width": 16,
    "readout_mlp_nonlinearity": null,
    "avg_num_neighbors": 20.0, "per_type_energy_shifts": [-1.0, -2.0],
    "per_type_energy_scales": 1.7,
    "pair_potential": {"_target_": "nequip.nn.pair_potential.ZBL", "units": "metal",
        "chemical_species": ["H", "O"]}
}"#;

const LMAX3_PER_TYPE: &str = r#"{
    "seed": 7, "type_names": ["H", "C", "O", "Si"],
    "r_max": 4.0, "per_edge_type_cutoff": {"H": 2.5, "C": {"O": 3.0, "Si": 3.5}},
    "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed",
        "num_bessels": 6, "bessel_trainable": true, "polynomial_cutoff_p": 6},
    "radial_chemical_embed_dim": 8, "scalar_embed_mlp_hidden_layers_width": 16,
    "scalar_embed_mlp_nonlinearity": "ssp",
    "l_max": 3, "parity": true, "tp_path_channel_coupling": true, "num_layers": 2,
    "num_scalar_features": 16, "num_tensor_features": 4,
    "allegro_mlp_hidden_layers_width": 32, "allegro_mlp_nonlinearity": "softplus",
    "readout_mlp_hidden_layers_depth": 2, "readout_mlp_hidden_layers_width": 8,
    "readout_mlp_nonlinearity": "sigmoid",
    "avg_num_neighbors": {"H": 6.0, "C": 9.5, "O": 7.0, "Si": 12.0},
    "per_type_energy_scales": [0.8, 1.3, 1.1, 2.0],
    "per_type_energy_shifts": [-1.2, -3.4, -2.1, -5.0],
    "pair_potential": {"_target_": "nequip.nn.pair_potential.ZBL", "units": "metal",
        "chemical_species": ["H", "C", "O", "Si"]}
}"#;

/// Four layers (the readout reads five latent blocks), one-layer latent MLPs, splines,
/// no parity, shared path weights, no forward normalisation.
const SPLINE_DEEP: &str = r#"{
    "seed": 3, "type_names": ["A", "B", "C"], "r_max": 3.5,
    "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodySplineScalarEmbed",
        "num_splines": 8, "spline_span": 6},
    "scalar_embed_mlp_nonlinearity": "mish",
    "l_max": 1, "parity": false, "tp_path_channel_coupling": false,
    "forward_normalize": false, "num_layers": 4, "num_scalar_features": 8,
    "num_tensor_features": 4, "allegro_mlp_hidden_layers_depth": 0,
    "readout_mlp_hidden_layers_depth": 1, "readout_mlp_hidden_layers_width": 8,
    "readout_mlp_nonlinearity": "tanh",
    "avg_num_neighbors": 10.0, "per_type_energy_scales": 1.5,
    "per_type_energy_shifts": [0.5, -0.5, 1.0]
}"#;

/// GELU everywhere, one layer, no environment normalisation, no scales or shifts.
const GELU_ONE_LAYER: &str = r#"{
    "seed": 5, "type_names": ["A", "B"], "r_max": 3.0,
    "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed",
        "num_bessels": 4, "bessel_trainable": false, "polynomial_cutoff_p": 4},
    "scalar_embed_mlp_nonlinearity": "gelu",
    "l_max": 2, "parity": false, "tp_path_channel_coupling": true, "num_layers": 1,
    "num_scalar_features": 8, "num_tensor_features": 8,
    "allegro_mlp_hidden_layers_depth": 1, "allegro_mlp_hidden_layers_width": 16,
    "allegro_mlp_nonlinearity": "gelu",
    "readout_mlp_hidden_layers_depth": 1, "readout_mlp_hidden_layers_width": 8,
    "readout_mlp_nonlinearity": "gelu"
}"#;

fn structures(rng: &mut SplitMix64, species: &[&str]) -> Vec<(&'static str, Structure)> {
    let cell = random_cell(rng, 5.0, 0.2);
    vec![
        ("molecule", random_molecule(rng, species, 10, 4.0, 1.1)),
        ("crystal", random_crystal(rng, species, 8, cell, 1.2)),
    ]
}

fn check(name: &str, json: &str, species: &[&str]) {
    let mut rng = SplitMix64::new(31);
    for (dtype, rtol) in [("float64", F64_RTOL), ("float32", F32_RTOL)] {
        let model = AllegroModel::new(&config(json, dtype)).unwrap();
        let params = model.init_parameters::<Cpu>(&CpuDevice);
        let fast = Predictor::new(model, &params, CpuDevice);
        let tape = fast.clone().with_tape(true);
        for (kind, s) in structures(&mut rng, species) {
            let (got, want) = (evaluate(&fast, &s).unwrap(), evaluate(&tape, &s).unwrap());
            let [e, f, _] = magnitudes(&want);
            assert!(e > 1e-3 && f > 1e-3, "{name} / {kind}: a vacuous structure");
            // A structure's energy is a sum whose terms may cancel (here down to a
            // twentieth of the largest term): its rounding follows Σ|E_i|, not |E|, so
            // the energy is compared relative to that sum, the other quantities to their
            // largest value.
            let terms: f64 = want.atomic_energies.iter().map(|e| e.abs()).sum();
            let energy = (got.total_energy[0] - want.total_energy[0]).abs() / terms;
            let d = Deviation {
                energy,
                ..compare(&got, &want)
            };
            println!("{name} / {dtype} / {kind}: {d:?}");
            assert!(
                d.max() <= rtol,
                "{name} / {dtype} / {kind}: no-tape vs tape {d:?} (tolerance {rtol:e})"
            );
        }
    }
}

#[test]
fn seed_like_bessel_zbl() {
    check("seed-like", SEED_LIKE, &["H", "O"]);
}

#[test]
fn lmax3_per_type_everything() {
    check("lmax3 per-type", LMAX3_PER_TYPE, &["H", "C", "O", "Si"]);
}

#[test]
fn spline_four_layers_one_layer_latents() {
    check("spline deep", SPLINE_DEEP, &["A", "B", "C"]);
}

#[test]
fn gelu_one_layer() {
    check("gelu", GELU_ONE_LAYER, &["A", "B"]);
}

/// Edges handed over in any order are grouped by center (the segment ops need it), with
/// the same results as the sorted list.
#[test]
fn unsorted_edges_give_the_same_results() {
    let model = AllegroModel::new(&config(SEED_LIKE, "float64")).unwrap();
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    let predictor = Predictor::new(model.clone(), &params, CpuDevice);
    let mut rng = SplitMix64::new(5);
    let s = random_molecule(&mut rng, &["H", "O"], 12, 4.0, 1.1);
    let mapper = TypeMapper::new(&model.config().type_names).unwrap();
    let graph = AtomicGraph::from_structure(&s, &mapper, &NeighborOptions::new(4.0)).unwrap();
    let mut shuffled = graph.clone();
    let e = graph.n_edges();
    let order: Vec<usize> = (0..e).map(|z| (z * 7919) % e).collect();
    assert!(
        !e.is_multiple_of(7919)
            && order
                .windows(2)
                .any(|w| graph.edge_center[w[0]] > graph.edge_center[w[1]])
    );
    shuffled.edge_center = order.iter().map(|&z| graph.edge_center[z]).collect();
    shuffled.edge_neighbor = order.iter().map(|&z| graph.edge_neighbor[z]).collect();
    shuffled.edge_cell_shift = order.iter().map(|&z| graph.edge_cell_shift[z]).collect();
    let (a, b) = (
        predictor.predict(&graph).unwrap(),
        predictor.predict(&shuffled).unwrap(),
    );
    let d = compare(&b, &a);
    assert!(d.max() <= F64_RTOL, "shuffled edges: {d:?}");
}

/// The per-atom virial (no-tape and tape agree) sums over atoms to the virial −G once
/// symmetrised, and each atom's share is not trivially zero.
#[test]
fn per_atom_virial_sums_to_the_virial() {
    let model = AllegroModel::new(&config(LMAX3_PER_TYPE, "float64")).unwrap();
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    let fast = Predictor::new(model.clone(), &params, CpuDevice);
    let tape = fast.clone().with_tape(true);
    let mut rng = SplitMix64::new(77);
    let cell = random_cell(&mut rng, 5.0, 0.2);
    let s = random_crystal(&mut rng, &["H", "C", "O", "Si"], 8, cell, 1.2);
    let mapper = TypeMapper::new(&model.config().type_names).unwrap();
    let graph = AtomicGraph::from_structure(&s, &mapper, &NeighborOptions::new(4.0)).unwrap();
    let inputs = fast.inputs(&graph).unwrap();
    let a = fast.outputs_with_atom_virial(&inputs);
    let b = tape.outputs_with_atom_virial(&inputs);
    let (wa, wb) = (
        a.atom_virial.unwrap().to_vec_f64(),
        b.atom_virial.unwrap().to_vec_f64(),
    );
    let scale = wb.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let diff = wa
        .iter()
        .zip(&wb)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    assert!(
        scale > 1e-3 && diff <= 1e-12 * scale,
        "no-tape vs tape: {diff:e} of {scale:e}"
    );
    let g = a.strain_derivative.to_vec_f64();
    let mut sum = [0.0f64; 9];
    for w in wa.chunks(9) {
        for k in 0..9 {
            sum[k] += w[k];
        }
    }
    for r in 0..3 {
        for c in 0..3 {
            let sym = 0.5 * (sum[3 * r + c] + sum[3 * c + r]);
            assert!(
                (sym + g[3 * r + c]).abs() <= 1e-12 * scale.max(1.0),
                "Σ_a W_a[{r}{c}] = {sym}, virial = {}",
                -g[3 * r + c]
            );
        }
    }
}
