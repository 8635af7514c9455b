//! A tensor product written outside these crates, in place of Allegro's contraction.
//!
//! Every layer's product maps the incoming tensor features `x1` `[E, U, d1]` and the
//! environment at the edge's center `x2` `[E, U, d2]` to `[E, U, d_out]`, where the
//! irreps of each axis are fixed by the layer's place in the model (the
//! [`TensorProductSite`]). A [`CustomTensorProduct`] is given the site and computes
//! anything equivariant of that shape on the tape; it may wrap Allegro's own product
//! ([`TensorProductSite::allegro`]). The model's config records the part's name and
//! settings (`tensor_product`), so a saved model is rebuilt only with the same part,
//! passed explicitly ([`crate::AllegroModel::with_parts`]) or registered by name
//! ([`crate::registry`]).
//!
//! Inference: the no-tape path has kernels for Allegro's contraction only, so a
//! [`crate::Predictor`] of such a model evaluates on the tape and says so once.

use std::any::Any;
use std::sync::Arc;

use allegro_core::e3::tensor_product::StridedContraction;
use allegro_core::{Backend, DType, SplitMix64, Tensor};
use serde_json::Value;

use crate::backend_erasure::on_each_backend;
use crate::parameters::Parameters;
use crate::tensor_product::TensorProduct;
use crate::tensor_product_fused::FusedTensorProduct;

/// What the product of one layer must compute, and Allegro's own product there.
#[derive(Clone, Debug)]
pub struct TensorProductSite {
    /// The layer's number `k`.
    pub layer: usize,
    /// Parameter-name prefix of the layer's product (`allegro.tps.{k}`): a part names
    /// its weights under it, so checkpoints and model files keep them apart by layer.
    pub prefix: String,
    /// The coupling paths of the layer: the irreps of `x1`, `x2` and the output.
    pub contraction: StridedContraction,
    /// Channels `U`.
    pub channels: usize,
    /// Whether Allegro's path weights have one row per channel.
    pub path_channel_coupling: bool,
    /// Allegro's contraction at this site (weights `{prefix}.weights`).
    pub allegro: FusedTensorProduct,
}

impl TensorProductSite {
    /// The site of layer `layer`.
    pub fn new(
        layer: usize,
        contraction: StridedContraction,
        channels: usize,
        path_channel_coupling: bool,
    ) -> Self {
        let prefix = format!("allegro.tps.{layer}");
        let allegro =
            FusedTensorProduct::new(&prefix, &contraction, channels, path_channel_coupling);
        TensorProductSite {
            layer,
            prefix,
            contraction,
            channels,
            path_channel_coupling,
            allegro,
        }
    }

    /// Width of the output's last axis, `d_out`.
    pub fn dim_out(&self) -> usize {
        self.contraction.dim_out()
    }
}

/// A tensor product of one's own: weights of its own (`init`) and `[E, U, d1]` ×
/// `[E, U, d2]` → `[E, U, d_out]` on the tape (`forward`), equivariant, at every
/// [`TensorProductSite`] of the model.
pub trait CustomTensorProduct: std::fmt::Debug + Send + Sync + 'static {
    /// What identifies the part in a config (e.g. `"my_crate.GatedProduct"`).
    fn name(&self) -> String;
    /// The part's settings, recorded beside its name; a saved model is rebuilt only
    /// with a part whose name and settings are equal.
    fn settings(&self) -> Value {
        Value::Null
    }
    /// Adds the weights of `site` to `params`.
    fn init<B: Backend>(
        &self,
        site: &TensorProductSite,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    );
    /// The product at `site`: `x1` `[E, U, d1]`, `x2` `[E, U, d2]` → `[E, U, d_out]`.
    fn forward<B: Backend>(
        &self,
        site: &TensorProductSite,
        params: &Parameters<B>,
        x1: &Tensor<B>,
        x2: &Tensor<B>,
    ) -> Tensor<B>;
}

/// The backend-erased face of a [`CustomTensorProduct`] ([`crate::backend_erasure`]).
trait ErasedProduct: std::fmt::Debug + Send + Sync {
    fn init_any(
        &self,
        site: &TensorProductSite,
        params: &mut dyn Any,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &dyn Any,
    ) -> Option<()>;
    fn forward_any(
        &self,
        site: &TensorProductSite,
        params: &dyn Any,
        x1: &dyn Any,
        x2: &dyn Any,
    ) -> Option<Box<dyn Any>>;
}

fn init_on<B: Backend, T: CustomTensorProduct>(
    part: &T,
    site: &TensorProductSite,
    params: &mut dyn Any,
    rng: &mut SplitMix64,
    dtype: DType,
    device: &dyn Any,
) -> Option<()> {
    let p = params.downcast_mut::<Parameters<B>>()?;
    let d = device.downcast_ref::<B::Device>()?;
    part.init::<B>(site, p, rng, dtype, d);
    Some(())
}

fn forward_on<B: Backend, T: CustomTensorProduct>(
    part: &T,
    site: &TensorProductSite,
    params: &dyn Any,
    x1: &dyn Any,
    x2: &dyn Any,
) -> Option<Box<dyn Any>> {
    let (p, x1, x2) = (
        params.downcast_ref::<Parameters<B>>()?,
        x1.downcast_ref::<Tensor<B>>()?,
        x2.downcast_ref::<Tensor<B>>()?,
    );
    Some(Box::new(part.forward::<B>(site, p, x1, x2)))
}

impl<T: CustomTensorProduct> ErasedProduct for T {
    fn init_any(
        &self,
        site: &TensorProductSite,
        params: &mut dyn Any,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &dyn Any,
    ) -> Option<()> {
        on_each_backend!(init_on::<T>(self, site, &mut *params, rng, dtype, device))
    }

    fn forward_any(
        &self,
        site: &TensorProductSite,
        params: &dyn Any,
        x1: &dyn Any,
        x2: &dyn Any,
    ) -> Option<Box<dyn Any>> {
        on_each_backend!(forward_on::<T>(self, site, params, x1, x2))
    }
}

/// A user's tensor product inside a model, for every backend of this build.
#[derive(Clone, Debug)]
pub struct CustomTp {
    name: String,
    settings: Value,
    part: Arc<dyn ErasedProduct>,
}

impl CustomTp {
    /// Wraps `part`.
    pub fn new<T: CustomTensorProduct>(part: T) -> Self {
        CustomTp {
            name: part.name(),
            settings: part.settings(),
            part: Arc::new(part),
        }
    }

    /// The part's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The part's settings.
    pub fn settings(&self) -> &Value {
        &self.settings
    }

    /// The part's weights at `site` on backend `B`.
    ///
    /// # Panics
    /// With a backend type this build does not list (one defined outside allegro-core):
    /// custom parts run on the CPU, CUDA, HIP and Vulkan backends.
    pub fn init<B: Backend>(
        &self,
        site: &TensorProductSite,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    ) {
        if self
            .part
            .init_any(site, params, rng, dtype, device)
            .is_none()
        {
            panic!("{}", self.unsupported::<B>());
        }
    }

    /// The part's product at `site` on backend `B`.
    ///
    /// # Panics
    /// As [`CustomTp::init`].
    pub fn forward<B: Backend>(
        &self,
        site: &TensorProductSite,
        params: &Parameters<B>,
        x1: &Tensor<B>,
        x2: &Tensor<B>,
    ) -> Tensor<B> {
        match self
            .part
            .forward_any(site, params, x1, x2)
            .and_then(|t| t.downcast::<Tensor<B>>().ok())
        {
            Some(t) => *t,
            None => panic!("{}", self.unsupported::<B>()),
        }
    }

    fn unsupported<B: Backend>(&self) -> String {
        format!(
            "custom tensor product `{}`: backend {} is not supported (custom parts run on \
             the CPU, CUDA, HIP and Vulkan backends)",
            self.name,
            B::name()
        )
    }
}

/// A layer's product: Allegro's contraction, or a part of one's own at the same site.
#[derive(Clone, Debug)]
pub enum LayerProduct {
    /// Allegro's contraction (fused; its composed twin is the oracle).
    Allegro(FusedTensorProduct),
    /// A [`CustomTensorProduct`].
    Custom {
        /// The part.
        part: CustomTp,
        /// Where it sits.
        site: Box<TensorProductSite>,
    },
}

impl LayerProduct {
    /// Adds the product's weights.
    pub fn init<B: Backend>(
        &self,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    ) {
        match self {
            LayerProduct::Allegro(tp) => tp.init(params, rng, dtype, device),
            LayerProduct::Custom { part, site } => part.init(site, params, rng, dtype, device),
        }
    }

    /// The product; `composed` evaluates Allegro's by its composed oracle.
    pub fn forward<B: Backend>(
        &self,
        params: &Parameters<B>,
        x1: &Tensor<B>,
        x2: &Tensor<B>,
        composed: bool,
    ) -> Tensor<B> {
        match self {
            LayerProduct::Allegro(tp) if composed => tp.composed().forward(params, x1, x2),
            LayerProduct::Allegro(tp) => tp.forward(params, x1, x2),
            LayerProduct::Custom { part, site } => part.forward(site, params, x1, x2),
        }
    }
}
