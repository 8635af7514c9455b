//! `TwoBodySphericalHarmonicTensorEmbed`: the first tensor features of each edge.

use allegro_core::SplitMix64;
use allegro_core::{Backend, DType, Tensor};

use super::WeightedChannels;
use crate::mlp::ScalarMlp;
use crate::parameters::Parameters;

/// `x⁰_z = Weighted(Y_z, Linear_{S→U·R}(h_z))`, shape `[E, U, dim Y]`.
#[derive(Clone, Debug)]
pub struct TensorEmbedding {
    linear: ScalarMlp,
    weighted: WeightedChannels,
}

impl TensorEmbedding {
    /// From the scalar width `S` and the channel weighting.
    pub fn new(scalar_dim: usize, weighted: WeightedChannels) -> Self {
        let linear = ScalarMlp::linear(
            "tensor_embed.env_embed_linear",
            scalar_dim,
            weighted.weight_numel(),
        );
        TensorEmbedding { linear, weighted }
    }

    /// The linear map `S → U·R` of the scalar features.
    pub fn linear(&self) -> &ScalarMlp {
        &self.linear
    }

    /// Adds the initial weights.
    pub fn init<B: Backend>(
        &self,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    ) {
        self.linear.init(params, rng, dtype, device);
    }

    /// Tensor features from harmonics `y` `[E, dim]` and scalar features `h` `[E, S]`.
    pub fn forward<B: Backend>(
        &self,
        params: &Parameters<B>,
        y: &Tensor<B>,
        h: &Tensor<B>,
    ) -> Tensor<B> {
        self.weighted.forward(y, &self.linear.forward(params, h))
    }
}
