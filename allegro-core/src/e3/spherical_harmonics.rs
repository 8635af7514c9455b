//! Real spherical harmonics in e3nn's basis, as closed-form polynomials.
//!
//! `Y^l` is a homogeneous harmonic polynomial of degree `l` in `(x, y, z)` with
//! `2l + 1` components, in e3nn's order and signs. For `l = 1` it is
//! `√3·(x, y, z)` — the input order x, y, z, no permutation. Under e3nn's
//! "component" normalisation `|Y^l(x)|² = 2l + 1` on the unit sphere.
//!
//! The polynomials are generated exactly as e3nn's own generator script
//! (`_spherical_harmonics_generator.py`) did: `Y⁰ = 1` and
//! `Y^{l+1}_i ∝ Σ_{k,j} C[i,k,j] x_k Y^l_j` with `C = wigner_3j(l+1, 1, l)`,
//! scaled by a positive constant so that `|Y^{l+1}(0, 1, 0)| = √(2l+3)`.
//! The signs therefore follow from the 3j symbols, and `Y(Rx) = D(R) Y(x)`
//! with the D matrices of [`super::wigner_d`] in the same basis.
//!
//! For `l ≤ 3` these are (component normalisation, `q = x² + z²`):
//! - `Y⁰ = 1`, `Y¹ = √3 (x, y, z)`
//! - `Y² = (√15 xz, √15 xy, √5 (y² − q/2), √15 yz, (√15/2)(z² − x²))`
//! - `Y³`: with `a = √15 xz`, `c = (√15/2)(z² − x²)`:
//!   `((√42/6)(a z + c x), √7 a y, (√168/8)(4y² − q) x, (√7/2) y (2y² − 3q),
//!   (√168/8) z (4y² − q), √7 c y, (√42/6)(c z − a x))`

use std::str::FromStr;

use super::{E3Error, wigner_3j};

/// A monomial term `c · x^a y^b z^c`: the coefficient and the exponents `[a, b, c]`.
pub type Monomial = (f64, [u8; 3]);

/// A polynomial in `(x, y, z)`: a sum of [`Monomial`]s, no exponent repeated.
pub type Polynomial = Vec<Monomial>;

/// Output normalisation of the spherical harmonics (e3nn's `normalization`),
/// independent of whether the input vector is normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShNormalization {
    /// `∫_{S²} (Y^l_m)² = 1`: component values divided by `√(4π)` (e3nn default).
    Integral,
    /// `|Y^l(x)|² = 2l + 1` on the unit sphere (Allegro's choice).
    Component,
    /// `|Y^l(x)| = 1` on the unit sphere: component values divided by `√(2l+1)`.
    Norm,
}

impl ShNormalization {
    /// The factor by which the component-normalised `Y^l` is multiplied.
    pub fn factor(self, l: usize) -> f64 {
        match self {
            ShNormalization::Component => 1.0,
            ShNormalization::Integral => 1.0 / (4.0 * std::f64::consts::PI).sqrt(),
            ShNormalization::Norm => 1.0 / ((2 * l + 1) as f64).sqrt(),
        }
    }
}

impl FromStr for ShNormalization {
    type Err = E3Error;
    fn from_str(s: &str) -> Result<Self, E3Error> {
        match s {
            "integral" => Ok(ShNormalization::Integral),
            "component" => Ok(ShNormalization::Component),
            "norm" => Ok(ShNormalization::Norm),
            _ => Err(E3Error::Parse(format!(
                "unknown spherical-harmonics normalization {s:?} (integral, component, norm)"
            ))),
        }
    }
}

/// Evaluate a polynomial at `(x, y, z)`.
pub fn eval_polynomial(p: &[Monomial], xyz: &[f64; 3]) -> f64 {
    p.iter()
        .map(|&(c, [a, b, d])| {
            c * xyz[0].powi(a as i32) * xyz[1].powi(b as i32) * xyz[2].powi(d as i32)
        })
        .sum()
}

/// The closed-form polynomials of `Y^l` for every `l = 0..=l_max`, in
/// component normalisation. Build once, evaluate many times.
#[derive(Debug, Clone, PartialEq)]
pub struct ShPolynomials {
    /// `by_l[l][m]` is the polynomial of component `m` (`0..2l+1`) of `Y^l`.
    pub by_l: Vec<Vec<Polynomial>>,
}

impl ShPolynomials {
    /// Generate the polynomials up to `l_max` (see the module doc for the recurrence).
    pub fn new(l_max: usize) -> ShPolynomials {
        let mut by_l: Vec<Vec<Polynomial>> = vec![vec![vec![(1.0, [0, 0, 0])]]];
        for l in 0..l_max {
            let next = next_degree(l, &by_l[l]);
            by_l.push(next);
        }
        ShPolynomials { by_l }
    }

    /// Largest degree held.
    pub fn l_max(&self) -> usize {
        self.by_l.len() - 1
    }

    /// `[Y⁰, Y¹, …, Y^{l_max}]` concatenated (length `(l_max+1)²`) at `xyz` as
    /// given (no normalisation of the input), with output normalisation `norm`.
    pub fn eval(&self, norm: ShNormalization, xyz: &[f64; 3]) -> Vec<f64> {
        let mut out = Vec::with_capacity((self.l_max() + 1).pow(2));
        for (l, comps) in self.by_l.iter().enumerate() {
            let f = norm.factor(l);
            out.extend(comps.iter().map(|p| f * eval_polynomial(p, xyz)));
        }
        out
    }
}

/// Component-normalised `Y^{l+1}` from `Y^l` by the 3j recurrence.
fn next_degree(l: usize, prev: &[Polynomial]) -> Vec<Polynomial> {
    let (d_next, d_prev) = (2 * l + 3, 2 * l + 1);
    let c = wigner_3j(l + 1, 1, l); // [d_next][3][d_prev]
    let mut out: Vec<std::collections::BTreeMap<[u8; 3], f64>> = vec![Default::default(); d_next];
    for i in 0..d_next {
        for k in 0..3 {
            for j in 0..d_prev {
                let w = c[(i * 3 + k) * d_prev + j];
                if w == 0.0 {
                    continue;
                }
                for &(coef, mut e) in &prev[j] {
                    e[k] += 1;
                    *out[i].entry(e).or_insert(0.0) += w * coef;
                }
            }
        }
    }
    let polys: Vec<Polynomial> = out
        .into_iter()
        .map(|m| {
            let max = m.values().fold(0.0f64, |a, v| a.max(v.abs()));
            m.into_iter()
                .filter(|(_, v)| v.abs() > 1e-12 * max)
                .map(|(e, v)| (v, e))
                .collect()
        })
        .collect();
    let pole = [0.0, 1.0, 0.0];
    let n2: f64 = polys
        .iter()
        .map(|p| eval_polynomial(p, &pole).powi(2))
        .sum();
    let scale = ((2 * l + 3) as f64 / n2).sqrt();
    polys
        .into_iter()
        .map(|p| p.into_iter().map(|(v, e)| (v * scale, e)).collect())
        .collect()
}

/// The closed-form polynomials of the `2l + 1` components of `Y^l` in
/// component normalisation, as monomials `c · x^a y^b z^c` with `a + b + c = l`
/// (homogeneous, harmonic). Multiply by [`ShNormalization::factor`] for the other
/// normalisations, and feed `x / |x|` for e3nn's `normalize=True`.
///
/// ```
/// use allegro_core::e3::sh_polynomials;
/// let y1 = sh_polynomials(1);
/// let (c, exponents) = y1[0][0]; // component 0 of Y¹ is √3·x
/// assert_eq!((y1[0].len(), exponents), (1, [1, 0, 0]));
/// assert!((c - 3f64.sqrt()).abs() < 1e-15);
/// ```
pub fn sh_polynomials(l: usize) -> Vec<Polynomial> {
    ShPolynomials::new(l).by_l.pop().expect("l_max + 1 degrees")
}

/// e3nn's `o3.spherical_harmonics(range(l_max+1), xyz, normalize, normalization)`
/// for one vector: `[Y⁰, Y¹, …, Y^{l_max}]` concatenated, length `(l_max+1)²`.
///
/// With `normalize`, the input is first divided by `max(|xyz|, 1e-12)` (as
/// `torch.nn.functional.normalize`, so the zero vector gives `Y^{l>0} = 0`);
/// without it, `Y^l` scales as `|xyz|^l`.
///
/// This is the `f64` oracle; it regenerates the polynomials on every call, so
/// hold a [`ShPolynomials`] when evaluating many vectors.
pub fn spherical_harmonics(
    l_max: usize,
    normalization: ShNormalization,
    normalize: bool,
    xyz: &[f64; 3],
) -> Vec<f64> {
    let v = if normalize {
        normalize_vector(xyz)
    } else {
        *xyz
    };
    ShPolynomials::new(l_max).eval(normalization, &v)
}

/// `x / max(|x|, 1e-12)` (`torch.nn.functional.normalize` with its default eps).
pub fn normalize_vector(xyz: &[f64; 3]) -> [f64; 3] {
    let n = (xyz[0] * xyz[0] + xyz[1] * xyz[1] + xyz[2] * xyz[2])
        .sqrt()
        .max(1e-12);
    [xyz[0] / n, xyz[1] / n, xyz[2] / n]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// e3nn's hard-coded formulas for l ≤ 3 (component normalisation).
    fn e3nn_closed_form(v: &[f64; 3]) -> Vec<f64> {
        let [x, y, z] = *v;
        let (s3, s5, s7, s15) = (3f64.sqrt(), 5f64.sqrt(), 7f64.sqrt(), 15f64.sqrt());
        let (s42, s168) = (42f64.sqrt(), 168f64.sqrt());
        let sh20 = s15 * x * z;
        let sh24 = 0.5 * s15 * (z * z - x * x);
        let (y2, q) = (y * y, x * x + z * z);
        vec![
            1.0,
            s3 * x,
            s3 * y,
            s3 * z,
            sh20,
            s15 * x * y,
            s5 * (y2 - 0.5 * q),
            s15 * y * z,
            sh24,
            s42 / 6.0 * (sh20 * z + sh24 * x),
            s7 * sh20 * y,
            s168 / 8.0 * (4.0 * y2 - q) * x,
            0.5 * s7 * y * (2.0 * y2 - 3.0 * q),
            s168 / 8.0 * z * (4.0 * y2 - q),
            s7 * sh24 * y,
            s42 / 6.0 * (sh24 * z - sh20 * x),
        ]
    }

    #[test]
    fn matches_spec_closed_form_to_l3() {
        let table = ShPolynomials::new(3);
        for v in [[0.3, -0.7, 1.1], [1.0, 0.0, 0.0], [-0.2, 0.5, 0.1]] {
            let got = table.eval(ShNormalization::Component, &v);
            let want = e3nn_closed_form(&v);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-13, "{got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn component_norm_on_sphere_and_homogeneity() {
        let table = ShPolynomials::new(6);
        let v = normalize_vector(&[0.4, -1.3, 0.25]);
        let y = table.eval(ShNormalization::Component, &v);
        let mut off = 0;
        for l in 0..=6 {
            let n2: f64 = y[off..off + 2 * l + 1].iter().map(|a| a * a).sum();
            assert!((n2 - (2 * l + 1) as f64).abs() < 1e-11, "l={l}: {n2}");
            off += 2 * l + 1;
        }
        // y is the polar axis: Y^l(0, 1, 0) = √(2l+1)·e_l
        let pole = table.eval(ShNormalization::Component, &[0.0, 1.0, 0.0]);
        let mut off = 0;
        for l in 0..=6 {
            for m in 0..2 * l + 1 {
                let want = if m == l {
                    ((2 * l + 1) as f64).sqrt()
                } else {
                    0.0
                };
                assert!((pole[off + m] - want).abs() < 1e-12, "l={l} m={m}");
            }
            off += 2 * l + 1;
        }
        for comps in &table.by_l {
            for p in comps {
                let deg: Vec<u8> = p.iter().map(|(_, e)| e[0] + e[1] + e[2]).collect();
                assert!(deg.windows(2).all(|w| w[0] == w[1]));
            }
        }
    }

    #[test]
    fn zero_vector_with_normalize() {
        let y = spherical_harmonics(2, ShNormalization::Component, true, &[0.0; 3]);
        assert_eq!(y[0], 1.0);
        assert!(y[1..].iter().all(|&v| v == 0.0));
    }
}
