//! User-defined radial-chemical embeddings, held by the model beside the built-in ones.
//!
//! [`CustomEmbed::new`] holds a user's part for every backend of this build
//! ([`crate::backend_erasure`]). The model, the trainer, the
//! predictor (its no-tape path runs the embedding on the tape), checkpoints and model
//! files then treat the part like a built-in one; the config records its name and
//! settings so a saved model is rebuilt only with the same part.

use std::any::Any;
use std::sync::Arc;

use allegro_core::SplitMix64;
use allegro_core::{Backend, DType, Tensor};
use serde_json::Value;

use super::RadialChemicalEmbedding;
use crate::backend_erasure::on_each_backend;
use crate::inputs::ModelInputs;
use crate::parameters::Parameters;

/// A radial-chemical embedding written outside these crates: a
/// [`RadialChemicalEmbedding`] with a name and settings, which model files and
/// checkpoints record (see [`crate::AllegroModel::with_radial_embedding`]).
pub trait CustomRadialEmbedding:
    RadialChemicalEmbedding + std::fmt::Debug + Send + Sync + 'static
{
    /// What identifies the part in a config (e.g. `"my_crate.GaussianEmbed"`).
    fn name(&self) -> String;
    /// The part's settings, recorded beside its name; a saved model is rebuilt only
    /// with a part whose name and settings are equal.
    fn settings(&self) -> Value {
        Value::Null
    }
}

/// The backend-erased face of a [`CustomRadialEmbedding`].
trait ErasedEmbedding: std::fmt::Debug + Send + Sync {
    fn output_dim(&self) -> usize;
    /// `init::<B>` for the backend whose `Parameters<B>` and device these are; false if
    /// this build has no such backend.
    fn init_any(
        &self,
        params: &mut dyn Any,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &dyn Any,
    ) -> bool;
    /// `forward::<B>` boxed as a `Tensor<B>`; `None` if this build has no such backend.
    fn forward_any(&self, params: &dyn Any, x: &dyn Any, inputs: &dyn Any) -> Option<Box<dyn Any>>;
}

fn init_on<B: Backend, T: RadialChemicalEmbedding>(
    part: &T,
    params: &mut dyn Any,
    rng: &mut SplitMix64,
    dtype: DType,
    device: &dyn Any,
) -> Option<()> {
    let p = params.downcast_mut::<Parameters<B>>()?;
    let d = device.downcast_ref::<B::Device>()?;
    part.init::<B>(p, rng, dtype, d);
    Some(())
}

fn forward_on<B: Backend, T: RadialChemicalEmbedding>(
    part: &T,
    params: &dyn Any,
    x: &dyn Any,
    inputs: &dyn Any,
) -> Option<Box<dyn Any>> {
    let (p, x, i) = (
        params.downcast_ref::<Parameters<B>>()?,
        x.downcast_ref::<Tensor<B>>()?,
        inputs.downcast_ref::<ModelInputs<B>>()?,
    );
    Some(Box::new(part.forward::<B>(p, x, i)))
}

impl<T: CustomRadialEmbedding> ErasedEmbedding for T {
    fn output_dim(&self) -> usize {
        RadialChemicalEmbedding::output_dim(self)
    }

    fn init_any(
        &self,
        params: &mut dyn Any,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &dyn Any,
    ) -> bool {
        on_each_backend!(init_on::<T>(self, &mut *params, rng, dtype, device)).is_some()
    }

    fn forward_any(&self, params: &dyn Any, x: &dyn Any, inputs: &dyn Any) -> Option<Box<dyn Any>> {
        on_each_backend!(forward_on::<T>(self, params, x, inputs))
    }
}

/// A user's radial embedding inside a model ([`super::RadialChemicalEmbed::Custom`]).
#[derive(Clone, Debug)]
pub struct CustomEmbed {
    name: String,
    settings: Value,
    part: Arc<dyn ErasedEmbedding>,
}

impl CustomEmbed {
    /// Wraps `part` for every backend of this build.
    pub fn new<T: CustomRadialEmbedding>(part: T) -> Self {
        CustomEmbed {
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

    /// Feature width.
    pub fn output_dim(&self) -> usize {
        self.part.output_dim()
    }

    /// The part's initial weights on backend `B`.
    ///
    /// # Panics
    /// With a backend type this build does not list (a backend defined outside
    /// allegro-core): custom parts run on the CPU, CUDA, HIP and Vulkan backends.
    pub fn init<B: Backend>(
        &self,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    ) {
        let found = self.part.init_any(params, rng, dtype, device);
        assert!(
            found,
            "custom embedding `{}`: backend {} is not supported",
            self.name,
            B::name()
        );
    }

    /// The part's features on backend `B`.
    ///
    /// # Panics
    /// As [`CustomEmbed::init`].
    pub fn forward<B: Backend>(
        &self,
        params: &Parameters<B>,
        x: &Tensor<B>,
        inputs: &ModelInputs<B>,
    ) -> Tensor<B> {
        let out = self
            .part
            .forward_any(params, x, inputs)
            .and_then(|t| t.downcast::<Tensor<B>>().ok());
        match out {
            Some(t) => *t,
            None => panic!(
                "custom embedding `{}`: backend {} is not supported",
                self.name,
                B::name()
            ),
        }
    }
}
