//! nequip's config language: a Hydra/OmegaConf YAML file (`nequip-train -cn seed.yaml`)
//! read into typed Rust structures.
//!
//! The pipeline, in the order [`NequipRunConfig::from_file`] runs it:
//!
//! 1. the YAML text becomes a [`serde_json::Value`] tree ([`load_yaml`]);
//! 2. Hydra command-line [`overrides`] (`a.b=v`, `+a.b=v`, `++a.b=v`, `~a.b`) edit the raw
//!    tree; `hydra.run.dir=DIR` sets the run directory instead;
//! 3. the raw tree is audited ([`audit()`]): every key is honoured, ignored with a reason, or
//!    refused; a refused key (a typo, an unknown `_target_`) is an error, so nothing in a
//!    config passes silently;
//! 4. `${...}` interpolations are resolved as OmegaConf does ([`resolve`]), with the
//!    resolvers nequip configs use (`oc.env`, `oc.decode`, `hydra:`, `now:`) and
//!    `${training_data_stats:NAME}` left as a placeholder ([`stats`]) to be filled once the
//!    statistics of the training data are known;
//! 5. the resolved tree is read into [`NequipRunConfig`], checking every `_target_`
//!    against the registry of classes allegro-rs maps ([`Target`]).
//!
//! Errors ([`ConfigError`]) name the file and the key path, written as
//! `training_module.val_metrics.metrics[6].per_type`.

mod data_spec;
mod error;
mod extract;
mod key_path;
mod metrics_spec;
mod model_spec;
mod module_spec;
mod override_value;
mod phases;
mod resolvers;
mod schema;
mod template;
mod trainer_spec;

pub mod audit;
pub mod interpolate;
pub mod overrides;
pub mod run_config;
pub mod stats;
pub mod targets;

pub use audit::{AuditEntry, KeyStatus, audit, audit_table};
pub use data_spec::{DataSpec, DatasetKind, DatasetSpec, LoaderSpec};
pub use error::{ConfigError, ConfigResult, Warning};
pub use interpolate::resolve;
pub use key_path::{KeyPath, PathComp};
pub use metrics_spec::{MetricKind, MetricSpec, MetricsSpec, Monitor, MonitorSource};
pub use model_spec::ModelSpec;
pub use module_spec::{
    ModuleKind, OptimizerKind, OptimizerSpec, SchedulerSpec, TrainingModuleSpec,
};
pub use override_value::parse_value;
pub use overrides::{AppliedOverrides, Override, OverrideOp, apply_overrides};
pub use phases::{Interval, RunStep};
pub use resolvers::ResolveContext;
pub use run_config::{LoadOptions, NequipRunConfig};
pub use stats::{KNOWN_STATS, StatsRequest};
pub use targets::{Role, Target};
pub use trainer_spec::{Callback, LoggerKind, LoggerSpec, StrategySpec, TrainerSpec};

use serde_json::Value;

/// Parses YAML text into a tree (`file` names the source in errors).
///
/// YAML 1.2 core schema, as serde-saphyr reads it: `null`/`~` are null, `true`/`True`
/// booleans, `1e-3` and `0.000000001` floats. Mapping keys come out sorted (serde_json
/// without `preserve_order`), which changes nothing: nequip looks keys up by name.
pub fn load_yaml(text: &str, file: &std::path::Path) -> ConfigResult<Value> {
    serde_saphyr::from_str::<Value>(text).map_err(|e| ConfigError {
        file: Some(file.to_path_buf()),
        key: String::new(),
        message: format!("not valid YAML: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_scalars_lists_and_nulls_read_as_nequip_expects() {
        let text = "a: null\nb: ~\nc: 0.000000001\nd: [train,val]\ne: True\nf: 1e-3\n\
                    g: ${x.y}\nh: ${hydra:runtime.output_dir}/test\ni: 8\nj: silu\n";
        let v = load_yaml(text, std::path::Path::new("t.yaml")).unwrap();
        assert_eq!(v["a"], Value::Null);
        assert_eq!(v["b"], Value::Null);
        assert_eq!(v["c"].as_f64(), Some(1e-9));
        assert_eq!(v["d"], json!(["train", "val"]));
        assert_eq!(v["e"], json!(true));
        assert_eq!(v["f"].as_f64(), Some(1e-3));
        // saphyr has an opt-in `${VAR}` property interpolation: it must stay off here.
        assert_eq!(v["g"], json!("${x.y}"));
        assert_eq!(v["h"], json!("${hydra:runtime.output_dir}/test"));
        assert_eq!(v["i"].as_u64(), Some(8));
        assert_eq!(v["j"], json!("silu"));
    }

    #[test]
    fn bad_yaml_names_the_file() {
        let e = load_yaml("a: [1, 2\n", std::path::Path::new("bad.yaml")).unwrap_err();
        assert!(e.to_string().contains("bad.yaml"), "{e}");
    }
}
