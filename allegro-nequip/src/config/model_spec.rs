//! The `training_module.model` block: kept as the resolved tree and, once every
//! `${training_data_stats:...}` in it is known, read into an
//! [`AllegroConfig`] by allegro-nn's nequip model-config reader.

use std::collections::HashMap;

use crate::model::model_config::allegro_config;
use allegro_nn::AllegroConfig;
use serde_json::Value;

use super::error::{ConfigError, ConfigResult};
use super::extract::Node;
use super::key_path::KeyPath;
use super::stats::{self, StatsRequest};
use super::targets::Role;

/// The model block.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    /// Where the block is (`training_module.model`).
    pub key: KeyPath,
    /// The resolved block; statistics not yet known are
    /// [placeholders](super::stats::placeholder).
    pub block: Value,
    /// The model's hyper-parameters; `None` until [`fill_stats`](Self::fill_stats) when
    /// the block waits for statistics of the training data.
    pub config: Option<AllegroConfig>,
    /// The statistics the block waits for (key paths and names), in tree order.
    pub stats: Vec<StatsRequest>,
}

impl ModelSpec {
    /// Reads the block at `node`, building the config unless it waits for statistics.
    pub(crate) fn parse(node: &Node<'_>) -> ConfigResult<ModelSpec> {
        node.target(Role::Model)?;
        let stats = stats::requests(node.v, &node.path);
        let mut spec = ModelSpec {
            key: node.path.clone(),
            block: node.v.clone(),
            config: None,
            stats,
        };
        if spec.stats.is_empty() {
            spec.config = Some(build(&spec.block, &spec.key)?);
        }
        Ok(spec)
    }

    /// Whether the block waits for statistics of the training data.
    pub fn needs_stats(&self) -> bool {
        self.config.is_none()
    }

    /// The names of the statistics the block waits for, without repeats.
    pub fn stat_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for r in &self.stats {
            if !names.contains(&r.name.as_str()) {
                names.push(&r.name);
            }
        }
        names
    }

    /// Fills the placeholders from `values` (statistic name → value, e.g.
    /// `num_neighbors_mean → 24.2`, `per_type_forces_rms → [..]`) and builds the
    /// config; a statistic missing from `values` is an error naming its key path.
    pub fn fill_stats(&mut self, values: &HashMap<String, Value>) -> ConfigResult<&AllegroConfig> {
        let mut block = self.block.clone();
        stats::fill(&mut block, &self.key, values)?;
        let config = build(&block, &self.key)?;
        self.block = block;
        Ok(self.config.insert(config))
    }
}

fn build(block: &Value, key: &KeyPath) -> ConfigResult<AllegroConfig> {
    let config = allegro_config(block).map_err(|m| ConfigError::new(key, m))?;
    config
        .validate()
        .map_err(|e| ConfigError::new(key, e.to_string()))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn block(avg: Value) -> Value {
        json!({
            "_target_": "allegro.model.AllegroModel",
            "compile_mode": "compile",
            "type_names": ["H", "O"],
            "r_max": 5.0,
            "l_max": 1,
            "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed", "num_bessels": 8},
            "avg_num_neighbors": avg,
            "per_type_energy_scales": stats::placeholder("per_type_forces_rms"),
        })
    }

    #[test]
    fn waits_for_stats_then_builds() {
        let v = block(stats::placeholder("num_neighbors_mean"));
        let path = KeyPath::parse("training_module.model").unwrap();
        let mut m = ModelSpec::parse(&Node::new(&v, path)).unwrap();
        assert!(m.needs_stats());
        assert_eq!(
            m.stat_names(),
            vec!["num_neighbors_mean", "per_type_forces_rms"]
        );
        let mut values = HashMap::new();
        values.insert("num_neighbors_mean".to_string(), json!(12.5));
        let e = m.fill_stats(&values).unwrap_err();
        assert_eq!(e.key, "training_module.model.per_type_energy_scales");
        values.insert("per_type_forces_rms".to_string(), json!([1.0, 2.0]));
        let cfg = m.fill_stats(&values).unwrap();
        assert_eq!(cfg.type_names, vec!["H", "O"]);
        assert!(!m.needs_stats());
        assert_eq!(m.block["avg_num_neighbors"], json!(12.5));
    }

    #[test]
    fn bad_model_keys_name_the_block() {
        let mut v = block(json!(10.0));
        v["per_type_energy_scales"] = json!(1.0);
        v["frobnicate"] = json!(1);
        let path = KeyPath::parse("training_module.model").unwrap();
        let e = ModelSpec::parse(&Node::new(&v, path)).unwrap_err();
        assert_eq!(e.key, "training_module.model");
        assert!(e.message.contains("frobnicate"), "{e}");
    }
}
