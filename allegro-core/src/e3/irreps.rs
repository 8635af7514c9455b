//! Direct sums of irreps with multiplicities (`Irreps`), as in e3nn.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use super::{E3Error, Irrep, Parity};

/// One entry `mul × ir` of an [`Irreps`]: `mul` copies of the irrep `ir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MulIr {
    /// Multiplicity (may be zero, as in e3nn).
    pub mul: usize,
    /// The irrep.
    pub ir: Irrep,
}

impl MulIr {
    /// `mul × ir`.
    pub const fn new(mul: usize, ir: Irrep) -> MulIr {
        MulIr { mul, ir }
    }

    /// Dimension `mul · (2l + 1)`.
    pub fn dim(&self) -> usize {
        self.mul * self.ir.dim()
    }
}

impl fmt::Display for MulIr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.mul, self.ir)
    }
}

/// A direct sum of irreps, an ordered list of `(mul, ir)` entries (e3nn `Irreps`).
///
/// The order is significant and never changed implicitly: the components of a
/// feature vector with these irreps are laid out entry after entry, each entry
/// `mul` blocks of `2l + 1` components (mul-major, e3nn's layout).
///
/// The text form is e3nn's: entries joined by `+`, each `"{mul}x{ir}"` or just
/// `"{ir}"` (multiplicity 1); [`Display`](fmt::Display) always prints the
/// multiplicity, as e3nn's `repr` does, so `to_string` and `parse` round-trip.
///
/// ```
/// use allegro_core::e3::Irreps;
/// let irreps: Irreps = "16x0e + 8x1o + 2e".parse().unwrap();
/// assert_eq!(irreps.to_string(), "16x0e+8x1o+1x2e");
/// assert_eq!(irreps.dim(), 16 + 24 + 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Irreps(Vec<MulIr>);

impl Irreps {
    /// Irreps from a list of entries, kept in the given order.
    pub fn new(entries: Vec<MulIr>) -> Irreps {
        Irreps(entries)
    }

    /// `1x ir₀ + 1x ir₁ + …`: each irrep once, in the given order.
    pub fn from_irreps(irs: impl IntoIterator<Item = Irrep>) -> Irreps {
        Irreps(irs.into_iter().map(|ir| MulIr::new(1, ir)).collect())
    }

    /// The irreps of the spherical harmonics `Y⁰ … Y^{l_max}`: `1x(l, p^l)` for
    /// `l = 0..=l_max` (e3nn `Irreps.spherical_harmonics(l_max, p)`); with
    /// `p = Odd` this is `0e + 1o + 2e + 3o + …`.
    pub fn spherical_harmonics(l_max: usize, p: Parity) -> Irreps {
        Irreps::from_irreps((0..=l_max).map(|l| {
            let parity = if l.is_multiple_of(2) { Parity::Even } else { p };
            Irrep::new(l, parity)
        }))
    }

    /// The entries.
    pub fn entries(&self) -> &[MulIr] {
        &self.0
    }

    /// Iterator over the entries.
    pub fn iter(&self) -> std::slice::Iter<'_, MulIr> {
        self.0.iter()
    }

    /// Number of entries (not the number of irreps; see [`Irreps::num_irreps`]).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Total dimension `Σ mul·(2l + 1)`.
    pub fn dim(&self) -> usize {
        self.0.iter().map(MulIr::dim).sum()
    }

    /// Number of irreps `Σ mul`.
    pub fn num_irreps(&self) -> usize {
        self.0.iter().map(|m| m.mul).sum()
    }

    /// The `l` of every irrep, each repeated `mul` times (e3nn `ls`).
    pub fn ls(&self) -> Vec<usize> {
        self.0
            .iter()
            .flat_map(|m| std::iter::repeat_n(m.ir.l, m.mul))
            .collect()
    }

    /// The largest `l` among the irreps with nonzero multiplicity, `None` if
    /// there is none.
    pub fn lmax(&self) -> Option<usize> {
        self.ls().into_iter().max()
    }

    /// The component range of each entry (e3nn `slices`).
    pub fn slices(&self) -> Vec<Range<usize>> {
        let mut start = 0;
        self.0
            .iter()
            .map(|m| {
                let r = start..start + m.dim();
                start = r.end;
                r
            })
            .collect()
    }

    /// Offset of entry `i` (the dimension of the entries before it).
    pub fn offset(&self, i: usize) -> usize {
        self.0[..i].iter().map(MulIr::dim).sum()
    }

    /// For every component `0..dim`, the index of the entry it belongs to
    /// (the map `r(m)` of allegro's `MakeWeightedChannels`, which scales the
    /// components of entry `r` by the weight `w[u, r]`).
    pub fn entry_of_component(&self) -> Vec<usize> {
        self.0
            .iter()
            .enumerate()
            .flat_map(|(r, m)| std::iter::repeat_n(r, m.dim()))
            .collect()
    }

    /// Whether `ir` occurs in some entry (whatever its multiplicity, as e3nn).
    pub fn contains(&self, ir: Irrep) -> bool {
        self.0.iter().any(|m| m.ir == ir)
    }

    /// Total multiplicity of `ir`.
    pub fn count(&self, ir: Irrep) -> usize {
        self.0.iter().filter(|m| m.ir == ir).map(|m| m.mul).sum()
    }

    /// Each entry's irrep with multiplicity 1, same order (the "base" irreps of
    /// a strided layout).
    pub fn with_unit_mul(&self) -> Irreps {
        Irreps::from_irreps(self.0.iter().map(|m| m.ir))
    }

    /// Merge *consecutive* equal irreps and drop zero multiplicities; does not
    /// sort (e3nn `simplify`: `1e + 1e + 0e + 1e → 2x1e+1x0e+1x1e`).
    pub fn simplify(&self) -> Irreps {
        let mut out: Vec<MulIr> = Vec::new();
        for m in &self.0 {
            match out.last_mut() {
                Some(last) if last.ir == m.ir => last.mul += m.mul,
                _ if m.mul > 0 => out.push(*m),
                _ => {}
            }
        }
        Irreps(out)
    }

    /// Drop entries with zero multiplicity.
    pub fn remove_zero_multiplicities(&self) -> Irreps {
        Irreps(self.0.iter().copied().filter(|m| m.mul > 0).collect())
    }

    /// Stable sort by irrep (`(l, p)` with odd before even), as e3nn `sort`.
    ///
    /// Returns the sorted irreps, `p` (entry `i` moves to `p[i]`) and `inv`
    /// (sorted entry `k` came from `inv[k]`).
    pub fn sort(&self) -> (Irreps, Vec<usize>, Vec<usize>) {
        let mut inv: Vec<usize> = (0..self.0.len()).collect();
        inv.sort_by_key(|&i| (self.0[i].ir, i));
        let mut p = vec![0; inv.len()];
        for (k, &i) in inv.iter().enumerate() {
            p[i] = k;
        }
        (Irreps(inv.iter().map(|&i| self.0[i]).collect()), p, inv)
    }

    /// Sort then simplify (e3nn `regroup`).
    pub fn regroup(&self) -> Irreps {
        self.sort().0.simplify()
    }

    /// Keep only the entries whose irrep satisfies `keep`, order unchanged.
    pub fn filter(&self, keep: impl Fn(&MulIr) -> bool) -> Irreps {
        Irreps(self.0.iter().copied().filter(|m| keep(m)).collect())
    }
}

impl<'a> IntoIterator for &'a Irreps {
    type Item = &'a MulIr;
    type IntoIter = std::slice::Iter<'a, MulIr>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Irreps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

impl FromStr for Irreps {
    type Err = E3Error;

    fn from_str(s: &str) -> Result<Irreps, E3Error> {
        if s.trim().is_empty() {
            return Ok(Irreps::default());
        }
        let err =
            |why: String| E3Error::Parse(format!("unable to convert {s:?} into Irreps: {why}"));
        let mut out = Vec::new();
        for term in s.split('+') {
            let (mul, ir) = match term.split_once('x') {
                Some((mul, ir)) => {
                    let mul = mul
                        .trim()
                        .parse::<usize>()
                        .map_err(|_| err(format!("bad multiplicity in {term:?}")))?;
                    (mul, ir)
                }
                None => (1, term),
            };
            let ir: Irrep = ir.parse().map_err(|e: E3Error| err(e.to_string()))?;
            out.push(MulIr::new(mul, ir));
        }
        Ok(Irreps(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn irreps(s: &str) -> Irreps {
        s.parse().unwrap()
    }

    #[test]
    fn parse_print_dim() {
        let x = irreps("100x0e + 50x1e + 0x2e");
        assert_eq!(x.to_string(), "100x0e+50x1e+0x2e");
        assert_eq!(x.dim(), 250);
        assert_eq!(x.lmax(), Some(1));
        assert_eq!(x.num_irreps(), 150);
        assert_eq!(irreps("").len(), 0);
        assert_eq!(irreps("0e+1o").to_string(), "1x0e+1x1o");
        assert!("2x".parse::<Irreps>().is_err());
        assert!("ax1e".parse::<Irreps>().is_err());
        assert!("1e++0e".parse::<Irreps>().is_err());
        let s = "3x0e+2x1o+1x2e+0x3o";
        assert_eq!(irreps(s).to_string(), s);
    }

    #[test]
    fn slices_and_offsets() {
        let x = irreps("2x0e + 1e");
        assert_eq!(x.slices(), vec![0..2, 2..5]);
        assert_eq!(x.offset(1), 2);
        assert_eq!(x.entry_of_component(), vec![0, 0, 1, 1, 1]);
    }

    #[test]
    fn simplify_sort_regroup_like_e3nn() {
        assert_eq!(irreps("1e + 1e + 0e").simplify().to_string(), "2x1e+1x0e");
        assert_eq!(
            irreps("1e + 1e + 0e + 1e").simplify().to_string(),
            "2x1e+1x0e+1x1e"
        );
        assert_eq!(
            irreps("4x0e + 0x1o + 2x3e")
                .remove_zero_multiplicities()
                .to_string(),
            "4x0e+2x3e"
        );
        let (sorted, p, inv) = irreps("2o + 1e + 0e + 1e").sort();
        assert_eq!(sorted.to_string(), "1x0e+1x1e+1x1e+1x2o");
        assert_eq!(p, vec![3, 1, 0, 2]);
        assert_eq!(inv, vec![2, 1, 3, 0]);
        assert_eq!(
            irreps("1e + 0e + 1e + 0x2e").regroup().to_string(),
            "1x0e+2x1e"
        );
        assert_eq!(irreps("0e + 0o").sort().0.to_string(), "1x0o+1x0e");
    }

    #[test]
    fn spherical_harmonics_irreps() {
        assert_eq!(
            Irreps::spherical_harmonics(3, Parity::Odd).to_string(),
            "1x0e+1x1o+1x2e+1x3o"
        );
        assert_eq!(
            Irreps::spherical_harmonics(4, Parity::Even).to_string(),
            "1x0e+1x1e+1x2e+1x3e+1x4e"
        );
    }
}
