//! The parts of one's own a model is built with, and how a config's part names find
//! them: the part passed to [`AllegroModel::with_parts`](crate::AllegroModel::with_parts)
//! when its name and settings are the config's, else the [`registry`],
//! else an error that names the part.

use serde_json::Value;

use crate::config::{AllegroConfig, CustomPartConfig, RadialChemicalEmbedConfig};
use crate::embedding::{CustomEmbed, CustomRadialEmbedding};
use crate::error::{Result, config_error};
use crate::registry::{self, Part, PartKind};
use crate::tensor_product_custom::{CustomTensorProduct, CustomTp};

/// Parts written outside these crates, for one model.
#[derive(Clone, Debug, Default)]
pub struct ModelParts {
    radial_embedding: Option<CustomEmbed>,
    tensor_product: Option<CustomTp>,
}

impl ModelParts {
    /// No parts of one's own (the config's, or registered ones).
    pub fn new() -> Self {
        Self::default()
    }

    /// With `part` as the radial-chemical embedding.
    pub fn with_radial_embedding<E: CustomRadialEmbedding>(mut self, part: E) -> Self {
        self.radial_embedding = Some(CustomEmbed::new(part));
        self
    }

    /// With `part` as every layer's tensor product.
    pub fn with_tensor_product<T: CustomTensorProduct>(mut self, part: T) -> Self {
        self.tensor_product = Some(CustomTp::new(part));
        self
    }

    /// `config` with these parts' names and settings in place of its own.
    pub(crate) fn recorded_in(&self, config: &AllegroConfig) -> AllegroConfig {
        let mut config = config.clone();
        if let Some(e) = &self.radial_embedding {
            config.radial_chemical_embed = RadialChemicalEmbedConfig::Custom {
                name: e.name().to_string(),
                settings: e.settings().clone(),
            };
        }
        if let Some(t) = &self.tensor_product {
            config.tensor_product = Some(CustomPartConfig {
                name: t.name().to_string(),
                settings: t.settings().clone(),
            });
        }
        config
    }

    /// The radial embedding a config names `name` with `settings`.
    pub(crate) fn radial_embedding(&self, name: &str, settings: &Value) -> Result<CustomEmbed> {
        let given = self.radial_embedding.as_ref();
        if let Some(e) = given.filter(|e| e.name() == name && e.settings() == settings) {
            return Ok(e.clone());
        }
        match resolve(
            PartKind::RadialEmbedding,
            "radial_chemical_embed",
            name,
            settings,
        )? {
            Part::RadialEmbedding(e) => Ok(e),
            Part::TensorProduct(_) => unreachable!("the registry keeps kinds apart"),
        }
    }

    /// The tensor product a config's `tensor_product` names.
    pub(crate) fn tensor_product(&self, wanted: &CustomPartConfig) -> Result<CustomTp> {
        let (name, settings) = (&wanted.name, &wanted.settings);
        let given = self.tensor_product.as_ref();
        if let Some(t) = given.filter(|t| t.name() == name && t.settings() == settings) {
            return Ok(t.clone());
        }
        match resolve(PartKind::TensorProduct, "tensor_product", name, settings)? {
            Part::TensorProduct(t) => Ok(t),
            Part::RadialEmbedding(_) => unreachable!("the registry keeps kinds apart"),
        }
    }
}

/// The registered part, or the error that names it.
fn resolve(kind: PartKind, key: &str, name: &str, settings: &Value) -> Result<Part> {
    match registry::make(kind, name, settings) {
        Some(made) => made.map_err(|m| config_error(key, m)),
        None => {
            let register = match kind {
                PartKind::RadialEmbedding => "register_radial_embedding",
                PartKind::TensorProduct => "register_tensor_product",
            };
            Err(config_error(
                key,
                format!(
                    "the custom {} `{name}` (settings {settings}) is not part of this \
                     program: register it (allegro_nn::registry::{register}) or build the \
                     model with AllegroModel::with_parts and that part",
                    kind.describe()
                ),
            ))
        }
    }
}
