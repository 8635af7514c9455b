//! The float32 path against float64 on the reference fixtures: the same weights evaluated
//! with float32 features (geometry, scales, shifts and totals stay float64, docs/model.md §1).

mod common;

use allegro_core::DType;
use allegro_core::backend::cpu::CpuDevice;
use allegro_data::AtomicGraph;
use allegro_nn::testing::{Deviation, compare, magnitudes};
use allegro_nn::{Prediction, Predictor};
use common::{frame_graph, load, numbers};

/// float32 features against float64 (issue 2): each total energy relative to its |E|;
/// per-atom energies, forces and stress relative to their largest magnitude over the
/// fixture's frames. float32 rounding is 6e-8 per operation; a few hundred
/// edges per atom and two layers keep the error near 1e-6.
const F32_RTOL: f64 = 1e-5;

/// Frame `f` of a batched prediction.
fn frame_of(p: &Prediction, batch: &AtomicGraph, f: usize) -> Prediction {
    let atoms = batch.frame_ptr[f]..batch.frame_ptr[f + 1];
    Prediction {
        total_energy: vec![p.total_energy[f]],
        atomic_energies: p.atomic_energies[atoms.clone()].to_vec(),
        forces: p.forces[atoms].to_vec(),
        virial: vec![p.virial[f]],
        stress: vec![p.stress[f]],
    }
}

/// Per-atom energies less the per-type shifts: the part the float32 features compute.
fn interaction(p: &Prediction, shifts: &[f64], graph: &AtomicGraph) -> Vec<f64> {
    p.atomic_energies
        .iter()
        .zip(&graph.atom_types)
        .map(|(e, &t)| e - shifts.get(t as usize).or(shifts.first()).unwrap_or(&0.0))
        .collect()
}

fn check(name: &str) -> Deviation {
    let (model, params, fixture) = load(name);
    let config = model.config().clone();
    let shifts = config
        .per_type_energy_shifts
        .as_ref()
        .map(|s| s.per_type(&config.type_names, "shifts").unwrap())
        .unwrap_or_default();
    let f64_predictor = Predictor::new(model, &params, CpuDevice);
    assert_eq!(f64_predictor.model().dtype(), DType::F64);
    let f32_predictor = f64_predictor.with_dtype(DType::F32);
    assert_eq!(f32_predictor.model().dtype(), DType::F32);
    let frames = fixture["frames"].as_array().unwrap();
    let graphs: Vec<AtomicGraph> = frames.iter().map(frame_graph).collect();
    // One batched evaluation per dtype (the batch is checked in physics.rs).
    let batch = AtomicGraph::batch(&graphs);
    let want_all = f64_predictor.predict(&batch).unwrap();
    let got_all = f32_predictor.predict(&batch).unwrap();
    for (f, (frame, g)) in frames.iter().zip(&graphs).enumerate() {
        let label = format!("{name} / {}", frame["name"]);
        let want = frame_of(&want_all, &batch, f);
        let got = frame_of(&got_all, &batch, f);
        // The float64 path is the reference's (checked in reference_fixtures.rs).
        let e_ref = numbers(&frame["total_energy"])[0];
        assert!(((want.total_energy[0] - e_ref) / e_ref).abs() < 1e-10);
        let d = compare(&got, &want);
        let [_, f_scale, _] = magnitudes(&want);
        // Per-atom energies relative to their interaction part (the shifts are exact
        // float64 and dwarf it in seed_lmax2).
        let (gi, wi) = (
            interaction(&got, &shifts, g),
            interaction(&want, &shifts, g),
        );
        let scale = wi.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let diff = gi
            .iter()
            .zip(&wi)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        eprintln!(
            "f32 vs f64: {label}: energy {:.1e}, per-atom energies {:.1e} (of the interaction part: {:.1e}), forces {:.1e} of this frame's max |F| = {f_scale:.3} ({:.1e} eV/Å), stress {:.1e}",
            d.energy,
            d.atomic_energies,
            diff / scale,
            d.forces,
            d.forces * f_scale,
            d.stress
        );
        assert!(
            d.energy <= F32_RTOL && diff <= F32_RTOL * scale,
            "{label}: float32 energy off float64 by {:e} relative, per-atom interaction energies by {:e}",
            d.energy,
            diff / scale
        );
    }
    // Per-atom energies, forces and stress against the largest of the whole fixture:
    // a frame whose forces cancel by symmetry (si_primitive, max |F| ≈ 0.01 eV/Å) still
    // carries the float32 rounding of the edge terms that cancel.
    let d = compare(&got_all, &want_all);
    eprintln!("f32 vs f64: {name}, all frames: {d:?}");
    assert!(
        d.forces > 1e-10,
        "{name}: float32 forces equal float64 to {:e}: the float32 path did not run",
        d.forces
    );
    assert!(
        d.max() <= F32_RTOL,
        "{name}: float32 off float64 by {d:?} (tolerance {F32_RTOL:e})"
    );
    d
}

#[test]
fn small_noparity_f32_matches_f64() {
    check("small_noparity.json");
}

#[test]
fn seed_lmax2_f32_matches_f64() {
    check("seed_lmax2.json");
}
