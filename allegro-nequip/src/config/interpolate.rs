//! `${...}` interpolation as OmegaConf does it.
//!
//! - A string that is exactly one `${path}` becomes the referenced node's value with its
//!   type (list, mapping, number, ...): `model_type_names: ${chemical_symbols}`.
//! - Interpolations inside a longer string are concatenated as text
//!   (`${hydra:runtime.output_dir}/test`); numbers print as written, booleans and null
//!   as Python prints them (`True`, `None`), as OmegaConf's `str()` does.
//! - Paths are absolute dotted paths from the root with list indices (`a.0.b`, `a[0].b`),
//!   or relative to the node's container with leading dots (`${.sibling}`,
//!   `${..uncle}`).
//! - Referenced nodes holding interpolations are resolved first, recursively, including
//!   paths that pass through an interpolated node
//!   (`${data.test_dataloader.batch_size}` with `test_dataloader: ${data.val_dataloader}`).
//! - A cycle is an error naming the chain (`a -> b -> a`).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::error::{ConfigError, ConfigResult};
use super::key_path::{KeyPath, lookup, step};
use super::override_value::primitive;
use super::resolvers::{self, ResolveContext};
use super::stats;
use super::template::{Arg, Piece, has_interpolation, parse_template};

/// The tree with every interpolation resolved; `${training_data_stats:NAME}` becomes a
/// [`stats::placeholder`].
pub fn resolve(raw: &Value, ctx: &ResolveContext) -> ConfigResult<Value> {
    Interpolator::new(raw, ctx).resolve_at(&KeyPath::root())
}

/// `text` resolved as if it were the value at `at` in `raw` (used for the run directory,
/// which must be known before the rest of the tree is resolved).
pub fn resolve_string(
    raw: &Value,
    text: &str,
    at: &KeyPath,
    ctx: &ResolveContext,
) -> ConfigResult<Value> {
    Interpolator::new(raw, ctx).eval_string(text, at)
}

/// The absolute path a node reference written at `at` points to (not yet checked against
/// the tree).
pub(crate) fn target_path(text: &str, at: &KeyPath) -> Result<KeyPath, String> {
    let dots = text.chars().take_while(|&c| c == '.').count();
    let rest = KeyPath::parse(&text[dots..])?;
    let mut base = KeyPath::root();
    if dots > 0 {
        // One dot: the container of the node; each further dot goes one level up.
        base = at.clone();
        for _ in 0..dots {
            base = base
                .parent()
                .ok_or_else(|| format!("`${{{text}}}` goes above the root"))?;
        }
    }
    Ok(base.join(&rest))
}

struct Interpolator<'a> {
    root: &'a Value,
    ctx: &'a ResolveContext,
    cache: HashMap<KeyPath, Value>,
    /// Nodes being resolved, outermost first: a node met again is a cycle.
    stack: Vec<KeyPath>,
}

impl<'a> Interpolator<'a> {
    fn new(root: &'a Value, ctx: &'a ResolveContext) -> Self {
        Interpolator {
            root,
            ctx,
            cache: HashMap::new(),
            stack: Vec::new(),
        }
    }

    /// The resolved value of the raw node at canonical `path`.
    fn resolve_at(&mut self, path: &KeyPath) -> ConfigResult<Value> {
        if let Some(v) = self.cache.get(path) {
            return Ok(v.clone());
        }
        if let Some(pos) = self.stack.iter().position(|p| p == path) {
            let chain: Vec<String> = self.stack[pos..]
                .iter()
                .chain(std::iter::once(path))
                .map(ToString::to_string)
                .collect();
            return Err(ConfigError::new(
                path,
                format!("interpolation cycle: {}", chain.join(" -> ")),
            ));
        }
        let node = lookup(self.root, path).ok_or_else(|| ConfigError::new(path, "no such key"))?;
        self.stack.push(path.clone());
        let out = match node {
            Value::String(s) if has_interpolation(s) => self.eval_string(s, path),
            Value::Object(m) => {
                let mut out = Map::new();
                let mut result = Ok(());
                for k in m.keys() {
                    match self.resolve_at(&path.child(k)) {
                        Ok(v) => {
                            out.insert(k.clone(), v);
                        }
                        Err(e) => {
                            result = Err(e);
                            break;
                        }
                    }
                }
                result.map(|()| Value::Object(out))
            }
            Value::Array(a) => (0..a.len())
                .map(|i| self.resolve_at(&path.item(i)))
                .collect::<ConfigResult<Vec<_>>>()
                .map(Value::Array),
            Value::String(s) => Ok(Value::String(unescape(s))),
            other => Ok(other.clone()),
        };
        self.stack.pop();
        let out = out?;
        self.cache.insert(path.clone(), out.clone());
        Ok(out)
    }

    fn eval_string(&mut self, s: &str, at: &KeyPath) -> ConfigResult<Value> {
        let pieces = parse_template(s).map_err(|e| ConfigError::new(at, e))?;
        self.eval_pieces(&pieces, at)
    }

    /// One non-text piece keeps its type; anything else is concatenated text.
    fn eval_pieces(&mut self, pieces: &[Piece], at: &KeyPath) -> ConfigResult<Value> {
        if let [one] = pieces
            && !matches!(one, Piece::Text(_))
        {
            return self.eval_piece(one, at);
        }
        let mut out = String::new();
        for p in pieces {
            let v = self.eval_piece(p, at)?;
            out.push_str(&concat_text(&v, at)?);
        }
        Ok(Value::String(out))
    }

    fn eval_piece(&mut self, piece: &Piece, at: &KeyPath) -> ConfigResult<Value> {
        match piece {
            Piece::Text(t) => Ok(Value::String(t.clone())),
            Piece::Node(text) => self.resolve_ref(text, at),
            Piece::Call { name, args } => {
                let args = args
                    .iter()
                    .map(|a| self.eval_arg(a, at))
                    .collect::<ConfigResult<Vec<_>>>()?;
                resolvers::call(name, &args, self.ctx, at)
            }
        }
    }

    fn eval_arg(&mut self, arg: &Arg, at: &KeyPath) -> ConfigResult<Value> {
        if arg.pieces.iter().all(|p| matches!(p, Piece::Text(_))) {
            let text: String = arg
                .pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.as_str(),
                    _ => "",
                })
                .collect();
            return Ok(if arg.quoted {
                Value::String(text)
            } else {
                primitive(&text)
            });
        }
        self.eval_pieces(&arg.pieces, at)
    }

    /// The value `${text}` written at `at` refers to.
    fn resolve_ref(&mut self, text: &str, at: &KeyPath) -> ConfigResult<Value> {
        let err = |m: String| ConfigError::new(at, format!("interpolation `${{{text}}}`: {m}"));
        let target = target_path(text, at).map_err(err)?;
        let mut cur: &'a Value = self.root;
        let mut canon = KeyPath::root();
        for (i, comp) in target.comps().iter().enumerate() {
            if let Value::String(s) = cur
                && has_interpolation(s)
            {
                // The path goes through an interpolated node: resolve it, walk the rest
                // in its (already resolved) value.
                let mut v = self.resolve_at(&canon)?;
                for c in &target.comps()[i..] {
                    let next = step(&v, c).map(|(child, canon_c)| (child.clone(), canon_c));
                    match next {
                        Some((child, c)) => {
                            v = child;
                            canon = canon.with(c);
                        }
                        None => return Err(err(format!("`{canon}` has no `{}`", show(c)))),
                    }
                }
                return Ok(v);
            }
            match step(cur, comp) {
                Some((child, c)) => {
                    cur = child;
                    canon = canon.with(c);
                }
                None if canon.is_root() => {
                    return Err(err(format!("no top-level key `{}`", show(comp))));
                }
                None => return Err(err(format!("`{canon}` has no `{}`", show(comp)))),
            }
        }
        self.resolve_at(&canon)
    }
}

fn show(c: &super::key_path::PathComp) -> String {
    match c {
        super::key_path::PathComp::Key(k) => k.clone(),
        super::key_path::PathComp::Index(i) => i.to_string(),
    }
}

/// A plain string with `\${` escapes: the backslash goes.
fn unescape(s: &str) -> String {
    s.replace("\\${", "${")
}

/// How a value reads inside a longer string (Python's `str()` for scalars).
fn concat_text(v: &Value, at: &KeyPath) -> ConfigResult<String> {
    if let Some(name) = stats::placeholder_name(v) {
        return Err(ConfigError::new(
            at,
            format!(
                "`${{training_data_stats:{name}}}` is only known after reading the data: it must be a whole value, not part of a string"
            ),
        ));
    }
    Ok(match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        Value::Array(_) | Value::Object(_) => {
            return Err(ConfigError::new(
                at,
                "a list or mapping cannot be part of a longer string",
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::SystemTime;

    use super::*;
    use serde_json::json;

    fn ctx() -> ResolveContext {
        ResolveContext {
            run_dir: Some(PathBuf::from("/runs/r1")),
            run_dir_text: Some("runs/r1".into()),
            cwd: PathBuf::from("/work"),
            env: [("HOME".to_string(), "/home/me".to_string())].into(),
            now: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn whole_values_keep_their_type_and_strings_concatenate() {
        let raw = json!({
            "chemical_symbols": ["H", "C"],
            "model_type_names": "${chemical_symbols}",
            "cutoff": 6.0,
            "flag": true,
            "data": {
                "train_dataloader": {"batch_size": "${batch}", "num_workers": 7},
                "val_dataloader": {"num_workers": "${data.train_dataloader.num_workers}",
                                   "batch_size": "${..train_dataloader.batch_size}"},
                "test_dataloader": "${data.val_dataloader}",
                "deep": "${data.test_dataloader.num_workers}",
                "sib": "${.deep}",
            },
            "batch": 8,
            "list": [{"x": 1}, "${list.0.x}", "${list[0]}"],
            "out": "${hydra:runtime.output_dir}/test",
            "text": "r=${cutoff} ${flag} ${nothing}",
            "nothing": null,
            "home": "${oc.env:HOME}",
            "dflt": "${oc.env:NOPE_NOT_SET,fallback}",
            "dnull": "${oc.env:NOPE_NOT_SET,null}",
            "decoded": "${oc.decode:'[1, 2]'}",
            "stat": "${training_data_stats:num_neighbors_mean}",
            "date": "${now:%Y-%m-%d}",
            "escaped": "\\${not.a.ref}",
        });
        let v = resolve(&raw, &ctx()).unwrap();
        assert_eq!(v["model_type_names"], json!(["H", "C"]));
        assert_eq!(
            v["data"]["val_dataloader"],
            json!({"num_workers": 7, "batch_size": 8})
        );
        assert_eq!(v["data"]["test_dataloader"], v["data"]["val_dataloader"]);
        assert_eq!(v["data"]["deep"], json!(7));
        assert_eq!(v["data"]["sib"], json!(7));
        assert_eq!(v["list"], json!([{"x": 1}, 1, {"x": 1}]));
        assert_eq!(v["out"], json!("/runs/r1/test"));
        assert_eq!(v["text"], json!("r=6.0 True None"));
        assert_eq!(v["home"], json!("/home/me"));
        assert_eq!(v["dflt"], json!("fallback"));
        assert_eq!(v["dnull"], Value::Null);
        assert_eq!(v["decoded"], json!([1, 2]));
        assert_eq!(
            stats::placeholder_name(&v["stat"]),
            Some("num_neighbors_mean")
        );
        assert_eq!(v["date"], json!("1970-01-01"));
        assert_eq!(v["escaped"], json!("${not.a.ref}"));
    }

    #[test]
    fn errors_name_the_key_and_the_problem() {
        let e = resolve(&json!({"a": "${b}", "b": {"c": "${a}"}}), &ctx()).unwrap_err();
        assert!(e.message.contains("cycle"), "{e}");
        assert!(e.message.contains("a -> b -> b.c -> a"), "{e}");
        let e = resolve(&json!({"x": {"y": "${x.z}"}}), &ctx()).unwrap_err();
        assert_eq!(e.key, "x.y");
        assert!(e.message.contains("`x` has no `z`"), "{e}");
        let e = resolve(&json!({"k": ["${oc.env:NOPE_NOT_SET}"]}), &ctx()).unwrap_err();
        assert_eq!(e.key, "k[0]");
        assert!(e.message.contains("NOPE_NOT_SET"), "{e}");
        let e = resolve(&json!({"k": "${frob:x}"}), &ctx()).unwrap_err();
        assert!(e.message.contains("unknown resolver `frob`"), "{e}");
        let e = resolve(&json!({"k": "a${training_data_stats:x}"}), &ctx()).unwrap_err();
        assert!(e.message.contains("whole value"), "{e}");
        let e = resolve(&json!({"l": [1], "k": "a${l}"}), &ctx()).unwrap_err();
        assert!(e.message.contains("longer string"), "{e}");
        let e = resolve(&json!({"k": "${hydra:job.name}"}), &ctx()).unwrap_err();
        assert!(e.message.contains("job.name"), "{e}");
    }
}
