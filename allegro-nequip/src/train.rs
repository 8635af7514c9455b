//! A nequip config's whole run (`run: [train, val, test]`, or `[val, test]` with
//! `ckpt_path`) on the CPU or a GPU, as `nequip-train` runs it: the model block (its
//! `${training_data_stats:…}` filled from the training set), the loss and validation
//! metric lists, AdamW, ReduceLROnPlateau, EMA, early stopping, `best.ckpt`, `last.ckpt`
//! and `metrics.csv` in the run directory (Lightning's CSV log; a wandb logger becomes
//! it), then the `val` and `test` steps with the trained (EMA) weights
//! ([`crate::eval`]).

use std::collections::HashMap;

use allegro_core::Backend;
use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::extxyz::ReadOptions;
use allegro_data::{
    GraphSource, InMemoryDataset, NeighborOptions, Statistics, TypeMapper, source_statistics,
};
use allegro_nn::{AllegroConfig, AllegroModel, Predictor};
use serde_json::{Value, json};

use allegro_train::{
    AdamW, Communicator, EarlyStopping, FitConfig, FitSummary, Progress, ReduceLROnPlateau, Result,
    SingleProcess, Trainer,
};

use crate::config::{Callback, NequipRunConfig, RunStep};
use crate::error::config_error;
use crate::eval::{DatasetMetrics, evaluate_checkpoint, evaluate_steps, manager};
use crate::lmdb::{LmdbGraphs, NequipLmdb, is_lmdb, read_structures};

/// What a run did.
#[derive(Debug)]
pub struct NequipRunReport {
    /// The training, when the run had a `train` step.
    pub fit: Option<FitSummary>,
    /// The `val` and `test` steps' metrics.
    pub metrics: Vec<DatasetMetrics>,
}

/// Runs `config` (module docs) on the CPU; `progress` sees the trainer's batches and
/// epochs.
pub fn run_nequip(
    config: &NequipRunConfig,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<NequipRunReport> {
    run_nequip_on::<Cpu>(config, CpuDevice, progress)
}

/// Runs `config` with training and evaluation on `device` (a GPU backend's device, or
/// the CPU). `global_options.allow_tf32` is read but training keeps exact float32
/// products (TF32 is offered for inference: `Predictor::with_matmul_precision`).
pub fn run_nequip_on<B: Backend>(
    config: &NequipRunConfig,
    device: B::Device,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<NequipRunReport> {
    run_nequip_ranks::<B>(config, device, &SingleProcess, progress)
}

/// [`run_nequip_on`] as one rank of a data-parallel run over `comm` (`mpirun -np N`,
/// `srun`, as the seed launches `nequip-train` with DDP): the loaders' `batch_size` is
/// per rank, as in Lightning's DDP ([`Trainer::fit_on`]); rank 0 writes the run
/// directory and runs the `val`/`test` steps, the other ranks return no metrics.
pub fn run_nequip_ranks<B: Backend>(
    config: &NequipRunConfig,
    device: B::Device,
    comm: &dyn Communicator,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<NequipRunReport> {
    if !config.run.contains(&RunStep::Train) {
        return Ok(NequipRunReport {
            fit: None,
            metrics: evaluate_checkpoint(config)?,
        });
    }
    let train_spec = config
        .data
        .train
        .as_ref()
        .ok_or_else(|| config_error("data.train_dataset", "`run` has a train step"))?;
    let val_spec = config
        .data
        .val
        .first()
        .ok_or_else(|| config_error("data.val_dataset", "training validates every epoch"))?;
    // Types by the dataset's mapper (the config's chemical symbols), as nequip's
    // ChemicalSpeciesToAtomTypeMapper.
    let mapper = TypeMapper::new(&train_spec.chemical_symbols)?;
    let train = graph_source(&train_spec.file_path, &mapper, train_spec.r_max)?;
    let val = graph_source(&val_spec.file_path, &mapper, val_spec.r_max)?;
    let stats = source_statistics(&*train, mapper.type_names().len())?;
    let model_config = model_config(config, &stats)?;
    if model_config.type_names != train_spec.chemical_symbols {
        return Err(config_error(
            "training_module.model.type_names",
            format!(
                "{:?} differ from the dataset's chemical_symbols {:?}",
                model_config.type_names, train_spec.chemical_symbols
            ),
        ));
    }
    let model = AllegroModel::new(&model_config)?;
    let params = model.init_parameters::<B>(&device);
    let names = &model_config.type_names;
    let module = &config.training_module;
    let loss_spec = module
        .loss
        .as_ref()
        .ok_or_else(|| config_error("training_module.loss", "training needs a loss"))?;
    let val_spec_metrics = module.val_metrics.as_ref().ok_or_else(|| {
        config_error(
            "training_module.val_metrics",
            "training validates every epoch",
        )
    })?;
    let optimizer = module
        .optimizer
        .as_ref()
        .map(|o| o.config)
        .unwrap_or_default();
    let mut trainer = Trainer::new(
        model.clone(),
        params,
        AdamW::new(optimizer)?,
        manager(loss_spec, names)?,
        manager(val_spec_metrics, names)?,
        device.clone(),
    )?;
    if let Some(d) = module.ema_decay {
        trainer = trainer.with_ema(d)?;
    }
    let mut monitor = "weighted_sum".to_string();
    if let Some(s) = &module.lr_scheduler {
        trainer = trainer.with_scheduler(ReduceLROnPlateau::new(s.config)?);
        monitor = s.monitor.metric.clone();
    }
    for c in &config.trainer.callbacks {
        if let Callback::EarlyStopping { config: e, .. } = c {
            trainer = trainer.with_early_stopping(EarlyStopping::new(*e));
        }
    }
    trainer.resume_from_dir(&config.run_dir)?;
    let loader = |l: Option<&crate::config::LoaderSpec>| l.map_or(1, |l| l.batch_size.max(1));
    let fit = FitConfig {
        max_epochs: config.trainer.max_epochs,
        batch_size: loader(config.data.train_loader.as_ref()),
        val_batch_size: loader(config.data.val_loader.as_ref()),
        shuffle: config.data.train_loader.as_ref().is_none_or(|l| l.shuffle),
        seed: config.seed().unwrap_or(0),
        monitor,
        out_dir: Some(config.run_dir.clone()),
        loader_threads: config
            .data
            .train_loader
            .as_ref()
            .map_or(0, |l| l.num_workers),
        non_finite: allegro_train::NonFinitePolicy::Stop,
        ..FitConfig::default()
    };
    let train_indices: Vec<usize> = (0..train.len()).collect();
    let val_indices: Vec<usize> = (0..val.len()).collect();
    let summary = trainer.fit_on(
        &*train,
        &train_indices,
        &*val,
        &val_indices,
        &fit,
        comm,
        progress,
    )?;
    let metrics = if comm.rank() == 0 {
        let predictor = Predictor::new(model, trainer.eval_params(), device);
        evaluate_steps(config, &predictor, names)?
    } else {
        Vec::new()
    };
    Ok(NequipRunReport {
        fit: Some(summary),
        metrics,
    })
}

/// A dataset's graphs: an LMDB file streams (frames read and neighbor lists built as
/// batches need them, as nequip's `NequIPLMDBDataset`), so it may be larger than memory;
/// other formats (extxyz) are read into memory with their neighbor lists built once.
fn graph_source(
    path: &std::path::Path,
    mapper: &TypeMapper,
    r_max: f64,
) -> Result<Box<dyn GraphSource>> {
    let options = NeighborOptions::new(r_max);
    if is_lmdb(path) {
        let lmdb = NequipLmdb::open(path)?;
        return Ok(Box::new(LmdbGraphs::new(lmdb, mapper.clone(), options)));
    }
    let data = InMemoryDataset {
        structures: read_structures(path, &ReadOptions::default())?,
    };
    Ok(Box::new(data.to_graphs(mapper, &options)?))
}

/// The model block's config, its `${training_data_stats:…}` filled from `stats`.
fn model_config(config: &NequipRunConfig, stats: &Statistics) -> Result<AllegroConfig> {
    let mut spec = config.training_module.model.clone();
    if let Some(c) = &spec.config {
        return Ok(c.clone());
    }
    let per_type = |v: &[Option<f64>], name: &str| -> Result<Value> {
        v.iter()
            .map(|x| x.ok_or_else(|| config_error(name, "a type has no atoms in the training set")))
            .collect::<Result<Vec<f64>>>()
            .map(|v| json!(v))
    };
    let mut values = HashMap::new();
    for name in spec.stat_names() {
        let missing = || config_error(name, "the training set has no such labels");
        let value = match name {
            "num_neighbors_mean" => json!(stats.avg_num_neighbors),
            "per_type_num_neighbors_mean" => per_type(&stats.per_type_num_neighbors, name)?,
            "per_atom_energy_mean" => json!(stats.per_atom_energy_mean.ok_or_else(missing)?),
            "forces_rms" => json!(stats.forces_rms.ok_or_else(missing)?),
            "per_type_forces_rms" => per_type(&stats.per_type_forces_rms, name)?,
            other => {
                return Err(config_error(
                    &format!("training_data_stats:{other}"),
                    "not a statistic computed here (num_neighbors_mean, \
                     per_type_num_neighbors_mean, per_atom_energy_mean, forces_rms, \
                     per_type_forces_rms)",
                ));
            }
        };
        values.insert(name.to_string(), value);
    }
    Ok(spec.fill_stats(&values)?.clone())
}
