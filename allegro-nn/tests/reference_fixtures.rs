//! The model reproduces nequip-allegro 0.8.3 (float64) on the shared fixtures:
//! energies, per-atom energies, forces, stress/virial, and the gradient of a training
//! loss with respect to every parameter.

mod common;

use allegro_core::{DType, grad};
use common::{frame_inputs, load, max_abs_diff, numbers};

fn check_frames(name: &str) {
    let (model, params, fixture) = load(name);
    for frame in fixture["frames"].as_array().unwrap() {
        let label = format!("{name} / {}", frame["name"]);
        let inputs = frame_inputs(&model, frame);
        let out = model.outputs(&params, &inputs, false);
        let e = out.total_energy.item();
        let e_ref = numbers(&frame["total_energy"])[0];
        assert!(
            ((e - e_ref) / e_ref).abs() <= 1e-10,
            "{label}: E = {e}, reference {e_ref}"
        );
        let ea = max_abs_diff(
            &out.atomic_energies.to_vec_f64(),
            &numbers(&frame["atomic_energy"]),
        );
        assert!(ea <= 1e-9, "{label}: per-atom energies off by {ea:e}");
        let fa = max_abs_diff(&out.forces.to_vec_f64(), &numbers(&frame["forces"]));
        assert!(fa <= 1e-8, "{label}: forces off by {fa:e}");
        let g = out.strain_derivative.to_vec_f64();
        if frame.get("virial").is_some_and(|v| !v.is_null()) {
            let virial: Vec<f64> = g.iter().map(|x| -x).collect();
            let va = max_abs_diff(&virial, &numbers(&frame["virial"]));
            assert!(va <= 1e-8, "{label}: virial off by {va:e}");
        }
        if frame.get("stress").is_some_and(|v| !v.is_null()) {
            let c = numbers(&frame["cell"]);
            let det = c[0] * (c[4] * c[8] - c[5] * c[7]) - c[1] * (c[3] * c[8] - c[5] * c[6])
                + c[2] * (c[3] * c[7] - c[4] * c[6]);
            let stress: Vec<f64> = g.iter().map(|x| x / det.abs()).collect();
            let sa = max_abs_diff(&stress, &numbers(&frame["stress"]));
            assert!(sa <= 1e-8, "{label}: stress off by {sa:e}");
        }
        eprintln!(
            "{label}: |ΔE/E| {:.1e}, per-atom {ea:.1e}, forces {fa:.1e}",
            ((e - e_ref) / e_ref).abs()
        );
    }
}

fn check_loss_gradient(name: &str) {
    let (model, params, fixture) = load(name);
    let lg = &fixture["loss_gradient"];
    let frame = fixture["frames"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == lg["frame"])
        .expect("loss frame");
    let inputs = frame_inputs(&model, frame);
    let tracked = params.tracked();
    let out = model.outputs(&tracked, &inputs, true);
    let n = inputs.n_atoms as f64;
    let f_label = allegro_core::Tensor::from_f64(
        &numbers(&lg["forces_label"]),
        &[inputs.n_atoms, 3],
        DType::F64,
        &out.forces.device(),
    )
    .unwrap();
    let e_label = numbers(&lg["per_atom_energy_label"])[0];
    let loss = out.forces.sub(&f_label).square().mean_all().add(
        &out.total_energy
            .mul_scalar(1.0 / n)
            .add_scalar(-e_label)
            .square()
            .sum_all(),
    );
    let l_ref = lg["loss"].as_f64().unwrap();
    assert!(
        ((loss.item() - l_ref) / l_ref).abs() < 1e-10,
        "{name}: loss {} vs {l_ref}",
        loss.item()
    );
    let grads_ref = lg["grads"].as_object().unwrap();
    let names: Vec<String> = grads_ref
        .keys()
        .map(|k| k.trim_start_matches("model.func.").to_string())
        .collect();
    let inputs_t: Vec<&allegro_core::Tensor<_>> = names.iter().map(|n| tracked.get(n)).collect();
    let grads = grad(&[&loss], None, &inputs_t, false);
    for ((key, reference), g) in grads_ref.iter().zip(&grads) {
        let r = numbers(reference);
        let scale = r.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let err = max_abs_diff(&g.to_vec_f64(), &r) / scale.max(1e-300);
        assert!(
            err <= 1e-7,
            "{name}: gradient of {key} off by {err:e} (relative to max |g| = {scale:e})"
        );
    }
}

#[test]
fn small_noparity_frames() {
    check_frames("small_noparity.json");
}

#[test]
fn seed_lmax2_frames() {
    check_frames("seed_lmax2.json");
}

#[test]
fn small_noparity_loss_gradient() {
    check_loss_gradient("small_noparity.json");
}

#[test]
fn seed_lmax2_loss_gradient() {
    check_loss_gradient("seed_lmax2.json");
}

/// The fused tensor product (default) and the composed oracle give the same energies,
/// forces and weight gradients of a force loss (second order through the product).
#[test]
fn fused_tensor_product_matches_composed() {
    let (model, params, fixture) = load("seed_lmax2.json");
    let mut composed = model.clone();
    composed.set_use_composed_tensor_product(true);
    let frame = &fixture["frames"].as_array().unwrap()[1];
    let inputs = frame_inputs(&model, frame);
    let tracked = params.tracked();
    let names = tracked.trainable_names();
    let refs: Vec<_> = names.iter().map(|n| tracked.get(n)).collect();
    let run = |m: &allegro_nn::AllegroModel| {
        let out = m.outputs(&tracked, &inputs, true);
        let loss = out
            .forces
            .square()
            .mean_all()
            .add(&out.total_energy.square().sum_all());
        let grads: Vec<f64> = grad(&[&loss], None, &refs, false)
            .iter()
            .flat_map(|g| g.to_vec_f64())
            .collect();
        (out.total_energy.item(), out.forces.to_vec_f64(), grads)
    };
    let (e1, f1, g1) = run(&model);
    let (e2, f2, g2) = run(&composed);
    assert!(((e1 - e2) / e2).abs() < 1e-12, "energy {e1} vs {e2}");
    assert!(
        max_abs_diff(&f1, &f2) < 1e-11,
        "forces differ by {:e}",
        max_abs_diff(&f1, &f2)
    );
    let scale = g2.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(
        max_abs_diff(&g1, &g2) < 1e-10 * scale,
        "loss gradients differ by {:e}",
        max_abs_diff(&g1, &g2)
    );
}
