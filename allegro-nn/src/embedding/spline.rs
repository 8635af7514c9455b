//! `TwoBodySplineScalarEmbed` (docs/model.md §3).

use allegro_core::SplitMix64;
use allegro_core::{Backend, DType, Tensor};

use super::radial_chemical::RadialChemicalEmbedding;
use crate::inputs::ModelInputs;
use crate::parameters::Parameters;

const TABLE: &str = "radial_chemical_embed.spline.class_embed.weight";

/// `e_z[c] = Σ_k W[class_z][c][k]·s_k(x)` with the raised-cosine bumps
/// `s_k(x) = ¼(1 − cos(2π/Δ·(clamp(x, lo_k, hi_k) − lo_k)))²`, `lo_k = (k − K)/M`,
/// `Δ = (K+1)/M`, `hi_k = lo_k + Δ`; the class is the edge type.
#[derive(Clone, Debug)]
pub struct SplineEmbedding {
    num_types: usize,
    num_splines: usize,
    span: usize,
    dim: usize,
}

impl SplineEmbedding {
    /// `num_splines` (M) bumps spanning `span` (K) grid cells each, width `dim`.
    pub fn new(num_types: usize, num_splines: usize, span: usize, dim: usize) -> Self {
        SplineEmbedding {
            num_types,
            num_splines,
            span,
            dim,
        }
    }

    /// Lower and upper ends of each bump.
    pub fn grid(&self) -> (Vec<f64>, Vec<f64>) {
        let (m, k) = (self.num_splines as f64, self.span as f64);
        let delta = (k + 1.0) / m;
        let lower: Vec<f64> = (0..self.num_splines).map(|i| (i as f64 - k) / m).collect();
        let upper = lower.iter().map(|l| l + delta).collect();
        (lower, upper)
    }
}

impl RadialChemicalEmbedding for SplineEmbedding {
    fn output_dim(&self) -> usize {
        self.dim
    }

    fn init<B: Backend>(
        &self,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    ) {
        let shape = [self.num_types * self.num_types, self.dim * self.num_splines];
        let b = (3.0 / self.span as f64).sqrt();
        let v: Vec<f64> = (0..shape[0] * shape[1])
            .map(|_| rng.uniform_in(-b, b))
            .collect();
        params.insert(
            TABLE,
            Tensor::from_f64(&v, &shape, dtype, device).expect("shape"),
            true,
        );
    }

    fn forward<B: Backend>(
        &self,
        params: &Parameters<B>,
        x: &Tensor<B>,
        inputs: &ModelInputs<B>,
    ) -> Tensor<B> {
        let (lower, upper) = self.grid();
        let m = self.num_splines;
        let delta = upper[0] - lower[0];
        let lo = Tensor::from_f64(&lower, &[1, m], x.dtype(), &x.device()).expect("shape");
        let hi = Tensor::from_f64(&upper, &[1, m], x.dtype(), &x.device()).expect("shape");
        let t = x.maximum(&lo).minimum(&hi).sub(&lo);
        let bumps = t
            .mul_scalar(2.0 * std::f64::consts::PI / delta)
            .cos()
            .neg()
            .add_scalar(1.0)
            .square()
            .mul_scalar(0.25);
        let e = x.dim(0);
        let w = params
            .get(TABLE)
            .index_select(0, &inputs.edge_types)
            .reshape(&[e, self.dim, m]);
        w.mul(&bumps.unsqueeze(1)).sum(2, false)
    }
}
