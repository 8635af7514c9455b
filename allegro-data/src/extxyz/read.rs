//! Streaming extxyz reader, compatible with what ASE writes.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::comment::{parse_bool, split_pairs};
use super::header::{HeaderParser, Property, Role};
use super::options::ReadOptions;
use crate::error::{Error, Origin, Result};
use crate::species::{Species, chemical_symbol};
use crate::structure::{Column, ColumnData, Labels, Structure};

/// Reads every frame of an extxyz file.
pub fn read_extxyz(path: impl AsRef<Path>, options: &ReadOptions) -> Result<Vec<Structure>> {
    open_extxyz(path, options)?.collect()
}

/// Reads every frame of extxyz text held in memory; `name` labels errors.
pub fn read_extxyz_str(text: &str, name: &str, options: &ReadOptions) -> Result<Vec<Structure>> {
    ExtxyzReader::new(text.as_bytes(), name, options.clone()).collect()
}

/// Opens a file for streaming: the returned iterator reads one frame at a time.
pub fn open_extxyz(
    path: impl AsRef<Path>,
    options: &ReadOptions,
) -> Result<ExtxyzReader<BufReader<File>>> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(ExtxyzReader::new(
        BufReader::with_capacity(1 << 20, file),
        &path.display().to_string(),
        options.clone(),
    ))
}

/// Iterator over the frames of an extxyz stream. After the first error it yields nothing
/// more (the stream position is then unknown).
pub struct ExtxyzReader<R> {
    reader: R,
    source: String,
    options: ReadOptions,
    line_no: usize,
    frame: usize,
    line: String,
    bytes_read: u64,
    done: bool,
}

impl<R: BufRead> ExtxyzReader<R> {
    /// Wraps a buffered reader; `source` names it in errors.
    pub fn new(reader: R, source: &str, options: ReadOptions) -> Self {
        ExtxyzReader {
            reader,
            source: source.to_string(),
            options,
            line_no: 0,
            frame: 0,
            line: String::new(),
            bytes_read: 0,
            done: false,
        }
    }

    /// Bytes consumed so far (for progress bars).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    fn err(&self, line: usize, message: impl Into<String>) -> Error {
        Error::Parse {
            source_name: self.source.clone(),
            frame: self.frame,
            line,
            message: message.into(),
        }
    }

    /// Reads the next line into `self.line` (without the line end); `false` at EOF.
    fn next_line(&mut self) -> Result<bool> {
        self.line.clear();
        let n = self
            .reader
            .read_line(&mut self.line)
            .map_err(|e| self.err(self.line_no + 1, format!("read error: {e}")))?;
        if n == 0 {
            return Ok(false);
        }
        self.bytes_read += n as u64;
        self.line_no += 1;
        while self.line.ends_with('\n') || self.line.ends_with('\r') {
            self.line.pop();
        }
        Ok(true)
    }

    fn read_frame(&mut self) -> Result<Option<Structure>> {
        // Atom count; blank lines are allowed only at the end of the file.
        loop {
            if !self.next_line()? {
                return Ok(None);
            }
            if !self.line.trim().is_empty() {
                break;
            }
        }
        let first_line = self.line_no;
        let count_text = self.line.trim();
        let n_atoms: usize = count_text.parse().map_err(|_| {
            self.err(
                first_line,
                format!("expected the number of atoms, found {count_text:?}"),
            )
        })?;

        if !self.next_line()? {
            return Err(self.err(
                first_line + 1,
                "file ends before the comment line (truncated)",
            ));
        }
        let comment_line = self.line_no;
        let header = std::mem::take(&mut self.line);
        let pairs = split_pairs(&header).map_err(|m| self.err(comment_line, m))?;
        let parser = HeaderParser {
            options: &self.options,
            source: &self.source,
            frame: self.frame,
        };
        let mut header_info = parser.parse_header(pairs, comment_line)?;
        let props = header_info.properties.clone();
        let roles = parser.assign_roles(&props, comment_line)?;
        let widths: Vec<usize> = props.iter().map(|p| p.width).collect();
        let total_cols: usize = widths.iter().sum();

        // The count line is untrusted: reserve for at most 2^16 atoms and let vectors grow
        // as lines actually arrive, so a corrupt count cannot exhaust memory up front.
        let reserve = n_atoms.min(1 << 16);
        let mut species = Vec::with_capacity(reserve);
        let mut positions = Vec::with_capacity(reserve);
        let mut forces: Option<Vec<[f64; 3]>> = None;
        let mut atomic_energies: Option<Vec<f64>> = None;
        let mut extras: Vec<Column> = props
            .iter()
            .zip(&roles)
            .filter(|(_, role)| matches!(role, Role::Extra(_)))
            .map(|(p, _)| empty_column(p, reserve))
            .collect();
        for role in &roles {
            match role {
                Role::Forces => forces = Some(Vec::with_capacity(reserve)),
                Role::AtomicEnergies => atomic_energies = Some(Vec::with_capacity(reserve)),
                _ => {}
            }
        }

        for atom in 0..n_atoms {
            if !self.next_line()? {
                return Err(self.err(
                    self.line_no + 1,
                    format!("file ends after {atom} of {n_atoms} atom lines (truncated)"),
                ));
            }
            let line_no = self.line_no;
            let line = std::mem::take(&mut self.line);
            // Count first so that a wrong column count is one clear message.
            let found = line.split_ascii_whitespace().count();
            if found != total_cols {
                return Err(self.err(
                    line_no,
                    format!("expected {total_cols} columns, found {found}"),
                ));
            }
            let mut tokens = line.split_ascii_whitespace();
            let mut col = 0usize;
            let mut take = || {
                col += 1;
                (col, tokens.next().unwrap_or(""))
            };
            for ((p, role), &w) in props.iter().zip(&roles).zip(&widths) {
                match role {
                    Role::Species | Role::AtomicNumber => {
                        let (_, t) = take();
                        species.push(self.species_of(role, t, line_no)?);
                    }
                    Role::Positions | Role::Forces => {
                        let mut v = [0.0; 3];
                        for x in &mut v {
                            let (c, t) = take();
                            *x = self.finite(t, &p.name, c, line_no)?;
                        }
                        if matches!(role, Role::Positions) {
                            positions.push(v);
                        } else if let Some(f) = forces.as_mut() {
                            f.push(v);
                        }
                    }
                    Role::AtomicEnergies => {
                        let (c, t) = take();
                        let e = self.finite(t, &p.name, c, line_no)?;
                        if let Some(a) = atomic_energies.as_mut() {
                            a.push(e);
                        }
                    }
                    Role::Extra(k) => {
                        for _ in 0..w {
                            let (c, t) = take();
                            self.push_extra(&mut extras[*k].data, t, c, &p.name, line_no)?;
                        }
                    }
                }
            }
            self.line = line;
        }

        let labels = Labels {
            energy: header_info.energy,
            forces,
            stress: header_info.stress,
            virial: header_info.virial,
            atomic_energies,
            info: std::mem::take(&mut header_info.info),
            arrays: extras,
        };
        let structure = Structure {
            species,
            positions,
            cell: header_info.cell,
            pbc: header_info.pbc,
            labels,
            origin: Some(Origin {
                source: self.source.clone(),
                frame: self.frame,
                line: first_line,
            }),
        };
        Ok(Some(structure))
    }

    /// The species of a `species` label or an atomic number `t`.
    fn species_of(&self, role: &Role, t: &str, line_no: usize) -> Result<Species> {
        if matches!(role, Role::Species) {
            return Species::new(t).ok_or_else(|| {
                self.err(
                    line_no,
                    format!("bad species label {t:?} (at most 15 bytes)"),
                )
            });
        }
        let z: u8 = t
            .parse()
            .map_err(|_| self.err(line_no, format!("bad atomic number {t:?}")))?;
        chemical_symbol(z)
            .and_then(Species::new)
            .ok_or_else(|| self.err(line_no, format!("atomic number {z} is not an element")))
    }

    /// Parses token `t` of column `col` (property `name`) into an extra column.
    fn push_extra(
        &self,
        data: &mut ColumnData,
        t: &str,
        col: usize,
        name: &str,
        line_no: usize,
    ) -> Result<()> {
        let bad = |what: &str| {
            self.err(
                line_no,
                format!("column {col} ({name}): {t:?} is not {what}"),
            )
        };
        match data {
            ColumnData::Real(v) => v.push(t.parse().map_err(|_| bad("a number"))?),
            ColumnData::Int(v) => v.push(t.parse().map_err(|_| bad("an integer"))?),
            ColumnData::Bool(v) => v.push(parse_bool(t).ok_or_else(|| bad("T or F"))?),
            ColumnData::Str(v) => v.push(t.to_string()),
        }
        Ok(())
    }

    fn finite(&self, t: &str, name: &str, col: usize, line: usize) -> Result<f64> {
        match t.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            Ok(_) => Err(self.err(line, format!("column {col} ({name}): {t:?} is not finite"))),
            Err(_) => Err(self.err(
                line,
                format!("column {col} ({name}): {t:?} is not a number"),
            )),
        }
    }
}

impl<R: BufRead> Iterator for ExtxyzReader<R> {
    type Item = Result<Structure>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_frame() {
            Ok(Some(s)) => {
                self.frame += 1;
                Some(Ok(s))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Reads everything from any reader (not only files), e.g. for fuzzing.
pub fn read_extxyz_from(
    reader: impl Read,
    name: &str,
    options: &ReadOptions,
) -> Result<Vec<Structure>> {
    ExtxyzReader::new(BufReader::new(reader), name, options.clone()).collect()
}

/// An empty extra column for property `p`, with room for `reserve` atoms (capped: the
/// atom count it comes from is untrusted).
fn empty_column(p: &Property, reserve: usize) -> Column {
    let room = reserve.saturating_mul(p.width).min(1 << 20);
    Column {
        name: p.name.clone(),
        width: p.width,
        data: match p.kind {
            'R' => ColumnData::Real(Vec::with_capacity(room)),
            'I' => ColumnData::Int(Vec::with_capacity(room)),
            'L' => ColumnData::Bool(Vec::with_capacity(room)),
            _ => ColumnData::Str(Vec::with_capacity(room)),
        },
    }
}
