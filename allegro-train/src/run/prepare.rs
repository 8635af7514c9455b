//! The part of a run that does not depend on the backend: data read, typed, split, its
//! statistics, and the model block resolved against them.

use std::path::{Path, PathBuf};

use allegro_data::extxyz::ReadOptions;
use allegro_data::{
    GraphDataset, GraphSource, InMemoryDataset, NeighborOptions, Split, SplitSizes, Statistics,
    TypeMapper, shuffled_indices, split,
};
use allegro_nn::AllegroConfig;
use serde_json::{Value, json};

use super::config::RunConfig;
use crate::error::{Result, config_error, io_error};

/// A run with its data loaded: frames, graphs, split and training statistics.
#[derive(Debug)]
pub struct PreparedRun {
    /// The config.
    pub run: RunConfig,
    /// The file it came from (recorded in the model file).
    pub config_path: PathBuf,
    /// Where outputs go (created).
    pub out_dir: PathBuf,
    /// The frames kept, in file order.
    pub frames: InMemoryDataset,
    /// Chemical symbols → model types.
    pub mapper: TypeMapper,
    /// One graph per frame.
    pub data: GraphDataset,
    /// Train / val / test indices into `frames` and `data`.
    pub parts: Split,
    /// Statistics of the training split.
    pub stats: Statistics,
}

impl PreparedRun {
    /// Reads `run`'s data (keeping `max_frames` drawn with the seed), builds neighbor
    /// lists, splits it and takes the training split's statistics; creates the run folder.
    pub fn new(run: RunConfig, config_path: &Path) -> Result<Self> {
        let out_dir = run.out_dir();
        std::fs::create_dir_all(&out_dir).map_err(|e| io_error(&out_dir, e))?;
        let mut read = ReadOptions::default();
        if let Some(key) = &run.data.energy_key {
            read.energy_keys = vec![key.clone()];
        }
        let mut frames = InMemoryDataset::from_extxyz(&run.data.train_file, &read)?;
        if let Some(max) = run.data.max_frames {
            let mut keep: Vec<usize> = shuffled_indices(frames.len(), run.seed)
                .into_iter()
                .take(max)
                .collect();
            keep.sort_unstable();
            frames.structures = keep
                .into_iter()
                .map(|i| frames.structures[i].clone())
                .collect();
        }
        let mapper = TypeMapper::new(&run.chemical_symbols)?;
        let data = frames.to_graphs(&mapper, &NeighborOptions::new(run.cutoff_radius))?;
        let s = &run.data.split;
        let sizes = SplitSizes::Fractions {
            train: s.train,
            val: s.val,
            test: s.test,
        };
        let parts = split(data.len(), sizes, run.seed)?;
        let stats = data.statistics(Some(&parts.train))?;
        Ok(PreparedRun {
            run,
            config_path: config_path.to_path_buf(),
            out_dir,
            frames,
            mapper,
            data,
            parts,
            stats,
        })
    }

    /// One line about the data: frames per split, neighbors per atom, force RMS.
    pub fn describe(&self) -> String {
        let (parts, stats) = (&self.parts, &self.stats);
        format!(
            "data: {} frames ({} train, {} val, {} test), {:.1} neighbors per atom, \
             force RMS {:.3} eV/Å",
            self.data.graphs.len(),
            parts.train.len(),
            parts.val.len(),
            parts.test.len(),
            stats.avg_num_neighbors,
            stats.forces_rms.unwrap_or(f64::NAN)
        )
    }

    /// The model block as an [`AllegroConfig`]: `${training_data_stats:KEY}` values
    /// (nequip's resolver) replaced by the training split's statistics, `type_names`,
    /// `r_max` and the ZBL species filled from the run unless the block sets them.
    pub fn model_config(&self) -> Result<AllegroConfig> {
        let (run, stats) = (&self.run, &self.stats);
        let mut m = run
            .model
            .as_object()
            .cloned()
            .ok_or_else(|| config_error("model", "must be a mapping"))?;
        let per_type = |v: &[Option<f64>], key: &str| -> Result<Value> {
            let values = v
                .iter()
                .zip(&run.chemical_symbols)
                .map(|(x, t)| {
                    x.ok_or_else(|| {
                        config_error(
                            &format!("training_data_stats:{key}"),
                            format!("no data for type {t}"),
                        )
                    })
                })
                .collect::<Result<Vec<f64>>>()?;
            Ok(json!(values))
        };
        let no = |what: &str| config_error("model", format!("no {what} in the training data"));
        for (key, value) in m.iter_mut() {
            let Some(s) = value.as_str() else { continue };
            let Some(stat) = s
                .trim_start_matches("${")
                .trim_end_matches('}')
                .strip_prefix("training_data_stats:")
            else {
                continue;
            };
            *value = match stat {
                "num_neighbors_mean" => json!(stats.avg_num_neighbors),
                "per_type_num_neighbors_mean" => per_type(&stats.per_type_num_neighbors, stat)?,
                "per_atom_energy_mean" => {
                    json!(stats.per_atom_energy_mean.ok_or_else(|| no("energies"))?)
                }
                "forces_rms" => json!(stats.forces_rms.ok_or_else(|| no("forces"))?),
                "per_type_forces_rms" => per_type(&stats.per_type_forces_rms, stat)?,
                "per_type_energy_shifts" => {
                    json!(
                        stats
                            .per_type_energy_shifts
                            .clone()
                            .ok_or_else(|| no("energies"))?
                    )
                }
                other => {
                    return Err(config_error(
                        &format!("model.{key}"),
                        format!("unknown training_data_stats `{other}`"),
                    ));
                }
            };
        }
        m.entry("type_names")
            .or_insert_with(|| json!(run.chemical_symbols));
        m.entry("r_max").or_insert_with(|| json!(run.cutoff_radius));
        if let Some(Value::Object(pair)) = m.get_mut("pair_potential") {
            pair.entry("chemical_species")
                .or_insert_with(|| json!(run.chemical_symbols));
        }
        Ok(AllegroConfig::from_json(&Value::Object(m).to_string())?)
    }
}
