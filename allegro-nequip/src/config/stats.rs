//! `${training_data_stats:NAME}`: a value computed from the training data (nequip's
//! `NequIPDataModule` computes it before building the model). It cannot be known while
//! reading the config, so it resolves to a placeholder the caller recognises
//! ([`placeholder_name`]), lists ([`requests`]) and fills ([`fill`]) once the statistics
//! are known.
//!
//! The names nequip's default `CommonDataStatisticsManager` computes are
//! [`KNOWN_STATS`]; a custom `stats_manager` may define others, so any name is accepted
//! here and reported.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::error::{ConfigError, ConfigResult};
use super::key_path::KeyPath;

/// The key of the placeholder object `{"_training_data_stats_": NAME}`: a name no nequip
/// config uses, so a placeholder cannot be mistaken for config data.
pub const STATS_MARKER: &str = "_training_data_stats_";

/// Statistics nequip's `CommonDataStatisticsManager` computes, with what they are (nequip
/// docs, "Dataset Statistics"): the names a config's model block usually asks for.
pub const KNOWN_STATS: [(&str, &str); 4] = [
    (
        "num_neighbors_mean",
        "mean number of neighbors within r_max (for avg_num_neighbors)",
    ),
    (
        "per_atom_energy_mean",
        "mean of total_energy / num_atoms (for per_type_energy_shifts)",
    ),
    (
        "forces_rms",
        "RMS of all force components (for per_type_energy_scales)",
    ),
    (
        "per_type_forces_rms",
        "RMS of force components per atom type, a list (for per_type_energy_scales)",
    ),
];

/// A place in the resolved tree waiting for a statistic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsRequest {
    /// Where the value goes, e.g. `training_module.model.avg_num_neighbors`.
    pub key: KeyPath,
    /// The statistic, e.g. `num_neighbors_mean`.
    pub name: String,
}

/// The placeholder for statistic `name`.
pub fn placeholder(name: &str) -> Value {
    json!({ STATS_MARKER: name })
}

/// The statistic `v` waits for, when `v` is a placeholder.
pub fn placeholder_name(v: &Value) -> Option<&str> {
    match v {
        Value::Object(m) if m.len() == 1 => m.get(STATS_MARKER)?.as_str(),
        _ => None,
    }
}

/// Every placeholder in `v` (which sits at `base`), in tree order.
pub fn requests(v: &Value, base: &KeyPath) -> Vec<StatsRequest> {
    let mut out = Vec::new();
    collect(v, base, &mut out);
    out
}

fn collect(v: &Value, at: &KeyPath, out: &mut Vec<StatsRequest>) {
    if let Some(name) = placeholder_name(v) {
        out.push(StatsRequest {
            key: at.clone(),
            name: name.to_string(),
        });
        return;
    }
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| collect(c, &at.child(k), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, c)| collect(c, &at.item(i), out)),
        _ => {}
    }
}

/// Replaces every placeholder in `v` (at `base`) by its value in `stats`; a statistic
/// missing from `stats` is an error naming the key and the statistic.
pub fn fill(v: &mut Value, base: &KeyPath, stats: &HashMap<String, Value>) -> ConfigResult<()> {
    if let Some(name) = placeholder_name(v) {
        let value = stats.get(name).ok_or_else(|| {
            ConfigError::new(
                base,
                format!(
                    "needs the training data statistic `{name}`, which was not provided \
                     (provided: {:?})",
                    sorted_keys(stats)
                ),
            )
        })?;
        *v = value.clone();
        return Ok(());
    }
    match v {
        Value::Object(m) => {
            for (k, c) in m.iter_mut() {
                fill(c, &base.child(k), stats)?;
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter_mut().enumerate() {
                fill(c, &base.item(i), stats)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn sorted_keys(stats: &HashMap<String, Value>) -> Vec<&str> {
    let mut keys: Vec<&str> = stats.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_listed_and_filled() {
        let base = KeyPath::parse("training_module.model").unwrap();
        let mut v = json!({
            "avg_num_neighbors": placeholder("num_neighbors_mean"),
            "per_type_energy_scales": placeholder("per_type_forces_rms"),
            "r_max": 6.0,
        });
        let req = requests(&v, &base);
        assert_eq!(req.len(), 2);
        assert_eq!(
            req[0].key.to_string(),
            "training_module.model.avg_num_neighbors"
        );
        assert_eq!(req[0].name, "num_neighbors_mean");
        let mut stats = HashMap::new();
        stats.insert("num_neighbors_mean".to_string(), json!(24.2));
        let e = fill(&mut v.clone(), &base, &stats).unwrap_err();
        assert_eq!(e.key, "training_module.model.per_type_energy_scales");
        assert!(e.message.contains("per_type_forces_rms"), "{e}");
        stats.insert("per_type_forces_rms".to_string(), json!([1.0, 2.0]));
        fill(&mut v, &base, &stats).unwrap();
        assert_eq!(v["avg_num_neighbors"], json!(24.2));
        assert_eq!(v["per_type_energy_scales"], json!([1.0, 2.0]));
        assert!(requests(&v, &base).is_empty());
    }
}
