//! A single irreducible representation of O(3).

use std::fmt;
use std::str::FromStr;

use super::E3Error;

/// Parity of an irrep under the inversion `x ↦ −x`.
///
/// The declaration order (`Odd` before `Even`) makes the derived `Ord` agree with
/// e3nn, which compares irreps as tuples `(l, p)` with `p ∈ {−1, +1}`, so `0o < 0e`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Parity {
    /// `p = −1`: the irrep changes sign under inversion (suffix `o`).
    Odd,
    /// `p = +1`: the irrep is invariant under inversion (suffix `e`).
    Even,
}

impl Parity {
    /// The parity as a sign, `+1` (even) or `−1` (odd).
    pub fn sign(self) -> i32 {
        match self {
            Parity::Even => 1,
            Parity::Odd => -1,
        }
    }

    /// The parity with sign `s` (`s > 0` ⇒ even, else odd).
    pub fn from_sign(s: i32) -> Parity {
        if s > 0 { Parity::Even } else { Parity::Odd }
    }

    /// The parity of the spherical harmonics of degree `l`: `(−1)^l`.
    pub fn of_spherical_harmonic(l: usize) -> Parity {
        if l.is_multiple_of(2) {
            Parity::Even
        } else {
            Parity::Odd
        }
    }

    /// Product of parities (the parity of a tensor product): `p₁·p₂`.
    pub fn product(self, other: Parity) -> Parity {
        Parity::from_sign(self.sign() * other.sign())
    }
}

/// An irreducible representation `(l, p)` of O(3): degree `l ≥ 0`, dimension
/// `2l + 1`, parity `p`.
///
/// Text form as in e3nn: `"0e"`, `"1o"`, `"2e"`; parsing also accepts e3nn's
/// `"ly"` meaning parity `(−1)^l` (the spherical-harmonic parity).
///
/// ```
/// use allegro_core::e3::{Irrep, Parity};
/// let ir: Irrep = "1o".parse().unwrap();
/// assert_eq!(ir, Irrep::new(1, Parity::Odd));
/// assert_eq!(ir.dim(), 3);
/// assert_eq!(ir.to_string(), "1o");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Irrep {
    /// Degree `l`.
    pub l: usize,
    /// Parity `p`.
    pub parity: Parity,
}

impl Irrep {
    /// The irrep `(l, parity)`.
    pub const fn new(l: usize, parity: Parity) -> Irrep {
        Irrep { l, parity }
    }

    /// The even scalar `0e`.
    pub const SCALAR: Irrep = Irrep::new(0, Parity::Even);

    /// The irrep of the spherical harmonics of degree `l`: `(l, (−1)^l)`.
    pub fn spherical_harmonic(l: usize) -> Irrep {
        Irrep::new(l, Parity::of_spherical_harmonic(l))
    }

    /// Dimension `2l + 1`.
    pub fn dim(self) -> usize {
        2 * self.l + 1
    }

    /// Parity as a sign, `±1`.
    pub fn p(self) -> i32 {
        self.parity.sign()
    }

    /// Whether this is the even scalar `0e`.
    pub fn is_scalar(self) -> bool {
        self == Irrep::SCALAR
    }

    /// The irreps contained in the product `self ⊗ other`, in e3nn's order:
    /// `l = |l₁ − l₂| ..= l₁ + l₂`, all with parity `p₁·p₂`.
    pub fn product(self, other: Irrep) -> impl Iterator<Item = Irrep> {
        let p = self.parity.product(other.parity);
        (self.l.abs_diff(other.l)..=self.l + other.l).map(move |l| Irrep::new(l, p))
    }

    /// Whether `out` appears in `self ⊗ other` (the O(3) selection rule:
    /// triangle condition on `l` and `p_out = p₁·p₂`).
    pub fn couples_to(self, other: Irrep, out: Irrep) -> bool {
        out.parity == self.parity.product(other.parity)
            && self.l.abs_diff(other.l) <= out.l
            && out.l <= self.l + other.l
    }

    /// All irreps up to `l_max` in e3nn's `Irrep.iterator` order:
    /// `0e, 0o, 1o, 1e, 2e, 2o, …` (for each `l`: parity `(−1)^l` first).
    pub fn iter_up_to(l_max: usize) -> impl Iterator<Item = Irrep> {
        (0..=l_max).flat_map(|l| {
            let p = Parity::of_spherical_harmonic(l);
            [Irrep::new(l, p), Irrep::new(l, p.product(Parity::Odd))]
        })
    }
}

impl fmt::Display for Irrep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = match self.parity {
            Parity::Even => 'e',
            Parity::Odd => 'o',
        };
        write!(f, "{}{}", self.l, p)
    }
}

impl FromStr for Irrep {
    type Err = E3Error;

    fn from_str(s: &str) -> Result<Irrep, E3Error> {
        let name = s.trim();
        let err = || E3Error::Parse(format!("unable to convert string {s:?} into an Irrep"));
        let last = name.chars().last().ok_or_else(err)?;
        let l: usize = name[..name.len() - last.len_utf8()]
            .parse()
            .map_err(|_| err())?;
        let parity = match last {
            'e' => Parity::Even,
            'o' => Parity::Odd,
            'y' => Parity::of_spherical_harmonic(l),
            _ => return Err(err()),
        };
        Ok(Irrep::new(l, parity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print_round_trip() {
        for s in ["0e", "0o", "1o", "1e", "2e", "3o", "11e"] {
            let ir: Irrep = s.parse().unwrap();
            assert_eq!(ir.to_string(), s);
        }
        assert_eq!("3y".parse::<Irrep>().unwrap(), Irrep::new(3, Parity::Odd));
        assert_eq!(
            " 2y ".parse::<Irrep>().unwrap(),
            Irrep::new(2, Parity::Even)
        );
        for bad in ["", "e", "1x", "-1e", "1.5e", "o1"] {
            assert!(bad.parse::<Irrep>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn ordering_matches_e3nn_tuples() {
        let a: Irrep = "0o".parse().unwrap();
        let b: Irrep = "0e".parse().unwrap();
        let c: Irrep = "1o".parse().unwrap();
        assert!(a < b && b < c);
    }

    #[test]
    fn product_and_selection_rule() {
        let one_o = Irrep::new(1, Parity::Odd);
        let prod: Vec<String> = one_o.product(one_o).map(|i| i.to_string()).collect();
        assert_eq!(prod, ["0e", "1e", "2e"]);
        assert!(one_o.couples_to(one_o, Irrep::new(2, Parity::Even)));
        assert!(!one_o.couples_to(one_o, Irrep::new(1, Parity::Odd)));
        assert!(!one_o.couples_to(one_o, Irrep::new(3, Parity::Even)));
        let it: Vec<String> = Irrep::iter_up_to(1).map(|i| i.to_string()).collect();
        assert_eq!(it, ["0e", "0o", "1o", "1e"]);
    }
}
