//! `run: [val, test]` of a nequip config: a trained model (`ckpt_path`: one of our
//! checkpoints, a nequip `.ckpt` or a `.nequip.zip`, read as [`compile`] reads them)
//! evaluated on the config's validation and test datasets with its metric lists,
//! as nequip-train does after training or on its own.
//!
//! Metric names follow nequip's logs: `{split}{dataset}_epoch/{metric}` (per-type values
//! `…/{metric}_{type}`, and `…/weighted_sum` where the list has coefficients). The values
//! are written to `{run_dir}/eval_metrics.csv` (`name,value`).

use std::path::PathBuf;

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::extxyz::ReadOptions;
use allegro_data::{AtomicGraph, NeighborOptions, TypeMapper, read_structures};
use allegro_nn::Predictor;

use crate::compile::compile;
use crate::error::{Result, config_error, io_error};
use crate::manager::{MetricEntry, MetricsManager};
use crate::metrics::{Mae, Mse, Rmse};
use crate::nequip_config::{
    DatasetSpec, LoaderSpec, MetricKind, MetricsSpec, NequipRunConfig, RunStep,
};

/// The metrics of one dataset of one split.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetMetrics {
    /// `val` or `test`.
    pub split: RunStep,
    /// Position of the dataset in the split's list.
    pub index: usize,
    /// The dataset file.
    pub file: PathBuf,
    /// Number of structures evaluated.
    pub frames: usize,
    /// `(name, value)`, names as nequip logs them (module docs).
    pub values: Vec<(String, f64)>,
}

/// Evaluates `ckpt_path` on every dataset of the config's `val` and `test` steps (module
/// docs). A `train` step is not run here (an error says so).
pub fn evaluate_checkpoint(config: &NequipRunConfig) -> Result<Vec<DatasetMetrics>> {
    if config.run.contains(&RunStep::Train) {
        return Err(config_error(
            "run",
            "evaluation runs the `val` and `test` steps; `train` goes through the trainer",
        ));
    }
    let ckpt = config
        .ckpt_path
        .as_ref()
        .ok_or_else(|| config_error("ckpt_path", "`run: [val, test]` needs a checkpoint"))?;
    let compiled = compile(ckpt)?;
    let type_names = compiled.file.type_names.clone();
    let predictor: Predictor<Cpu> = compiled.file.into_predictor(CpuDevice)?;
    let mut results = Vec::new();
    for step in &config.run {
        let (datasets, loader, metrics, key) = match step {
            RunStep::Val => (
                &config.data.val,
                config.data.val_loader.as_ref(),
                config.training_module.val_metrics.as_ref(),
                "val",
            ),
            RunStep::Test => (
                &config.data.test,
                config.data.test_loader.as_ref(),
                config.training_module.test_metrics.as_ref(),
                "test",
            ),
            RunStep::Train => unreachable!("refused above"),
        };
        let metrics = metrics.ok_or_else(|| {
            config_error(
                &format!("training_module.{key}_metrics"),
                "the step has no metrics",
            )
        })?;
        for (index, dataset) in datasets.iter().enumerate() {
            let mut values = evaluate_dataset(&predictor, &type_names, dataset, loader, metrics)?;
            for (name, _) in &mut values.1 {
                *name = format!("{key}{index}_epoch/{name}");
            }
            results.push(DatasetMetrics {
                split: *step,
                index,
                file: dataset.file_path.clone(),
                frames: values.0,
                values: values.1,
            });
        }
    }
    write_csv(config, &results)?;
    Ok(results)
}

/// The metric manager of a nequip metric list, over the model's types.
fn manager(spec: &MetricsSpec, type_names: &[String]) -> Result<MetricsManager<Cpu>> {
    let entries = spec
        .metrics
        .iter()
        .map(|m| {
            let entry = match m.kind {
                MetricKind::Mse => MetricEntry::new(m.field, Mse),
                MetricKind::Rmse => MetricEntry::new(m.field, Rmse),
                MetricKind::Mae => MetricEntry::new(m.field, Mae),
            };
            let mut entry = entry.named(&m.name).coeff(m.coeff).ignore_nan(m.ignore_nan);
            if m.per_type {
                entry = entry.per_type();
            }
            entry
        })
        .collect();
    MetricsManager::new(entries, type_names)
}

/// Frames evaluated and the metric values of one dataset.
fn evaluate_dataset(
    predictor: &Predictor<Cpu>,
    type_names: &[String],
    dataset: &DatasetSpec,
    loader: Option<&LoaderSpec>,
    metrics: &MetricsSpec,
) -> Result<(usize, Vec<(String, f64)>)> {
    let structures = read_structures(&dataset.file_path, &ReadOptions::default())?;
    // Atoms map to the model's types by chemical symbol; the dataset's mapper lists the
    // symbols it expects, each of which the model must have.
    if let Some(missing) = dataset
        .chemical_symbols
        .iter()
        .find(|s| !type_names.contains(s))
    {
        return Err(config_error(
            "data.*_dataset.transforms.chemical_symbols",
            format!("`{missing}` is not a type of the checkpoint's model ({type_names:?})"),
        ));
    }
    let mapper = TypeMapper::new(type_names)?;
    let options = NeighborOptions::new(dataset.r_max);
    let batch_size = loader.map_or(1, |l| l.batch_size.max(1));
    let mut manager = manager(metrics, type_names)?;
    for chunk in structures.chunks(batch_size) {
        let graphs = chunk
            .iter()
            .map(|s| AtomicGraph::from_structure(s, &mapper, &options))
            .collect::<allegro_data::Result<Vec<_>>>()?;
        let graph = AtomicGraph::batch(&graphs);
        let inputs = predictor.inputs(&graph)?;
        let outputs = predictor.outputs(&inputs);
        manager.update(&outputs, &graph)?;
    }
    Ok((structures.len(), manager.compute().values))
}

/// `{run_dir}/eval_metrics.csv`, written atomically.
fn write_csv(config: &NequipRunConfig, results: &[DatasetMetrics]) -> Result<()> {
    let dir = &config.run_dir;
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let mut text = String::from("name,value\n");
    for r in results {
        for (name, value) in &r.values {
            text.push_str(&format!("{name},{value}\n"));
        }
    }
    let path = dir.join("eval_metrics.csv");
    let tmp = dir.join(".eval_metrics.csv.tmp");
    std::fs::write(&tmp, text).map_err(|e| io_error(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, e))
}
