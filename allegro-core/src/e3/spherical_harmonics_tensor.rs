//! Spherical harmonics of edge vectors as differentiable tensor ops.
//!
//! `Y(v)` is a polynomial of degree ≤ l_max in the unit vector `û = v/max(|v|, 1e-12)`,
//! so it is evaluated as `monomials(û) · C`: one `[E, M]` matrix of the monomials
//! `x^a y^b z^c` (a+b+c ≤ l_max) times a constant `[M, (l_max+1)²]` coefficient matrix
//! from [`ShPolynomials`]. Every step is a differentiable op, so forces and their
//! weight gradients need no hand-written derivative.
//!
//! Where the backend has fused kernels ([`crate::backend::InferenceOps::edge_harmonics`]
//! and its adjoint: one launch each instead of ~30 and ~70 on a GPU),
//! [`SphericalHarmonics::forward_fused`] is one op whose backward is the fused adjoint,
//! itself an op whose backward differentiates the composition. That is the cheapest for
//! a first derivative (forces at inference); a second (training on forces) costs more
//! than the composition's own, so training keeps [`SphericalHarmonics::forward`], which
//! is also the fused kernels' oracle.

use std::sync::Arc;

use super::{ShNormalization, ShPolynomials};
use crate::autodiff::{is_grad_enabled, vjp_backward_by_composition};
use crate::backend::{Backend, HarmonicsSpec};
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
    /// The same, for fused kernels.
    spec: Arc<HarmonicsSpec>,
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
        let spec = Arc::new(HarmonicsSpec {
            exponents: monomials.clone().into(),
            coefficients: coefficients.clone().into(),
            dim,
            normalize,
        });
        SphericalHarmonics {
            l_max,
            normalize,
            monomials,
            coefficients,
            spec,
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

    /// `Y(v)` for `v` of shape `[E, 3]`; result `[E, (l_max+1)²]` in `v`'s dtype: the
    /// backend's fused kernel where it has one, else [`SphericalHarmonics::forward`].
    /// Differentiable to any order; cheapest where at most a first derivative is taken.
    pub fn forward_fused<B: Backend>(&self, v: &Tensor<B>) -> Tensor<B> {
        assert!(
            v.rank() == 2 && v.dim(1) == 3,
            "spherical harmonics of shape {:?}",
            v.shape()
        );
        let Some(y) = B::edge_harmonics(&self.spec, v.storage()) else {
            return self.forward(v);
        };
        let shape = [v.dim(0), self.dim()];
        let this = self.clone();
        Tensor::custom_op(
            "spherical_harmonics",
            &[v],
            |_| Tensor::from_storage(y, &shape),
            move |inputs: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, _: &[bool]| {
                vec![Some(this.vjp(&inputs[0], g))]
            },
        )
    }

    /// `∂L/∂v` from `∂L/∂Y` (`grad_y`, `[E, dim]`): the fused adjoint as one op whose own
    /// backward differentiates the composition (second and higher orders).
    fn vjp<B: Backend>(&self, v: &Tensor<B>, grad_y: &Tensor<B>) -> Tensor<B> {
        let fused = B::edge_harmonics_vjp(&self.spec, v.storage(), grad_y.storage())
            .expect("a backend with a fused forward has its adjoint");
        let shape = [v.dim(0), 3];
        let this = self.clone();
        Tensor::custom_op(
            "spherical_harmonics_vjp",
            &[v, grad_y],
            |_| Tensor::from_storage(fused, &shape),
            move |inputs: &[Tensor<B>], _: &Tensor<B>, g: &Tensor<B>, needs: &[bool]| {
                this.vjp_backward(&inputs[0], &inputs[1], g, needs)
            },
        )
    }

    /// The backward of [`SphericalHarmonics::vjp`]: `∂⟨g, ∂L/∂v⟩` with respect to `v`
    /// and `grad_y`. With respect to `grad_y` alone and nothing recorded, the fused
    /// directional derivative ([`crate::backend::InferenceOps::edge_harmonics_jvp`]);
    /// otherwise by the composition ([`vjp_backward_by_composition`]).
    fn vjp_backward<B: Backend>(
        &self,
        v: &Tensor<B>,
        grad_y: &Tensor<B>,
        g: &Tensor<B>,
        needs: &[bool],
    ) -> Vec<Option<Tensor<B>>> {
        let create = is_grad_enabled();
        // Only the cotangent's gradient, nothing recorded (a force loss's parameter
        // gradient): the fused directional derivative of `Y` along `g`.
        if !create
            && !needs[0]
            && let Some(jvp) = B::edge_harmonics_jvp(&self.spec, v.storage(), g.storage())
        {
            return vec![None, Some(Tensor::from_storage(jvp, grad_y.shape()))];
        }
        vjp_backward_by_composition(|v| self.forward(v), v, grad_y, g, needs)
    }

    /// `Y(v)` for `v` of shape `[E, 3]`; result `[E, (l_max+1)²]` in `v`'s dtype, composed
    /// from differentiable tensor ops (the oracle of the fused kernels).
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
