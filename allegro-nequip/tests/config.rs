//! The seed's nequip config (`shared/reference/seed-demo.yaml`) read into typed
//! structures, with the command-line overrides a user would give, and the audit of every
//! key it holds.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use allegro_nequip::config::{
    Callback, DatasetKind, KeyStatus, LoadOptions, LoggerKind, MetricKind, ModuleKind,
    MonitorSource, NequipRunConfig, OptimizerKind, RunStep, audit_table,
};
use allegro_nn::config::PerTypeValue;
use allegro_train::Field;
use serde_json::json;

fn seed_path() -> PathBuf {
    common::shared_dir().join("reference/seed-demo.yaml")
}

fn run_dir() -> PathBuf {
    std::env::temp_dir().join("nequip_config_test/run")
}

/// The overrides of a local run of the seed config.
fn overrides() -> Vec<String> {
    vec![
        "++data.train_dataset.file_path=/data/spice_train.lmdb".into(),
        "++data.val_dataset.file_path=/data/spice_val.lmdb".into(),
        "++data.test_dataset.0.file_path=/data/spice_test.lmdb".into(),
        "trainer.max_epochs=1".into(),
        format!("hydra.run.dir={}", run_dir().display()),
    ]
}

fn load(extra: &[&str]) -> Result<NequipRunConfig, String> {
    let mut all = overrides();
    all.extend(extra.iter().map(|s| s.to_string()));
    NequipRunConfig::from_file(seed_path(), &all)
        .map(|(c, _)| c)
        .map_err(|e| e.to_string())
}

/// The seed with `from` replaced by `to` (for edits no override can make).
fn load_edited(from: &str, to: &str) -> Result<NequipRunConfig, String> {
    let text = std::fs::read_to_string(seed_path()).unwrap();
    assert!(text.contains(from), "`{from}` is not in the seed");
    let text = text.replacen(from, to, 1);
    NequipRunConfig::from_yaml_str(
        &text,
        Path::new("edited-seed.yaml"),
        &overrides(),
        &LoadOptions::from_process(),
    )
    .map(|(c, _)| c)
    .map_err(|e| e.to_string())
}

/// The seed config's run, data and trainer sections as typed values.
#[test]
fn seed_config_typed_values() {
    let (c, warnings) = NequipRunConfig::from_file(seed_path(), &overrides()).unwrap();
    assert_eq!(c.run, vec![RunStep::Train, RunStep::Val, RunStep::Test]);
    assert_eq!(c.ckpt_path, None);
    assert_eq!(c.run_dir, run_dir());
    assert_eq!(c.seed(), Some(901));
    assert!(!c.allow_tf32);

    // data
    let train = c.data.train.as_ref().unwrap();
    assert_eq!(train.kind, DatasetKind::Lmdb);
    assert_eq!(train.file_path, PathBuf::from("/data/spice_train.lmdb"));
    assert_eq!(train.r_max, 6.0);
    assert_eq!(train.chemical_symbols.len(), 15);
    assert_eq!(train.chemical_symbols[0], "B");
    assert_eq!(c.data.val.len(), 1);
    assert_eq!(
        c.data.val[0].file_path,
        PathBuf::from("/data/spice_val.lmdb")
    );
    assert_eq!(c.data.test.len(), 1);
    assert_eq!(
        c.data.test[0].file_path,
        PathBuf::from("/data/spice_test.lmdb")
    );
    let (tl, vl) = (c.data.train_loader.unwrap(), c.data.val_loader.unwrap());
    assert_eq!((tl.batch_size, tl.num_workers, tl.shuffle), (8, 7, true));
    assert_eq!((vl.batch_size, vl.num_workers, vl.shuffle), (8, 7, false));
    assert_eq!(
        c.data.test_loader, c.data.val_loader,
        "test_dataloader: ${{data.val_dataloader}}"
    );

    // trainer
    let t = &c.trainer;
    assert_eq!(
        (t.max_epochs, t.check_val_every_n_epoch, t.log_every_n_steps),
        (1, 1, 50)
    );
    assert_eq!(t.num_nodes, 0);
    let strategy = t.strategy.as_ref().unwrap();
    assert_eq!(strategy.name, "nequip.train.SimpleDDPStrategy");
    assert_eq!(strategy.process_group_backend.as_deref(), Some("gloo"));
    assert_eq!(t.callbacks.len(), 5);
    let Callback::TestTimeXyzFileWriter {
        out_file,
        output_fields_from_original_dataset,
        chemical_symbols,
    } = &t.callbacks[2]
    else {
        panic!("{:?}", t.callbacks[2])
    };
    assert_eq!(out_file, &run_dir().join("test"));
    assert_eq!(
        output_fields_from_original_dataset,
        &["total_energy", "forces", "subset"]
    );
    assert_eq!(chemical_symbols.as_ref().unwrap().len(), 15);
    let Callback::EarlyStopping { monitor, config } = &t.callbacks[3] else {
        panic!("{:?}", t.callbacks[3])
    };
    assert_eq!(
        (
            monitor.split,
            monitor.dataset,
            monitor.source,
            monitor.metric.as_str()
        ),
        (RunStep::Val, 0, MonitorSource::Metrics, "weighted_sum")
    );
    assert_eq!((config.min_delta, config.patience), (1e-9, 200));
    let Callback::ModelCheckpoint {
        monitor,
        dirpath,
        filename,
        save_last,
    } = &t.callbacks[4]
    else {
        panic!("{:?}", t.callbacks[4])
    };
    assert!(monitor.as_ref().unwrap().is_weighted_sum());
    assert_eq!(dirpath.as_deref(), Some(run_dir().as_path()));
    assert_eq!((filename.as_deref(), *save_last), (Some("best"), true));
    assert_eq!(t.loggers.len(), 1);
    assert_eq!(t.loggers[0].kind, LoggerKind::Wandb);
    assert_eq!(t.loggers[0].save_dir.as_deref(), Some(run_dir().as_path()));
    assert!(
        warnings
            .iter()
            .any(|w| w.key == "trainer.logger" && w.message.contains("nothing leaves")),
        "{warnings:?}"
    );
}

/// The seed config's training module (losses, metrics, AdamW, the scheduler, the model)
/// as typed values.
#[test]
fn seed_config_training_module() {
    let (c, _) = NequipRunConfig::from_file(seed_path(), &overrides()).unwrap();
    let tm = &c.training_module;
    assert_eq!(tm.kind, ModuleKind::Ema);
    assert_eq!(tm.ema_decay, Some(0.999));
    let loss = tm.loss.as_ref().unwrap();
    assert_eq!(loss.metrics.len(), 2);
    assert_eq!(
        loss.metrics
            .iter()
            .map(|m| (m.field, m.coeff, m.kind))
            .collect::<Vec<_>>(),
        vec![
            (Field::Forces, Some(1.0), MetricKind::Mse),
            (Field::PerAtomEnergy, Some(1.0), MetricKind::Mse)
        ]
    );
    let val = tm.val_metrics.as_ref().unwrap();
    assert_eq!(val.metrics.len(), 8);
    assert_eq!(val.metrics.iter().filter(|m| m.per_type).count(), 2);
    assert_eq!(
        val.metrics.iter().map(|m| m.coeff).collect::<Vec<_>>(),
        [Some(1.0), Some(1.0), None, None, None, None, None, None]
    );
    assert_eq!(val.metrics[6].name, "F_RMSE_pertype");
    assert_eq!(val.type_names.as_ref().unwrap().len(), 15);
    assert_eq!(
        tm.test_metrics.as_ref(),
        Some(val),
        "test_metrics: ${{training_module.val_metrics}}"
    );
    let opt = tm.optimizer.unwrap();
    assert_eq!(opt.kind, OptimizerKind::AdamW);
    assert_eq!(
        (opt.config.lr, opt.config.weight_decay, opt.config.amsgrad),
        (0.002, 1e-6, false)
    );
    let sched = tm.lr_scheduler.as_ref().unwrap();
    assert_eq!(
        (
            sched.config.factor,
            sched.config.patience,
            sched.config.threshold,
            sched.config.min_lr
        ),
        (0.8, 10, 1e-6, 1e-7)
    );
    assert!(sched.monitor.is_weighted_sum());
    assert_eq!(sched.frequency, 1);
    let model = tm
        .model
        .config
        .as_ref()
        .expect("the seed's model needs no statistics");
    assert_eq!((model.l_max, model.num_layers, model.r_max), (2, 2, 6.0));
    assert_eq!(model.type_names.len(), 15);
    assert!(model.pair_potential.is_some());
    assert!(c.stats_requests().is_empty());
}

#[test]
fn seed_config_audit() {
    let (c, _) = NequipRunConfig::from_file(seed_path(), &overrides()).unwrap();
    println!("{}", audit_table(&c.audit));
    let refused: Vec<_> = c
        .audit
        .iter()
        .filter(|e| matches!(e.status, KeyStatus::Refused(_)))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    let status = |p: &str| {
        c.audit
            .iter()
            .find(|e| e.path.to_string() == p)
            .unwrap_or_else(|| panic!("no audit entry for {p}"))
            .status
            .clone()
    };
    for ignored in [
        "training_module.model.compile_mode",
        "data.train_dataloader.num_workers",
        "trainer.log_every_n_steps",
        "trainer.logger.project",
        "trainer.num_nodes",
        "logger_name",
    ] {
        assert!(
            matches!(status(ignored), KeyStatus::Ignored(_)),
            "{ignored}"
        );
    }
    for honoured in [
        "run",
        "cutoff_radius",
        "model_type_names",
        "training_module.val_metrics.metrics[6].per_type",
        "trainer.callbacks[3].monitor",
        "data.test_dataset[0].transforms[1].chemical_symbols",
        "training_module.model.pair_potential._target_",
        "trainer.strategy.process_group_backend",
    ] {
        assert_eq!(status(honoured), KeyStatus::Honoured, "{honoured}");
    }
    // Every top-level key of the file has an entry (deeper keys are spot-checked above).
    let top = c.audit.iter().filter(|e| e.path.comps().len() == 1).count();
    let raw: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(seed_path()).unwrap()).unwrap();
    assert_eq!(top, raw.as_object().unwrap().len());
}

#[test]
fn typos_and_unknown_classes_are_errors_naming_the_path() {
    let e = load_edited("  max_epochs: 1000", "  max_epoch: 1000").unwrap_err();
    // The override `trainer.max_epochs=1` now fails first, by Hydra's rule.
    assert!(e.contains("`trainer.max_epochs`"), "{e}");
    assert!(e.contains("edited-seed.yaml"), "{e}");
    let e = load(&["+trainer.max_epoch=3"]).unwrap_err();
    assert!(e.contains("`trainer.max_epoch`: unknown key"), "{e}");
    assert!(e.contains("seed-demo.yaml"), "{e}");
    let e = load(&["trainer.max_epoch=3"]).unwrap_err();
    assert!(
        e.contains("`trainer.max_epoch`") && e.contains("+trainer.max_epoch="),
        "{e}"
    );

    let e = load_edited(
        "nequip.train.callbacks.LossCoefficientMonitor",
        "nequip.train.callbacks.SoftAdapt",
    )
    .unwrap_err();
    assert!(e.contains("`trainer.callbacks[1]._target_`"), "{e}");
    assert!(e.contains("nequip.train.callbacks.SoftAdapt"), "{e}");

    let e = load(&["data.nonexistent.b=1"]).unwrap_err();
    assert!(
        e.contains("`data.nonexistent`") && e.contains("no such key"),
        "{e}"
    );
    let e = load(&["training_module.val_metrics.metrics.6.per_type=3"]).unwrap_err();
    assert!(
        e.contains("`training_module.val_metrics.metrics[6].per_type`")
            && e.contains("true or false"),
        "{e}"
    );
}

#[test]
fn evaluation_run_with_checkpoint() {
    let c = load(&["run=[val,test]", "++ckpt_path=/x/best.ckpt"]).unwrap();
    assert_eq!(c.run, vec![RunStep::Val, RunStep::Test]);
    assert_eq!(c.ckpt_path, Some(PathBuf::from("/x/best.ckpt")));
    let e = load(&["run=[val,predict]"]).unwrap_err();
    assert!(e.contains("`run[1]`") && e.contains("predict"), "{e}");
}

#[test]
fn environment_variables() {
    let mut opts = LoadOptions::from_process();
    opts.env.insert("SPICE_DIR".into(), "/scratch/spice".into());
    opts.env.remove("NOT_SET_ANYWHERE");
    let mut all = overrides();
    all.push("++data.train_dataset.file_path=${oc.env:SPICE_DIR}/train.lmdb".into());
    all.push("++data.val_dataset.file_path=${oc.env:NOT_SET_ANYWHERE,/default}/val.lmdb".into());
    let (c, _) = NequipRunConfig::from_file_with(seed_path(), &all, &opts).unwrap();
    assert_eq!(
        c.data.train.unwrap().file_path,
        PathBuf::from("/scratch/spice/train.lmdb")
    );
    assert_eq!(c.data.val[0].file_path, PathBuf::from("/default/val.lmdb"));

    all.push("++data.test_dataset.0.file_path=${oc.env:NOT_SET_ANYWHERE}".into());
    let e = NequipRunConfig::from_file_with(seed_path(), &all, &opts).unwrap_err();
    assert_eq!(e.key, "data.test_dataset[0].file_path");
    assert!(e.message.contains("NOT_SET_ANYWHERE"), "{e}");

    // The process environment, as `from_file` reads it (cargo sets this for tests).
    let c = load(&["++ckpt_path=${oc.env:CARGO_MANIFEST_DIR}/x.ckpt"]).unwrap();
    assert_eq!(
        c.ckpt_path,
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("x.ckpt"))
    );
}

#[test]
fn interpolation_cycle_is_an_error_naming_the_chain() {
    let e = load(&["cutoff_radius=${data.train_dataset.transforms.0.r_max}"]).unwrap_err();
    assert!(e.contains("cycle"), "{e}");
    assert!(
        e.contains("cutoff_radius -> data.train_dataset.transforms[0].r_max -> cutoff_radius")
            || e.contains("data.train_dataset.transforms[0].r_max -> cutoff_radius -> data.train_dataset.transforms[0].r_max"),
        "{e}"
    );
}

/// A value that refers to itself, directly, through a relative reference or through the
/// node that holds it, is an error naming the key path of the cycle (not a stack
/// overflow).
#[test]
fn self_references_are_errors_naming_the_key_path() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["++model_type_names=${model_type_names}"],
            "model_type_names -> model_type_names",
        ),
        (
            &["trainer.max_epochs=${.max_epochs}"],
            "trainer.max_epochs -> trainer.max_epochs",
        ),
        (
            &["trainer.max_epochs=${trainer}"],
            "trainer -> trainer.max_epochs -> trainer",
        ),
        (&["++a.b=${c}", "++c=${a.b}"], "a.b -> c -> a.b"),
    ];
    for (extra, chain) in cases {
        let e = load(extra).unwrap_err();
        assert!(
            e.contains("interpolation cycle") && e.contains(chain),
            "{extra:?}: {e}"
        );
    }
}

#[test]
fn training_data_stats_are_placeholders_filled_later() {
    let mut c = load(&[
        "training_module.model.avg_num_neighbors=${training_data_stats:num_neighbors_mean}",
        "training_module.model.per_type_energy_scales=${training_data_stats:per_type_forces_rms}",
    ])
    .unwrap();
    let model = &mut c.training_module.model;
    assert!(model.needs_stats());
    assert_eq!(
        model.stat_names(),
        vec!["num_neighbors_mean", "per_type_forces_rms"]
    );
    assert_eq!(
        model.stats[0].key.to_string(),
        "training_module.model.avg_num_neighbors"
    );
    let mut stats = HashMap::new();
    stats.insert("num_neighbors_mean".to_string(), json!(24.2));
    stats.insert("per_type_forces_rms".to_string(), json!(vec![1.0; 15]));
    let cfg = model.fill_stats(&stats).unwrap();
    assert_eq!(cfg.avg_num_neighbors, Some(PerTypeValue::One(24.2)));
}
