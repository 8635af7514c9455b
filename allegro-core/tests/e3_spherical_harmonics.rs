//! Spherical harmonics against every case of `fixtures/e3nn.json` (e3nn 0.6.0,
//! f64): three normalisations × `normalize` true/false × 12 vectors, l ≤ 3.

mod e3_common;

use allegro_core::e3::{ShNormalization, spherical_harmonics};

#[test]
fn spherical_harmonics_match_e3nn_fixture() {
    let fx = e3_common::load("e3nn.json");
    let vectors: Vec<[f64; 3]> = fx["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let (_, f) = e3_common::flatten(v);
            [f[0], f[1], f[2]]
        })
        .collect();
    let cases = fx["spherical_harmonics"].as_object().unwrap();
    assert_eq!(
        cases.len(),
        6,
        "expected 3 normalisations × normalize true/false"
    );
    let mut worst: f64 = 0.0;
    for (key, values) in cases {
        let (norm, normalize) = key
            .split_once("_normalize=")
            .expect("key like component_normalize=True");
        let norm: ShNormalization = norm.parse().unwrap();
        let normalize = match normalize {
            "True" => true,
            "False" => false,
            other => panic!("bad normalize flag {other}"),
        };
        let values = values.as_array().unwrap();
        assert_eq!(values.len(), vectors.len());
        for (v, want) in vectors.iter().zip(values) {
            let (shape, want) = e3_common::flatten(want);
            let l_max = (shape[0] as f64).sqrt() as usize - 1;
            assert_eq!((l_max + 1).pow(2), shape[0]);
            let got = spherical_harmonics(l_max, norm, normalize, v);
            let err = e3_common::max_abs_diff(&got, &want);
            let scale = want.iter().fold(1.0f64, |a, w| a.max(w.abs()));
            assert!(err < 1e-12 * scale, "{key} at {v:?}: max error {err:e}");
            worst = worst.max(err / scale);
        }
    }
    eprintln!(
        "spherical_harmonics: 6 × {} cases, max error (relative to max |Y|) {worst:e}",
        vectors.len()
    );
}

/// Every degree up to 11 against e3nn's hard-coded formulas, evaluated by
/// `tools/gen_sh.py` into `tests/e3_data/sh_high_l.json`.
#[test]
fn spherical_harmonics_match_e3nn_code_up_to_l11() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e3_data/sh_high_l.json");
    let fx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let table = allegro_core::e3::ShPolynomials::new(11);
    let vectors = fx["vectors"].as_array().unwrap();
    let mut worst: f64 = 0.0;
    for (l_max, values) in fx["sh"].as_object().unwrap() {
        let l_max: usize = l_max.parse().unwrap();
        for (v, want) in vectors.iter().zip(values.as_array().unwrap()) {
            let (_, v) = e3_common::flatten(v);
            let (_, want) = e3_common::flatten(want);
            let got = table.eval(ShNormalization::Component, &[v[0], v[1], v[2]]);
            assert_eq!(want.len(), (l_max + 1).pow(2));
            let scale = want.iter().fold(1.0f64, |a, w| a.max(w.abs()));
            let err = e3_common::max_abs_diff(&got[..want.len()], &want) / scale;
            assert!(
                err < 1e-12,
                "l_max {l_max} at {v:?}: relative error {err:e}"
            );
            worst = worst.max(err);
        }
    }
    eprintln!("spherical_harmonics l <= 11 vs e3nn code: max relative error {worst:e}");
}
