//! Values on the Hydra command line (`key=VALUE`), and `${oc.decode:...}`.
//!
//! Hydra's grammar, not YAML's: `[a,b]` lists, `{k: v}` dicts, `'quoted'` and
//! `"quoted"` strings, `null`, `true`/`false` (any case), integers, floats (`1e-3`,
//! `.5`), and otherwise the text itself as a string. A value holding `${...}` stays a
//! string, to be interpolated with the rest of the tree (YAML would refuse `[${a},b]`).

use serde_json::{Map, Number, Value};

/// Parses one command-line value.
pub fn parse_value(text: &str) -> Result<Value, String> {
    let t = text.trim();
    if let Some(inner) = t.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| format!("unclosed `[` in `{text}`"))?;
        if inner.trim().is_empty() {
            return Ok(Value::Array(Vec::new()));
        }
        return split_top_level(inner, ',')?
            .into_iter()
            .map(|item| {
                if item.trim().is_empty() {
                    Err(format!("empty list item in `{text}`"))
                } else {
                    parse_value(item)
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if let Some(inner) = t.strip_prefix('{') {
        let inner = inner
            .strip_suffix('}')
            .ok_or_else(|| format!("unclosed `{{` in `{text}`"))?;
        let mut map = Map::new();
        for entry in split_top_level(inner, ',')? {
            if entry.trim().is_empty() {
                continue;
            }
            let parts = split_top_level(entry, ':')?;
            let (key, value) = match parts.split_first() {
                Some((k, rest)) if !rest.is_empty() => (k.trim(), entry[k.len() + 1..].trim()),
                _ => return Err(format!("`{entry}` in `{text}` is not `key: value`")),
            };
            map.insert(unquote(key).unwrap_or(key).to_string(), parse_value(value)?);
        }
        return Ok(Value::Object(map));
    }
    if let Some(s) = unquote(t) {
        return Ok(Value::String(s.to_string()));
    }
    Ok(primitive(t))
}

/// `'x'` or `"x"` without the quotes (escaped quotes kept as written).
fn unquote(t: &str) -> Option<&str> {
    for q in ['\'', '"'] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return Some(&t[1..t.len() - 1]);
        }
    }
    None
}

/// An unquoted scalar: null, bool, int, float or string.
pub(crate) fn primitive(t: &str) -> Value {
    if t.contains("${") {
        return Value::String(t.to_string());
    }
    match t.to_ascii_lowercase().as_str() {
        "null" => return Value::Null,
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t).replace('_', "");
    let numeral = digits
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.');
    if numeral {
        let signed = if t.starts_with('-') {
            format!("-{digits}")
        } else {
            digits.clone()
        };
        if let Ok(i) = signed.parse::<i64>() {
            return Value::Number(i.into());
        }
        if let Ok(u) = signed.parse::<u64>() {
            return Value::Number(u.into());
        }
        // Only finite floats: JSON has no infinity, and `inf` in a config is rare
        // enough to stay a string the typed layer complains about.
        if let Some(n) = signed.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(t.to_string())
}

/// Splits `s` at `sep` outside brackets, braces, `${...}` and quotes.
pub(crate) fn split_top_level(s: &str, sep: char) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut start = 0;
    let mut prev = '\0';
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q && prev != '\\' => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' | '{' => depth += 1,
                ']' | '}' => {
                    depth -= 1;
                    if depth < 0 {
                        return Err(format!("unbalanced `{c}` in `{s}`"));
                    }
                }
                _ if c == sep && depth == 0 => {
                    parts.push(&s[start..i]);
                    start = i + c.len_utf8();
                }
                _ => {}
            },
        }
        prev = c;
    }
    if depth != 0 || quote.is_some() {
        return Err(format!("unbalanced brackets or quotes in `{s}`"));
    }
    parts.push(&s[start..]);
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hydra_values() {
        assert_eq!(parse_value("[train,val]").unwrap(), json!(["train", "val"]));
        assert_eq!(
            parse_value("[ val , test ]").unwrap(),
            json!(["val", "test"])
        );
        assert_eq!(parse_value("[]").unwrap(), json!([]));
        assert_eq!(parse_value("null").unwrap(), Value::Null);
        assert_eq!(parse_value("1e-3").unwrap().as_f64(), Some(1e-3));
        assert_eq!(parse_value("-4").unwrap(), json!(-4));
        assert_eq!(parse_value("0.002").unwrap().as_f64(), Some(0.002));
        assert_eq!(parse_value("True").unwrap(), json!(true));
        assert_eq!(parse_value("/x/best.ckpt").unwrap(), json!("/x/best.ckpt"));
        assert_eq!(parse_value("'1'").unwrap(), json!("1"));
        assert_eq!(parse_value("\"a,b\"").unwrap(), json!("a,b"));
        assert_eq!(parse_value("").unwrap(), json!(""));
        assert_eq!(parse_value("1.2.3").unwrap(), json!("1.2.3"));
        assert_eq!(parse_value("inf").unwrap(), json!("inf"));
        assert_eq!(
            parse_value("${hydra:runtime.output_dir}/x").unwrap(),
            json!("${hydra:runtime.output_dir}/x")
        );
        assert_eq!(parse_value("${a.b}").unwrap(), json!("${a.b}"));
        assert_eq!(
            parse_value("[${a}, 2, [x]]").unwrap(),
            json!(["${a}", 2, ["x"]])
        );
        assert_eq!(
            parse_value("{a: 1, b: [x, y], 'c': ${d:e,f}}").unwrap(),
            json!({"a": 1, "b": ["x", "y"], "c": "${d:e,f}"})
        );
        assert!(parse_value("[a, b").is_err());
        assert!(parse_value("[a,,b]").is_err());
        assert!(parse_value("{a 1}").is_err());
    }
}
