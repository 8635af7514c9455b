//! Hydra command-line overrides, applied to the raw tree before interpolation (as Hydra
//! does: an overridden value may itself hold `${...}`).
//!
//! - `a.b=v`: `a.b` must exist (Hydra's rule, so a typo is an error, not a new key);
//! - `+a.b=v`: `a.b` must not exist;
//! - `++a.b=v`: set or add;
//! - `~a.b` (or `~a.b=v`, which checks the value first): delete.
//!
//! List items are path components (`data.test_dataset.0.file_path=F`); values follow
//! Hydra's grammar ([`parse_value`]). `hydra.run.dir=DIR` is not a tree key: it sets the
//! run directory ([`AppliedOverrides::run_dir`]); other `hydra.*` settings have no effect
//! here and give a warning.

use serde_json::{Map, Value};

use super::error::{ConfigError, ConfigResult, Warning};
use super::key_path::{KeyPath, PathComp};
use super::override_value::parse_value;

/// What an override does to its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverrideOp {
    /// `a.b=v`: replace an existing value.
    Set,
    /// `+a.b=v`: add a new key.
    Add,
    /// `++a.b=v`: set, adding the key if needed.
    ForceSet,
    /// `~a.b`: delete.
    Delete,
}

/// One parsed command-line override.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// What it does.
    pub op: OverrideOp,
    /// The key path it applies to.
    pub key: KeyPath,
    /// The new value (for `~a.b=v`, the value expected; `None` for `~a.b`).
    pub value: Option<Value>,
    /// The override as written (for error messages).
    pub text: String,
}

impl Override {
    /// Parses `[+|++|~]key[=value]`.
    pub fn parse(text: &str) -> ConfigResult<Override> {
        let t = text.trim();
        let (op, rest) = if let Some(r) = t.strip_prefix("++") {
            (OverrideOp::ForceSet, r)
        } else if let Some(r) = t.strip_prefix('+') {
            (OverrideOp::Add, r)
        } else if let Some(r) = t.strip_prefix('~') {
            (OverrideOp::Delete, r)
        } else {
            (OverrideOp::Set, t)
        };
        let (key_text, value_text) = match rest.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v)),
            None => (rest.trim(), None),
        };
        let bad = |message: String| ConfigError::new(key_text, message);
        if value_text.is_none() && op != OverrideOp::Delete {
            return Err(bad(format!("override `{text}` is not `key=value`")));
        }
        let key = KeyPath::parse(key_text).map_err(|e| bad(format!("override `{text}`: {e}")))?;
        if key.is_root() {
            return Err(bad(format!("override `{text}` has no key")));
        }
        let value = value_text
            .map(parse_value)
            .transpose()
            .map_err(|e| bad(format!("override `{text}`: {e}")))?;
        Ok(Override {
            op,
            key,
            value,
            text: text.to_string(),
        })
    }

    fn error(&self, at: &KeyPath, message: impl std::fmt::Display) -> ConfigError {
        ConfigError::new(at, format!("override `{}`: {message}", self.text))
    }
}

/// What applying overrides produced besides the edited tree.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppliedOverrides {
    /// `hydra.run.dir`, as written (it may hold `${now:...}`).
    pub run_dir: Option<String>,
    /// Overrides that had no effect.
    pub warnings: Vec<Warning>,
}

/// Parses and applies `overrides` to `tree`, in order.
pub fn apply_overrides<S: AsRef<str>>(
    tree: &mut Value,
    overrides: &[S],
) -> ConfigResult<AppliedOverrides> {
    let mut out = AppliedOverrides::default();
    let run_dir_key = KeyPath::parse("hydra.run.dir").expect("static path");
    for text in overrides {
        let ov = Override::parse(text.as_ref())?;
        if ov.key.first_key() == Some("hydra") {
            match (&ov.value, ov.op) {
                (Some(v), op) if ov.key == run_dir_key && op != OverrideOp::Delete => {
                    out.run_dir = Some(match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                }
                _ => out.warnings.push(Warning::new(
                    &ov.key,
                    format!("Hydra setting `{}` has no effect here", ov.text),
                )),
            }
            continue;
        }
        apply_one(tree, &ov)?;
    }
    Ok(out)
}

fn apply_one(tree: &mut Value, ov: &Override) -> ConfigResult<()> {
    let creating = matches!(ov.op, OverrideOp::Add | OverrideOp::ForceSet);
    let Some((last, parents)) = ov.key.comps().split_last() else {
        return Err(ov.error(&ov.key, "no key"));
    };
    let mut cur = tree;
    let mut at = KeyPath::root();
    for comp in parents {
        if creating && cur.is_null() {
            *cur = Value::Object(Map::new());
        }
        cur = match cur {
            Value::Object(m) => {
                let k = key_text(comp);
                at = at.child(&k);
                if creating {
                    m.entry(k).or_insert_with(|| Value::Object(Map::new()))
                } else {
                    match m.get_mut(&k) {
                        Some(v) => v,
                        None => return Err(ov.error(&at, missing_hint(&ov.key))),
                    }
                }
            }
            Value::Array(a) => {
                let (i, next) = index_in(a.len(), comp, &at).map_err(|e| ov.error(&at, e))?;
                at = next;
                &mut a[i]
            }
            other => return Err(ov.error(&at, not_container(other, &at))),
        };
    }
    let value = ov.value.clone();
    match cur {
        Value::Object(m) => {
            let k = key_text(last);
            let path = at.child(&k);
            let exists = m.contains_key(&k);
            match ov.op {
                OverrideOp::Set if !exists => Err(ov.error(&path, missing_hint(&ov.key))),
                OverrideOp::Add if exists => Err(ov.error(
                    &path,
                    "the key already exists (drop the `+` to replace it, or write `++`)",
                )),
                OverrideOp::Delete if !exists => Err(ov.error(&path, "no such key to delete")),
                OverrideOp::Delete => {
                    check_expected(ov, &path, &m[&k])?;
                    m.remove(&k);
                    Ok(())
                }
                _ => {
                    m.insert(k, value.unwrap_or(Value::Null));
                    Ok(())
                }
            }
        }
        Value::Array(a) => {
            let (i, path) = index_in(a.len(), last, &at).map_err(|e| ov.error(&at, e))?;
            match ov.op {
                OverrideOp::Add => Err(ov.error(
                    &path,
                    "the item already exists (drop the `+` to replace it)",
                )),
                OverrideOp::Delete => {
                    check_expected(ov, &path, &a[i])?;
                    a.remove(i);
                    Ok(())
                }
                _ => {
                    a[i] = value.unwrap_or(Value::Null);
                    Ok(())
                }
            }
        }
        other => Err(ov.error(&at, not_container(other, &at))),
    }
}

/// The mapping key a component names (an index written as a key of digits).
fn key_text(comp: &PathComp) -> String {
    match comp {
        PathComp::Key(k) => k.clone(),
        PathComp::Index(i) => i.to_string(),
    }
}

/// The index `comp` names in a list of `len` items below `at`, and the item's path.
fn index_in(len: usize, comp: &PathComp, at: &KeyPath) -> Result<(usize, KeyPath), String> {
    let i = match comp {
        PathComp::Index(i) => *i,
        PathComp::Key(k) => k
            .parse::<usize>()
            .map_err(|_| format!("`{at}` is a list: `{k}` is not an index"))?,
    };
    if i >= len {
        return Err(format!("`{at}` has {len} items: no index {i}"));
    }
    Ok((i, at.item(i)))
}

fn missing_hint(key: &KeyPath) -> String {
    let dotted = key
        .comps()
        .iter()
        .map(key_text)
        .collect::<Vec<_>>()
        .join(".");
    format!("no such key in the config (to add it, write `+{dotted}=...`)")
}

fn not_container(v: &Value, at: &KeyPath) -> String {
    match v {
        Value::String(s) if s.contains("${") => format!(
            "`{at}` is the interpolation `{s}`: override `{at}` itself, or the key it refers to"
        ),
        other => format!("`{at}` holds `{other}`, not a mapping or a list"),
    }
}

fn check_expected(ov: &Override, path: &KeyPath, current: &Value) -> ConfigResult<()> {
    match &ov.value {
        Some(expected) if expected != current => Err(ov.error(
            path,
            format!("the value is `{current}`, not `{expected}`: not deleted"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tree() -> Value {
        json!({
            "run": ["train", "val", "test"],
            "trainer": {"max_epochs": 1000},
            "data": {"test_dataset": [{"file_path": "a.lmdb"}], "test_dataloader": "${data.x}"},
        })
    }

    #[test]
    fn set_add_force_and_lists() {
        let mut t = tree();
        let out = apply_overrides(
            &mut t,
            &[
                "run=[val,test]",
                "++ckpt_path=/x/best.ckpt",
                "trainer.max_epochs=1",
                "data.test_dataset.0.file_path=F",
                "++data.test_dataset.0.file_path=G",
                "+trainer.devices=2",
                "++new.nested.key=${trainer.max_epochs}",
                "~trainer.devices",
                "hydra.run.dir=/tmp/run",
                "hydra.job.chdir=true",
            ],
        )
        .unwrap();
        assert_eq!(t["run"], json!(["val", "test"]));
        assert_eq!(t["ckpt_path"], json!("/x/best.ckpt"));
        assert_eq!(t["trainer"], json!({"max_epochs": 1}));
        assert_eq!(t["data"]["test_dataset"][0]["file_path"], json!("G"));
        assert_eq!(t["new"]["nested"]["key"], json!("${trainer.max_epochs}"));
        assert_eq!(out.run_dir.as_deref(), Some("/tmp/run"));
        assert_eq!(out.warnings.len(), 1);
        assert!(out.warnings[0].message.contains("hydra.job.chdir"));
    }

    #[test]
    fn hydra_rules_are_errors_naming_the_key() {
        let mut t = tree();
        let e = apply_overrides(&mut t, &["trainer.max_epoch=1"]).unwrap_err();
        assert_eq!(e.key, "trainer.max_epoch");
        assert!(e.message.contains("+trainer.max_epoch="), "{e}");
        let e = apply_overrides(&mut t, &["a.b=1"]).unwrap_err();
        assert_eq!(e.key, "a");
        let e = apply_overrides(&mut t, &["+trainer.max_epochs=1"]).unwrap_err();
        assert!(e.message.contains("already exists"), "{e}");
        let e = apply_overrides(&mut t, &["data.test_dataset.3.file_path=F"]).unwrap_err();
        assert!(e.message.contains("no index 3"), "{e}");
        let e = apply_overrides(&mut t, &["data.test_dataloader.batch_size=2"]).unwrap_err();
        assert!(e.message.contains("interpolation"), "{e}");
        let e = apply_overrides(&mut t, &["trainer"]).unwrap_err();
        assert!(e.message.contains("key=value"), "{e}");
        let e = apply_overrides(&mut t, &["~trainer.max_epochs=5"]).unwrap_err();
        assert!(e.message.contains("not deleted"), "{e}");
    }
}
