//! The comment (second) line of an extxyz frame: `key=value` pairs as ASE writes them.
//!
//! Grammar, following ASE's `key_val_str_to_dict`: pairs are separated by whitespace;
//! a key may be quoted; `=` may have spaces around it; a value is a `"double-quoted"`
//! string (with `\"` and `\\` escapes), a `{...}` or `[...]` group, or a bare token; a key
//! without `=` means `True`.

use crate::structure::InfoValue;

/// A value as written: its text and how it was delimited.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RawValue {
    pub text: String,
    /// `true` for `[...]` (JSON-like list), which always means an array.
    pub bracket: bool,
    /// `true` for a bare key with no `=` (means `True`).
    pub bare_flag: bool,
}

/// Splits a comment line into `(key, value)` pairs in order. `Err` says what is wrong and
/// at which byte.
pub(crate) fn split_pairs(line: &str) -> Result<Vec<(String, RawValue)>, String> {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= chars.len() {
            return Ok(out);
        }
        let key = if chars[i] == '"' {
            read_quoted(&chars, &mut i)?
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '=' {
                if chars[i] == '"' {
                    return Err(format!("stray quote in key at character {}", i + 1));
                }
                i += 1;
            }
            chars[start..i].iter().collect()
        };
        let after_key = i;
        skip_ws(&mut i);
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            skip_ws(&mut i);
            if i >= chars.len() {
                return Err(format!("key {key:?} has '=' but no value"));
            }
            let value = match chars[i] {
                '"' => RawValue {
                    text: read_quoted(&chars, &mut i)?,
                    bracket: false,
                    bare_flag: false,
                },
                '{' | '[' => {
                    let close = if chars[i] == '{' { '}' } else { ']' };
                    let bracket = chars[i] == '[';
                    let start = i + 1;
                    let mut depth = 0usize;
                    loop {
                        if i >= chars.len() {
                            return Err(format!("value of {key:?} has no closing {close:?}"));
                        }
                        if chars[i] == chars[start - 1] {
                            depth += 1;
                        } else if chars[i] == close {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        i += 1;
                    }
                    let text = chars[start..i].iter().collect();
                    i += 1;
                    RawValue {
                        text,
                        bracket,
                        bare_flag: false,
                    }
                }
                _ => {
                    let start = i;
                    while i < chars.len() && !chars[i].is_whitespace() {
                        i += 1;
                    }
                    RawValue {
                        text: chars[start..i].iter().collect(),
                        bracket: false,
                        bare_flag: false,
                    }
                }
            };
            out.push((key, value));
        } else {
            i = after_key;
            out.push((
                key,
                RawValue {
                    text: String::new(),
                    bracket: false,
                    bare_flag: true,
                },
            ));
        }
    }
}

fn read_quoted(chars: &[char], i: &mut usize) -> Result<String, String> {
    let open = *i;
    *i += 1;
    let mut s = String::new();
    while *i < chars.len() {
        match chars[*i] {
            '\\' if *i + 1 < chars.len() => {
                let c = chars[*i + 1];
                s.push(match c {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
                *i += 2;
            }
            '"' => {
                *i += 1;
                return Ok(s);
            }
            c => {
                s.push(c);
                *i += 1;
            }
        }
    }
    Err(format!("unclosed quote starting at character {}", open + 1))
}

/// Parses an extxyz boolean: `T`, `F`, `True`, `False` (any case of the long forms).
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "T" | "True" | "true" | "TRUE" => Some(true),
        "F" | "False" | "false" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Turns a raw value into an [`InfoValue`] the way ASE does: integers, then reals, then
/// booleans, else text; several whitespace-separated items give an array.
pub(crate) fn interpret(raw: &RawValue) -> InfoValue {
    if raw.bare_flag {
        return InfoValue::Bool(true);
    }
    let tokens: Vec<&str> = if raw.bracket {
        raw.text
            .split(',')
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .collect()
    } else {
        raw.text.split_whitespace().collect()
    };
    if tokens.len() == 1 && !raw.bracket {
        let t = tokens[0];
        if let Ok(v) = t.parse::<i64>() {
            return InfoValue::Int(v);
        }
        if let Ok(v) = t.parse::<f64>() {
            return InfoValue::Real(v);
        }
        if let Some(b) = parse_bool(t) {
            return InfoValue::Bool(b);
        }
        return InfoValue::Str(raw.text.clone());
    }
    if raw.bracket && tokens.is_empty() {
        return InfoValue::RealArray(Vec::new());
    }
    if !tokens.is_empty() {
        if let Ok(v) = tokens.iter().map(|t| t.parse::<i64>()).collect() {
            return InfoValue::IntArray(v);
        }
        if let Ok(v) = tokens.iter().map(|t| t.parse::<f64>()).collect() {
            return InfoValue::RealArray(v);
        }
        if let Some(v) = tokens.iter().map(|t| parse_bool(t)).collect() {
            return InfoValue::BoolArray(v);
        }
    }
    if raw.bracket {
        return InfoValue::Str(format!("[{}]", raw.text));
    }
    InfoValue::Str(raw.text.clone())
}

/// Parses whitespace-separated reals, for `Lattice`, `stress` and `virial`.
pub(crate) fn reals(raw: &RawValue) -> Option<Vec<f64>> {
    let text = if raw.bracket {
        raw.text.replace(',', " ")
    } else {
        raw.text.clone()
    };
    text.split_whitespace()
        .map(|t| t.parse::<f64>().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &str) -> Vec<(String, InfoValue)> {
        split_pairs(s)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, interpret(&v)))
            .collect()
    }

    #[test]
    fn ase_comment_line() {
        let p = pairs(
            r#"Lattice="1 0 0 0 1 0 0 0 1" Properties=species:S:1:pos:R:3 energy=-1.5 n=3 name=methane quoted="a \"b\"" flag pbc="T T F" v=[1, 2, 3] f = 2.5e-3"#,
        );
        assert_eq!(p[0].1, InfoValue::IntArray(vec![1, 0, 0, 0, 1, 0, 0, 0, 1]));
        assert_eq!(p[1].1, InfoValue::Str("species:S:1:pos:R:3".into()));
        assert_eq!(p[2].1, InfoValue::Real(-1.5));
        assert_eq!(p[3].1, InfoValue::Int(3));
        assert_eq!(p[4].1, InfoValue::Str("methane".into()));
        assert_eq!(p[5].1, InfoValue::Str("a \"b\"".into()));
        assert_eq!(p[6], ("flag".into(), InfoValue::Bool(true)));
        assert_eq!(p[7].1, InfoValue::BoolArray(vec![true, true, false]));
        assert_eq!(p[8].1, InfoValue::IntArray(vec![1, 2, 3]));
        assert_eq!(p[9], ("f".into(), InfoValue::Real(2.5e-3)));
    }

    #[test]
    fn malformed() {
        assert!(split_pairs(r#"a="unclosed"#).is_err());
        assert!(split_pairs("a=").is_err());
        assert!(split_pairs("a=[1, 2").is_err());
    }
}
