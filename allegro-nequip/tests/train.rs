//! The seed's nequip config, unchanged but for command-line overrides (data paths to
//! nequip's own LMDB files, one epoch), trains on the CPU and writes what nequip-train
//! writes: `best.ckpt`, `last.ckpt`, the CSV log, per-type force metrics of the val and
//! test steps, the test-time XYZ file. The same config with `run: [val, test]` and
//! `ckpt_path` pointing at the new `best.ckpt` then evaluates it to the same numbers.

mod common;

use std::path::PathBuf;

use allegro_nequip::config::{NequipRunConfig, RunStep};
use allegro_nequip::train::run_nequip;

fn shared() -> PathBuf {
    common::shared_dir()
}

fn value(metrics: &[allegro_nequip::eval::DatasetMetrics], name: &str) -> f64 {
    metrics
        .iter()
        .flat_map(|m| &m.values)
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

#[test]
fn seed_config_trains_then_evaluates_its_checkpoint() {
    let run_dir = std::env::temp_dir().join(format!("nequip-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&run_dir);
    // The validation file (226 frames) serves as all three sets: one epoch stays short.
    let lmdb = shared().join("data/nequip-lmdb/xtb-val.lmdb");
    let mut overrides = vec![
        format!("++data.train_dataset.file_path={}", lmdb.display()),
        format!("++data.val_dataset.file_path={}", lmdb.display()),
        format!("++data.test_dataset.0.file_path={}", lmdb.display()),
        "trainer.max_epochs=1".into(),
        format!("hydra.run.dir={}", run_dir.display()),
    ];
    let seed = shared().join("reference/seed-demo.yaml");
    let (config, warnings) = NequipRunConfig::from_file(&seed, &overrides).unwrap();
    assert!(warnings.iter().any(|w| w.key == "trainer.logger"));
    let mut epochs = 0;
    let report = run_nequip(&config, &mut |p| {
        if let allegro_train::Progress::Epoch(_) = p {
            epochs += 1;
        }
    })
    .unwrap();
    assert_eq!(epochs, 1);
    assert_eq!(report.fit.as_ref().unwrap().epochs, 1);
    for file in [
        "best.ckpt",
        "last.ckpt",
        "metrics.csv",
        "eval_metrics.csv",
        "test0.xyz",
    ] {
        assert!(run_dir.join(file).exists(), "{file} not written");
    }
    let csv = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    assert!(csv.lines().count() >= 2, "{csv}");
    // Per-type force errors of the val and test steps, and the test-time XYZ file with the
    // predictions next to the dataset's own labels.
    let f_h = value(&report.metrics, "val0_epoch/F_RMSE_pertype_H");
    assert!(f_h.is_finite() && f_h > 0.0);
    assert!(value(&report.metrics, "test0_epoch/F_MAE_pertype_C") > 0.0);
    let xyz = std::fs::read_to_string(run_dir.join("test0.xyz")).unwrap();
    assert_eq!(xyz.matches("original_dataset_total_energy=").count(), 226);
    assert!(xyz.contains("original_dataset_forces:R:3"));

    // `run: [val, test]` with the checkpoint just written.
    overrides.push("run=[val,test]".into());
    overrides.push(format!(
        "++ckpt_path={}",
        run_dir.join("best.ckpt").display()
    ));
    overrides[4] = format!("hydra.run.dir={}", run_dir.join("eval").display());
    let (config, _) = NequipRunConfig::from_file(&seed, &overrides).unwrap();
    assert_eq!(config.run, vec![RunStep::Val, RunStep::Test]);
    let again = run_nequip(&config, &mut |_| {}).unwrap();
    assert!(again.fit.is_none());
    for name in [
        "val0_epoch/F_RMSE",
        "val0_epoch/peratom_E_RMSE",
        "test0_epoch/F_RMSE_pertype_H",
    ] {
        let (a, b) = (value(&report.metrics, name), value(&again.metrics, name));
        assert!(
            (a - b).abs() <= 1e-9 * a.abs(),
            "{name}: {a} after training, {b} from best.ckpt"
        );
    }
}

/// A truncated LMDB file or one with a damaged page, as the training set: training stops
/// with an error naming the file (the SIGBUS of LMDB's memory map killed it before).
#[test]
fn damaged_lmdb_training_set_is_an_error_naming_it() {
    let dir = std::env::temp_dir().join(format!("nequip-damaged-lmdb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lmdb = shared().join("data/nequip-lmdb/xtb-val.lmdb");
    let original = std::fs::read(&lmdb).unwrap();
    let mut paged = original.clone();
    // Page 100 holds a frame (an overflow page): the error comes when it is read.
    paged[100 * 4096..101 * 4096].fill(0);
    let cases = [
        ("cut-0.lmdb", original[..0].to_vec()),
        ("cut-4095.lmdb", original[..4095].to_vec()),
        ("cut-half.lmdb", original[..original.len() / 2].to_vec()),
        ("cut-last.lmdb", original[..original.len() - 1].to_vec()),
        ("paged.lmdb", paged),
    ];
    for (name, bytes) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let overrides = vec![
            format!("++data.train_dataset.file_path={}", path.display()),
            format!("++data.val_dataset.file_path={}", lmdb.display()),
            format!("++data.test_dataset.0.file_path={}", lmdb.display()),
            "trainer.max_epochs=1".into(),
            format!("hydra.run.dir={}", dir.join("run").display()),
        ];
        let seed = shared().join("reference/seed-demo.yaml");
        let (config, _) = NequipRunConfig::from_file(&seed, &overrides).unwrap();
        let e = run_nequip(&config, &mut |_| {}).unwrap_err().to_string();
        assert!(e.contains(name), "{name}: {e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
