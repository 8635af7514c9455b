//! Where the Allegro modules sit in a nequip `state_dict`.

use crate::pickle::Value;
use crate::pickle::torch_archive::TorchArchive;

use allegro_nn::import::{STATE_DICT_PREFIX, StateDict, StateTensor};

/// `(name, pickled tensor)` pairs of a `state_dict`, in its order.
pub type StateEntries<'a> = Vec<(String, &'a Value)>;

/// Modules every Allegro model has, directly under its `func`.
const ANCHORS: [&str; 3] = ["edge_norm.", "radial_chemical_embed.", "edge_readout."];

/// The prefix that wraps the Allegro modules (e.g. `model.sole_model.model.func.` in a
/// Lightning checkpoint, `sole_model.model.func.` in a package): whatever precedes the
/// first anchor module.
pub fn model_prefix(names: &[&str]) -> Result<String, String> {
    for name in names {
        for a in ANCHORS {
            if let Some(i) = name.find(a)
                && (i == 0 || name.as_bytes()[i - 1] == b'.')
            {
                return Ok(name[..i].to_string());
            }
        }
    }
    Err("no Allegro modules (edge_norm, radial_chemical_embed, edge_readout) among the weights: is this an Allegro model?".into())
}

/// The Allegro model's floating-point tensors among `entries` (counters and type tables
/// are not weights), named as our import expects, and the wrapping prefix they had.
pub fn allegro_state_dict(
    entries: &StateEntries<'_>,
    archive: &TorchArchive,
) -> Result<(StateDict, String), String> {
    let names: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    let prefix = model_prefix(&names)?;
    let mut state_dict = StateDict::new();
    for (name, value) in entries {
        if let Some(rest) = name.strip_prefix(&prefix) {
            let t = archive
                .tensor(value)
                .map_err(|e| format!("`{name}`: {e}"))?;
            if t.dtype.is_float() {
                state_dict.insert(
                    format!("{STATE_DICT_PREFIX}{rest}"),
                    StateTensor {
                        values: t.values,
                        shape: t.shape,
                    },
                );
            }
        }
    }
    Ok((state_dict, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_wrapping_prefix() {
        let names = [
            "run_stage",
            "model.sole_model.model._empty",
            "model.sole_model.model.func.edge_norm._rmax_recip",
        ];
        assert_eq!(
            model_prefix(&names).unwrap(),
            "model.sole_model.model.func."
        );
        assert_eq!(model_prefix(&["edge_readout.w"]).unwrap(), "");
        // A name merely containing an anchor's text is not a module boundary.
        assert!(model_prefix(&["x.myedge_norm.w"]).is_err());
    }
}
