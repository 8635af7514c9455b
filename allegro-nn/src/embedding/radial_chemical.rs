//! The radial-chemical embedding interface and its variants.

use allegro_core::SplitMix64;
use allegro_core::{Backend, DType, Tensor};

use super::{BesselEmbedding, CustomEmbed, SplineEmbedding};
use crate::inputs::ModelInputs;
use crate::parameters::Parameters;

/// Scalar features of each edge from its normalised length `x = r/r_c` and the types of
/// its two atoms (nequip's `radial_chemical_embed`).
pub trait RadialChemicalEmbedding {
    /// Feature width `D`.
    fn output_dim(&self) -> usize;
    /// Adds this module's initial weights.
    fn init<B: Backend>(
        &self,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    );
    /// Features `[E, D]` from `x` (`[E, 1]`, model dtype).
    fn forward<B: Backend>(
        &self,
        params: &Parameters<B>,
        x: &Tensor<B>,
        inputs: &ModelInputs<B>,
    ) -> Tensor<B>;
}

/// The configured embedding.
#[derive(Clone, Debug)]
pub enum RadialChemicalEmbed {
    /// Bessel basis × envelope × type embeddings.
    Bessel(BesselEmbedding),
    /// Per-edge-type splines.
    Spline(SplineEmbedding),
    /// A user-defined embedding ([`crate::AllegroModel::with_radial_embedding`]).
    Custom(CustomEmbed),
}

impl RadialChemicalEmbedding for RadialChemicalEmbed {
    fn output_dim(&self) -> usize {
        match self {
            RadialChemicalEmbed::Bessel(b) => b.output_dim(),
            RadialChemicalEmbed::Spline(s) => s.output_dim(),
            RadialChemicalEmbed::Custom(c) => c.output_dim(),
        }
    }

    fn init<B: Backend>(
        &self,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    ) {
        match self {
            RadialChemicalEmbed::Bessel(b) => b.init(params, rng, dtype, device),
            RadialChemicalEmbed::Spline(s) => s.init(params, rng, dtype, device),
            RadialChemicalEmbed::Custom(c) => c.init(params, rng, dtype, device),
        }
    }

    fn forward<B: Backend>(
        &self,
        params: &Parameters<B>,
        x: &Tensor<B>,
        inputs: &ModelInputs<B>,
    ) -> Tensor<B> {
        match self {
            RadialChemicalEmbed::Bessel(b) => b.forward(params, x, inputs),
            RadialChemicalEmbed::Spline(s) => s.forward(params, x, inputs),
            RadialChemicalEmbed::Custom(c) => c.forward(params, x, inputs),
        }
    }
}

/// Standard normal samples (Box–Muller), for type-embedding tables.
pub(crate) fn normal_vec(rng: &mut SplitMix64, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.normal()).collect()
}
