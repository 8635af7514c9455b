//! What each key of a nequip config means here: honoured, ignored (with why) or refused
//! (with why), and what shape its value has, so the [audit](mod@super::audit) can walk the
//! tree. One table per class (`_target_`) and per plain block (`global_options`, a
//! metric entry, `lr_scheduler`).

use super::targets::{Role, Target};

/// The fate of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Read into [`NequipRunConfig`](super::NequipRunConfig).
    Honoured,
    /// Read, with no effect here.
    Ignored(&'static str),
    /// Not supported: loading fails.
    Refused(&'static str),
}

/// What a key's value looks like, for walking below it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shape {
    /// A value (scalar, or a list or mapping of values): not walked.
    Value,
    /// A mapping with a `_target_` of this role.
    Object(Role),
    /// One such mapping, or a list of them.
    Objects(Role),
    /// A mapping with fixed keys.
    Struct(&'static [KeyDef]),
    /// A list of such mappings.
    Structs(&'static [KeyDef]),
    /// A metric's `field`: a field name, or a field-modifier object.
    Field,
}

/// One known key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyDef {
    pub key: &'static str,
    pub rule: Rule,
    pub shape: Shape,
}

const fn h(key: &'static str) -> KeyDef {
    KeyDef {
        key,
        rule: Rule::Honoured,
        shape: Shape::Value,
    }
}
const fn hs(key: &'static str, shape: Shape) -> KeyDef {
    KeyDef {
        key,
        rule: Rule::Honoured,
        shape,
    }
}
const fn ig(key: &'static str, why: &'static str) -> KeyDef {
    KeyDef {
        key,
        rule: Rule::Ignored(why),
        shape: Shape::Value,
    }
}
const fn re(key: &'static str, why: &'static str) -> KeyDef {
    KeyDef {
        key,
        rule: Rule::Refused(why),
        shape: Shape::Value,
    }
}

/// The key `key` of `defs`.
pub(crate) fn find(defs: &'static [KeyDef], key: &str) -> Option<&'static KeyDef> {
    defs.iter().find(|d| d.key == key)
}

const PARALLEL: &str =
    "ranks come from the launcher (`mpirun -np N nequip ... --mpi`), one GPU each";
const WORKERS: &str = "data is read in-process; worker processes come with streaming loaders";
const WANDB: &str = "wandb settings: the log is a local CSV file and nothing leaves the machine";
const SPEED: &str = "changes speed, not results";

/// Top-level keys nequip itself reads. Any other top-level key is a user variable, valid
/// only when an interpolation refers to it.
pub(crate) const TOP_LEVEL: &[KeyDef] = &[
    h("run"),
    h("ckpt_path"),
    hs("data", Shape::Object(Role::DataModule)),
    hs("trainer", Shape::Object(Role::Trainer)),
    hs("training_module", Shape::Object(Role::TrainingModule)),
    hs("global_options", Shape::Struct(GLOBAL_OPTIONS)),
    hs("hydra", Shape::Struct(HYDRA)),
    re(
        "defaults",
        "Hydra defaults lists (composing config groups) are not supported: write one file",
    ),
];

const GLOBAL_OPTIONS: &[KeyDef] = &[h("allow_tf32")];

const HYDRA: &[KeyDef] = &[
    hs("run", Shape::Struct(HYDRA_RUN)),
    ig("job", "Hydra job settings have no effect here"),
    ig("output_subdir", "no .hydra directory is written"),
    ig(
        "sweep",
        "multi-runs are not supported; only `hydra.run` is read",
    ),
    ig("job_logging", "Hydra logging settings have no effect here"),
    ig(
        "hydra_logging",
        "Hydra logging settings have no effect here",
    ),
    ig("verbose", "Hydra logging settings have no effect here"),
];

const HYDRA_RUN: &[KeyDef] = &[h("dir")];

const DATA_MODULE: &[KeyDef] = &[
    h("seed"),
    hs("train_dataset", Shape::Objects(Role::Dataset)),
    hs("val_dataset", Shape::Objects(Role::Dataset)),
    hs("test_dataset", Shape::Objects(Role::Dataset)),
    hs("train_dataloader", Shape::Object(Role::DataLoader)),
    hs("val_dataloader", Shape::Object(Role::DataLoader)),
    hs("test_dataloader", Shape::Object(Role::DataLoader)),
    re(
        "stats_manager",
        "custom statistics managers are not supported (nequip's default \
         CommonDataStatisticsManager is assumed)",
    ),
    re(
        "split_dataset",
        "split_dataset is not supported: give train/val/test datasets as files",
    ),
];

const LMDB_DATASET: &[KeyDef] = &[
    h("file_path"),
    hs("transforms", Shape::Objects(Role::Transform)),
];

const ASE_DATASET: &[KeyDef] = &[
    h("file_path"),
    hs("transforms", Shape::Objects(Role::Transform)),
    h("ase_args"),
    ig("include_keys", "extra per-frame keys are not read"),
    re("key_mapping", "renaming extxyz keys is not supported"),
];

const NEIGHBOR_LIST: &[KeyDef] = &[
    h("r_max"),
    re(
        "per_edge_type_cutoff",
        "per-edge-type cutoffs of the neighbor list are not supported (the model's are)",
    ),
];

const TYPE_MAPPER: &[KeyDef] = &[h("chemical_symbols")];

const DATA_LOADER: &[KeyDef] = &[
    h("batch_size"),
    h("shuffle"),
    ig("num_workers", WORKERS),
    ig("pin_memory", WORKERS),
    ig("persistent_workers", WORKERS),
    ig("prefetch_factor", WORKERS),
];

const TRAINER: &[KeyDef] = &[
    h("max_epochs"),
    h("check_val_every_n_epoch"),
    ig("log_every_n_steps", "metrics are logged once per epoch"),
    ig("num_nodes", PARALLEL),
    ig("devices", PARALLEL),
    KeyDef {
        key: "strategy",
        rule: Rule::Ignored(PARALLEL),
        shape: Shape::Object(Role::Strategy),
    },
    ig(
        "accelerator",
        "the device comes from the build features and the command line",
    ),
    hs("callbacks", Shape::Objects(Role::Callback)),
    hs("logger", Shape::Objects(Role::Logger)),
    ig("enable_progress_bar", "progress is printed per epoch"),
    ig("enable_model_summary", "no model summary is printed"),
];

// `nccl`: sums over NCCL for ranks on CUDA GPUs; anything else (`gloo`): over MPI.
const DDP_STRATEGY: &[KeyDef] = &[h("process_group_backend")];

const LR_MONITOR: &[KeyDef] = &[
    h("logging_interval"),
    ig("log_momentum", "AdamW's betas are constant"),
];

const LOSS_COEFF_MONITOR: &[KeyDef] = &[h("interval"), h("frequency")];

const XYZ_WRITER: &[KeyDef] = &[
    h("out_file"),
    h("output_fields_from_original_dataset"),
    h("chemical_symbols"),
];

const EARLY_STOPPING: &[KeyDef] = &[
    h("monitor"),
    h("min_delta"),
    h("patience"),
    h("mode"),
    h("check_finite"),
    h("stopping_threshold"),
    h("divergence_threshold"),
    ig("verbose", "stopping is always reported"),
    ig("strict", "a missing monitored value is always an error"),
];

const MODEL_CHECKPOINT: &[KeyDef] = &[
    h("monitor"),
    h("dirpath"),
    h("filename"),
    h("save_last"),
    h("mode"),
    ig("verbose", "checkpoints are always reported"),
    ig("save_top_k", "one best checkpoint is kept"),
];

const WANDB_LOGGER: &[KeyDef] = &[
    h("save_dir"),
    ig("project", WANDB),
    ig("name", WANDB),
    ig("version", WANDB),
    ig("entity", WANDB),
    ig("group", WANDB),
    ig("tags", WANDB),
    ig("log_model", WANDB),
    ig("mode", WANDB),
    ig("id", WANDB),
];

const CSV_LOGGER: &[KeyDef] = &[h("save_dir"), h("name"), h("version")];

const TRAINING_MODULE: &[KeyDef] = &[
    hs("loss", Shape::Object(Role::MetricsManager)),
    hs("train_metrics", Shape::Object(Role::MetricsManager)),
    hs("val_metrics", Shape::Object(Role::MetricsManager)),
    hs("test_metrics", Shape::Object(Role::MetricsManager)),
    h("ema_decay"),
    hs("optimizer", Shape::Object(Role::Optimizer)),
    hs("lr_scheduler", Shape::Struct(LR_SCHEDULER)),
    hs("model", Shape::Object(Role::Model)),
];

const METRICS_MANAGER: &[KeyDef] = &[hs("metrics", Shape::Structs(METRIC_ENTRY)), h("type_names")];

/// nequip's `_METRICS_MANAGER_INPUT_KEYS`.
const METRIC_ENTRY: &[KeyDef] = &[
    h("name"),
    hs("field", Shape::Field),
    h("coeff"),
    hs("metric", Shape::Object(Role::Metric)),
    h("per_type"),
    h("ignore_nan"),
];

const PER_ATOM_MODIFIER: &[KeyDef] = &[h("field")];

const OPTIMIZER: &[KeyDef] = &[
    h("lr"),
    h("betas"),
    h("eps"),
    h("weight_decay"),
    h("amsgrad"),
    ig("foreach", SPEED),
    ig("fused", SPEED),
    ig("capturable", SPEED),
];

/// Lightning's lr-scheduler dict (nequip pops `scheduler` and instantiates the rest).
const LR_SCHEDULER: &[KeyDef] = &[
    hs("scheduler", Shape::Object(Role::LrScheduler)),
    h("monitor"),
    h("interval"),
    h("frequency"),
    ig("name", "the learning rate is logged as `lr`"),
    ig("strict", "a missing monitored value is always an error"),
];

const PLATEAU: &[KeyDef] = &[
    h("factor"),
    h("patience"),
    h("threshold"),
    h("threshold_mode"),
    h("cooldown"),
    h("min_lr"),
    h("eps"),
    h("mode"),
    ig("verbose", "learning-rate changes are always logged"),
];

/// `allegro.model.AllegroModel`'s keys; `crate::model::model_config` checks them
/// again when building the model.
const ALLEGRO_MODEL: &[KeyDef] = &[
    h("seed"),
    h("model_dtype"),
    h("type_names"),
    h("r_max"),
    h("per_edge_type_cutoff"),
    hs(
        "radial_chemical_embed",
        Shape::Object(Role::RadialEmbedding),
    ),
    h("radial_chemical_embed_dim"),
    h("scalar_embed_mlp_hidden_layers_depth"),
    h("scalar_embed_mlp_hidden_layers_width"),
    h("scalar_embed_mlp_nonlinearity"),
    h("l_max"),
    h("parity"),
    h("tp_path_channel_coupling"),
    h("forward_normalize"),
    h("num_layers"),
    h("num_scalar_features"),
    h("num_tensor_features"),
    h("allegro_mlp_hidden_layers_depth"),
    h("allegro_mlp_hidden_layers_width"),
    h("allegro_mlp_nonlinearity"),
    h("readout_mlp_hidden_layers_depth"),
    h("readout_mlp_hidden_layers_width"),
    h("readout_mlp_nonlinearity"),
    h("avg_num_neighbors"),
    h("per_type_energy_shifts"),
    h("per_type_energy_scales"),
    h("per_type_energy_scales_trainable"),
    h("per_type_energy_shifts_trainable"),
    hs("pair_potential", Shape::Object(Role::PairPotential)),
    ig("compile_mode", "compilation changes speed, not results"),
    ig(
        "do_derivatives",
        "forces are always computed (`false` is refused when the model is built)",
    ),
    ig(
        "weight_individual_irreps",
        "irreps are always weighted individually (`false` is refused when the model is built)",
    ),
];

const BESSEL_EMBED: &[KeyDef] = &[
    h("num_bessels"),
    h("bessel_trainable"),
    h("polynomial_cutoff_p"),
];

const SPLINE_EMBED: &[KeyDef] = &[h("num_splines"), h("spline_span")];

const ZBL: &[KeyDef] = &[h("units"), h("chemical_species"), h("polynomial_cutoff_p")];

/// The keys of class `t` (besides `_target_`).
pub(crate) fn target_keys(t: Target) -> &'static [KeyDef] {
    match t {
        Target::NequipDataModule => DATA_MODULE,
        Target::NequipLmdbDataset => LMDB_DATASET,
        Target::AseDataset => ASE_DATASET,
        Target::NeighborListTransform => NEIGHBOR_LIST,
        Target::ChemicalSpeciesToAtomTypeMapper => TYPE_MAPPER,
        Target::DataLoader => DATA_LOADER,
        Target::LightningTrainer => TRAINER,
        Target::SimpleDdpStrategy => DDP_STRATEGY,
        Target::LearningRateMonitor => LR_MONITOR,
        Target::LossCoefficientMonitor => LOSS_COEFF_MONITOR,
        Target::TestTimeXyzFileWriter => XYZ_WRITER,
        Target::EarlyStopping => EARLY_STOPPING,
        Target::ModelCheckpoint => MODEL_CHECKPOINT,
        Target::WandbLogger => WANDB_LOGGER,
        Target::CsvLogger => CSV_LOGGER,
        Target::EmaLightningModule | Target::NequipLightningModule => TRAINING_MODULE,
        Target::MetricsManager => METRICS_MANAGER,
        Target::PerAtomModifier => PER_ATOM_MODIFIER,
        Target::MeanSquaredError | Target::RootMeanSquaredError | Target::MeanAbsoluteError => &[],
        Target::AdamW | Target::Adam => OPTIMIZER,
        Target::ReduceLrOnPlateau => PLATEAU,
        Target::AllegroModel => ALLEGRO_MODEL,
        Target::TwoBodyBesselScalarEmbed => BESSEL_EMBED,
        Target::TwoBodySplineScalarEmbed => SPLINE_EMBED,
        Target::Zbl => ZBL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Every model key the audit honours or ignores is one allegro-nn's model-config
    /// reader knows (it names unknown keys with "is not supported by allegro-rs (it
    /// knows ...").
    #[test]
    fn model_keys_agree_with_allegro_nn() {
        for def in ALLEGRO_MODEL {
            let mut block = serde_json::Map::new();
            block.insert(def.key.to_string(), json!(true));
            let e = crate::model::model_config::allegro_config(&Value::Object(block)).unwrap_err();
            assert!(!e.contains("it knows"), "{}: {e}", def.key);
        }
    }
}
