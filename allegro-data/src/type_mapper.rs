//! Species labels → model type indices.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::species::{Species, atomic_number};
use crate::structure::Structure;

/// Maps species labels (chemical symbols, or any labels used in the data) to the model's
/// type indices `0..n_types`, in the order of the model's `type_names`.
///
/// As in nequip, type names may differ from the labels in the data
/// ([`TypeMapper::with_chemical_symbols`]), e.g. `type_names = [H_water, O_water]` with
/// `chemical_symbols = [H, O]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeMapper {
    type_names: Vec<String>,
    labels: Vec<String>,
    index: HashMap<String, u32>,
}

impl TypeMapper {
    /// Type k is the species labelled `type_names[k]`.
    pub fn new<S: AsRef<str>>(type_names: &[S]) -> Result<Self> {
        Self::with_chemical_symbols(type_names, type_names)
    }

    /// Type k is named `type_names[k]` and is the species labelled `chemical_symbols[k]`.
    pub fn with_chemical_symbols<S: AsRef<str>, T: AsRef<str>>(
        type_names: &[S],
        chemical_symbols: &[T],
    ) -> Result<Self> {
        if type_names.len() != chemical_symbols.len() {
            return Err(Error::InvalidArgument(format!(
                "{} type names but {} chemical symbols",
                type_names.len(),
                chemical_symbols.len()
            )));
        }
        if type_names.is_empty() {
            return Err(Error::InvalidArgument(
                "a type mapper needs at least one type".into(),
            ));
        }
        let mut index = HashMap::new();
        for (k, s) in chemical_symbols.iter().enumerate() {
            if index.insert(s.as_ref().to_string(), k as u32).is_some() {
                return Err(Error::InvalidArgument(format!(
                    "species {:?} is listed twice",
                    s.as_ref()
                )));
            }
        }
        Ok(TypeMapper {
            type_names: type_names.iter().map(|s| s.as_ref().to_string()).collect(),
            labels: chemical_symbols
                .iter()
                .map(|s| s.as_ref().to_string())
                .collect(),
            index,
        })
    }

    /// A mapper over every species seen in `structures`, ordered by atomic number (labels
    /// that are not elements come last, alphabetically).
    pub fn from_structures<'a>(
        structures: impl IntoIterator<Item = &'a Structure>,
    ) -> Result<Self> {
        let mut seen: Vec<Species> = Vec::new();
        for s in structures {
            for sp in &s.species {
                if !seen.contains(sp) {
                    seen.push(*sp);
                }
            }
        }
        seen.sort_by_key(|s| (s.atomic_number().map_or(u16::MAX, u16::from), *s));
        let names: Vec<&str> = seen.iter().map(|s| s.as_str()).collect();
        Self::new(&names)
    }

    /// The model's type names.
    pub fn type_names(&self) -> &[String] {
        &self.type_names
    }

    /// The species label of each type.
    pub fn chemical_symbols(&self) -> &[String] {
        &self.labels
    }

    /// Number of types.
    pub fn n_types(&self) -> usize {
        self.type_names.len()
    }

    /// The type of a species, `None` if not mapped.
    pub fn type_of(&self, species: &str) -> Option<u32> {
        self.index.get(species).copied()
    }

    /// Atomic number of each type, where its label is an element symbol.
    pub fn atomic_numbers(&self) -> Vec<Option<u8>> {
        self.labels.iter().map(|l| atomic_number(l)).collect()
    }

    /// The type of every atom of a structure. An unknown species is an error naming it
    /// and the structure's file, frame and line.
    pub fn map(&self, s: &Structure) -> Result<Vec<u32>> {
        // Structures have few distinct species: cache the last lookup.
        let mut last: Option<(Species, u32)> = None;
        let mut out = Vec::with_capacity(s.species.len());
        for sp in &s.species {
            let t = match last {
                Some((l, t)) if l == *sp => t,
                _ => {
                    let t = self
                        .type_of(sp.as_str())
                        .ok_or_else(|| Error::UnknownSpecies {
                            species: sp.as_str().to_string(),
                            origin: s.describe(),
                            known: self.labels.clone(),
                        })?;
                    last = Some((*sp, t));
                    t
                }
            };
            out.push(t);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Origin;

    #[test]
    fn maps_and_reports_unknown_species() {
        let m = TypeMapper::new(&["H", "C", "O"]).unwrap();
        let sp = |l: &str| Species::new(l).unwrap();
        let mut s = Structure::new(
            vec![sp("O"), sp("H"), sp("H")],
            vec![[0.0; 3]; 3],
            None,
            [false; 3],
        );
        assert_eq!(m.map(&s).unwrap(), vec![2, 0, 0]);
        s.species[1] = sp("N");
        s.origin = Some(Origin {
            source: "data.xyz".into(),
            frame: 7,
            line: 99,
        });
        let e = m.map(&s).unwrap_err().to_string();
        assert!(
            e.contains("\"N\"") && e.contains("data.xyz:99 (frame 7)"),
            "{e}"
        );
    }

    #[test]
    fn custom_names_and_ordering() {
        let m = TypeMapper::with_chemical_symbols(&["Hw", "Ow"], &["H", "O"]).unwrap();
        assert_eq!(m.type_of("O"), Some(1));
        assert_eq!(m.type_names()[1], "Ow");
        assert!(TypeMapper::new(&["H", "H"]).is_err());
        let sp = |l: &str| Species::new(l).unwrap();
        let s = Structure::new(
            vec![sp("O"), sp("X1"), sp("H"), sp("Cu")],
            vec![[0.0; 3]; 4],
            None,
            [false; 3],
        );
        let m = TypeMapper::from_structures([&s]).unwrap();
        assert_eq!(m.type_names(), ["H", "O", "Cu", "X1"]);
        assert_eq!(m.atomic_numbers(), vec![Some(1), Some(8), Some(29), None]);
    }
}
