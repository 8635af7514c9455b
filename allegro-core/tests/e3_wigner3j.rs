//! Wigner-3j symbols against every entry of `fixtures/e3nn.json` (e3nn 0.6.0, f64).

mod e3_common;

use allegro_core::e3::wigner_3j;

#[test]
fn wigner_3j_matches_e3nn_fixture() {
    let fx = e3_common::load("e3nn.json");
    let cases = fx["wigner_3j"].as_array().expect("wigner_3j list");
    assert!(!cases.is_empty());
    let mut worst: f64 = 0.0;
    for case in cases {
        let l = |k: &str| case[k].as_u64().unwrap() as usize;
        let (l1, l2, l3) = (l("l1"), l("l2"), l("l3"));
        let (shape, want) = e3_common::flatten(&case["w3j"]);
        assert_eq!(shape, vec![2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1]);
        let got = wigner_3j(l1, l2, l3);
        let err = e3_common::max_abs_diff(&got, &want);
        assert!(err < 1e-12, "w3j({l1},{l2},{l3}) max error {err:e}");
        // identical sparsity pattern (the reference keeps exact zeros)
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(
                *g == 0.0,
                *w == 0.0,
                "w3j({l1},{l2},{l3}) zero pattern differs"
            );
        }
        worst = worst.max(err);
    }
    eprintln!("wigner_3j: {} cases, max abs error {worst:e}", cases.len());
}
