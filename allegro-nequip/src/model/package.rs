//! A `.nequip.zip` that `nequip-package build` wrote: a `torch.package` archive whose
//! `model/config.yaml` holds the run config and whose `model/eager_model.pkl` is the
//! pickled evaluation model (EMA weights already in place). The pickle is walked as
//! data: each `nn.Module`'s `_parameters`, `_buffers` and `_modules`, as `state_dict`
//! would name them. No packaged code is run.

use std::path::Path;

use crate::pickle::Value;
use crate::pickle::torch_archive::TorchArchive;

use super::state::allegro_state_dict;
use super::{NequipWeights, config_of_model};

/// The pickled model inside a package (the eager build; the others hold the same weights).
const MODEL_PICKLE: &str = "model/eager_model.pkl";
/// The run config inside a package.
const CONFIG: &str = "model/config.yaml";

/// The training module's model block of a package's `model/config.yaml`.
pub fn package_model_config(archive: &TorchArchive) -> Result<serde_json::Value, String> {
    let text = archive.entry(CONFIG)?;
    let text = String::from_utf8(text).map_err(|_| format!("{CONFIG} is not UTF-8"))?;
    let cfg: serde_json::Value =
        serde_saphyr::from_str(&text).map_err(|e| format!("{CONFIG}: {e}"))?;
    cfg.get("training_module")
        .and_then(|t| t.get("model"))
        .cloned()
        .ok_or_else(|| format!("{CONFIG} has no `training_module.model`"))
}

/// Every tensor of a pickled module tree, named as its `state_dict` would be.
fn module_tensors<'a>(
    module: &'a Value,
    prefix: &str,
    depth: usize,
    out: &mut Vec<(String, &'a Value)>,
) -> Result<(), String> {
    if depth > 64 {
        return Err("modules nested deeper than 64".into());
    }
    let Value::Reduce {
        state: Some(state), ..
    } = module
    else {
        return Err(format!("`{prefix}` is not a pickled nn.Module"));
    };
    for group in ["_parameters", "_buffers"] {
        if let Some(Value::Dict(items)) = state.get(group) {
            for (k, v) in items {
                if let (Some(name), false) = (k.as_str(), matches!(v, Value::None)) {
                    out.push((format!("{prefix}{name}"), v));
                }
            }
        }
    }
    if let Some(Value::Dict(children)) = state.get("_modules") {
        for (k, child) in children {
            if let (Some(name), false) = (k.as_str(), matches!(child, Value::None)) {
                module_tensors(child, &format!("{prefix}{name}."), depth + 1, out)?;
            }
        }
    }
    Ok(())
}

/// Reads the config and weights of a `.nequip.zip`.
pub fn read_package(path: &Path) -> Result<NequipWeights, String> {
    let archive = TorchArchive::open_package(path, MODEL_PICKLE)?;
    let mut notes = Vec::new();
    let config = config_of_model(&package_model_config(&archive)?, &mut notes)?;
    let mut entries = Vec::new();
    module_tensors(archive.root(), "", 0, &mut entries)?;
    let (state_dict, _) = allegro_state_dict(&entries, &archive)?;
    Ok(NequipWeights {
        config,
        state_dict,
        notes,
    })
}
