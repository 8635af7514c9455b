//! Typed reads from the resolved tree, each error naming the key path and what was
//! expected.

use serde_json::Value;

use super::error::{ConfigError, ConfigResult};
use super::key_path::KeyPath;
use super::stats;
use super::targets::{Role, Target};

/// A node of the resolved tree and where it is.
#[derive(Clone, Debug)]
pub(crate) struct Node<'a> {
    pub v: &'a Value,
    pub path: KeyPath,
}

impl<'a> Node<'a> {
    pub fn new(v: &'a Value, path: KeyPath) -> Self {
        Node { v, path }
    }

    pub fn err(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::new(&self.path, message)
    }

    /// Child `key`, present (even if null).
    pub fn get(&self, key: &str) -> Option<Node<'a>> {
        self.v
            .get(key)
            .filter(|_| self.v.is_object())
            .map(|c| Node::new(c, self.path.child(key)))
    }

    /// Child `key`, present and not null.
    pub fn opt(&self, key: &str) -> Option<Node<'a>> {
        self.get(key).filter(|n| !n.v.is_null())
    }

    /// Child `key`, which must be present and not null.
    pub fn req(&self, key: &str) -> ConfigResult<Node<'a>> {
        self.opt(key)
            .ok_or_else(|| ConfigError::new(self.path.child(key), "missing (required here)"))
    }

    fn expected(&self, what: &str) -> ConfigError {
        self.err(format!("expected {what}, found {}", describe(self.v)))
    }

    pub fn f64(&self) -> ConfigResult<f64> {
        self.v.as_f64().ok_or_else(|| self.expected("a number"))
    }

    pub fn u64(&self) -> ConfigResult<u64> {
        self.v
            .as_u64()
            .ok_or_else(|| self.expected("a non-negative integer"))
    }

    pub fn usize(&self) -> ConfigResult<usize> {
        usize::try_from(self.u64()?).map_err(|_| self.expected("a smaller integer"))
    }

    pub fn bool(&self) -> ConfigResult<bool> {
        self.v
            .as_bool()
            .ok_or_else(|| self.expected("true or false"))
    }

    pub fn str(&self) -> ConfigResult<&'a str> {
        self.v.as_str().ok_or_else(|| self.expected("a string"))
    }

    pub fn strings(&self) -> ConfigResult<Vec<String>> {
        self.list()?
            .iter()
            .map(|n| n.str().map(str::to_string))
            .collect()
    }

    pub fn list(&self) -> ConfigResult<Vec<Node<'a>>> {
        match self.v {
            Value::Array(a) => Ok(a
                .iter()
                .enumerate()
                .map(|(i, c)| Node::new(c, self.path.item(i)))
                .collect()),
            _ => Err(self.expected("a list")),
        }
    }

    /// The items of a list, or the node itself (nequip accepts one or a list).
    pub fn one_or_many(&self) -> Vec<Node<'a>> {
        self.list().unwrap_or_else(|_| vec![self.clone()])
    }

    pub fn target(&self, role: Role) -> ConfigResult<Target> {
        Target::of(self.v, &self.path, role)
    }

    pub fn f64_or(&self, key: &str, default: f64) -> ConfigResult<f64> {
        self.opt(key).map_or(Ok(default), |n| n.f64())
    }

    pub fn u64_or(&self, key: &str, default: u64) -> ConfigResult<u64> {
        self.opt(key).map_or(Ok(default), |n| n.u64())
    }

    pub fn bool_or(&self, key: &str, default: bool) -> ConfigResult<bool> {
        self.opt(key).map_or(Ok(default), |n| n.bool())
    }

    pub fn opt_f64(&self, key: &str) -> ConfigResult<Option<f64>> {
        self.opt(key).map(|n| n.f64()).transpose()
    }

    pub fn opt_string(&self, key: &str) -> ConfigResult<Option<String>> {
        self.opt(key)
            .map(|n| n.str().map(str::to_string))
            .transpose()
    }
}

/// A value in an error message: its kind and (short) text.
fn describe(v: &Value) -> String {
    if let Some(name) = stats::placeholder_name(v) {
        return format!(
            "`${{training_data_stats:{name}}}`, which is only known after reading the data \
             (only the model block can wait for it)"
        );
    }
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    };
    let mut text = v.to_string();
    if text.len() > 60 {
        let cut = (0..=60)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    format!("{kind} `{text}`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_reads_name_the_path() {
        let v = json!({"a": {"n": 8, "s": "x", "l": ["H", "C"], "z": null,
                              "st": stats::placeholder("forces_rms")}});
        let root = Node::new(&v, KeyPath::root());
        let a = root.req("a").unwrap();
        assert_eq!(a.req("n").unwrap().u64().unwrap(), 8);
        assert_eq!(a.req("n").unwrap().f64().unwrap(), 8.0);
        assert_eq!(a.req("l").unwrap().strings().unwrap(), vec!["H", "C"]);
        assert!(a.opt("z").is_none() && a.get("z").is_some());
        assert_eq!(a.f64_or("z", 1.5).unwrap(), 1.5);
        let e = a.req("s").unwrap().u64().unwrap_err();
        assert_eq!(e.key, "a.s");
        assert!(e.message.contains("a string `\"x\"`"), "{e}");
        let e = a.req("missing").unwrap_err();
        assert_eq!(e.key, "a.missing");
        let e = a.req("st").unwrap().f64().unwrap_err();
        assert!(e.message.contains("forces_rms"), "{e}");
        assert_eq!(a.req("s").unwrap().one_or_many().len(), 1);
    }
}
