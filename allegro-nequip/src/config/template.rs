//! The text of a string that holds `${...}`: literal text, node references
//! (`${data.val_dataloader}`, relative `${.sibling}`) and resolver calls
//! (`${oc.env:VAR,default}`, `${hydra:runtime.output_dir}`), nested as OmegaConf nests
//! them (`${oc.env:A,${b}}`). `\${` is a literal `${`.

use super::override_value::split_top_level;

/// A part of an interpolated string.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Piece {
    /// Literal text.
    Text(String),
    /// `${path}`: the node at `path` (absolute dotted, or relative with leading dots).
    Node(String),
    /// `${name:arg,arg}`: a resolver call.
    Call {
        /// The resolver, e.g. `oc.env`.
        name: String,
        /// Its arguments.
        args: Vec<Arg>,
    },
}

/// A resolver argument: quoted text is always a string; unquoted text is read as a
/// primitive (`null`, numbers, booleans) unless it holds interpolations.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Arg {
    /// Whether it was written in quotes.
    pub quoted: bool,
    /// Its parts.
    pub pieces: Vec<Piece>,
}

/// Whether `s` holds an interpolation to resolve (an escaped `\${` does not count).
pub(crate) fn has_interpolation(s: &str) -> bool {
    s.match_indices("${")
        .any(|(i, _)| i == 0 || s.as_bytes()[i - 1] != b'\\')
}

/// Splits `s` into pieces.
pub(crate) fn parse_template(s: &str) -> Result<Vec<Piece>, String> {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let at = |k: usize| chars.get(k).map(|&(_, c)| c);
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut k = 0;
    while k < chars.len() {
        let c = chars[k].1;
        if c == '\\' && at(k + 1) == Some('$') && at(k + 2) == Some('{') {
            text.push('$');
            k += 2;
            continue;
        }
        if c == '$' && at(k + 1) == Some('{') {
            let close =
                matching_close(&chars, k + 2).ok_or_else(|| format!("unclosed `${{` in `{s}`"))?;
            let inner = &s[chars[k + 2].0.min(s.len())..chars[close].0];
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(parse_inner(inner).map_err(|e| format!("{e} in `{s}`"))?);
            k = close + 1;
            continue;
        }
        text.push(c);
        k += 1;
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// The index of the `}` closing a `${` whose content starts at `start`.
fn matching_close(chars: &[(usize, char)], start: usize) -> Option<usize> {
    let mut depth = 1;
    let mut quote: Option<char> = None;
    let mut k = start;
    while k < chars.len() {
        let c = chars[k].1;
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '$' if chars.get(k + 1).map(|x| x.1) == Some('{') => {
                    depth += 1;
                    k += 1;
                }
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(k);
                    }
                }
                _ => {}
            },
        }
        k += 1;
    }
    None
}

/// The content of one `${...}`.
fn parse_inner(inner: &str) -> Result<Piece, String> {
    let colon = split_top_level(inner, ':')?;
    if colon.len() > 1 {
        let name = colon[0].trim();
        if name.is_empty() {
            return Err(format!("resolver without a name: `${{{inner}}}`"));
        }
        let rest = &inner[colon[0].len() + 1..];
        let args = if rest.trim().is_empty() {
            Vec::new()
        } else {
            split_top_level(rest, ',')?
                .into_iter()
                .map(parse_arg)
                .collect::<Result<_, _>>()?
        };
        return Ok(Piece::Call {
            name: name.to_string(),
            args,
        });
    }
    let path = inner.trim();
    if path.is_empty() {
        return Err("empty interpolation `${}`".to_string());
    }
    if path.contains("${") {
        return Err(format!(
            "a key path built from an interpolation (`${{{path}}}`) is not supported"
        ));
    }
    Ok(Piece::Node(path.to_string()))
}

fn parse_arg(arg: &str) -> Result<Arg, String> {
    let t = arg.trim();
    for q in ['\'', '"'] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return Ok(Arg {
                quoted: true,
                pieces: vec![Piece::Text(t[1..t.len() - 1].to_string())],
            });
        }
    }
    Ok(Arg {
        quoted: false,
        pieces: parse_template(t)?,
    })
}

/// Every node path referenced in `pieces`, resolver arguments included.
pub(crate) fn node_refs(pieces: &[Piece]) -> Vec<String> {
    let mut out = Vec::new();
    for p in pieces {
        match p {
            Piece::Text(_) => {}
            Piece::Node(path) => out.push(path.clone()),
            Piece::Call { args, .. } => {
                for a in args {
                    out.extend(node_refs(&a.pieces));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Piece {
        Piece::Text(s.into())
    }

    #[test]
    fn pieces_of_nequip_strings() {
        assert_eq!(
            parse_template("${chemical_symbols}").unwrap(),
            vec![Piece::Node("chemical_symbols".into())]
        );
        assert_eq!(
            parse_template("${hydra:runtime.output_dir}/test").unwrap(),
            vec![
                Piece::Call {
                    name: "hydra".into(),
                    args: vec![Arg {
                        quoted: false,
                        pieces: vec![text("runtime.output_dir")]
                    }]
                },
                text("/test")
            ]
        );
        let nested = parse_template("x${oc.env:HOME,${a.b}}y").unwrap();
        assert_eq!(nested.len(), 3);
        assert_eq!(node_refs(&nested), vec!["a.b".to_string()]);
        let Piece::Call { args, .. } = &parse_template("${oc.env:V,'a,b'}").unwrap()[0] else {
            panic!("not a call")
        };
        assert_eq!(args[1].pieces, vec![text("a,b")]);
        assert!(args[1].quoted);
        assert_eq!(parse_template(r"\${a}").unwrap(), vec![text("${a}")]);
        assert!(!has_interpolation(r"\${a}"));
        assert!(has_interpolation("a${b}"));
        assert!(parse_template("${a").is_err());
        assert!(parse_template("${}").is_err());
        assert!(parse_template("${a.${b}}").is_err());
    }
}
