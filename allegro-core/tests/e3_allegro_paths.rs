//! Allegro tensor-product bookkeeping against the reference state dicts:
//! for each fixture model, rebuild the tensor track from the config
//! (`l_max`, `parity`, `num_layers`) and compare every layer's `w3j` buffer
//! (`model.func.allegro.tps.{k}.w3j`, shape and values) and the shape of its
//! path weights (`tps.{k}.weights`).

mod e3_common;
#[allow(unused_imports)]
use e3_common::RandomGeometry;

use allegro_core::e3::AllegroTensorTrack;

fn check_fixture(name: &str) -> f64 {
    let fx = e3_common::load(name);
    let cfg = &fx["config"];
    let l_max = cfg["l_max"].as_u64().unwrap() as usize;
    let parity = cfg["parity"].as_bool().unwrap();
    let num_layers = cfg["num_layers"].as_u64().unwrap() as usize;
    let mul = cfg["num_tensor_features"].as_u64().unwrap() as usize;
    let coupling = cfg["tp_path_channel_coupling"].as_bool().unwrap();
    let sd = fx["state_dict"].as_object().unwrap();
    let shapes = fx["parameter_shapes"].as_object().unwrap();

    let n_tps = sd
        .keys()
        .filter(|k| k.contains("allegro.tps.") && k.ends_with(".w3j"))
        .count();
    assert_eq!(n_tps, num_layers, "{name}: one w3j buffer per layer");

    let track = AllegroTensorTrack::new(l_max, parity, num_layers).unwrap();
    let mut worst: f64 = 0.0;
    for (k, c) in track.contractions().unwrap().iter().enumerate() {
        let key = format!("model.func.allegro.tps.{k}.w3j");
        let (want_shape, want) = e3_common::flatten(&sd[&key]);
        let got = c.w3j_buffer();
        assert_eq!(
            got.shape, want_shape,
            "{name}: {key} shape ({} x {} -> {})",
            c.irreps_in1, c.irreps_in2, c.irreps_out
        );
        let err = e3_common::max_abs_diff(&got.data, &want);
        assert!(err < 1e-12, "{name}: {key} max error {err:e}");
        worst = worst.max(err);

        let wkey = format!("model.func.allegro.tps.{k}.weights");
        let want_w: Vec<usize> = shapes[&wkey]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(
            c.weight_shape(mul, coupling),
            want_w,
            "{name}: {wkey} shape"
        );
        eprintln!(
            "{name} layer {k}: {} x {} -> {}, {} paths, w3j {:?}, max error {err:e}",
            c.irreps_in1,
            c.irreps_in2,
            c.irreps_out,
            c.num_paths(),
            got.shape
        );
    }
    worst
}

#[test]
fn small_noparity_w3j_buffers() {
    check_fixture("small_noparity.json");
}

#[test]
fn seed_lmax2_w3j_buffers() {
    check_fixture("seed_lmax2.json");
}

/// For every `l_max ∈ 1..=3`, parity on/off and 1–3 layers, each layer's
/// weighted contraction `Σ_p θ_p C_p(x1, x2)` is O(3)-equivariant (rotations
/// and rotation-reflections), and the last layer outputs exactly `0e`.
#[test]
fn contractions_are_equivariant_for_all_configs() {
    use allegro_core::e3::{irreps_d, tensor_product::StridedContraction};
    let mut rng = e3_common::SplitMix64::new(5);
    let matvec = |a: &[f64], x: &[f64]| -> Vec<f64> {
        let n = x.len();
        (0..n)
            .map(|i| (0..n).map(|j| a[i * n + j] * x[j]).sum())
            .collect()
    };
    let apply = |c: &StridedContraction, theta: &[f64], x1: &[f64], x2: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; c.dim_out()];
        for (p, entries) in c.couplings.iter().enumerate() {
            for e in entries {
                out[e.out] += theta[p] * x1[e.i1] * x2[e.i2] * e.value;
            }
        }
        out
    };
    let mut worst: f64 = 0.0;
    for l_max in 1..=3 {
        for parity in [false, true] {
            for num_layers in 1..=3 {
                let track = AllegroTensorTrack::new(l_max, parity, num_layers).unwrap();
                assert_eq!(track.layer_out.last().unwrap().to_string(), "1x0e");
                for k in 1..num_layers {
                    assert_eq!(track.layer_in[k], track.layer_out[k - 1]);
                }
                for c in track.contractions().unwrap() {
                    let theta: Vec<f64> =
                        (0..c.num_paths()).map(|_| rng.next_f64() - 0.5).collect();
                    let x1: Vec<f64> = (0..c.dim1()).map(|_| rng.next_f64() - 0.5).collect();
                    let x2: Vec<f64> = (0..c.dim2()).map(|_| rng.next_f64() - 0.5).collect();
                    let r = rng.rotation();
                    for rr in [r, r.map(|row| row.map(|v| -v))] {
                        let lhs = apply(
                            &c,
                            &theta,
                            &matvec(&irreps_d(&c.irreps_in1, &rr), &x1),
                            &matvec(&irreps_d(&c.irreps_in2, &rr), &x2),
                        );
                        let rhs =
                            matvec(&irreps_d(&c.irreps_out, &rr), &apply(&c, &theta, &x1, &x2));
                        let err = e3_common::max_abs_diff(&lhs, &rhs);
                        assert!(
                            err < 1e-12,
                            "l_max {l_max} parity {parity} layers {num_layers}: {err:e}"
                        );
                        worst = worst.max(err);
                    }
                }
            }
        }
    }
    eprintln!("contraction equivariance, 18 configs: max error {worst:e}");
}
