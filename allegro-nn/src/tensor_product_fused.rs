//! The tensor product as one fused sparse contraction (`Tensor::channel_contract`):
//! same weights and results as [`ComposedTensorProduct`], without the `[E, U, Q]`
//! intermediate.

use std::sync::Arc;

use allegro_core::SplitMix64;
use allegro_core::backend::ContractionSpec;
use allegro_core::e3::tensor_product::StridedContraction;
use allegro_core::{Backend, DType, Tensor};

use crate::parameters::Parameters;
use crate::tensor_product::{ComposedTensorProduct, TensorProduct};

/// `out[z,u,k] = Σ_e x1[z,u,i_e]·x2[z,u,j_e]·θ[u,p_e]·C_e` over the nonzero couplings.
#[derive(Clone, Debug)]
pub struct FusedTensorProduct {
    /// Same names, shapes and initialisation as the composed version.
    composed: ComposedTensorProduct,
    spec: Arc<ContractionSpec>,
    channels: usize,
    coupled: bool,
}

impl FusedTensorProduct {
    /// The product of `contraction` over `channels` channels, weights `{prefix}.weights`.
    pub fn new(
        prefix: &str,
        contraction: &StridedContraction,
        channels: usize,
        path_channel_coupling: bool,
    ) -> Self {
        let spec = contraction.contraction_spec();
        FusedTensorProduct {
            composed: ComposedTensorProduct::new(
                prefix,
                contraction,
                channels,
                path_channel_coupling,
            ),
            spec: Arc::new(spec),
            channels,
            coupled: path_channel_coupling,
        }
    }

    /// The contraction's entries (slots `[x, env, out]`).
    pub fn spec(&self) -> &Arc<ContractionSpec> {
        &self.spec
    }

    /// Whether the path weights have one row per channel.
    pub fn per_channel(&self) -> bool {
        self.coupled
    }

    /// Channels `U`.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The composed twin (same weights), the oracle.
    pub fn composed(&self) -> &ComposedTensorProduct {
        &self.composed
    }
}

impl TensorProduct for FusedTensorProduct {
    fn init<B: Backend>(
        &self,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    ) {
        self.composed.init(params, rng, dtype, device);
    }

    fn forward<B: Backend>(
        &self,
        params: &Parameters<B>,
        x1: &Tensor<B>,
        x2: &Tensor<B>,
    ) -> Tensor<B> {
        let (name, _) = self.composed.weight_shape();
        let rows = if self.coupled { self.channels } else { 1 };
        let theta = params.get(&name).reshape(&[rows, self.spec.num_paths]);
        Tensor::channel_contract(x1, x2, &theta, &self.spec, self.coupled)
    }
}
