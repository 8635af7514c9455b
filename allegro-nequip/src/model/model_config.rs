//! nequip's model config (a training module's `model` block) to an [`AllegroConfig`]:
//! the `_target_` chain is followed to the `allegro.model.AllegroModel` block, builder
//! arguments allegro-rs does not take are dropped where they hold the value it assumes,
//! and any other key is refused by name.

use serde_json::Value;

use allegro_nn::AllegroConfig;

/// The Allegro model builder.
const ALLEGRO_TARGETS: [&str; 1] = ["allegro.model.AllegroModel"];
/// A wrapper applying modifiers to its `model` (the weights include them).
const MODIFY_TARGET: &str = "nequip.model.modify";
/// Fine-tuning loaders: the architecture is that of the model they load.
const NESTED_TARGETS: [(&str, &str); 2] = [
    ("nequip.model.ModelFromCheckpoint", "checkpoint_path"),
    ("nequip.model.ModelFromPackage", "package_path"),
];

/// Keys of the `AllegroModel` block that map onto [`AllegroConfig`].
const CONFIG_KEYS: [&str; 29] = [
    "seed",
    "model_dtype",
    "type_names",
    "r_max",
    "per_edge_type_cutoff",
    "radial_chemical_embed",
    "radial_chemical_embed_dim",
    "scalar_embed_mlp_hidden_layers_depth",
    "scalar_embed_mlp_hidden_layers_width",
    "scalar_embed_mlp_nonlinearity",
    "l_max",
    "parity",
    "tp_path_channel_coupling",
    "forward_normalize",
    "num_layers",
    "num_scalar_features",
    "num_tensor_features",
    "allegro_mlp_hidden_layers_depth",
    "allegro_mlp_hidden_layers_width",
    "allegro_mlp_nonlinearity",
    "readout_mlp_hidden_layers_depth",
    "readout_mlp_hidden_layers_width",
    "readout_mlp_nonlinearity",
    "avg_num_neighbors",
    "per_type_energy_shifts",
    "per_type_energy_scales",
    "per_type_energy_scales_trainable",
    "per_type_energy_shifts_trainable",
    "pair_potential",
];

/// Builder arguments allegro-rs does not take, and the value it behaves as (`None`: any
/// value, e.g. the compile mode, which changes speed, not results).
const DROPPED: [(&str, Option<bool>); 3] = [
    ("compile_mode", None),
    ("do_derivatives", Some(true)),
    ("weight_individual_irreps", Some(true)),
];

/// Reads the config of a nested checkpoint or package: `(target, path) → model block`.
pub type NestedLoader<'a> = dyn Fn(&str, &str) -> Result<Value, String> + 'a;

/// The `AllegroModel` block behind `model`, following `nequip.model.modify` and the
/// fine-tuning loaders (whose config `load_nested` reads); remarks for the user go to
/// `notes`.
pub fn allegro_block(
    model: &Value,
    load_nested: &NestedLoader<'_>,
    notes: &mut Vec<String>,
) -> Result<Value, String> {
    let mut cfg = model.clone();
    for _ in 0..16 {
        let target = cfg
            .get("_target_")
            .and_then(Value::as_str)
            .unwrap_or(ALLEGRO_TARGETS[0])
            .to_string();
        if ALLEGRO_TARGETS.contains(&target.as_str()) {
            return Ok(cfg);
        }
        if target == MODIFY_TARGET {
            let mods: Vec<String> = cfg
                .get("modifiers")
                .and_then(Value::as_array)
                .map(|m| {
                    m.iter()
                        .map(|x| {
                            x.get("modifier")
                                .and_then(Value::as_str)
                                .unwrap_or("?")
                                .to_string()
                        })
                        .collect()
                })
                .unwrap_or_default();
            notes.push(format!(
                "modifiers {mods:?} were applied by nequip; the weights include them"
            ));
            cfg = cfg
                .get("model")
                .cloned()
                .ok_or("`nequip.model.modify` without `model`")?;
        } else if let Some((_, key)) = NESTED_TARGETS.iter().find(|(t, _)| *t == target) {
            let path = cfg
                .get(*key)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("`{target}` without `{key}`"))?
                .to_string();
            notes.push(format!(
                "architecture read from {path} (the model was fine-tuned from it)"
            ));
            cfg = load_nested(&target, &path)?;
        } else {
            return Err(format!(
                "model `_target_` is `{target}`: only allegro.model.AllegroModel (possibly \
                 behind nequip.model.modify, ModelFromCheckpoint or ModelFromPackage) maps \
                 to allegro-rs"
            ));
        }
    }
    Err("the model config nests more than 16 levels".into())
}

/// An `AllegroModel` block as [`AllegroConfig`]: builder-only keys dropped, unknown keys
/// refused by name.
pub fn allegro_config(block: &Value) -> Result<AllegroConfig, String> {
    let map = block
        .as_object()
        .ok_or("the model config is not a mapping")?;
    let mut out = serde_json::Map::new();
    for (key, value) in map {
        if key == "_target_" {
            continue;
        }
        if let Some((_, assumed)) = DROPPED.iter().find(|(k, _)| k == key) {
            if let Some(assumed) = assumed
                && value.as_bool() != Some(*assumed)
            {
                return Err(format!(
                    "model key `{key}: {value}` is not supported by allegro-rs (only {assumed})"
                ));
            }
            continue;
        }
        if !CONFIG_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "model key `{key}` is not supported by allegro-rs (it knows {})",
                CONFIG_KEYS.join(", ")
            ));
        }
        out.insert(key.clone(), value.clone());
    }
    for key in ["type_names", "r_max", "l_max", "radial_chemical_embed"] {
        if !out.contains_key(key) {
            return Err(format!("the model config has no `{key}`"));
        }
    }
    serde_json::from_value(Value::Object(out)).map_err(|e| format!("model config: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_nested(_: &str, p: &str) -> Result<Value, String> {
        Err(format!("unexpected nested load of {p}"))
    }

    #[test]
    fn follows_modify_and_refuses_unknown_targets() {
        let inner = json!({"_target_": "allegro.model.AllegroModel", "r_max": 5.0});
        let wrapped = json!({"_target_": "nequip.model.modify",
            "modifiers": [{"modifier": "enable_TF32"}], "model": inner});
        let mut notes = vec![];
        assert_eq!(
            allegro_block(&wrapped, &no_nested, &mut notes).unwrap(),
            inner
        );
        assert!(notes[0].contains("enable_TF32"));
        let nequip = json!({"_target_": "nequip.model.NequIPGNNModel"});
        let e = allegro_block(&nequip, &no_nested, &mut vec![]).unwrap_err();
        assert!(e.contains("NequIPGNNModel"), "{e}");
        let nested = json!({"_target_": "nequip.model.ModelFromCheckpoint",
            "checkpoint_path": "a.ckpt"});
        let got = allegro_block(
            &nested,
            &|t, p| {
                assert_eq!((t, p), ("nequip.model.ModelFromCheckpoint", "a.ckpt"));
                Ok(json!({"r_max": 4.0}))
            },
            &mut notes,
        )
        .unwrap();
        assert_eq!(got, json!({"r_max": 4.0}));
    }

    #[test]
    fn unknown_and_unsupported_keys_are_named() {
        let e = allegro_config(&json!({"r_max": 5.0, "frobnicate": 1})).unwrap_err();
        assert!(e.contains("`frobnicate`"), "{e}");
        let e = allegro_config(&json!({"r_max": 5.0, "do_derivatives": false})).unwrap_err();
        assert!(e.contains("do_derivatives"), "{e}");
        let e = allegro_config(&json!({"r_max": 5.0})).unwrap_err();
        assert!(e.contains("type_names"), "{e}");
    }
}
