//! A Lightning checkpoint nequip-train wrote (`best.ckpt`, `last.ckpt`): its
//! `hyper_parameters.model` config and the weights nequip would evaluate — the EMA
//! weights of an `EMALightningModule`, as `nequip-compile` and `nequip-package` take them.

use std::path::Path;

use crate::pickle::Value;
use crate::pickle::torch_archive::TorchArchive;

use super::state::{StateEntries, allegro_state_dict};
use super::{NequipWeights, config_of_model, nequip_parameters};
use allegro_nn::import::STATE_DICT_PREFIX;

/// Where the EMA weights live in a Lightning `state_dict`: `ema.ema_weight_<i>` is the
/// EMA of the i-th of `model.parameters()`.
const EMA_PREFIX: &str = "ema.ema_weight_";

/// The training module's model config (`hyper_parameters.model`, or the run config's
/// `training_module.model` in `info_dict`), as JSON.
pub fn checkpoint_model_config(ckpt: &TorchArchive) -> Result<serde_json::Value, String> {
    let hp = ckpt
        .root()
        .get("hyper_parameters")
        .ok_or("no `hyper_parameters`: not a nequip training checkpoint")?;
    let model = hp
        .get("model")
        .or_else(|| {
            hp.get("info_dict")
                .and_then(|i| i.get("training_module"))
                .and_then(|t| t.get("model"))
        })
        .ok_or("`hyper_parameters` has no `model`: not a nequip training checkpoint")?;
    model.to_json("hyper_parameters.model")
}

/// Reads the config and evaluation weights of a nequip checkpoint.
pub fn read_checkpoint(path: &Path) -> Result<NequipWeights, String> {
    let ckpt = TorchArchive::open(path)?;
    let mut notes = Vec::new();
    let config = config_of_model(&checkpoint_model_config(&ckpt)?, &mut notes)?;
    // The weights nequip holds as `nn.Parameter`s (the rest are buffers).
    let parameters = nequip_parameters(&config)?;
    let Some(Value::Dict(state)) = ckpt.root().get("state_dict") else {
        return Err("no `state_dict`: not a Lightning checkpoint".into());
    };
    let entries: StateEntries<'_> = state
        .iter()
        .filter_map(|(k, v)| k.as_str().map(|k| (k.to_string(), v)))
        .collect();
    let (mut state_dict, prefix) = allegro_state_dict(&entries, &ckpt)?;

    // EMA: nequip evaluates the EMA weights unless the module was caught mid-swap.
    let ema: Vec<&(String, &Value)> = entries
        .iter()
        .filter(|(k, _)| k.starts_with(EMA_PREFIX))
        .collect();
    if !ema.is_empty() {
        let holding = entries
            .iter()
            .find(|(k, _)| k == "ema._extra_state")
            .and_then(|(_, v)| v.get("is_holding_ema_weights"))
            .cloned();
        if holding == Some(Value::Bool(false)) {
            notes.push("the checkpoint was written with the EMA weights swapped into the model; those are used".into());
        } else {
            // model.parameters() order: the state_dict order restricted to parameters
            // (both walk the modules depth-first, parameters before children).
            let mut params = Vec::new();
            for (name, _) in &entries {
                if let Some(rest) = name.strip_prefix(&prefix)
                    && parameters.contains(rest)
                {
                    params.push(format!("{STATE_DICT_PREFIX}{rest}"));
                }
            }
            if params.len() != ema.len() {
                return Err(format!(
                    "{} EMA weights but {} model parameters: the EMA does not line up with the model",
                    ema.len(),
                    params.len()
                ));
            }
            for (i, name) in params.iter().enumerate() {
                let key = format!("{EMA_PREFIX}{i}");
                let value = entries
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| format!("`{key}` is missing"))?;
                let t = ckpt.tensor(value).map_err(|e| format!("`{key}`: {e}"))?;
                let target = state_dict.get_mut(name).ok_or_else(|| {
                    format!("`{name}` is a model parameter but not a floating-point tensor")
                })?;
                if t.shape != target.shape {
                    return Err(format!(
                        "`{key}` has shape {:?} but `{name}` {:?}: the EMA does not line up with the model",
                        t.shape, target.shape
                    ));
                }
                target.values = t.values;
            }
            notes.push(format!(
                "EMA weights ({} tensors) used, as nequip evaluates them",
                ema.len()
            ));
        }
    }
    Ok(NequipWeights {
        config,
        state_dict,
        notes,
    })
}
