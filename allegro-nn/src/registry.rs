//! Parts by name: a program registers the parts it was built with, and every model it
//! loads — through [`ModelFile`](crate::ModelFile), the C ABI, LAMMPS or the Python
//! package — finds them by the name its config records.
//!
//! A model whose config names a part (a custom radial embedding, a custom tensor
//! product) is rebuilt from the part passed to
//! [`AllegroModel::with_parts`](crate::AllegroModel::with_parts) if one is, else from
//! this registry; a name registered nowhere is refused by name. A factory makes the
//! part from the settings the config recorded, so one registration serves every
//! setting of the part.
//!
//! ```
//! use allegro_core::{Backend, DType, Tensor};
//! use allegro_nn::tensor_product::TensorProduct;
//! use allegro_nn::tensor_product_custom::{CustomTensorProduct, TensorProductSite};
//! use allegro_nn::{Parameters, SplitMix64, registry};
//!
//! /// Allegro's product, halved.
//! #[derive(Debug)]
//! struct Half;
//!
//! impl CustomTensorProduct for Half {
//!     fn name(&self) -> String {
//!         "my_crate.Half".into()
//!     }
//!     fn init<B: Backend>(&self, site: &TensorProductSite, params: &mut Parameters<B>,
//!                         rng: &mut SplitMix64, dtype: DType, device: &B::Device) {
//!         site.allegro.init(params, rng, dtype, device);
//!     }
//!     fn forward<B: Backend>(&self, site: &TensorProductSite, params: &Parameters<B>,
//!                            x1: &Tensor<B>, x2: &Tensor<B>) -> Tensor<B> {
//!         site.allegro.forward(params, x1, x2).mul_scalar(0.5)
//!     }
//! }
//!
//! registry::register_tensor_product("my_crate.Half", |_settings| Ok(Half));
//! assert!(registry::registered().iter().any(|(_, name)| name == "my_crate.Half"));
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, RwLock};

use serde_json::Value;

use crate::embedding::{CustomEmbed, CustomRadialEmbedding};
use crate::tensor_product_custom::{CustomTensorProduct, CustomTp};

/// The kinds of part a model can take from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PartKind {
    /// A radial-chemical embedding (`radial_chemical_embed: {_target_: custom, …}`).
    RadialEmbedding,
    /// A tensor product (`tensor_product: {name, settings}`).
    TensorProduct,
}

impl PartKind {
    /// How errors name the kind.
    pub fn describe(self) -> &'static str {
        match self {
            PartKind::RadialEmbedding => "radial embedding",
            PartKind::TensorProduct => "tensor product",
        }
    }
}

/// A registered part, made.
#[derive(Clone, Debug)]
pub(crate) enum Part {
    RadialEmbedding(CustomEmbed),
    TensorProduct(CustomTp),
}

type Factory = Arc<dyn Fn(&Value) -> Result<Part, String> + Send + Sync>;

static PARTS: LazyLock<RwLock<BTreeMap<(PartKind, String), Factory>>> =
    LazyLock::new(Default::default);

fn insert(kind: PartKind, name: &str, factory: Factory) {
    PARTS
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert((kind, name.to_string()), factory);
}

/// Registers a radial embedding under `name` (the name its
/// [`CustomRadialEmbedding::name`] returns): `make` builds it from the settings a
/// config recorded. Registering a name again replaces the factory.
pub fn register_radial_embedding<E: CustomRadialEmbedding>(
    name: &str,
    make: impl Fn(&Value) -> Result<E, String> + Send + Sync + 'static,
) {
    let factory: Factory =
        Arc::new(move |s| make(s).map(|e| Part::RadialEmbedding(CustomEmbed::new(e))));
    insert(PartKind::RadialEmbedding, name, factory);
}

/// Registers a tensor product under `name`, as [`register_radial_embedding`].
pub fn register_tensor_product<T: CustomTensorProduct>(
    name: &str,
    make: impl Fn(&Value) -> Result<T, String> + Send + Sync + 'static,
) {
    let factory: Factory =
        Arc::new(move |s| make(s).map(|t| Part::TensorProduct(CustomTp::new(t))));
    insert(PartKind::TensorProduct, name, factory);
}

/// Removes a registration (tests; a program that unloads a plugin); whether there was one.
pub fn unregister(kind: PartKind, name: &str) -> bool {
    PARTS
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&(kind, name.to_string()))
        .is_some()
}

/// Every registered part, by kind and name.
pub fn registered() -> Vec<(PartKind, String)> {
    PARTS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .keys()
        .cloned()
        .collect()
}

/// The part `name` of `kind` made from `settings`: `None` if no such name is
/// registered, an error if its factory refuses the settings or makes a part that
/// records another name or other settings.
pub(crate) fn make(kind: PartKind, name: &str, settings: &Value) -> Option<Result<Part, String>> {
    let factory = PARTS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&(kind, name.to_string()))
        .cloned()?;
    let made = factory(settings).and_then(|part| {
        let (n, s) = match &part {
            Part::RadialEmbedding(e) => (e.name(), e.settings()),
            Part::TensorProduct(t) => (t.name(), t.settings()),
        };
        if n == name && s == settings {
            Ok(part)
        } else {
            Err(format!(
                "the registered {} `{name}` made a part named `{n}` with settings {s} \
                 from settings {settings}: a factory must rebuild the part it was given",
                kind.describe()
            ))
        }
    });
    Some(made)
}
