//! One Allegro layer: environment sum, tensor product, latent MLP (docs/model.md §6).

use allegro_core::SplitMix64;
use allegro_core::{Backend, DType, Indices, Tensor};

use crate::embedding::WeightedChannels;
use crate::inputs::ModelInputs;
use crate::mlp::ScalarMlp;
use crate::parameters::Parameters;
use crate::tensor_product::ComposedTensorProduct;
use crate::tensor_product_custom::LayerProduct;
use crate::tensor_product_fused::FusedTensorProduct;

/// The state carried from layer to layer along each edge.
#[derive(Clone, Debug)]
pub struct EdgeState<B: Backend> {
    /// Tensor features `x_z`, `[E, U, d]`.
    pub tensors: Tensor<B>,
    /// Scalar latents so far, each `[E, S]` (the densenet accumulation).
    pub scalars: Vec<Tensor<B>>,
    /// Environment weights for this layer, `[E, U·R]`.
    pub env_weights: Tensor<B>,
}

/// Layer `k`: `ω = Weighted(Y, w)`, `Ω_n = a(t_n)·Σ_{center(z)=n} ω_z`,
/// `x ← TP(x, Ω_center)`, `y = MLP(concat(scalars, x[:, :, 0]))`.
#[derive(Clone, Debug)]
pub struct AllegroLayer {
    last: bool,
    scalar_dim: usize,
    /// Components of the previous features this layer reads (None: all of them).
    input_components: Option<Vec<u32>>,
    tp: LayerProduct,
    latent: ScalarMlp,
    /// Evaluate the composed oracle instead of the fused op (tests, debugging).
    use_composed: bool,
}

impl AllegroLayer {
    /// A layer from its parts. `input_components` selects the components of the
    /// incoming tensor features that this layer's product reads.
    pub fn new(
        last: bool,
        scalar_dim: usize,
        input_components: Option<Vec<u32>>,
        tp: LayerProduct,
        latent: ScalarMlp,
    ) -> Self {
        AllegroLayer {
            last,
            scalar_dim,
            input_components,
            tp,
            latent,
            use_composed: false,
        }
    }

    /// Allegro's tensor product in composed form (weights, buffers); `None` when the
    /// layer has a custom product.
    pub fn tensor_product(&self) -> Option<&ComposedTensorProduct> {
        self.fused_tensor_product()
            .map(FusedTensorProduct::composed)
    }

    /// The layer's product: Allegro's or a custom part.
    pub fn product(&self) -> &LayerProduct {
        &self.tp
    }

    /// Switches between the fused contraction (default) and the composed oracle.
    pub fn set_use_composed(&mut self, composed: bool) {
        self.use_composed = composed;
    }

    /// Allegro's fused tensor product; `None` when the layer has a custom product.
    pub fn fused_tensor_product(&self) -> Option<&FusedTensorProduct> {
        match &self.tp {
            LayerProduct::Allegro(tp) => Some(tp),
            LayerProduct::Custom { .. } => None,
        }
    }

    /// Whether the composed oracle evaluates Allegro's product
    /// ([`AllegroLayer::set_use_composed`]).
    pub fn uses_composed(&self) -> bool {
        self.use_composed
    }

    /// Components of the previous layer's features this layer reads (`None`: all).
    pub fn input_components(&self) -> Option<&[u32]> {
        self.input_components.as_deref()
    }

    /// Whether this is the last layer (its latent MLP has no environment weights).
    pub fn is_last(&self) -> bool {
        self.last
    }

    /// The latent MLP.
    pub fn latent(&self) -> &ScalarMlp {
        &self.latent
    }

    /// Adds the initial weights.
    pub fn init<B: Backend>(
        &self,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    ) {
        self.tp.init(params, rng, dtype, device);
        self.latent.init(params, rng, dtype, device);
    }

    /// Applies the layer. `y` are the harmonics `[E, dim]`, `env_norm` the per-atom
    /// factors `a(t_n)` as `[N, 1, 1]`.
    pub fn forward<B: Backend>(
        &self,
        params: &Parameters<B>,
        state: EdgeState<B>,
        y: &Tensor<B>,
        weighted: &WeightedChannels,
        env_norm: Option<&Tensor<B>>,
        inputs: &ModelInputs<B>,
    ) -> EdgeState<B> {
        let omega = weighted.forward(y, &state.env_weights);
        let mut env = omega.index_add(0, &inputs.edge_center, inputs.n_atoms);
        if let Some(a) = env_norm {
            env = env.mul(a);
        }
        let env_edges = env.index_select(0, &inputs.edge_center);
        let x = match &self.input_components {
            Some(c) => state.tensors.index_select(2, &Indices::new(c, &y.device())),
            None => state.tensors,
        };
        let tensors = self.tp.forward(params, &x, &env_edges, self.use_composed);
        let (e, u) = (tensors.dim(0), tensors.dim(1));
        let invariants = tensors.narrow(2, 0, 1).reshape(&[e, u]);
        let mut parts: Vec<&Tensor<B>> = state.scalars.iter().collect();
        parts.push(&invariants);
        let latent = self.latent.forward(params, &Tensor::concat(&parts, 1));
        let mut scalars = state.scalars;
        scalars.push(latent.narrow(1, 0, self.scalar_dim));
        let env_weights = if self.last {
            state.env_weights
        } else {
            latent.narrow(1, self.scalar_dim, latent.dim(1) - self.scalar_dim)
        };
        EdgeState {
            tensors,
            scalars,
            env_weights,
        }
    }
}
