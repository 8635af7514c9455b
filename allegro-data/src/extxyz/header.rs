//! The header of a frame: the comment line's `Lattice`, `pbc`, `Properties` and labels.

use std::collections::BTreeMap;

use super::comment::{RawValue, interpret, parse_bool, reals};
use super::options::ReadOptions;
use crate::error::{Error, Result};
use crate::neighbor::check_cell;
use crate::structure::{InfoValue, Mat3, voigt_to_matrix};

/// Most columns one `Properties` entry may have (guards arithmetic on corrupt input).
const MAX_COLUMN_WIDTH: usize = 1 << 16;

/// One column group of `Properties`.
#[derive(Clone, Debug)]
pub(super) struct Property {
    pub name: String,
    pub kind: char,
    pub width: usize,
}

/// Where each known quantity sits among the columns.
pub(super) enum Role {
    Species,
    AtomicNumber,
    Positions,
    Forces,
    AtomicEnergies,
    Extra(usize),
}

/// What the comment line says, labels already taken out of `info`.
pub(super) struct HeaderInfo {
    pub cell: Option<Mat3>,
    pub pbc: [bool; 3],
    pub properties: Vec<Property>,
    pub energy: Option<f64>,
    pub stress: Option<Mat3>,
    pub virial: Option<Mat3>,
    pub info: BTreeMap<String, InfoValue>,
}

/// Parses comment lines of one source with one set of options; errors name the source,
/// frame and line.
pub(super) struct HeaderParser<'a> {
    pub options: &'a ReadOptions,
    pub source: &'a str,
    pub frame: usize,
}

impl HeaderParser<'_> {
    fn err(&self, line: usize, message: impl Into<String>) -> Error {
        Error::Parse {
            source_name: self.source.to_string(),
            frame: self.frame,
            line,
            message: message.into(),
        }
    }

    pub fn parse_header(&self, pairs: Vec<(String, RawValue)>, line: usize) -> Result<HeaderInfo> {
        let mut cell = None;
        let mut pbc = None;
        let mut properties = None;
        let mut info = BTreeMap::new();
        let mut raw_reals: BTreeMap<String, Option<Vec<f64>>> = BTreeMap::new();
        for (key, raw) in pairs {
            match key.as_str() {
                "Lattice" => {
                    let v = reals(&raw)
                        .filter(|v| v.len() == 9 && v.iter().all(|x| x.is_finite()))
                        .ok_or_else(|| {
                            self.err(
                                line,
                                format!("Lattice must be 9 finite numbers, found {:?}", raw.text),
                            )
                        })?;
                    cell = Some([[v[0], v[1], v[2]], [v[3], v[4], v[5]], [v[6], v[7], v[8]]]);
                }
                "pbc" => {
                    let v: Option<Vec<bool>> =
                        raw.text.split_whitespace().map(parse_bool).collect();
                    let v = v.filter(|v| v.len() == 3).ok_or_else(|| {
                        self.err(
                            line,
                            format!("pbc must be three of T/F, found {:?}", raw.text),
                        )
                    })?;
                    pbc = Some([v[0], v[1], v[2]]);
                }
                "Properties" => properties = Some(self.parse_properties(&raw.text, line)?),
                _ => {
                    if self.is_label_key(&key) {
                        raw_reals.insert(key.clone(), reals(&raw));
                    }
                    if info.insert(key.clone(), interpret(&raw)).is_some() {
                        return Err(self.err(line, format!("key {key:?} appears twice")));
                    }
                }
            }
        }
        // ASE: a Lattice without pbc means periodic in all directions.
        let pbc = pbc.unwrap_or(if cell.is_some() {
            [true; 3]
        } else {
            [false; 3]
        });
        if pbc.iter().any(|&p| p) {
            let c = cell.ok_or_else(|| self.err(line, format!("pbc {pbc:?} but no Lattice")))?;
            check_cell(&c, pbc).map_err(|m| self.err(line, format!("singular Lattice: {m}")))?;
        }
        let properties = properties.unwrap_or_else(|| {
            vec![
                Property {
                    name: "species".into(),
                    kind: 'S',
                    width: 1,
                },
                Property {
                    name: "pos".into(),
                    kind: 'R',
                    width: 3,
                },
            ]
        });
        let mut h = HeaderInfo {
            cell,
            pbc,
            properties,
            energy: None,
            stress: None,
            virial: None,
            info,
        };
        if let Some(key) = self
            .options
            .energy_keys
            .iter()
            .find(|k| h.info.contains_key(*k))
            .cloned()
        {
            h.energy = Some(match h.info.remove(&key) {
                Some(InfoValue::Real(x)) if x.is_finite() => x,
                Some(InfoValue::Int(x)) => x as f64,
                other => {
                    return Err(self.err(
                        line,
                        format!("energy {key:?} must be a finite number, found {other:?}"),
                    ));
                }
            });
        }
        for (keys, slot, what) in [
            (&self.options.stress_keys, &mut h.stress, "stress"),
            (&self.options.virial_keys, &mut h.virial, "virial"),
        ] {
            if let Some(key) = keys.iter().find(|k| h.info.contains_key(*k)).cloned() {
                h.info.remove(&key);
                let v = raw_reals
                    .remove(&key)
                    .flatten()
                    .filter(|v| v.iter().all(|x| x.is_finite()));
                *slot = Some(match v.as_deref() {
                    Some([a, b, c, d, e, f, g, hh, i]) => {
                        [[*a, *b, *c], [*d, *e, *f], [*g, *hh, *i]]
                    }
                    Some(&[a, b, c, d, e, f]) => voigt_to_matrix([a, b, c, d, e, f]),
                    _ => {
                        return Err(self.err(
                            line,
                            format!("{what} {key:?} must be 9 or 6 finite numbers"),
                        ));
                    }
                });
            }
        }
        Ok(h)
    }

    fn is_label_key(&self, key: &str) -> bool {
        self.options
            .stress_keys
            .iter()
            .chain(&self.options.virial_keys)
            .any(|k| k == key)
    }

    fn parse_properties(&self, text: &str, line: usize) -> Result<Vec<Property>> {
        let parts: Vec<&str> = text.split(':').collect();
        if !parts.len().is_multiple_of(3) || parts.is_empty() {
            return Err(self.err(
                line,
                format!("Properties must be name:type:count triples, found {text:?}"),
            ));
        }
        let mut out: Vec<Property> = Vec::new();
        for t in parts.chunks(3) {
            let kind = match t[1] {
                "S" | "R" | "I" | "L" => t[1].chars().next().unwrap_or('S'),
                other => {
                    return Err(self.err(
                        line,
                        format!("Properties: unknown type {other:?} of {:?}", t[0]),
                    ));
                }
            };
            let width: usize = t[2]
                .parse()
                .ok()
                .filter(|&w| w > 0 && w <= MAX_COLUMN_WIDTH)
                .ok_or_else(|| {
                    self.err(
                        line,
                        format!("Properties: bad column count {:?} of {:?}", t[2], t[0]),
                    )
                })?;
            if out.iter().any(|p| p.name == t[0]) {
                return Err(self.err(line, format!("Properties: {:?} appears twice", t[0])));
            }
            out.push(Property {
                name: t[0].to_string(),
                kind,
                width,
            });
        }
        Ok(out)
    }

    pub fn assign_roles(&self, props: &[Property], line: usize) -> Result<Vec<Role>> {
        let forces_key = self
            .options
            .forces_keys
            .iter()
            .find(|k| props.iter().any(|p| &&p.name == k));
        let energies_key = self
            .options
            .atomic_energy_keys
            .iter()
            .find(|k| props.iter().any(|p| &&p.name == k));
        let has_species = props.iter().any(|p| p.name == "species");
        let mut roles = Vec::with_capacity(props.len());
        let mut n_extra = 0;
        for p in props {
            let want = |kind: char, width: usize| -> Result<()> {
                if p.kind == kind && p.width == width {
                    Ok(())
                } else {
                    Err(self.err(
                        line,
                        format!(
                            "Properties: {:?} must be {kind}:{width}, found {}:{}",
                            p.name, p.kind, p.width
                        ),
                    ))
                }
            };
            let role = if p.name == "species" {
                want('S', 1)?;
                Role::Species
            } else if p.name == "Z" && !has_species {
                want('I', 1)?;
                Role::AtomicNumber
            } else if p.name == "pos" {
                want('R', 3)?;
                Role::Positions
            } else if Some(&p.name) == forces_key {
                want('R', 3)?;
                Role::Forces
            } else if Some(&p.name) == energies_key {
                want('R', 1)?;
                Role::AtomicEnergies
            } else {
                n_extra += 1;
                Role::Extra(n_extra - 1)
            };
            roles.push(role);
        }
        if !roles.iter().any(|r| matches!(r, Role::Positions)) {
            return Err(self.err(line, "Properties has no pos:R:3"));
        }
        if !roles
            .iter()
            .any(|r| matches!(r, Role::Species | Role::AtomicNumber))
        {
            return Err(self.err(line, "Properties has neither species:S:1 nor Z:I:1"));
        }
        Ok(roles)
    }
}
