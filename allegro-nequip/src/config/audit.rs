//! The key audit: what becomes of every key of a raw (un-interpolated) config.
//!
//! Each key path (list items with their index) is [`KeyStatus::Honoured`] (read into
//! [`NequipRunConfig`](super::NequipRunConfig)), [`KeyStatus::Ignored`] (read, no effect
//! here, with the reason) or [`KeyStatus::Refused`]. Unknown keys are refused, so a typo
//! never passes silently; [`NequipRunConfig::from_file`](super::NequipRunConfig::from_file)
//! fails on any refusal.
//!
//! Top-level keys nequip does not read are user variables (`cutoff_radius: 6.0`, used as
//! `${cutoff_radius}`): a variable takes the status of the keys that use it (honoured if
//! any honoured key uses it, directly or through other variables), and one no
//! interpolation uses is refused as unknown.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

use super::interpolate::target_path;
use super::key_path::KeyPath;
use super::schema::{KeyDef, Rule, Shape, TOP_LEVEL, find, target_keys};
use super::targets::{Role, check_class};
use super::template::{has_interpolation, node_refs, parse_template};

/// What becomes of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    /// Read into the typed config.
    Honoured,
    /// Read, with no effect here; the reason.
    Ignored(String),
    /// Not supported, or not known: loading fails; the reason.
    Refused(String),
}

impl From<Rule> for KeyStatus {
    fn from(r: Rule) -> Self {
        match r {
            Rule::Honoured => KeyStatus::Honoured,
            Rule::Ignored(why) => KeyStatus::Ignored(why.to_string()),
            Rule::Refused(why) => KeyStatus::Refused(why.to_string()),
        }
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyStatus::Honoured => f.write_str("honoured"),
            KeyStatus::Ignored(why) => write!(f, "ignored: {why}"),
            KeyStatus::Refused(why) => write!(f, "REFUSED: {why}"),
        }
    }
}

/// One key and its fate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// The key path.
    pub path: KeyPath,
    /// Its fate.
    pub status: KeyStatus,
}

/// The fate of every key of `raw`, sorted by key path.
pub fn audit(raw: &Value) -> Vec<AuditEntry> {
    let mut w = Walker::default();
    match raw {
        Value::Object(m) => w.walk_defs(m, &KeyPath::root(), TOP_LEVEL, false),
        other => w.push(
            KeyPath::root(),
            KeyStatus::Refused(format!("the config is not a mapping but `{other}`")),
        ),
    }
    w.judge_variables(raw);
    w.out.sort_by(|a, b| a.path.cmp(&b.path));
    w.out
}

/// The entries as a two-column text table (key path, status).
pub fn audit_table(entries: &[AuditEntry]) -> String {
    let paths: Vec<String> = entries.iter().map(|e| e.path.to_string()).collect();
    let width = paths.iter().map(String::len).max().unwrap_or(0);
    let mut out = String::new();
    for (p, e) in paths.iter().zip(entries) {
        out.push_str(&format!("{p:<width$}  {}\n", e.status));
    }
    out
}

#[derive(Default)]
struct Walker {
    out: Vec<AuditEntry>,
    /// Unknown top-level keys: user variables.
    variables: Vec<String>,
}

impl Walker {
    fn push(&mut self, path: KeyPath, status: KeyStatus) {
        self.out.push(AuditEntry { path, status });
    }

    fn walk_defs(
        &mut self,
        map: &Map<String, Value>,
        at: &KeyPath,
        defs: &'static [KeyDef],
        has_target: bool,
    ) {
        for (k, v) in map {
            if has_target && k == "_target_" {
                continue;
            }
            let path = at.child(k);
            match find(defs, k) {
                Some(def) => {
                    let status = KeyStatus::from(def.rule);
                    self.push(path.clone(), status.clone());
                    if !matches!(def.rule, Rule::Refused(_)) {
                        self.walk_shape(v, &path, def.shape, &status);
                    }
                }
                None if at.is_root() => self.variables.push(k.clone()),
                None => {
                    let known: Vec<&str> = defs.iter().map(|d| d.key).collect();
                    let known = if known.is_empty() {
                        "it takes no keys".to_string()
                    } else {
                        format!("known here: {}", known.join(", "))
                    };
                    self.push(path, KeyStatus::Refused(format!("unknown key ({known})")));
                }
            }
        }
    }

    fn walk_shape(&mut self, v: &Value, at: &KeyPath, shape: Shape, status: &KeyStatus) {
        if let Value::String(s) = v
            && has_interpolation(s)
        {
            // The value comes from elsewhere; that place is audited where it stands.
            return;
        }
        match shape {
            Shape::Value => {}
            Shape::Object(role) => self.walk_object(v, at, role),
            // A plain field name is a value; only a modifier object is walked.
            Shape::Field => self.walk_object(v, at, Role::FieldModifier),
            Shape::Objects(role) => match v {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.push(at.item(i), status.clone());
                        self.walk_object(item, &at.item(i), role);
                    }
                }
                _ => self.walk_object(v, at, role),
            },
            Shape::Struct(defs) => {
                if let Value::Object(m) = v {
                    self.walk_defs(m, at, defs, false);
                }
            }
            Shape::Structs(defs) => {
                if let Value::Array(items) = v {
                    for (i, item) in items.iter().enumerate() {
                        self.push(at.item(i), status.clone());
                        if let Value::Object(m) = item {
                            self.walk_defs(m, &at.item(i), defs, false);
                        }
                    }
                }
            }
        }
        // Wrong value types are reported by the typed layer, with the expected type.
    }

    fn walk_object(&mut self, v: &Value, at: &KeyPath, role: Role) {
        let Value::Object(m) = v else {
            return;
        };
        let tpath = at.child("_target_");
        match m.get("_target_") {
            None => self.push(
                tpath,
                KeyStatus::Refused(format!("missing: a {role} needs a `_target_` class")),
            ),
            Some(Value::String(s)) if has_interpolation(s) => self.push(
                tpath,
                KeyStatus::Refused("an interpolated `_target_` is not supported".into()),
            ),
            Some(Value::String(s)) => match check_class(s, role) {
                Ok(t) => {
                    self.push(tpath, KeyStatus::Honoured);
                    self.walk_defs(m, at, target_keys(t), true);
                }
                Err(why) => self.push(tpath, KeyStatus::Refused(why)),
            },
            Some(other) => self.push(
                tpath,
                KeyStatus::Refused(format!("`_target_` must be a class name, not `{other}`")),
            ),
        }
    }

    /// Gives each user variable the status of the keys that use it.
    fn judge_variables(&mut self, raw: &Value) {
        let vars: BTreeSet<String> = self.variables.drain(..).collect();
        let mut users: BTreeMap<String, Vec<KeyPath>> = BTreeMap::new();
        let mut refs = Vec::new();
        collect_refs(raw, &KeyPath::root(), &mut refs);
        for (referrer, target) in refs {
            if let Some(top) = target.first_key()
                && vars.contains(top)
            {
                users.entry(top.to_string()).or_default().push(referrer);
            }
        }
        let mut honoured: BTreeSet<String> = BTreeSet::new();
        loop {
            let mut changed = false;
            for var in &vars {
                if honoured.contains(var) {
                    continue;
                }
                let used = users.get(var).is_some_and(|rs| {
                    rs.iter().any(|r| match r.first_key() {
                        Some(top) if vars.contains(top) => honoured.contains(top),
                        _ => matches!(self.status_at(r), Some(KeyStatus::Honoured)),
                    })
                });
                if used {
                    honoured.insert(var.clone());
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        for var in vars {
            let status = if honoured.contains(&var) {
                KeyStatus::Honoured
            } else if let Some(rs) = users.get(&var) {
                let names: Vec<String> = rs.iter().map(ToString::to_string).collect();
                KeyStatus::Ignored(format!(
                    "a variable used only by keys with no effect here: {}",
                    names.join(", ")
                ))
            } else {
                KeyStatus::Refused(
                    "unknown key: not a nequip key, and no `${...}` refers to it".into(),
                )
            };
            self.push(KeyPath::root().child(&var), status);
        }
    }

    /// The status of the deepest audited key at or above `path`.
    fn status_at(&self, path: &KeyPath) -> Option<&KeyStatus> {
        self.out
            .iter()
            .filter(|e| path.starts_with(&e.path))
            .max_by_key(|e| e.path.comps().len())
            .map(|e| &e.status)
    }
}

/// `(referrer, target)` for every node reference in `v` (at `at`); strings that do not
/// parse are skipped here (resolution reports them).
fn collect_refs(v: &Value, at: &KeyPath, out: &mut Vec<(KeyPath, KeyPath)>) {
    match v {
        Value::String(s) if has_interpolation(s) => {
            if let Ok(pieces) = parse_template(s) {
                for r in node_refs(&pieces) {
                    if let Ok(target) = target_path(&r, at) {
                        out.push((at.clone(), target));
                    }
                }
            }
        }
        Value::Object(m) => m
            .iter()
            .for_each(|(k, c)| collect_refs(c, &at.child(k), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, c)| collect_refs(c, &at.item(i), out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status<'a>(entries: &'a [AuditEntry], path: &str) -> &'a KeyStatus {
        let p = KeyPath::parse(path).unwrap();
        &entries
            .iter()
            .find(|e| e.path == p)
            .unwrap_or_else(|| panic!("no entry for {path}"))
            .status
    }

    #[test]
    fn keys_variables_and_targets() {
        let raw = json!({
            "run": ["train"],
            "lr": 0.01,
            "name": "x",
            "alias": "${lr}",
            "typo_var": 3,
            "trainer": {
                "_target_": "lightning.Trainer",
                "max_epoch": 5,
                "log_every_n_steps": 10,
                "callbacks": [{"_target_": "foo.Bar"}, {"_target_": "lightning.pytorch.callbacks.LearningRateMonitor", "logging_interval": "epoch"}],
                "logger": {"_target_": "lightning.pytorch.loggers.wandb.WandbLogger", "name": "${name}"},
            },
            "training_module": {
                "_target_": "nequip.train.EMALightningModule",
                "optimizer": {"_target_": "torch.optim.AdamW", "lr": "${alias}"},
                "val_metrics": {"_target_": "nequip.train.MetricsManager", "metrics": [
                    {"field": {"_target_": "nequip.data.PerAtomModifier", "field": "total_energy"},
                     "metric": {"_target_": "nequip.train.MeanAbsoluteError"}, "per_type": false, "frob": 1}
                ]},
                "test_metrics": "${training_module.val_metrics}",
            },
        });
        let e = audit(&raw);
        let table = audit_table(&e);
        assert!(table.contains("trainer.max_epoch"), "{table}");
        assert!(
            matches!(status(&e, "trainer.max_epoch"), KeyStatus::Refused(m) if m.contains("max_epochs"))
        );
        assert!(matches!(
            status(&e, "trainer.log_every_n_steps"),
            KeyStatus::Ignored(_)
        ));
        assert!(
            matches!(status(&e, "trainer.callbacks[0]._target_"), KeyStatus::Refused(m) if m.contains("foo.Bar"))
        );
        assert_eq!(
            status(&e, "trainer.callbacks[1].logging_interval"),
            &KeyStatus::Honoured
        );
        assert_eq!(status(&e, "lr"), &KeyStatus::Honoured, "through `alias`");
        assert_eq!(status(&e, "alias"), &KeyStatus::Honoured);
        assert!(
            matches!(status(&e, "name"), KeyStatus::Ignored(m) if m.contains("trainer.logger.name"))
        );
        assert!(matches!(status(&e, "typo_var"), KeyStatus::Refused(m) if m.contains("unknown")));
        assert_eq!(
            status(&e, "training_module.val_metrics.metrics[0].field._target_"),
            &KeyStatus::Honoured
        );
        assert!(matches!(
            status(&e, "training_module.val_metrics.metrics[0].frob"),
            KeyStatus::Refused(_)
        ));
        assert_eq!(
            status(&e, "training_module.test_metrics"),
            &KeyStatus::Honoured
        );
    }
}
