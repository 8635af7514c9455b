//! Spherical harmonics of edge vectors as differentiable tensor ops.
//!
//! `Y(v)` is a polynomial of degree ≤ l_max in the unit vector `û = v/max(|v|, 1e-12)`,
//! so it is evaluated as `monomials(û) · C`: one `[E, M]` matrix of the monomials
//! `x^a y^b z^c` (a+b+c ≤ l_max) times a constant `[M, (l_max+1)²]` coefficient matrix
//! from [`ShPolynomials`]. Every step is a differentiable op, so forces and their
//! weight gradients need no hand-written derivative.

use super::{ShNormalization, ShPolynomials};
use crate::backend::Backend;
use crate::tensor::Tensor;

/// Real spherical harmonics `Y⁰ … Y^{l_max}` in e3nn's order, signs and normalisation.
#[derive(Clone, Debug)]
pub struct SphericalHarmonics {
    l_max: usize,
    normalize: bool,
    /// Exponents `[a, b, c]` of each monomial column.
    monomials: Vec<[u8; 3]>,
    /// `[monomials.len(), dim]`, row-major.
    coefficients: Vec<f64>,
}

impl SphericalHarmonics {
    /// Harmonics up to `l_max` with output `normalization`; `normalize` divides the input
    /// vector by its length first (Allegro: true).
    pub fn new(l_max: usize, normalization: ShNormalization, normalize: bool) -> Self {
        let polys = ShPolynomials::new(l_max);
        let mut monomials = Vec::new();
        for total in 0..=l_max as u8 {
            for a in (0..=total).rev() {
                for b in (0..=total - a).rev() {
                    monomials.push([a, b, total - a - b]);
                }
            }
        }
        let dim = (l_max + 1) * (l_max + 1);
        let mut coefficients = vec![0.0; monomials.len() * dim];
        let mut col = 0;
        for (l, comps) in polys.by_l.iter().enumerate() {
            let f = normalization.factor(l);
            for p in comps {
                for &(c, e) in p {
                    let row = monomials
                        .iter()
                        .position(|m| *m == e)
                        .expect("degree ≤ l_max");
                    coefficients[row * dim + col] += f * c;
                }
                col += 1;
            }
        }
        SphericalHarmonics {
            l_max,
            normalize,
            monomials,
            coefficients,
        }
    }

    /// Largest degree.
    pub fn l_max(&self) -> usize {
        self.l_max
    }

    /// Number of components, `(l_max+1)²`.
    pub fn dim(&self) -> usize {
        (self.l_max + 1) * (self.l_max + 1)
    }

    /// `Y(v)` for `v` of shape `[E, 3]`; result `[E, (l_max+1)²]` in `v`'s dtype.
    pub fn forward<B: Backend>(&self, v: &Tensor<B>) -> Tensor<B> {
        assert!(
            v.rank() == 2 && v.dim(1) == 3,
            "spherical harmonics of shape {:?}",
            v.shape()
        );
        let u = if self.normalize {
            let len = v.square().sum(1, true).sqrt();
            v.div(&len.maximum(&v.full_like(&[], 1e-12)))
        } else {
            v.clone()
        };
        let e = v.dim(0);
        // powers[d][k] = u_d^k, shape [E, 1]
        let powers: Vec<Vec<Tensor<B>>> = (0..3)
            .map(|d| {
                let x = u.narrow(1, d, 1);
                let mut p = vec![v.full_like(&[e, 1], 1.0), x.clone()];
                for k in 2..=self.l_max {
                    let next = p[k - 1].mul(&x);
                    p.push(next);
                }
                p
            })
            .collect();
        let columns: Vec<Tensor<B>> = self
            .monomials
            .iter()
            .map(|&[a, b, c]| {
                let mut factors = [(0, a), (1, b), (2, c)].into_iter().filter(|&(_, k)| k > 0);
                match factors.next() {
                    None => v.full_like(&[e, 1], 1.0),
                    Some((d, k)) => factors.fold(powers[d][k as usize].clone(), |acc, (d, k)| {
                        acc.mul(&powers[d][k as usize])
                    }),
                }
            })
            .collect();
        let refs: Vec<&Tensor<B>> = columns.iter().collect();
        let m = Tensor::concat(&refs, 1);
        let c = Tensor::from_f64(
            &self.coefficients,
            &[self.monomials.len(), self.dim()],
            v.dtype(),
            &v.device(),
        )
        .expect("coefficient shape");
        m.matmul(&c)
    }
}
