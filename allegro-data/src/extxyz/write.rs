//! extxyz writer. Numbers are written in Rust's shortest round-trip form (`{:?}` of
//! `f64`), so reading the file back gives bit-identical values.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::structure::{ColumnData, InfoValue, Mat3, Structure};

/// Key names for the labels when writing.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// Comment-line key of the total energy (default `energy`, as ASE writes).
    pub energy_key: String,
    /// Column of the forces (default `forces`).
    pub forces_key: String,
    /// Key of the 3×3 stress (default `stress`).
    pub stress_key: String,
    /// Key of the 3×3 virial (default `virial`).
    pub virial_key: String,
    /// Column of per-atom energies (default `energies`).
    pub atomic_energies_key: String,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            energy_key: "energy".into(),
            forces_key: "forces".into(),
            stress_key: "stress".into(),
            virial_key: "virial".into(),
            atomic_energies_key: "energies".into(),
        }
    }
}

/// Writes structures to a file (created or truncated).
pub fn write_extxyz(
    path: impl AsRef<Path>,
    structures: &[Structure],
    options: &WriteOptions,
) -> Result<()> {
    let path = path.as_ref();
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = BufWriter::new(file);
    let mut text = String::new();
    for s in structures {
        text.clear();
        format_frame(&mut text, s, options)?;
        w.write_all(text.as_bytes())
            .map_err(|e| Error::io(path, e))?;
    }
    w.flush().map_err(|e| Error::io(path, e))
}

/// Writes structures to a string.
pub fn write_extxyz_string(structures: &[Structure], options: &WriteOptions) -> Result<String> {
    let mut text = String::new();
    for s in structures {
        format_frame(&mut text, s, options)?;
    }
    Ok(text)
}

/// Appends one frame (count line, comment line, atom lines) to `out`.
pub fn format_frame(out: &mut String, s: &Structure, options: &WriteOptions) -> Result<()> {
    s.validate()?;
    let l = &s.labels;
    let reserved = [
        "Lattice",
        "Properties",
        "pbc",
        options.energy_key.as_str(),
        options.stress_key.as_str(),
        options.virial_key.as_str(),
    ];
    if let Some(k) = l.info.keys().find(|k| reserved.contains(&k.as_str())) {
        return Err(Error::InvalidStructure {
            origin: s.describe(),
            message: format!(
                "info key {k:?} collides with a key the writer uses; rename it or change WriteOptions"
            ),
        });
    }
    let n = s.n_atoms();
    let _ = writeln!(out, "{n}");
    if let Some(c) = &s.cell {
        let _ = write!(out, "Lattice=\"{}\" ", join_mat(c));
    }
    out.push_str("Properties=species:S:1:pos:R:3");
    if l.forces.is_some() {
        let _ = write!(out, ":{}:R:3", options.forces_key);
    }
    if l.atomic_energies.is_some() {
        let _ = write!(out, ":{}:R:1", options.atomic_energies_key);
    }
    for col in &l.arrays {
        let kind = match col.data {
            ColumnData::Real(_) => 'R',
            ColumnData::Int(_) => 'I',
            ColumnData::Bool(_) => 'L',
            ColumnData::Str(_) => 'S',
        };
        let _ = write!(out, ":{}:{kind}:{}", col.name, col.width);
    }
    if let Some(e) = l.energy {
        let _ = write!(out, " {}={e:?}", options.energy_key);
    }
    if let Some(m) = &l.stress {
        let _ = write!(out, " {}=\"{}\"", options.stress_key, join_mat(m));
    }
    if let Some(m) = &l.virial {
        let _ = write!(out, " {}=\"{}\"", options.virial_key, join_mat(m));
    }
    for (k, v) in &l.info {
        out.push(' ');
        write_text(out, k);
        out.push('=');
        write_value(out, v);
    }
    let b = |x: bool| if x { 'T' } else { 'F' };
    let _ = writeln!(
        out,
        " pbc=\"{} {} {}\"",
        b(s.pbc[0]),
        b(s.pbc[1]),
        b(s.pbc[2])
    );

    for i in 0..n {
        let p = s.positions[i];
        let _ = write!(out, "{} {:?} {:?} {:?}", s.species[i], p[0], p[1], p[2]);
        if let Some(f) = &l.forces {
            let _ = write!(out, " {:?} {:?} {:?}", f[i][0], f[i][1], f[i][2]);
        }
        if let Some(e) = &l.atomic_energies {
            let _ = write!(out, " {:?}", e[i]);
        }
        for col in &l.arrays {
            let r = i * col.width..(i + 1) * col.width;
            match &col.data {
                ColumnData::Real(v) => v[r].iter().for_each(|x| {
                    let _ = write!(out, " {x:?}");
                }),
                ColumnData::Int(v) => v[r].iter().for_each(|x| {
                    let _ = write!(out, " {x}");
                }),
                ColumnData::Bool(v) => v[r].iter().for_each(|&x| {
                    let _ = write!(out, " {}", b(x));
                }),
                ColumnData::Str(v) => v[r].iter().for_each(|x| {
                    let _ = write!(out, " {x}");
                }),
            }
        }
        out.push('\n');
    }
    Ok(())
}

fn join_mat(m: &Mat3) -> String {
    m.iter()
        .flatten()
        .map(|x| format!("{x:?}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes text bare when it reads back as itself, else double-quoted with escapes.
fn write_text(out: &mut String, s: &str) {
    let bare = !s.is_empty()
        && !s.chars().any(|c| {
            c.is_whitespace() || matches!(c, '"' | '=' | '\\' | '[' | ']' | '{' | '}' | ',')
        });
    if bare {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_value(out: &mut String, v: &InfoValue) {
    let b = |x: bool| if x { "T" } else { "F" };
    // One-element arrays use the bracket form, which always reads back as an array.
    fn list<T>(out: &mut String, v: &[T], f: impl Fn(&T) -> String) {
        let items: Vec<String> = v.iter().map(f).collect();
        if items.len() == 1 || items.is_empty() {
            let _ = write!(out, "[{}]", items.join(", "));
        } else {
            let _ = write!(out, "\"{}\"", items.join(" "));
        }
    }
    match v {
        InfoValue::Int(x) => {
            let _ = write!(out, "{x}");
        }
        InfoValue::Real(x) => {
            let _ = write!(out, "{x:?}");
        }
        InfoValue::Bool(x) => out.push_str(b(*x)),
        InfoValue::Str(s) => write_text(out, s),
        InfoValue::IntArray(v) => list(out, v, |x| x.to_string()),
        InfoValue::RealArray(v) => list(out, v, |x| format!("{x:?}")),
        InfoValue::BoolArray(v) => list(out, v, |&x| b(x).to_string()),
    }
}
