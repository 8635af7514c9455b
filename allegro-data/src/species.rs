//! Chemical species: a short label (usually an element symbol) stored inline, and the
//! periodic table that maps symbols to atomic numbers.

use std::fmt;

/// Element symbols by atomic number; index 0 is the dummy `X` (as in ASE).
pub const CHEMICAL_SYMBOLS: [&str; 119] = [
    "X", "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S",
    "Cl", "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge",
    "As", "Se", "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd",
    "In", "Sn", "Sb", "Te", "I", "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd",
    "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg",
    "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm",
    "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn",
    "Nh", "Fl", "Mc", "Lv", "Ts", "Og",
];

/// The atomic number of an element symbol (case-sensitive, as ASE), `None` if unknown.
/// `X` (ASE's dummy atom) is 0.
pub fn atomic_number(symbol: &str) -> Option<u8> {
    CHEMICAL_SYMBOLS
        .iter()
        .position(|&s| s == symbol)
        .map(|z| z as u8)
}

/// The element symbol of an atomic number, `None` above 118.
pub fn chemical_symbol(z: u8) -> Option<&'static str> {
    CHEMICAL_SYMBOLS.get(z as usize).copied()
}

/// Longest species label, in bytes, that [`Species`] can hold.
pub const MAX_SPECIES_LEN: usize = 15;

/// A species label such as `"Cu"` or `"Ow"`, stored inline (16 bytes, `Copy`) so that a
/// structure of a million atoms needs no million small heap strings.
///
/// Any non-empty UTF-8 text of at most [`MAX_SPECIES_LEN`] bytes without whitespace is a
/// valid label; it need not be an element (extxyz files may use custom labels, which a
/// [`TypeMapper`](crate::TypeMapper) maps to model types).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Species {
    len: u8,
    bytes: [u8; MAX_SPECIES_LEN],
}

impl Species {
    /// A label from text; `None` if empty, too long or containing whitespace.
    pub fn new(label: &str) -> Option<Species> {
        if label.is_empty()
            || label.len() > MAX_SPECIES_LEN
            || label.chars().any(char::is_whitespace)
        {
            return None;
        }
        let mut bytes = [0u8; MAX_SPECIES_LEN];
        bytes[..label.len()].copy_from_slice(label.as_bytes());
        Some(Species {
            len: label.len() as u8,
            bytes,
        })
    }

    /// The species of an element given by atomic number (`None` above 118).
    pub fn from_atomic_number(z: u8) -> Option<Species> {
        chemical_symbol(z).and_then(Species::new)
    }

    /// The label as text.
    pub fn as_str(&self) -> &str {
        // Only ever built from a &str cut at its full length, so this is valid UTF-8.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("?")
    }

    /// The atomic number if the label is an element symbol.
    pub fn atomic_number(&self) -> Option<u8> {
        atomic_number(self.as_str())
    }
}

impl fmt::Debug for Species {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for Species {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_and_numbers_round_trip() {
        for z in 0..=118u8 {
            let s = chemical_symbol(z).unwrap();
            assert_eq!(atomic_number(s), Some(z));
            assert_eq!(Species::from_atomic_number(z).unwrap().as_str(), s);
        }
        assert_eq!(atomic_number("Cu"), Some(29));
        assert_eq!(atomic_number("Og"), Some(118));
        assert_eq!(atomic_number("cu"), None);
        assert_eq!(chemical_symbol(119), None);
    }

    #[test]
    fn labels() {
        assert_eq!(Species::new("Ow").unwrap().as_str(), "Ow");
        assert!(Species::new("").is_none());
        assert!(Species::new("a b").is_none());
        assert!(Species::new("abcdefghijklmnop").is_none());
        assert_eq!(Species::new("abcdefghijklmno").unwrap().as_str().len(), 15);
        assert_eq!(Species::new("O").unwrap().atomic_number(), Some(8));
    }
}
