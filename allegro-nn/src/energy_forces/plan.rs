//! The weights of a model prepared for the no-tape path (once per predictor).

use std::sync::Arc;

use allegro_core::backend::{ContractEntry, ContractionSpec, MatmulPrecision, SegmentContraction};
use allegro_core::{Backend, DType, Tensor};

use super::linear::PreparedMlp;
use crate::error::{Error, Result};
use crate::model::AllegroModel;
use crate::parameters::Parameters;

/// One Allegro layer: its contraction (entries remapped to the previous layer's full
/// output, so no component selection is copied), path weights and latent MLP.
pub(crate) struct PreparedLayer<B: Backend> {
    pub contraction: SegmentContraction,
    pub theta: Tensor<B>,
    pub mlp: PreparedMlp<B>,
    pub last: bool,
}

/// A model's weights arranged for [`AllegroModel::energy_forces`]: each MLP's `W·α` and
/// its transpose in the model dtype, the first projection and the tensor embedding side
/// by side (`h → [h¹ | w¹ | t]`), the readout stack folded, the path weights reshaped.
pub struct EnergyForcesPlan<B: Backend> {
    pub(crate) dtype: DType,
    pub(crate) precision: MatmulPrecision,
    pub(crate) scalar_mlp: PreparedMlp<B>,
    pub(crate) front: PreparedMlp<B>,
    pub(crate) layers: Vec<PreparedLayer<B>>,
    pub(crate) readout: PreparedMlp<B>,
}

impl<B: Backend> std::fmt::Debug for EnergyForcesPlan<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EnergyForcesPlan({}, {} layers, {:?})",
            self.dtype,
            self.layers.len(),
            self.precision
        )
    }
}

/// `spec` with its first slot read through `select` (`x[select[i]]` for `x[i]`).
fn remap_first_slot(spec: &ContractionSpec, select: Option<&[u32]>, dim: usize) -> ContractionSpec {
    match select {
        None => spec.clone(),
        Some(sel) => ContractionSpec {
            entries: spec
                .entries
                .iter()
                .map(|e| ContractEntry {
                    slots: [sel[e.slots[0] as usize], e.slots[1], e.slots[2]],
                    ..*e
                })
                .collect(),
            dims: [dim, spec.dims[1], spec.dims[2]],
            num_paths: spec.num_paths,
        },
    }
}

impl<B: Backend> EnergyForcesPlan<B> {
    /// Prepares `params` (any dtype; cast to the model's) for `model`; an error naming
    /// the part when the model has one the no-tape path has no kernels for
    /// ([`AllegroModel::no_tape_refusal`]).
    pub fn new(
        model: &AllegroModel,
        params: &Parameters<B>,
        precision: MatmulPrecision,
    ) -> Result<Self> {
        if let Some(reason) = model.no_tape_refusal() {
            return Err(Error::Unsupported(reason));
        }
        let dtype = model.dtype();
        let weighted = model.weighted_channels();
        let mut prev_dim = weighted.irrep_of_component().len();
        let layers = model
            .layers()
            .iter()
            .map(|layer| {
                let tp = layer
                    .fused_tensor_product()
                    .expect("no_tape_refusal: every layer has Allegro's product");
                let spec = remap_first_slot(tp.spec(), layer.input_components(), prev_dim);
                prev_dim = spec.dims[2];
                let (name, _) = tp.composed().weight_shape();
                let rows = if tp.per_channel() { tp.channels() } else { 1 };
                let theta = params
                    .get(&name)
                    .reshape(&[rows, spec.num_paths])
                    .cast(dtype);
                PreparedLayer {
                    contraction: SegmentContraction {
                        spec: Arc::new(spec),
                        channels: tp.channels(),
                        per_channel: tp.per_channel(),
                        irrep_of_component: weighted.irrep_of_component().to_vec(),
                        num_irreps: weighted.num_irreps(),
                    },
                    theta,
                    mlp: PreparedMlp::new(layer.latent(), params, dtype),
                    last: layer.is_last(),
                }
            })
            .collect();
        Ok(EnergyForcesPlan {
            dtype,
            precision,
            scalar_mlp: PreparedMlp::new(model.scalar_mlp(), params, dtype),
            front: PreparedMlp::side_by_side(
                &[model.first_projection(), model.tensor_embed().linear()],
                params,
                dtype,
            ),
            layers,
            readout: PreparedMlp::new(model.readout(), params, dtype),
        })
    }

    /// How its products round.
    pub fn precision(&self) -> MatmulPrecision {
        self.precision
    }
}
