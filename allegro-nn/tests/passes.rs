//! `Predictor::with_max_edges_per_pass`: evaluating a structure in passes over ranges of
//! center atoms (each pass a graph of its own atoms) gives the single-pass energies,
//! forces and virial, also for a batch of several structures.

mod common;

use allegro_core::backend::cpu::CpuDevice;
use allegro_nn::Predictor;
use common::{frame_graph, load, max_abs_diff};

#[test]
fn passes_equal_one_pass() {
    for name in ["small_noparity.json", "seed_lmax2.json"] {
        let (model, params, fixture) = load(name);
        let one = Predictor::new(model, &params, CpuDevice);
        for frame in fixture["frames"].as_array().unwrap() {
            let graph = frame_graph(frame);
            // About four passes, and one pass per center atom.
            for max in [graph.n_edges() / 4 + 1, 1] {
                let split = Predictor::new(one.model().clone(), one.parameters(), CpuDevice)
                    .with_max_edges_per_pass(max);
                let (a, b) = (one.predict(&graph).unwrap(), split.predict(&graph).unwrap());
                let label = format!("{name} / {} / {max} edges per pass", frame["name"]);
                let de = ((a.total_energy[0] - b.total_energy[0]) / a.total_energy[0]).abs();
                assert!(de <= 1e-12, "{label}: energy {de:e}");
                let ea = max_abs_diff(&a.atomic_energies, &b.atomic_energies);
                assert!(ea <= 1e-12, "{label}: per-atom energies {ea:e}");
                let fa: Vec<f64> = a.forces.iter().flatten().copied().collect();
                let fb: Vec<f64> = b.forces.iter().flatten().copied().collect();
                let df = max_abs_diff(&fa, &fb);
                assert!(df <= 1e-11, "{label}: forces {df:e}");
                let va: Vec<f64> = a.virial[0].iter().flatten().copied().collect();
                let vb: Vec<f64> = b.virial[0].iter().flatten().copied().collect();
                let dv = max_abs_diff(&va, &vb);
                assert!(dv <= 1e-10, "{label}: virial {dv:e}");
            }
        }
    }
}

#[test]
fn passes_over_a_batch_equal_one_pass() {
    let (model, params, fixture) = load("seed_lmax2.json");
    let graphs: Vec<_> = fixture["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(frame_graph)
        .collect();
    let batch = allegro_data::AtomicGraph::batch(&graphs);
    let one = Predictor::new(model, &params, CpuDevice);
    let want = one.predict(&batch).unwrap();
    for max in [batch.n_edges() / 7 + 1, 64] {
        let split = Predictor::new(one.model().clone(), one.parameters(), CpuDevice)
            .with_max_edges_per_pass(max);
        let got = split.predict(&batch).unwrap();
        let d = allegro_nn::testing::compare(&got, &want);
        assert!(d.max() <= 1e-12, "batch, {max} edges per pass: {d:?}");
    }
}

/// `Predictor::atom_outputs` with per-atom virials: passes give the single pass's shares
/// (scattered back to every atom a pass touches), and the shares add up to the virial.
#[test]
fn per_atom_virials_in_passes_equal_one_pass() {
    let (model, params, fixture) = load("seed_lmax2.json");
    let one = Predictor::new(model, &params, CpuDevice);
    for frame in fixture["frames"].as_array().unwrap() {
        let graph = frame_graph(frame);
        let want = one.atom_outputs(&graph, true).unwrap();
        let w = want.atom_virial.as_ref().unwrap();
        // Σ_a sym(W_a) = −G.
        for (a, b) in [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)] {
            let sum: f64 = w
                .chunks(9)
                .map(|m| 0.5 * (m[3 * a + b] + m[3 * b + a]))
                .sum();
            let g = want.strain_derivative[3 * a + b];
            assert!(
                (sum + g).abs() <= 1e-10 * (1.0 + g.abs()),
                "{sum} vs {}",
                -g
            );
        }
        for max in [graph.n_edges() / 3 + 1, 5] {
            let split = Predictor::new(one.model().clone(), one.parameters(), CpuDevice)
                .with_max_edges_per_pass(max);
            let got = split.atom_outputs(&graph, true).unwrap();
            let d = max_abs_diff(got.atom_virial.as_ref().unwrap(), w);
            assert!(
                d <= 1e-11,
                "{} / {max} edges per pass: {d:e}",
                frame["name"]
            );
            assert_eq!(got.forces.len(), want.forces.len());
            assert!(max_abs_diff(&got.forces, &want.forces) <= 1e-11);
        }
    }
}
