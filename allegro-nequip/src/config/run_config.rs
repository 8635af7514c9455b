//! [`NequipRunConfig`]: a whole nequip config file, overridden, audited, resolved and
//! typed.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;

use super::audit::{AuditEntry, KeyStatus, audit};
use super::data_spec::{DataSpec, parse_data};
use super::error::{ConfigError, ConfigResult, Warning};
use super::extract::Node;
use super::interpolate::{resolve, resolve_string};
use super::key_path::KeyPath;
use super::load_yaml;
use super::metrics_spec::{MetricsSpec, Monitor, MonitorSource};
use super::module_spec::{TrainingModuleSpec, parse_training_module};
use super::overrides::apply_overrides;
pub use super::phases::RunStep;
use super::resolvers::ResolveContext;
use super::stats::StatsRequest;
use super::trainer_spec::{Callback, TrainerSpec, parse_trainer};

/// Hydra's default run directory, relative to the working directory. Hydra formats local
/// time; here it is UTC (see [`ResolveContext::now`]).
pub const DEFAULT_RUN_DIR: &str = "outputs/${now:%Y-%m-%d}/${now:%H-%M-%S}";

/// What loading reads from outside the file: working directory, environment, clock.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// The working directory: relative run directories are below it.
    pub cwd: PathBuf,
    /// Environment variables for `${oc.env:...}`.
    pub env: BTreeMap<String, String>,
    /// The time `${now:...}` (and the default run directory) formats.
    pub now: SystemTime,
}

impl LoadOptions {
    /// This process's working directory, environment and clock.
    pub fn from_process() -> Self {
        let ctx = ResolveContext::from_process();
        LoadOptions {
            cwd: ctx.cwd,
            env: ctx.env,
            now: ctx.now,
        }
    }
}

/// A nequip config (`nequip-train -cn FILE OVERRIDES...`) read into typed structures.
#[derive(Clone, Debug)]
pub struct NequipRunConfig {
    /// The config file.
    pub file: PathBuf,
    /// `run`: the steps, in order.
    pub run: Vec<RunStep>,
    /// `ckpt_path`: the checkpoint to resume or evaluate (top-level key, or
    /// `++ckpt_path=F`).
    pub ckpt_path: Option<PathBuf>,
    /// The absolute run directory (`${hydra:runtime.output_dir}`): `hydra.run.dir` from
    /// the command line, else from the file, else Hydra's default
    /// `outputs/YYYY-MM-DD/HH-MM-SS` below the working directory.
    pub run_dir: PathBuf,
    /// `data`.
    pub data: DataSpec,
    /// `trainer`.
    pub trainer: TrainerSpec,
    /// `training_module`.
    pub training_module: TrainingModuleSpec,
    /// `global_options.allow_tf32` (default false).
    pub allow_tf32: bool,
    /// The audit of every key of the (overridden) file.
    pub audit: Vec<AuditEntry>,
    /// The resolved tree (without the `hydra` block).
    pub resolved: Value,
}

impl NequipRunConfig {
    /// Reads `path` with Hydra `overrides`, in this process's environment.
    pub fn from_file<S: AsRef<str>>(
        path: impl AsRef<Path>,
        overrides: &[S],
    ) -> ConfigResult<(NequipRunConfig, Vec<Warning>)> {
        Self::from_file_with(path, overrides, &LoadOptions::from_process())
    }

    /// Reads `path` with Hydra `overrides` and explicit working directory, environment
    /// and clock.
    pub fn from_file_with<S: AsRef<str>>(
        path: impl AsRef<Path>,
        overrides: &[S],
        options: &LoadOptions,
    ) -> ConfigResult<(NequipRunConfig, Vec<Warning>)> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.to_path_buf()),
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        Self::from_yaml_str(&text, path, overrides, options)
    }

    /// Reads YAML `text` (from `file`, named in errors) with Hydra `overrides`.
    pub fn from_yaml_str<S: AsRef<str>>(
        text: &str,
        file: &Path,
        overrides: &[S],
        options: &LoadOptions,
    ) -> ConfigResult<(NequipRunConfig, Vec<Warning>)> {
        load(text, file, overrides, options).map_err(|e| e.in_file(file))
    }

    /// The data seed (`data.seed`).
    pub fn seed(&self) -> Option<u64> {
        self.data.seed
    }

    /// The `${training_data_stats:...}` values the model waits for.
    pub fn stats_requests(&self) -> &[StatsRequest] {
        &self.training_module.model.stats
    }
}

fn load<S: AsRef<str>>(
    text: &str,
    file: &Path,
    overrides: &[S],
    options: &LoadOptions,
) -> ConfigResult<(NequipRunConfig, Vec<Warning>)> {
    let mut raw = load_yaml(text, file)?;
    let applied = apply_overrides(&mut raw, overrides)?;
    let mut warnings = applied.warnings;

    let entries = audit(&raw);
    check_audit(&entries)?;

    // The run directory first: every `${hydra:runtime.output_dir}` needs it.
    let run_dir_key = KeyPath::parse("hydra.run.dir").expect("static path");
    let mut ctx = ResolveContext {
        run_dir: None,
        run_dir_text: None,
        cwd: options.cwd.clone(),
        env: options.env.clone(),
        now: options.now,
    };
    let run_dir_template = match (applied.run_dir, raw.pointer("/hydra/run/dir")) {
        (Some(d), _) => d,
        (None, Some(Value::String(d))) => d.clone(),
        (None, Some(other)) => {
            return Err(ConfigError::new(
                &run_dir_key,
                format!("expected a directory, found `{other}`"),
            ));
        }
        (None, None) => DEFAULT_RUN_DIR.to_string(),
    };
    let run_dir_text = match resolve_string(&raw, &run_dir_template, &run_dir_key, &ctx)? {
        Value::String(s) => s,
        other => other.to_string(),
    };
    ctx.run_dir = Some(normalize(&options.cwd.join(&run_dir_text)));
    ctx.run_dir_text = Some(run_dir_text);

    // Hydra's own block may use Hydra-only interpolations: it is not part of the job's
    // config, so it is not resolved.
    if let Value::Object(m) = &mut raw {
        m.remove("hydra");
    }
    let resolved = resolve(&raw, &ctx)?;
    let root = Node::new(&resolved, KeyPath::root());

    let run = parse_run(&root.req("run")?)?;
    let data = parse_data(&root.req("data")?)?;
    let trainer = parse_trainer(&root.req("trainer")?, &mut warnings)?;
    let training_module = parse_training_module(&root.req("training_module")?)?;
    let allow_tf32 = match root.opt("global_options") {
        Some(g) => g.bool_or("allow_tf32", false)?,
        None => false,
    };
    let config = NequipRunConfig {
        file: file.to_path_buf(),
        run,
        ckpt_path: root.opt_string("ckpt_path")?.map(PathBuf::from),
        run_dir: ctx.run_dir.clone().unwrap_or_default(),
        data,
        trainer,
        training_module,
        allow_tf32,
        audit: entries,
        resolved: resolved.clone(),
    };
    check_steps(&config)?;
    check_monitors(&config)?;
    Ok((config, warnings))
}

/// Fails on the first refused key, listing the others.
fn check_audit(entries: &[AuditEntry]) -> ConfigResult<()> {
    let refused: Vec<(&AuditEntry, &str)> = entries
        .iter()
        .filter_map(|e| match &e.status {
            KeyStatus::Refused(why) => Some((e, why.as_str())),
            _ => None,
        })
        .collect();
    let Some(((first, why), rest)) = refused.split_first() else {
        return Ok(());
    };
    let mut message = why.to_string();
    if !rest.is_empty() {
        let others: Vec<String> = rest
            .iter()
            .map(|(e, w)| format!("`{}` ({w})", e.path))
            .collect();
        message.push_str(&format!("; also refused: {}", others.join(", ")));
    }
    Err(ConfigError::new(&first.path, message))
}

fn parse_run(node: &Node<'_>) -> ConfigResult<Vec<RunStep>> {
    let steps = node
        .one_or_many()
        .iter()
        .map(|n| {
            let t = n.str()?;
            RunStep::parse(t)
                .ok_or_else(|| n.err(format!("`{t}` is not a run step (train, val, test)")))
        })
        .collect::<ConfigResult<Vec<_>>>()?;
    if steps.is_empty() {
        return Err(node.err("no run steps"));
    }
    Ok(steps)
}

/// Each step in `run` has what it needs.
fn check_steps(c: &NequipRunConfig) -> ConfigResult<()> {
    let missing = |key: &str, step: RunStep| {
        Err(ConfigError::new(
            key,
            format!("missing: `run` includes `{}`", step.name()),
        ))
    };
    let tm = &c.training_module;
    for &step in &c.run {
        let evaluates_val =
            step == RunStep::Val || (step == RunStep::Train && !c.data.val.is_empty());
        if step == RunStep::Train {
            if c.data.train.is_none() {
                return missing("data.train_dataset", step);
            }
            if c.data.train_loader.is_none() {
                return missing("data.train_dataloader", step);
            }
            if tm.loss.is_none() {
                return missing("training_module.loss", step);
            }
            if tm.optimizer.is_none() {
                return missing("training_module.optimizer", step);
            }
        }
        if step == RunStep::Val && c.data.val.is_empty() {
            return missing("data.val_dataset", step);
        }
        if evaluates_val {
            if c.data.val_loader.is_none() {
                return missing("data.val_dataloader", step);
            }
            if tm.val_metrics.is_none() {
                return missing("training_module.val_metrics", step);
            }
        }
        if step == RunStep::Test {
            if c.data.test.is_empty() {
                return missing("data.test_dataset", step);
            }
            if c.data.test_loader.is_none() {
                return missing("data.test_dataloader", step);
            }
            if tm.test_metrics.is_none() {
                return missing("training_module.test_metrics", step);
            }
        }
    }
    Ok(())
}

/// Every monitored name is one nequip would log with this config.
fn check_monitors(c: &NequipRunConfig) -> ConfigResult<()> {
    let mut monitors: Vec<(String, &Monitor)> = Vec::new();
    for (i, cb) in c.trainer.callbacks.iter().enumerate() {
        match cb {
            Callback::EarlyStopping { monitor, .. }
            | Callback::ModelCheckpoint {
                monitor: Some(monitor),
                ..
            } => monitors.push((format!("trainer.callbacks[{i}].monitor"), monitor)),
            _ => {}
        }
    }
    if let Some(s) = &c.training_module.lr_scheduler {
        monitors.push(("training_module.lr_scheduler.monitor".into(), &s.monitor));
    }
    let model_types: Vec<String> = c
        .training_module
        .model
        .block
        .get("type_names")
        .and_then(|t| serde_json::from_value(t.clone()).ok())
        .unwrap_or_default();
    let tm = &c.training_module;
    for (key, m) in monitors {
        let (manager, manager_key, datasets): (Option<&MetricsSpec>, &str, usize) =
            match (m.split, m.source) {
                (RunStep::Train, MonitorSource::Loss) => (tm.loss.as_ref(), "loss", 1),
                (RunStep::Train, MonitorSource::Metrics) => {
                    (tm.train_metrics.as_ref(), "train_metrics", 1)
                }
                (RunStep::Val, _) => (tm.val_metrics.as_ref(), "val_metrics", c.data.val.len()),
                (RunStep::Test, _) => (tm.test_metrics.as_ref(), "test_metrics", c.data.test.len()),
            };
        if m.dataset >= datasets {
            return Err(ConfigError::new(
                &key,
                format!(
                    "`{}` watches {} dataset {}, but there are {datasets}",
                    m.text,
                    m.split.name(),
                    m.dataset
                ),
            ));
        }
        let Some(manager) = manager else {
            return Err(ConfigError::new(
                &key,
                format!("`{}` needs `training_module.{manager_key}`", m.text),
            ));
        };
        if !manager.logs(&m.metric, &model_types) {
            let mut names: Vec<&str> = manager.metrics.iter().map(|x| x.name.as_str()).collect();
            if manager.has_weighted_sum() {
                names.push("weighted_sum");
            }
            return Err(ConfigError::new(
                &key,
                format!(
                    "`{}`: `training_module.{manager_key}` logs no `{}` (it logs {})",
                    m.text,
                    m.metric,
                    names.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// `path` without `.` and with `..` applied, as Python's `os.path.abspath` writes it.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const MINI: &str = r#"
run: [train, val]
lr: 0.01
hydra:
  run:
    dir: runs/${name}
name: demo
data:
  _target_: nequip.data.datamodule.NequIPDataModule
  seed: 1
  train_dataset:
    _target_: nequip.data.dataset.ASEDataset
    file_path: t.xyz
    transforms:
      - _target_: nequip.data.transforms.NeighborListTransform
        r_max: 4.0
      - _target_: nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper
        chemical_symbols: [H]
  val_dataset: ${data.train_dataset}
  train_dataloader:
    _target_: torch.utils.data.DataLoader
    batch_size: 2
  val_dataloader: ${data.train_dataloader}
trainer:
  _target_: lightning.Trainer
  max_epochs: 3
  callbacks:
    - _target_: lightning.pytorch.callbacks.ModelCheckpoint
      monitor: val0_epoch/F
      dirpath: ${hydra:runtime.output_dir}
training_module:
  _target_: nequip.train.NequIPLightningModule
  loss: ${training_module.val_metrics}
  val_metrics:
    _target_: nequip.train.MetricsManager
    metrics:
      - name: F
        field: forces
        coeff: 1
        metric: {_target_: nequip.train.MeanSquaredError}
  optimizer: {_target_: torch.optim.AdamW, lr: "${lr}"}
  model:
    _target_: allegro.model.AllegroModel
    type_names: [H]
    r_max: 4.0
    l_max: 1
    radial_chemical_embed: {_target_: allegro.nn.TwoBodyBesselScalarEmbed}
    avg_num_neighbors: ${training_data_stats:num_neighbors_mean}
"#;

    fn options() -> LoadOptions {
        LoadOptions {
            cwd: PathBuf::from("/work/here"),
            env: BTreeMap::new(),
            now: UNIX_EPOCH + Duration::from_secs(86_400 + 3_661),
        }
    }

    fn load_mini(overrides: &[&str]) -> ConfigResult<(NequipRunConfig, Vec<Warning>)> {
        NequipRunConfig::from_yaml_str(MINI, Path::new("mini.yaml"), overrides, &options())
    }

    #[test]
    fn run_dir_from_file_override_or_default() {
        let (c, _) = load_mini(&[]).unwrap();
        assert_eq!(c.run_dir, PathBuf::from("/work/here/runs/demo"));
        let Callback::ModelCheckpoint { dirpath, .. } = &c.trainer.callbacks[0] else {
            panic!()
        };
        assert_eq!(dirpath.as_deref(), Some(Path::new("/work/here/runs/demo")));
        let (c, _) = load_mini(&["hydra.run.dir=../abs/./x"]).unwrap();
        assert_eq!(c.run_dir, PathBuf::from("/work/abs/x"));
        let (c, _) = load_mini(&["~hydra"]).unwrap_or_else(|e| panic!("{e}"));
        // `~hydra` is a Hydra setting (a warning), so the file's run dir stays.
        assert_eq!(c.run_dir, PathBuf::from("/work/here/runs/demo"));
        // Without `hydra.run.dir`, `name` is used nowhere: the audit refuses it.
        let text = MINI.replace("hydra:\n  run:\n    dir: runs/${name}\n", "");
        let e =
            NequipRunConfig::from_yaml_str(&text, Path::new("m.yaml"), &[] as &[&str], &options())
                .unwrap_err();
        assert_eq!(e.key, "name");
        let text = text.replace("name: demo\n", "");
        let (c, _) =
            NequipRunConfig::from_yaml_str(&text, Path::new("m.yaml"), &[] as &[&str], &options())
                .unwrap();
        assert_eq!(
            c.run_dir,
            PathBuf::from("/work/here/outputs/1970-01-02/01-01-01")
        );
    }

    #[test]
    fn typed_values_and_stats() {
        let (c, w) = load_mini(&[]).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.run, vec![RunStep::Train, RunStep::Val]);
        assert_eq!(c.data.val.len(), 1);
        assert_eq!(c.data.val_loader, c.data.train_loader);
        assert_eq!(c.training_module.loss, c.training_module.val_metrics);
        assert_eq!(c.training_module.optimizer.unwrap().config.lr, 0.01);
        assert_eq!(c.training_module.ema_decay, None);
        assert!(c.training_module.model.needs_stats());
        assert_eq!(c.stats_requests()[0].name, "num_neighbors_mean");
        assert_eq!(
            c.stats_requests()[0].key.to_string(),
            "training_module.model.avg_num_neighbors"
        );
    }

    #[test]
    fn cross_checks_name_keys() {
        let e = load_mini(&["trainer.callbacks.0.monitor=val1_epoch/F"]).unwrap_err();
        assert_eq!(e.key, "trainer.callbacks[0].monitor");
        assert!(e.message.contains("there are 1"), "{e}");
        let e = load_mini(&["trainer.callbacks.0.monitor=val0_epoch/G"]).unwrap_err();
        assert!(e.message.contains("logs no `G`"), "{e}");
        let e = load_mini(&["run=[train,test]"]).unwrap_err();
        assert_eq!(e.key, "data.test_dataset");
        let e = load_mini(&["run=[predict]"]).unwrap_err();
        assert_eq!(e.key, "run[0]");
        assert_eq!(e.file.as_deref(), Some(Path::new("mini.yaml")));
        let e = load_mini(&["+unused_var=1"]).unwrap_err();
        assert_eq!(e.key, "unused_var");
    }
}
