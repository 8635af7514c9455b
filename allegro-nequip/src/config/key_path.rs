//! Key paths into a config tree: `data.test_dataset[0].file_path`.
//!
//! Written forms accepted: dotted (`a.b.0.c`, as Hydra overrides and OmegaConf
//! interpolations write list indices) and bracketed (`a.b[0].c`). A component made of
//! digits is a list index where the tree holds a list and a key where it holds a mapping,
//! so the path is made canonical while walking the tree ([`step`]).

use std::fmt;

use serde_json::Value;

/// One step of a key path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathComp {
    /// A mapping key (or, before walking the tree, a dotted component of digits).
    Key(String),
    /// A list index.
    Index(usize),
}

/// A path from the root of a config tree; the root itself is the empty path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPath(Vec<PathComp>);

impl KeyPath {
    /// The root.
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    /// Parses `a.b.0.c` or `a.b[0].c`; errors name the offending text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut comps = Vec::new();
        if text.is_empty() {
            return Ok(KeyPath(comps));
        }
        for part in text.split('.') {
            // `name[1][2]`: the name, then bracketed indices.
            let (name, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if name.is_empty() && rest.is_empty() {
                return Err(format!("empty component in key path `{text}`"));
            }
            if !name.is_empty() {
                comps.push(PathComp::Key(name.to_string()));
            }
            while !rest.is_empty() {
                let close = rest
                    .find(']')
                    .ok_or_else(|| format!("unclosed `[` in key path `{text}`"))?;
                let index = rest[1..close].trim().parse::<usize>().map_err(|_| {
                    format!("`{}` is not a list index in `{text}`", &rest[..=close])
                })?;
                comps.push(PathComp::Index(index));
                rest = &rest[close + 1..];
                if !rest.is_empty() && !rest.starts_with('[') {
                    return Err(format!("unexpected `{rest}` in key path `{text}`"));
                }
            }
        }
        Ok(KeyPath(comps))
    }

    /// The components.
    pub fn comps(&self) -> &[PathComp] {
        &self.0
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path of mapping key `key` below this one.
    pub fn child(&self, key: &str) -> Self {
        self.with(PathComp::Key(key.to_string()))
    }

    /// The path of list item `index` below this one.
    pub fn item(&self, index: usize) -> Self {
        self.with(PathComp::Index(index))
    }

    /// This path extended by `comp`.
    pub fn with(&self, comp: PathComp) -> Self {
        let mut comps = self.0.clone();
        comps.push(comp);
        KeyPath(comps)
    }

    /// The enclosing path (`None` at the root).
    pub fn parent(&self) -> Option<Self> {
        let (_, head) = self.0.split_last()?;
        Some(KeyPath(head.to_vec()))
    }

    /// The last component.
    pub fn last(&self) -> Option<&PathComp> {
        self.0.last()
    }

    /// The first component when it is a mapping key (a top-level key).
    pub fn first_key(&self) -> Option<&str> {
        match self.0.first() {
            Some(PathComp::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// Whether `prefix` is this path or one of its ancestors.
    pub fn starts_with(&self, prefix: &KeyPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// `other`'s components appended to this path.
    pub fn join(&self, other: &KeyPath) -> Self {
        let mut comps = self.0.clone();
        comps.extend(other.0.iter().cloned());
        KeyPath(comps)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("<root>");
        }
        for (i, c) in self.0.iter().enumerate() {
            match c {
                PathComp::Key(k) if i == 0 => f.write_str(k)?,
                PathComp::Key(k) => write!(f, ".{k}")?,
                PathComp::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The child of `v` at `comp`, with the canonical component (an index where `v` is a
/// list): `None` when there is no such child.
pub(crate) fn step<'a>(v: &'a Value, comp: &PathComp) -> Option<(&'a Value, PathComp)> {
    match (v, comp) {
        (Value::Object(m), PathComp::Key(k)) => m.get(k).map(|c| (c, comp.clone())),
        (Value::Object(m), PathComp::Index(i)) => {
            let k = i.to_string();
            m.get(&k).map(|c| (c, PathComp::Key(k)))
        }
        (Value::Array(a), PathComp::Index(i)) => a.get(*i).map(|c| (c, PathComp::Index(*i))),
        (Value::Array(a), PathComp::Key(k)) => {
            let i = k.parse::<usize>().ok()?;
            a.get(i).map(|c| (c, PathComp::Index(i)))
        }
        _ => None,
    }
}

/// The node at a canonical `path` of `root`.
pub(crate) fn lookup<'a>(root: &'a Value, path: &KeyPath) -> Option<&'a Value> {
    let mut cur = root;
    for c in path.comps() {
        cur = step(cur, c)?.0;
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_display_round_trip() {
        let p = KeyPath::parse("training_module.val_metrics.metrics[6].per_type").unwrap();
        assert_eq!(
            p.to_string(),
            "training_module.val_metrics.metrics[6].per_type"
        );
        let dotted = KeyPath::parse("data.test_dataset.0.file_path").unwrap();
        assert_eq!(dotted.comps()[2], PathComp::Key("0".into()));
        assert!(KeyPath::parse("a..b").is_err());
        assert!(KeyPath::parse("a[x]").is_err());
        assert_eq!(KeyPath::root().to_string(), "<root>");
    }

    #[test]
    fn digits_index_lists_and_key_mappings() {
        let tree = json!({"a": [{"b": 1}], "m": {"0": "zero"}});
        let p = KeyPath::parse("a.0.b").unwrap();
        assert_eq!(lookup(&tree, &p), Some(&json!(1)));
        let (a, _) = step(&tree, &PathComp::Key("a".into())).unwrap();
        let (item, c) = step(a, &PathComp::Key("0".into())).unwrap();
        assert_eq!(c, PathComp::Index(0));
        assert_eq!(item, &json!({"b": 1}));
        let (m, _) = step(&tree, &PathComp::Key("m".into())).unwrap();
        assert_eq!(step(m, &PathComp::Index(0)).unwrap().0, &json!("zero"));
    }
}
