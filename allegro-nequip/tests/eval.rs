//! The seed's nequip config with `run: [val, test]` and `ckpt_path` evaluates the
//! checkpoint nequip-train wrote on nequip's own LMDB file, with the config's metric
//! lists (per-type force errors included), and writes the values to the run directory.

mod common;

use std::path::PathBuf;

use allegro_nequip::config::{NequipRunConfig, RunStep};
use allegro_nequip::eval::evaluate_checkpoint;

fn shared() -> PathBuf {
    common::shared_dir()
}

#[test]
fn seed_config_val_test_evaluates_a_nequip_checkpoint() {
    let run_dir = std::env::temp_dir().join(format!("nequip-eval-{}", std::process::id()));
    let val = shared().join("data/nequip-lmdb/xtb-val.lmdb");
    let overrides = vec![
        "run=[val,test]".to_string(),
        format!(
            "++ckpt_path={}",
            shared()
                .join("reference/trained/nequip-xtb-best.ckpt")
                .display()
        ),
        // The checkpoint's model has the xtb organics' seven types.
        "chemical_symbols=[C,Cl,F,H,N,O,S]".into(),
        format!("++data.val_dataset.file_path={}", val.display()),
        format!("++data.test_dataset.0.file_path={}", val.display()),
        format!("hydra.run.dir={}", run_dir.display()),
    ];
    let (config, _) =
        NequipRunConfig::from_file(shared().join("reference/seed-demo.yaml"), &overrides).unwrap();
    assert_eq!(config.run, vec![RunStep::Val, RunStep::Test]);
    let results = evaluate_checkpoint(&config).unwrap();
    assert_eq!(results.len(), 2);
    let (v, t) = (&results[0], &results[1]);
    assert_eq!((v.split, t.split), (RunStep::Val, RunStep::Test));
    assert_eq!((v.frames, t.frames), (226, 226));
    let get = |r: &allegro_nequip::eval::DatasetMetrics, name: &str| {
        r.values
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} not in {:?}", r.values))
            .1
    };
    // The same numbers as `evaluate` (examples/evaluate.rs: per-component force RMSE,
    // per-atom energy RMSE) on the compiled checkpoint, through the metric manager.
    let f_rmse = get(v, "val0_epoch/F_RMSE");
    let e_rmse = get(v, "val0_epoch/peratom_E_RMSE");
    assert!(
        (f_rmse - 0.28369787848531125).abs() < 1e-6 * f_rmse,
        "{f_rmse}"
    );
    assert!(
        (e_rmse - 0.360733244471859).abs() < 1e-6 * e_rmse,
        "{e_rmse}"
    );
    // Coefficients 1 and 1, normalised: the weighted sum is their mean.
    let ws = get(v, "val0_epoch/weighted_sum");
    assert!((ws - 0.5 * (f_rmse + e_rmse)).abs() < 1e-12, "{ws}");
    // Per-type force errors of the types present.
    for t in ["C", "H", "N", "O"] {
        let x = get(v, &format!("val0_epoch/F_RMSE_pertype_{t}"));
        assert!(x.is_finite() && x > 0.0, "{t}: {x}");
    }
    // Monitor-only metrics are reported.
    assert!(get(v, "val0_epoch/E_MAE") > 0.0);
    // The test list is `${training_module.val_metrics}` on the same file.
    assert_eq!(get(t, "test0_epoch/F_RMSE"), f_rmse);
    let csv = std::fs::read_to_string(run_dir.join("eval_metrics.csv")).unwrap();
    assert!(csv.starts_with("name,value\n") && csv.contains("test0_epoch/F_MAE_pertype_H,"));
    // A train step is not run by the evaluation.
    let mut with_train = overrides.clone();
    with_train[0] = "run=[train,val]".into();
    let (config, _) =
        NequipRunConfig::from_file(shared().join("reference/seed-demo.yaml"), &with_train).unwrap();
    let e = evaluate_checkpoint(&config).unwrap_err().to_string();
    assert!(e.contains("run") && e.contains("train"), "{e}");
}
