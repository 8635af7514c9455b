//! `run: [val, test]` of a nequip config: a trained model (`ckpt_path`: one of our
//! checkpoints, a nequip `.ckpt` or a `.nequip.zip`, read as [`compile`] reads them)
//! evaluated on the config's validation and test datasets with its metric lists,
//! as nequip-train does after training or on its own.
//!
//! Metric names follow nequip's logs: `{split}{dataset}_epoch/{metric}` (per-type values
//! `…/{metric}_{type}`, and `…/weighted_sum` where the list has coefficients). The values
//! are written to `{run_dir}/eval_metrics.csv` (`name,value`).

use std::path::{Path, PathBuf};

use allegro_core::Backend;
use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::extxyz::{ReadOptions, WriteOptions, write_extxyz};
use allegro_data::{
    AtomicGraph, Column, ColumnData, InfoValue, Labels, NeighborOptions, Structure, TypeMapper,
};
use allegro_nn::Predictor;

use crate::lmdb::read_structures;

use allegro_train::{Mae, MetricEntry, MetricsManager, Mse, Result, Rmse};

use crate::compile::compile;
use crate::config::{
    Callback, DatasetSpec, LoaderSpec, MetricKind, MetricsSpec, NequipRunConfig, RunStep,
};
use crate::error::{config_error, io_error};

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
    evaluate_steps(config, &predictor, &type_names)
}

/// The config's `val` and `test` steps (a `train` step is skipped: it runs before) with
/// `predictor`, whose model has `type_names`; test predictions go to the
/// `TestTimeXYZFileWriter`'s file when the config lists one, the values to
/// `{run_dir}/eval_metrics.csv`.
pub fn evaluate_steps<B: Backend>(
    config: &NequipRunConfig,
    predictor: &Predictor<B>,
    type_names: &[String],
) -> Result<Vec<DatasetMetrics>> {
    let writer = config.trainer.callbacks.iter().find_map(|c| match c {
        Callback::TestTimeXyzFileWriter {
            out_file,
            output_fields_from_original_dataset,
            ..
        } => Some((out_file, output_fields_from_original_dataset)),
        _ => None,
    });
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
            RunStep::Train => continue,
        };
        let metrics = metrics.ok_or_else(|| {
            config_error(
                &format!("training_module.{key}_metrics"),
                "the step has no metrics",
            )
        })?;
        for (index, dataset) in datasets.iter().enumerate() {
            let xyz = match (step, writer) {
                (RunStep::Test, Some((out, fields))) => Some((
                    PathBuf::from(format!("{}{index}.xyz", out.display())),
                    fields,
                )),
                _ => None,
            };
            let (frames, mut values) = evaluate_dataset(
                predictor,
                type_names,
                dataset,
                loader,
                metrics,
                xyz.as_ref().map(|(p, f)| (p.as_path(), f.as_slice())),
            )?;
            for (name, _) in &mut values {
                *name = format!("{key}{index}_epoch/{name}");
            }
            results.push(DatasetMetrics {
                split: *step,
                index,
                file: dataset.file_path.clone(),
                frames,
                values,
            });
        }
    }
    write_csv(config, &results)?;
    Ok(results)
}

/// The metric manager of a nequip metric list, over the model's types.
pub(crate) fn manager<B: Backend>(
    spec: &MetricsSpec,
    type_names: &[String],
) -> Result<MetricsManager<B>> {
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
fn evaluate_dataset<B: Backend>(
    predictor: &Predictor<B>,
    type_names: &[String],
    dataset: &DatasetSpec,
    loader: Option<&LoaderSpec>,
    metrics: &MetricsSpec,
    xyz: Option<(&Path, &[String])>,
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
    let mut written = Vec::new();
    for chunk in structures.chunks(batch_size) {
        let graphs = chunk
            .iter()
            .map(|s| AtomicGraph::from_structure(s, &mapper, &options))
            .collect::<allegro_data::Result<Vec<_>>>()?;
        let graph = AtomicGraph::batch(&graphs);
        let inputs = predictor.inputs(&graph)?;
        let outputs = predictor.outputs(&inputs);
        manager.update(&outputs, &graph)?;
        if let Some((_, fields)) = xyz {
            let energies = outputs.total_energy.to_vec_f64();
            let forces = outputs.forces.to_vec_f64();
            let mut atom = 0;
            for (k, s) in chunk.iter().enumerate() {
                let n = s.n_atoms();
                let f = &forces[3 * atom..3 * (atom + n)];
                written.push(with_predictions(s, energies[k], f, fields));
                atom += n;
            }
        }
    }
    if let Some((path, _)) = xyz {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        }
        write_extxyz(path, &written, &WriteOptions::default())?;
    }
    Ok((structures.len(), manager.compute().values))
}

/// A structure with the model's energy and forces as its `total_energy` and `forces`,
/// and the dataset's own values of `fields` as `original_dataset_{field}` (as nequip's
/// `TestTimeXYZFileWriter` writes them; fields the dataset lacks are left out).
fn with_predictions(s: &Structure, energy: f64, forces: &[f64], fields: &[String]) -> Structure {
    let mut out = s.clone();
    let original = &s.labels;
    out.labels = Labels {
        energy: Some(energy),
        forces: Some(forces.chunks(3).map(|c| [c[0], c[1], c[2]]).collect()),
        ..Labels::default()
    };
    for field in fields {
        let name = format!("original_dataset_{field}");
        match field.as_str() {
            "total_energy" => {
                if let Some(e) = original.energy {
                    out.labels.info.insert(name, InfoValue::Real(e));
                }
            }
            "forces" => {
                if let Some(f) = &original.forces {
                    out.labels.arrays.push(Column {
                        name,
                        width: 3,
                        data: ColumnData::Real(f.iter().flatten().copied().collect()),
                    });
                }
            }
            other => {
                if let Some(v) = original.info.get(other) {
                    out.labels.info.insert(name, v.clone());
                }
            }
        }
    }
    out
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
