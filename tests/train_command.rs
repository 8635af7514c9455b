//! The `train` command (`examples/train.rs`, `allegro::cli`) runs the seed's nequip config
//! with Hydra overrides, as `nequip-train` does (the overrides of
//! `allegro-train/tests/nequip_run.rs`: nequip's own LMDB files, one epoch), and writes
//! what nequip-train writes.

mod common;

#[test]
fn seed_config_through_the_train_command() {
    let shared = common::shared_dir();
    let lmdb = shared.join("data/nequip-lmdb/xtb-val.lmdb");
    let run_dir = std::env::temp_dir().join(format!("train-command-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&run_dir);
    let args = vec![
        shared
            .join("reference/seed-demo.yaml")
            .display()
            .to_string(),
        format!("++data.train_dataset.file_path={}", lmdb.display()),
        format!("++data.val_dataset.file_path={}", lmdb.display()),
        format!("++data.test_dataset.0.file_path={}", lmdb.display()),
        "trainer.max_epochs=1".into(),
        format!("hydra.run.dir={}", run_dir.display()),
    ];
    allegro::cli::train_command(args).unwrap();
    for file in [
        "best.ckpt",
        "last.ckpt",
        "metrics.csv",
        "eval_metrics.csv",
        "test0.xyz",
    ] {
        assert!(run_dir.join(file).exists(), "{file} not written");
    }
    let log = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    assert_eq!(log.lines().count(), 2, "a header and one epoch:\n{log}");
    std::fs::remove_dir_all(&run_dir).unwrap();
}
