//! `nequip.train.MetricsManager` blocks (loss and monitored metrics) and the names nequip
//! logs them under, which callbacks and schedulers `monitor`.

use std::collections::HashSet;

use super::error::ConfigResult;
use super::extract::Node;
use super::phases::{Interval, RunStep};
use super::targets::{Role, Target};
use allegro_train::Field;

/// The error measure of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// `nequip.train.MeanSquaredError`.
    Mse,
    /// `nequip.train.RootMeanSquaredError`.
    Rmse,
    /// `nequip.train.MeanAbsoluteError`.
    Mae,
}

impl MetricKind {
    /// `mse`, `rmse`, `mae`.
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::Mse => "mse",
            MetricKind::Rmse => "rmse",
            MetricKind::Mae => "mae",
        }
    }
}

/// One entry of a `MetricsManager`'s `metrics`.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSpec {
    /// The logged name; without `name` in the config, `{field}_{kind}` (e.g.
    /// `forces_rmse`), which may differ from nequip's automatic name: give names when
    /// a monitor refers to them.
    pub name: String,
    /// What is compared: a field, or the per-atom energy (`PerAtomModifier` of
    /// `total_energy`).
    pub field: Field,
    /// Weight in `weighted_sum`; `None` (null or absent) monitors only.
    pub coeff: Option<f64>,
    /// The error measure.
    pub kind: MetricKind,
    /// Computed per atom type, then averaged over types (per-atom fields only).
    pub per_type: bool,
    /// Whether missing (NaN) labels are masked out.
    pub ignore_nan: bool,
}

/// A `MetricsManager`.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsSpec {
    /// The metrics, in config order.
    pub metrics: Vec<MetricSpec>,
    /// `type_names` (per-type metrics are logged as `{name}_{type}`); nequip fills it from
    /// the model when absent.
    pub type_names: Option<Vec<String>>,
}

impl MetricsSpec {
    /// Whether a `weighted_sum` is computed (some metric has a coefficient).
    pub fn has_weighted_sum(&self) -> bool {
        self.metrics.iter().any(|m| m.coeff.is_some())
    }

    /// Whether `name` is logged by this manager: `weighted_sum`, a metric name, or
    /// `{name}_{type}` of a per-type metric (types from `type_names`, else `fallback`).
    pub fn logs(&self, name: &str, fallback_types: &[String]) -> bool {
        if name == "weighted_sum" {
            return self.has_weighted_sum();
        }
        let types = self.type_names.as_deref().unwrap_or(fallback_types);
        self.metrics.iter().any(|m| {
            m.name == name
                || (m.per_type
                    && name
                        .strip_prefix(m.name.as_str())
                        .and_then(|rest| rest.strip_prefix('_'))
                        .is_some_and(|t| types.iter().any(|x| x == t)))
        })
    }
}

/// Reads a `MetricsManager` at `node`.
pub(crate) fn parse_metrics(node: &Node<'_>) -> ConfigResult<MetricsSpec> {
    node.target(Role::MetricsManager)?;
    let type_names = node.opt("type_names").map(|n| n.strings()).transpose()?;
    let mut seen = HashSet::new();
    let mut metrics = Vec::new();
    for entry in node.req("metrics")?.list()? {
        let m = parse_entry(&entry)?;
        if m.name == "weighted_sum" {
            return Err(entry.err("`weighted_sum` is reserved for the weighted sum of the metrics"));
        }
        if !seen.insert(m.name.clone()) {
            return Err(entry.err(format!("a second metric named `{}`", m.name)));
        }
        metrics.push(m);
    }
    Ok(MetricsSpec {
        metrics,
        type_names,
    })
}

fn parse_entry(entry: &Node<'_>) -> ConfigResult<MetricSpec> {
    let metric = entry.req("metric")?;
    let kind = match metric.target(Role::Metric)? {
        Target::MeanSquaredError => MetricKind::Mse,
        Target::RootMeanSquaredError => MetricKind::Rmse,
        _ => MetricKind::Mae,
    };
    let field = parse_field(&entry.req("field").map_err(|e| {
        let mut e = e;
        e.message = "missing: metrics without a field (custom metrics) are not supported".into();
        e
    })?)?;
    let per_type = entry.bool_or("per_type", false)?;
    if per_type && !field.is_per_atom() {
        return Err(entry.req("per_type")?.err(format!(
            "per-type metrics need a per-atom field, and `{field}` is not one"
        )));
    }
    Ok(MetricSpec {
        name: match entry.opt("name") {
            Some(n) => n.str()?.to_string(),
            None => format!("{field}_{}", kind.name()),
        },
        field,
        coeff: entry.opt_f64("coeff")?,
        kind,
        per_type,
        ignore_nan: entry.bool_or("ignore_nan", false)?,
    })
}

/// A field name, or `PerAtomModifier` of `total_energy`.
fn parse_field(node: &Node<'_>) -> ConfigResult<Field> {
    if node.v.is_object() {
        node.target(Role::FieldModifier)?;
        let inner = node.req("field")?;
        return match inner.str()? {
            "total_energy" => Ok(Field::PerAtomEnergy),
            other => Err(inner.err(format!(
                "the per-atom modifier is supported for `total_energy` only, not `{other}`"
            ))),
        };
    }
    match node.str()? {
        "total_energy" => Ok(Field::TotalEnergy),
        "forces" => Ok(Field::Forces),
        "stress" => Ok(Field::Stress),
        other => Err(node.err(format!(
            "field `{other}` is not supported (known: total_energy, forces, stress, or a \
             `nequip.data.PerAtomModifier` of total_energy)"
        ))),
    }
}

/// Where a monitored value comes from in the training split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorSource {
    /// The loss manager (`train_loss_*`).
    Loss,
    /// A metrics manager (`train_metric_*`, `val*`, `test*`).
    Metrics,
}

/// A logged value's name, as nequip's `NequIPLightningModule` logs it:
/// `{val|test}{data_idx}_{epoch|step}/{name}` or `train_{loss|metric}_{epoch|step}/{name}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Monitor {
    /// The name as written, e.g. `val0_epoch/weighted_sum`.
    pub text: String,
    /// The split.
    pub split: RunStep,
    /// Which dataset of the split (always 0 for training).
    pub dataset: usize,
    /// Loss or metrics manager.
    pub source: MonitorSource,
    /// Logged per epoch or per step.
    pub interval: Interval,
    /// The metric: `weighted_sum` or a metric name.
    pub metric: String,
}

impl Monitor {
    /// Parses a logged name.
    pub fn parse(text: &str) -> Result<Monitor, String> {
        let bad = || {
            format!(
                "`{text}` is not a name nequip logs (`val0_epoch/weighted_sum`, \
                 `train_loss_epoch/NAME`, `test1_epoch/NAME`, ...)"
            )
        };
        let (prefix, metric) = text.split_once('/').ok_or_else(bad)?;
        if metric.is_empty() {
            return Err(bad());
        }
        let (head, interval) = if let Some(h) = prefix.strip_suffix("_epoch") {
            (h, Interval::Epoch)
        } else if let Some(h) = prefix.strip_suffix("_step") {
            (h, Interval::Step)
        } else {
            return Err(bad());
        };
        let (split, dataset, source) = match head {
            "train_loss" => (RunStep::Train, 0, MonitorSource::Loss),
            "train_metric" => (RunStep::Train, 0, MonitorSource::Metrics),
            _ => {
                let (split, idx) = if let Some(i) = head.strip_prefix("val") {
                    (RunStep::Val, i)
                } else if let Some(i) = head.strip_prefix("test") {
                    (RunStep::Test, i)
                } else {
                    return Err(bad());
                };
                let idx = idx.parse::<usize>().map_err(|_| bad())?;
                (split, idx, MonitorSource::Metrics)
            }
        };
        Ok(Monitor {
            text: text.to_string(),
            split,
            dataset,
            source,
            interval,
            metric: metric.to_string(),
        })
    }

    /// Whether the monitored value is the weighted sum of the manager's metrics.
    pub fn is_weighted_sum(&self) -> bool {
        self.metric == "weighted_sum"
    }
}

/// Reads a monitor name at `node`.
pub(crate) fn parse_monitor(node: &Node<'_>) -> ConfigResult<Monitor> {
    Monitor::parse(node.str()?).map_err(|e| node.err(e))
}

#[cfg(test)]
mod tests {
    use super::super::key_path::KeyPath;
    use super::*;
    use serde_json::json;

    #[test]
    fn monitors() {
        let m = Monitor::parse("val0_epoch/weighted_sum").unwrap();
        assert_eq!(
            (m.split, m.dataset, m.interval),
            (RunStep::Val, 0, Interval::Epoch)
        );
        assert!(m.is_weighted_sum());
        let m = Monitor::parse("test12_step/F_RMSE").unwrap();
        assert_eq!(
            (m.split, m.dataset, m.metric.as_str()),
            (RunStep::Test, 12, "F_RMSE")
        );
        let m = Monitor::parse("train_loss_epoch/force_MSE").unwrap();
        assert_eq!((m.split, m.source), (RunStep::Train, MonitorSource::Loss));
        for bad in [
            "val_epoch/x",
            "val0/x",
            "val0_epoch/",
            "weighted_sum",
            "valx_epoch/a",
        ] {
            assert!(Monitor::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn managers() {
        let v = json!({"_target_": "nequip.train.MetricsManager", "metrics": [
            {"name": "F", "field": "forces", "coeff": 1, "per_type": true,
             "metric": {"_target_": "nequip.train.MeanSquaredError"}},
            {"field": {"_target_": "nequip.data.PerAtomModifier", "field": "total_energy"},
             "coeff": null, "metric": {"_target_": "nequip.train.MeanAbsoluteError"}},
        ]});
        let m = parse_metrics(&Node::new(&v, KeyPath::parse("loss").unwrap())).unwrap();
        assert_eq!(m.metrics[0].coeff, Some(1.0));
        assert_eq!(m.metrics[1].name, "per_atom_energy_mae");
        assert_eq!(m.metrics[1].field, Field::PerAtomEnergy);
        assert_eq!(m.metrics[1].coeff, None);
        let types = vec!["H".to_string()];
        assert!(m.logs("weighted_sum", &types) && m.logs("F_H", &types) && !m.logs("F_C", &types));

        let mut bad = v.clone();
        bad["metrics"][1]["per_type"] = json!(true);
        let e = parse_metrics(&Node::new(&bad, KeyPath::parse("loss").unwrap())).unwrap_err();
        assert_eq!(e.key, "loss.metrics[1].per_type");
        let mut bad = v.clone();
        bad["metrics"][1]["field"] = json!("dipole");
        let e = parse_metrics(&Node::new(&bad, KeyPath::parse("loss").unwrap())).unwrap_err();
        assert_eq!(e.key, "loss.metrics[1].field");
        let mut bad = v;
        bad["metrics"][1]["name"] = json!("F");
        let e = parse_metrics(&Node::new(&bad, KeyPath::parse("loss").unwrap())).unwrap_err();
        assert!(e.message.contains("second metric named `F`"), "{e}");
    }
}
