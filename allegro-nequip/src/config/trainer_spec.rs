//! The `trainer` block (`lightning.Trainer`): epochs, validation cadence, callbacks,
//! logger, and the distributed settings kept for data parallelism.

use std::path::PathBuf;

use serde_json::Value;

use super::error::{ConfigResult, Warning};
use super::extract::Node;
use super::metrics_spec::{Monitor, parse_monitor};
use super::phases::{Interval, parse_interval};
use super::targets::{Role, Target};
use allegro_train::EarlyStoppingConfig;

/// `trainer.strategy`, kept for data parallelism.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrategySpec {
    /// The class (`nequip.train.SimpleDDPStrategy`) or Lightning's strategy string.
    pub name: String,
    /// `process_group_backend` (`nccl`, `gloo`, ...).
    pub process_group_backend: Option<String>,
}

/// A `trainer.callbacks` item.
#[derive(Clone, Debug, PartialEq)]
pub enum Callback {
    /// Logs the learning rate.
    LearningRateMonitor {
        /// `epoch`, `step`, or `None` (Lightning: each scheduler's own interval).
        logging_interval: Option<Interval>,
    },
    /// Logs the loss coefficients.
    LossCoefficientMonitor {
        /// When (default here: epoch).
        interval: Interval,
        /// Every how many intervals (default 1).
        frequency: u64,
    },
    /// Writes test predictions to extxyz.
    TestTimeXyzFileWriter {
        /// Output file prefix (nequip appends the dataset index and `.xyz`).
        out_file: PathBuf,
        /// Label fields copied from the dataset next to the predictions.
        output_fields_from_original_dataset: Vec<String>,
        /// Chemical symbols of the types, for the written species.
        chemical_symbols: Option<Vec<String>>,
    },
    /// Stops when the monitored value stops improving.
    EarlyStopping {
        /// The value watched (lower is better).
        monitor: Monitor,
        /// Patience, min_delta, thresholds (Lightning's defaults where absent).
        config: EarlyStoppingConfig,
    },
    /// Saves the best and last checkpoints.
    ModelCheckpoint {
        /// The value that decides "best" (lower is better); `None`: the last epoch.
        monitor: Option<Monitor>,
        /// The directory.
        dirpath: Option<PathBuf>,
        /// File name without `.ckpt`.
        filename: Option<String>,
        /// Whether `last.ckpt` is written too.
        save_last: bool,
    },
}

/// Which logger class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoggerKind {
    /// `WandbLogger`: becomes the local CSV log (a [`Warning`] says so).
    Wandb,
    /// `CSVLogger`.
    Csv,
}

/// A `trainer.logger`.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggerSpec {
    /// The class.
    pub kind: LoggerKind,
    /// Where the log goes.
    pub save_dir: Option<PathBuf>,
    /// Run name.
    pub name: Option<String>,
    /// Run version.
    pub version: Option<String>,
}

/// The `trainer` block.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainerSpec {
    /// `max_epochs` (Lightning's default 1000).
    pub max_epochs: u64,
    /// Validate every this many epochs (default 1).
    pub check_val_every_n_epoch: u64,
    /// `log_every_n_steps` (default 50): kept; metrics are logged per epoch here.
    pub log_every_n_steps: u64,
    /// `num_nodes` (default 1): kept for data parallelism.
    pub num_nodes: u64,
    /// `devices` as written: kept for data parallelism.
    pub devices: Option<Value>,
    /// `strategy`: kept for data parallelism.
    pub strategy: Option<StrategySpec>,
    /// `callbacks`, in order.
    pub callbacks: Vec<Callback>,
    /// `logger` (one or a list; `false`/`true`/absent: none configured).
    pub loggers: Vec<LoggerSpec>,
}

/// Reads the `trainer` block at `node`; remarks go to `warnings`.
pub(crate) fn parse_trainer(
    node: &Node<'_>,
    warnings: &mut Vec<Warning>,
) -> ConfigResult<TrainerSpec> {
    node.target(Role::Trainer)?;
    let num_nodes = node.u64_or("num_nodes", 1)?;
    if num_nodes == 0 {
        warnings.push(Warning::new(
            node.path.child("num_nodes"),
            "0 nodes (a placeholder to be set on the command line?); runs here use one process",
        ));
    }
    let positive = |key: &str, default: u64| -> ConfigResult<u64> {
        let v = node.u64_or(key, default)?;
        if v == 0 {
            return Err(node.req(key)?.err("must be at least 1"));
        }
        Ok(v)
    };
    let callbacks = match node.opt("callbacks") {
        Some(c) => c
            .one_or_many()
            .iter()
            .map(parse_callback)
            .collect::<ConfigResult<_>>()?,
        None => Vec::new(),
    };
    let loggers = match node.opt("logger") {
        Some(l) if l.v.is_boolean() => Vec::new(),
        Some(l) => l
            .one_or_many()
            .iter()
            .map(|n| parse_logger(n, warnings))
            .collect::<ConfigResult<_>>()?,
        None => Vec::new(),
    };
    Ok(TrainerSpec {
        max_epochs: positive("max_epochs", 1000)?,
        check_val_every_n_epoch: positive("check_val_every_n_epoch", 1)?,
        log_every_n_steps: positive("log_every_n_steps", 50)?,
        num_nodes,
        devices: node.opt("devices").map(|n| n.v.clone()),
        strategy: node
            .opt("strategy")
            .map(|n| parse_strategy(&n))
            .transpose()?,
        callbacks,
        loggers,
    })
}

fn parse_strategy(node: &Node<'_>) -> ConfigResult<StrategySpec> {
    if let Value::String(s) = node.v {
        return Ok(StrategySpec {
            name: s.clone(),
            process_group_backend: None,
        });
    }
    let t = node.target(Role::Strategy)?;
    Ok(StrategySpec {
        name: t.class_name().to_string(),
        process_group_backend: node.opt_string("process_group_backend")?,
    })
}

/// Lightning's `mode`: only `min` (lower is better) is supported.
fn check_min_mode(node: &Node<'_>) -> ConfigResult<()> {
    if let Some(mode) = node.opt("mode")
        && mode.str()? != "min"
    {
        return Err(mode.err("only `min` (lower is better) is supported"));
    }
    Ok(())
}

fn parse_callback(node: &Node<'_>) -> ConfigResult<Callback> {
    Ok(match node.target(Role::Callback)? {
        Target::LearningRateMonitor => Callback::LearningRateMonitor {
            logging_interval: node
                .opt("logging_interval")
                .map(|n| parse_interval(&n))
                .transpose()?,
        },
        Target::LossCoefficientMonitor => Callback::LossCoefficientMonitor {
            interval: node
                .opt("interval")
                .map_or(Ok(Interval::Epoch), |n| parse_interval(&n))?,
            frequency: node.u64_or("frequency", 1)?,
        },
        Target::TestTimeXyzFileWriter => Callback::TestTimeXyzFileWriter {
            out_file: PathBuf::from(node.req("out_file")?.str()?),
            output_fields_from_original_dataset: node
                .opt("output_fields_from_original_dataset")
                .map_or(Ok(Vec::new()), |n| n.strings())?,
            chemical_symbols: node
                .opt("chemical_symbols")
                .map(|n| n.strings())
                .transpose()?,
        },
        Target::EarlyStopping => {
            check_min_mode(node)?;
            let d = EarlyStoppingConfig::default();
            Callback::EarlyStopping {
                monitor: parse_monitor(&node.req("monitor")?)?,
                config: EarlyStoppingConfig {
                    min_delta: node.f64_or("min_delta", d.min_delta)?,
                    patience: node.u64_or("patience", d.patience)?,
                    check_finite: node.bool_or("check_finite", d.check_finite)?,
                    stopping_threshold: node.opt_f64("stopping_threshold")?,
                    divergence_threshold: node.opt_f64("divergence_threshold")?,
                    lr_lower_bound: None,
                },
            }
        }
        _ => {
            check_min_mode(node)?;
            Callback::ModelCheckpoint {
                monitor: node.opt("monitor").map(|n| parse_monitor(&n)).transpose()?,
                dirpath: node.opt_string("dirpath")?.map(PathBuf::from),
                filename: node.opt_string("filename")?,
                save_last: node.bool_or("save_last", false)?,
            }
        }
    })
}

fn parse_logger(node: &Node<'_>, warnings: &mut Vec<Warning>) -> ConfigResult<LoggerSpec> {
    let kind = match node.target(Role::Logger)? {
        Target::WandbLogger => LoggerKind::Wandb,
        _ => LoggerKind::Csv,
    };
    let save_dir = node.opt_string("save_dir")?.map(PathBuf::from);
    if kind == LoggerKind::Wandb {
        let place = save_dir
            .as_ref()
            .map_or("the run directory".to_string(), |d| d.display().to_string());
        warnings.push(Warning::new(
            &node.path,
            format!("the wandb logger becomes the CSV log in {place}; nothing leaves the machine"),
        ));
    }
    // wandb takes any value as run name / version; text is all the CSV log needs.
    let text = |key: &str| {
        node.opt(key).map(|n| match n.v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    Ok(LoggerSpec {
        kind,
        save_dir,
        name: text("name"),
        version: text("version"),
    })
}

#[cfg(test)]
mod tests {
    use super::super::key_path::KeyPath;
    use super::*;
    use serde_json::json;

    #[test]
    fn trainer_callbacks_logger() {
        let v = json!({
            "_target_": "lightning.Trainer", "max_epochs": 7, "num_nodes": 0,
            "strategy": {"_target_": "nequip.train.SimpleDDPStrategy", "process_group_backend": "gloo"},
            "callbacks": [
                {"_target_": "lightning.pytorch.callbacks.EarlyStopping", "monitor": "val0_epoch/weighted_sum",
                 "min_delta": 1e-9, "patience": 200, "verbose": true},
                {"_target_": "lightning.pytorch.callbacks.ModelCheckpoint", "monitor": "val0_epoch/weighted_sum",
                 "dirpath": "/r", "filename": "best", "save_last": true},
                {"_target_": "nequip.train.callbacks.LossCoefficientMonitor", "interval": "epoch", "frequency": 1},
            ],
            "logger": {"_target_": "lightning.pytorch.loggers.wandb.WandbLogger", "project": "p",
                       "name": "n", "save_dir": "/r"},
        });
        let mut w = Vec::new();
        let t = parse_trainer(&Node::new(&v, KeyPath::parse("trainer").unwrap()), &mut w).unwrap();
        assert_eq!(
            (t.max_epochs, t.check_val_every_n_epoch, t.num_nodes),
            (7, 1, 0)
        );
        assert_eq!(
            t.strategy.unwrap().process_group_backend.as_deref(),
            Some("gloo")
        );
        let Callback::EarlyStopping { config, monitor } = &t.callbacks[0] else {
            panic!("{:?}", t.callbacks[0])
        };
        assert_eq!((config.patience, config.min_delta), (200, 1e-9));
        assert_eq!(monitor.metric, "weighted_sum");
        assert!(matches!(
            &t.callbacks[1],
            Callback::ModelCheckpoint {
                save_last: true,
                ..
            }
        ));
        assert_eq!(t.loggers[0].kind, LoggerKind::Wandb);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w.iter()
                .any(|w| w.message.contains("nothing leaves the machine"))
        );

        let mut bad = v;
        bad["callbacks"][1]["mode"] = json!("max");
        let e = parse_trainer(&Node::new(&bad, KeyPath::parse("trainer").unwrap()), &mut w)
            .unwrap_err();
        assert_eq!(e.key, "trainer.callbacks[1].mode");
    }
}
