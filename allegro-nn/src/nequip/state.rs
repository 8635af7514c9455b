//! Where the Allegro modules sit in a nequip `state_dict`.

use allegro_data::pickle::Value;

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
