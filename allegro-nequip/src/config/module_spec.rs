//! The `training_module` block: loss and metrics managers, EMA, optimizer, learning-rate
//! scheduler and model.

use super::error::ConfigResult;
use super::extract::Node;
use super::metrics_spec::{MetricsSpec, Monitor, parse_metrics, parse_monitor};
use super::model_spec::ModelSpec;
use super::phases::{Interval, parse_interval};
use super::targets::{Role, Target};
use allegro_train::AdamWConfig;
use allegro_train::{PlateauConfig, ThresholdMode};

/// nequip's `EMALightningModule` default `ema_decay`.
const DEFAULT_EMA_DECAY: f64 = 0.999;

/// Which Lightning module class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleKind {
    /// `nequip.train.EMALightningModule`: validation and test use EMA weights.
    Ema,
    /// `nequip.train.NequIPLightningModule`.
    Plain,
}

/// Which optimizer class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    /// `torch.optim.AdamW`.
    AdamW,
    /// `torch.optim.Adam` (without weight decay it is AdamW with `weight_decay: 0`).
    Adam,
}

/// The optimizer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimizerSpec {
    /// The class.
    pub kind: OptimizerKind,
    /// Its settings (torch defaults where absent; Adam's `weight_decay` default is 0).
    pub config: AdamWConfig,
}

/// The learning-rate scheduler (Lightning's scheduler dict).
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerSpec {
    /// `torch.optim.lr_scheduler.ReduceLROnPlateau`'s settings.
    pub config: PlateauConfig,
    /// The value it watches.
    pub monitor: Monitor,
    /// When it steps (default epoch).
    pub interval: Interval,
    /// Every how many intervals (default 1).
    pub frequency: u64,
}

/// The `training_module` block.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingModuleSpec {
    /// The module class.
    pub kind: ModuleKind,
    /// `loss`: its `weighted_sum` is minimised.
    pub loss: Option<MetricsSpec>,
    /// `train_metrics`.
    pub train_metrics: Option<MetricsSpec>,
    /// `val_metrics` (one manager per validation dataset).
    pub val_metrics: Option<MetricsSpec>,
    /// `test_metrics` (one manager per test dataset).
    pub test_metrics: Option<MetricsSpec>,
    /// EMA decay of the weights (`EMALightningModule`: default 0.999).
    pub ema_decay: Option<f64>,
    /// The optimizer.
    pub optimizer: Option<OptimizerSpec>,
    /// The learning-rate scheduler.
    pub lr_scheduler: Option<SchedulerSpec>,
    /// The model.
    pub model: ModelSpec,
}

/// Reads the `training_module` block at `node`.
pub(crate) fn parse_training_module(node: &Node<'_>) -> ConfigResult<TrainingModuleSpec> {
    let kind = match node.target(Role::TrainingModule)? {
        Target::EmaLightningModule => ModuleKind::Ema,
        _ => ModuleKind::Plain,
    };
    let manager = |key: &str| node.opt(key).map(|n| parse_metrics(&n)).transpose();
    let loss = manager("loss")?;
    if let Some(l) = &loss
        && !l.has_weighted_sum()
    {
        return Err(node
            .req("loss")?
            .err("no metric of the loss has a `coeff`: there is nothing to minimise"));
    }
    let ema_decay = match (node.opt_f64("ema_decay")?, kind) {
        (Some(d), _) => Some(d),
        (None, ModuleKind::Ema) => Some(DEFAULT_EMA_DECAY),
        (None, ModuleKind::Plain) => None,
    };
    if let Some(d) = ema_decay
        && !(0.0..=1.0).contains(&d)
    {
        return Err(node.req("ema_decay")?.err(format!("{d} is not in [0, 1]")));
    }
    Ok(TrainingModuleSpec {
        kind,
        loss,
        train_metrics: manager("train_metrics")?,
        val_metrics: manager("val_metrics")?,
        test_metrics: manager("test_metrics")?,
        ema_decay,
        optimizer: node
            .opt("optimizer")
            .map(|n| parse_optimizer(&n))
            .transpose()?,
        lr_scheduler: node
            .opt("lr_scheduler")
            .map(|n| parse_scheduler(&n))
            .transpose()?,
        model: ModelSpec::parse(&node.req("model")?)?,
    })
}

fn parse_optimizer(node: &Node<'_>) -> ConfigResult<OptimizerSpec> {
    let kind = match node.target(Role::Optimizer)? {
        Target::Adam => OptimizerKind::Adam,
        _ => OptimizerKind::AdamW,
    };
    let d = AdamWConfig::default();
    let weight_decay = node.f64_or(
        "weight_decay",
        if kind == OptimizerKind::Adam {
            0.0
        } else {
            d.weight_decay
        },
    )?;
    if kind == OptimizerKind::Adam && weight_decay != 0.0 {
        return Err(node.req("weight_decay")?.err(
            "torch.optim.Adam's weight decay is an L2 term in the gradient, not AdamW's \
             decoupled decay: use torch.optim.AdamW",
        ));
    }
    let betas = match node.opt("betas") {
        Some(b) => match b.list()?.as_slice() {
            [b1, b2] => (b1.f64()?, b2.f64()?),
            _ => return Err(b.err("expected two numbers `[beta1, beta2]`")),
        },
        None => d.betas,
    };
    Ok(OptimizerSpec {
        kind,
        config: AdamWConfig {
            lr: node.f64_or("lr", d.lr)?,
            betas,
            eps: node.f64_or("eps", d.eps)?,
            weight_decay,
            amsgrad: node.bool_or("amsgrad", d.amsgrad)?,
        },
    })
}

fn parse_scheduler(node: &Node<'_>) -> ConfigResult<SchedulerSpec> {
    let s = node.req("scheduler")?;
    s.target(Role::LrScheduler)?;
    if let Some(mode) = s.opt("mode")
        && mode.str()? != "min"
    {
        return Err(mode.err("only `min` (lower is better) is supported"));
    }
    let d = PlateauConfig::default();
    let threshold_mode = match s.opt("threshold_mode") {
        None => d.threshold_mode,
        Some(n) => match n.str()? {
            "rel" => ThresholdMode::Rel,
            "abs" => ThresholdMode::Abs,
            other => return Err(n.err(format!("`{other}`: expected `rel` or `abs`"))),
        },
    };
    let config = PlateauConfig {
        factor: s.f64_or("factor", d.factor)?,
        patience: s.u64_or("patience", d.patience)?,
        threshold: s.f64_or("threshold", d.threshold)?,
        threshold_mode,
        cooldown: s.u64_or("cooldown", d.cooldown)?,
        min_lr: s.f64_or("min_lr", d.min_lr)?,
        eps: s.f64_or("eps", d.eps)?,
    };
    if !(config.factor > 0.0 && config.factor < 1.0) {
        return Err(s
            .req("factor")?
            .err(format!("{} is not in (0, 1)", config.factor)));
    }
    let monitor = node
        .req("monitor")
        .map_err(|mut e| {
            e.message = "missing: ReduceLROnPlateau needs the value to watch".into();
            e
        })
        .and_then(|n| parse_monitor(&n))?;
    let frequency = node.u64_or("frequency", 1)?;
    if frequency == 0 {
        return Err(node.req("frequency")?.err("must be at least 1"));
    }
    Ok(SchedulerSpec {
        config,
        monitor,
        interval: node
            .opt("interval")
            .map_or(Ok(Interval::Epoch), |n| parse_interval(&n))?,
        frequency,
    })
}

#[cfg(test)]
mod tests {
    use super::super::key_path::KeyPath;
    use super::*;
    use serde_json::json;

    fn node(v: &serde_json::Value) -> Node<'_> {
        Node::new(v, KeyPath::parse("training_module.optimizer").unwrap())
    }

    #[test]
    fn optimizers_with_torch_defaults() {
        let o = parse_optimizer(&node(&json!({"_target_": "torch.optim.AdamW", "lr": 0.002,
            "weight_decay": 0.000001, "amsgrad": false})))
        .unwrap();
        assert_eq!(o.kind, OptimizerKind::AdamW);
        assert_eq!((o.config.lr, o.config.weight_decay), (0.002, 1e-6));
        assert_eq!((o.config.betas, o.config.eps), ((0.9, 0.999), 1e-8));
        let o = parse_optimizer(&node(
            &json!({"_target_": "torch.optim.Adam", "betas": [0.8, 0.9]}),
        ))
        .unwrap();
        assert_eq!((o.config.weight_decay, o.config.betas), (0.0, (0.8, 0.9)));
        let e = parse_optimizer(&node(
            &json!({"_target_": "torch.optim.Adam", "weight_decay": 0.1}),
        ))
        .unwrap_err();
        assert_eq!(e.key, "training_module.optimizer.weight_decay");
        let e = parse_optimizer(&node(&json!({"_target_": "torch.optim.SGD"}))).unwrap_err();
        assert_eq!(e.key, "training_module.optimizer._target_");
    }

    #[test]
    fn plateau_scheduler() {
        let v = json!({"scheduler": {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau",
            "factor": 0.8, "patience": 10, "threshold": 1e-6, "min_lr": 1e-7},
            "monitor": "val0_epoch/weighted_sum", "interval": "epoch", "frequency": 1});
        let s = parse_scheduler(&Node::new(&v, KeyPath::parse("lr").unwrap())).unwrap();
        assert_eq!(
            (s.config.factor, s.config.patience, s.config.min_lr),
            (0.8, 10, 1e-7)
        );
        assert_eq!(s.config.threshold_mode, ThresholdMode::Rel);
        assert!(s.monitor.is_weighted_sum());
        let mut bad = v.clone();
        bad["scheduler"]["mode"] = json!("max");
        let e = parse_scheduler(&Node::new(&bad, KeyPath::parse("lr").unwrap())).unwrap_err();
        assert_eq!(e.key, "lr.scheduler.mode");
        let mut bad = v;
        bad["monitor"] = json!("val0/x");
        let e = parse_scheduler(&Node::new(&bad, KeyPath::parse("lr").unwrap())).unwrap_err();
        assert_eq!(e.key, "lr.monitor");
    }
}
