//! The model's state: named tensors, trainable or fixed.
//!
//! Names are the reference's `state_dict` names without the `model.func.` prefix
//! (`allegro.latents.0.mlp.0.weight`), so importing nequip weights is a lookup. Modules
//! hold names, not tensors: the same architecture runs with any parameter set (EMA
//! weights, tracked copies for training, weights being optimised).

use std::collections::BTreeMap;

use allegro_core::{Backend, DType, Tensor};

use crate::error::{Error, Result};

/// One named state tensor.
#[derive(Clone, Debug)]
pub struct Parameter<B: Backend> {
    /// The values.
    pub tensor: Tensor<B>,
    /// Whether an optimizer updates it.
    pub trainable: bool,
}

/// All state tensors of a model, by name, in a stable (sorted) order.
#[derive(Clone, Debug)]
pub struct Parameters<B: Backend> {
    entries: BTreeMap<String, Parameter<B>>,
}

impl<B: Backend> Default for Parameters<B> {
    fn default() -> Self {
        Parameters {
            entries: BTreeMap::new(),
        }
    }
}

impl<B: Backend> Parameters<B> {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a tensor.
    pub fn insert(&mut self, name: &str, tensor: Tensor<B>, trainable: bool) {
        self.entries
            .insert(name.to_string(), Parameter { tensor, trainable });
    }

    /// The tensor called `name`.
    ///
    /// # Panics
    /// If there is none: modules only ask for names the model builder created.
    pub fn get(&self, name: &str) -> &Tensor<B> {
        &self
            .entries
            .get(name)
            .unwrap_or_else(|| panic!("parameter `{name}` missing from the parameter set"))
            .tensor
    }

    /// The entry called `name`, if any.
    pub fn entry(&self, name: &str) -> Option<&Parameter<B>> {
        self.entries.get(name)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Parameter<B>)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Names of the trainable entries, in name order.
    pub fn trainable_names(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(_, p)| p.trainable)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// A copy whose trainable tensors are tracked leaves (for gradients).
    pub fn tracked(&self) -> Self {
        self.map(|_, p| {
            if p.trainable {
                p.tensor.tracked()
            } else {
                p.tensor.clone()
            }
        })
    }

    /// A copy with every tensor detached (constants).
    pub fn detached(&self) -> Self {
        self.map(|_, p| p.tensor.detach())
    }

    /// A copy with every tensor in `dtype` except those `keep_f64` names, which stay
    /// float64 (energy scales and shifts, docs/model.md §1).
    pub fn cast(&self, dtype: DType, keep_f64: impl Fn(&str) -> bool) -> Self {
        self.map(|name, p| {
            let target = if keep_f64(name) { DType::F64 } else { dtype };
            p.tensor.detach().cast(target)
        })
    }

    /// A copy of every tensor on `device` of backend `B2` (same names, dtypes and
    /// trainable flags): how weights loaded on the CPU move to a GPU.
    pub fn to_backend<B2: Backend>(&self, device: &B2::Device) -> Parameters<B2> {
        Parameters {
            entries: self
                .entries
                .iter()
                .map(|(k, p)| {
                    (
                        k.clone(),
                        Parameter {
                            tensor: p.tensor.to_backend::<B2>(device),
                            trainable: p.trainable,
                        },
                    )
                })
                .collect(),
        }
    }

    /// A copy with each tensor replaced by `f(name, entry)`.
    pub fn map(&self, mut f: impl FnMut(&str, &Parameter<B>) -> Tensor<B>) -> Self {
        Parameters {
            entries: self
                .entries
                .iter()
                .map(|(k, p)| {
                    (
                        k.clone(),
                        Parameter {
                            tensor: f(k, p),
                            trainable: p.trainable,
                        },
                    )
                })
                .collect(),
        }
    }

    /// Replaces the values of an existing entry, checking its shape.
    pub fn set(&mut self, name: &str, tensor: Tensor<B>) -> Result<()> {
        let entry = self
            .entries
            .get_mut(name)
            .ok_or_else(|| Error::Weights(format!("no parameter `{name}`")))?;
        if entry.tensor.shape() != tensor.shape() {
            return Err(Error::Weights(format!(
                "`{name}` has shape {:?}, given {:?}",
                entry.tensor.shape(),
                tensor.shape()
            )));
        }
        entry.tensor = tensor;
        Ok(())
    }
}
