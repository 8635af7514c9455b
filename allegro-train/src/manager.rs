//! `MetricsManager`: named metrics with coefficients; their weighted sum is the training
//! loss (a differentiable tensor per batch) or the monitored validation value (pooled
//! over an epoch). Semantics of nequip 0.19.1 `nequip.train.MetricsManager`.
//!
//! - Coefficients of the entries that have one are normalised to sum 1:
//!   `{energy: 3, forces: 1}` → `{0.75, 0.25}`; entries without one are computed and
//!   reported but left out of `weighted_sum`.
//! - Labels that are `None` or NaN are masked out when the entry has `ignore_nan`, and are
//!   an error otherwise (nequip would silently turn the loss into NaN).
//! - A per-type entry computes the metric for each atom type separately and averages over
//!   the types present (in the batch, or in the epoch; nequip's epoch average includes
//!   types never seen, which makes it NaN, so we leave those out). Optional per-type
//!   coefficients make it the weighted mean `Σ c_t m_t / Σ c_t` over the same types.
//! - An entry with no valid entries in a batch (say, no stress labels) adds nothing to
//!   that batch's loss.

use std::collections::HashMap;

use allegro_core::{Backend, DType, Indices, Tensor};
use allegro_data::AtomicGraph;
use allegro_nn::Outputs;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, config_error};
use crate::field::{Field, FieldValues, fields_values, unread_field_values};
use crate::metrics::{ErrorStats, Loss};

/// One named metric of a [`MetricsManager`].
#[derive(Debug)]
pub struct MetricEntry<B: Backend> {
    /// Unique name, `"{field}_{metric}"` unless set (e.g. `forces_rmse`).
    pub name: String,
    /// The compared quantity.
    pub field: Field,
    /// The reduction.
    pub metric: Box<dyn Loss<B>>,
    /// Weight in `weighted_sum` (normalised by the manager), or `None` for report only.
    pub coeff: Option<f64>,
    /// Whether to compute the metric per atom type and average (per-atom fields only).
    pub per_type: bool,
    /// Per-type weights of the average, one per type name, all positive.
    pub per_type_coeffs: Option<Vec<f64>>,
    /// Whether missing (NaN or `None`) labels are skipped instead of being an error.
    pub ignore_nan: bool,
}

impl<B: Backend> MetricEntry<B> {
    /// An entry named `"{field}_{metric}"`, no coefficient, not per type; missing labels
    /// are skipped only for stress (frames without a cell have none).
    pub fn new(field: Field, metric: impl Loss<B> + 'static) -> Self {
        let name = format!("{}_{}", field.name(), metric.name());
        MetricEntry {
            name,
            field,
            metric: Box::new(metric),
            coeff: None,
            per_type: false,
            per_type_coeffs: None,
            ignore_nan: field == Field::Stress,
        }
    }

    /// Sets the name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the coefficient (`None`: reported only).
    pub fn coeff(mut self, coeff: impl Into<Option<f64>>) -> Self {
        self.coeff = coeff.into();
        self
    }

    /// Makes the metric a mean over atom types.
    pub fn per_type(mut self) -> Self {
        self.per_type = true;
        self
    }

    /// Weights of the per-type mean, in type order.
    pub fn per_type_coeffs(mut self, coeffs: Vec<f64>) -> Self {
        self.per_type = true;
        self.per_type_coeffs = Some(coeffs);
        self
    }

    /// Sets whether missing labels are skipped.
    pub fn ignore_nan(mut self, ignore: bool) -> Self {
        self.ignore_nan = ignore;
        self
    }
}

/// Named metric values in the manager's order (per-type values follow their entry as
/// `"{name}_{type}"`), then `weighted_sum` when any entry has a coefficient.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricValues {
    /// `(name, value)` pairs.
    pub values: Vec<(String, f64)>,
}

/// Metrics of a whole epoch.
pub type EpochMetrics = MetricValues;

impl MetricValues {
    /// The value called `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// The weighted sum, if the manager has coefficients.
    pub fn weighted_sum(&self) -> Option<f64> {
        self.get("weighted_sum")
    }

    /// The names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(|(n, _)| n.as_str())
    }
}

/// The metrics of one batch: host values, and the loss tensor when asked for.
#[derive(Clone, Debug)]
pub struct BatchMetrics<B: Backend> {
    /// `Σ c_k m_k` as a scalar tensor, differentiable with respect to what the outputs
    /// track; `None` without coefficients or when not asked for.
    pub loss: Option<Tensor<B>>,
    /// Batch values of every metric (and `weighted_sum`).
    pub values: MetricValues,
}

/// Named metrics with normalised coefficients, accumulating over an epoch.
#[derive(Debug)]
pub struct MetricsManager<B: Backend> {
    entries: Vec<MetricEntry<B>>,
    type_names: Vec<String>,
    /// Pooled errors per entry: one, or one per type.
    stats: Vec<Vec<ErrorStats>>,
}

/// Mean of `(value, type)` pairs, weighted by per-type coefficients when given.
fn type_mean(values: &[(f64, usize)], coeffs: Option<&[f64]>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    match coeffs {
        None => values.iter().map(|(v, _)| v).sum::<f64>() / values.len() as f64,
        Some(c) => {
            let total: f64 = values.iter().map(|(_, t)| c[*t]).sum();
            values.iter().map(|(v, t)| c[*t] * v).sum::<f64>() / total
        }
    }
}

/// The values of every field `entries` compare, each computed once per batch.
pub(crate) fn fields_of<B: Backend>(
    entries: &[MetricEntry<B>],
    outputs: &Outputs<B>,
    graph: &AtomicGraph,
) -> Result<HashMap<Field, FieldValues<B>>> {
    // One read back for all fields' predictions.
    let values = fields_values(&wanted_fields(entries), outputs, graph)?;
    Ok(wanted_fields(entries).into_iter().zip(values).collect())
}

/// [`fields_of`] with the predictions left on the device (`pred_host` empty).
pub(crate) fn unread_fields_of<B: Backend>(
    entries: &[MetricEntry<B>],
    outputs: &Outputs<B>,
    graph: &AtomicGraph,
) -> Result<HashMap<Field, FieldValues<B>>> {
    wanted_fields(entries)
        .into_iter()
        .map(|f| Ok((f, unread_field_values(f, outputs, graph)?)))
        .collect()
}

/// The fields `entries` compare, each once, in entry order.
fn wanted_fields<B: Backend>(entries: &[MetricEntry<B>]) -> Vec<Field> {
    let mut wanted: Vec<Field> = Vec::new();
    for e in entries {
        if !wanted.contains(&e.field) {
            wanted.push(e.field);
        }
    }
    wanted
}

/// The labelled entries of `fv` that entry `e` compares, in groups with at least one
/// entry: `(type, indices)` per type present for a per-type entry, else `(0, all)`.
/// Missing labels are skipped with `ignore_nan`, an error otherwise.
pub(crate) fn label_groups<B: Backend>(
    e: &MetricEntry<B>,
    fv: &FieldValues<B>,
    n_types: usize,
) -> Result<Vec<(usize, Vec<usize>)>> {
    let mut valid = Vec::with_capacity(fv.target.len());
    for (k, t) in fv.target.iter().enumerate() {
        if t.is_finite() {
            valid.push(k);
        } else if !e.ignore_nan {
            return Err(Error::Labels(format!(
                "metric `{}`: entry {k} of `{}` has no label (set ignore_nan to skip \
                 missing labels)",
                e.name, e.field
            )));
        }
    }
    if !e.per_type {
        return Ok(if valid.is_empty() {
            Vec::new()
        } else {
            vec![(0, valid)]
        });
    }
    let types = fv.atom_types.as_ref().expect("per-atom field has types");
    let mut by_type = vec![Vec::new(); n_types];
    for &k in &valid {
        let t = types[k] as usize;
        if t >= n_types {
            return Err(Error::Labels(format!(
                "atom type {t} but the metrics know {n_types} types"
            )));
        }
        by_type[t].push(k);
    }
    Ok(by_type
        .into_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .collect())
}

/// `pred − target` at `idx`, on the host.
pub(crate) fn host_errors<B: Backend>(fv: &FieldValues<B>, idx: &[usize]) -> Vec<f64> {
    idx.iter()
        .map(|&k| fv.pred_host[k] - fv.target[k])
        .collect()
}

/// `pred − target` at `idx` as a tensor, differentiable through the predictions.
pub(crate) fn error_tensor<B: Backend>(fv: &FieldValues<B>, idx: &[usize]) -> Result<Tensor<B>> {
    let device = fv.pred.device();
    let sel: Vec<u32> = idx.iter().map(|&k| k as u32).collect();
    let target: Vec<f64> = idx.iter().map(|&k| fv.target[k]).collect();
    let target = Tensor::from_f64(&target, &[idx.len()], DType::F64, &device)?;
    Ok(fv
        .pred
        .index_select(0, &Indices::new(&sel, &device))
        .sub(&target))
}

impl<B: Backend> MetricsManager<B> {
    /// A manager of `entries`; `type_names` name the model's types (needed by per-type
    /// entries, and used to name their per-type values). Coefficients are normalised.
    pub fn new(entries: Vec<MetricEntry<B>>, type_names: &[String]) -> Result<Self> {
        let mut seen = std::collections::HashSet::new();
        for e in &entries {
            let key = format!("metrics.{}", e.name);
            if e.name == "weighted_sum" {
                return Err(config_error(&key, "`weighted_sum` is a reserved name"));
            }
            if !seen.insert(e.name.clone()) {
                return Err(config_error(&key, "repeated metric name"));
            }
            if let Some(c) = e.coeff
                && !(c.is_finite() && c >= 0.0)
            {
                return Err(config_error(&key, format!("coefficient {c} must be ≥ 0")));
            }
            if e.per_type {
                if !e.field.is_per_atom() {
                    return Err(config_error(
                        &key,
                        format!("per-type metrics need a per-atom field, not `{}`", e.field),
                    ));
                }
                if type_names.is_empty() {
                    return Err(config_error(&key, "per-type metrics need type names"));
                }
            }
            if let Some(c) = &e.per_type_coeffs {
                if c.len() != type_names.len() {
                    return Err(config_error(
                        &key,
                        format!(
                            "{} per-type coefficients for {} types",
                            c.len(),
                            type_names.len()
                        ),
                    ));
                }
                if let Some(bad) = c.iter().find(|x| !(x.is_finite() && **x > 0.0)) {
                    return Err(config_error(
                        &key,
                        format!("per-type coefficient {bad} must be positive"),
                    ));
                }
            }
        }
        let stats = entries
            .iter()
            .map(|e| vec![ErrorStats::default(); if e.per_type { type_names.len() } else { 1 }])
            .collect();
        let mut m = MetricsManager {
            entries,
            type_names: type_names.to_vec(),
            stats,
        };
        let coeffs: Vec<Option<f64>> = m.entries.iter().map(|e| e.coeff).collect();
        m.set_coeffs(&coeffs)?;
        Ok(m)
    }

    /// Sets the coefficients (one per entry, in order) and normalises those given to sum 1.
    /// If none is positive there is no weighted sum.
    pub fn set_coeffs(&mut self, coeffs: &[Option<f64>]) -> Result<()> {
        if coeffs.len() != self.entries.len() {
            return Err(config_error(
                "coeffs",
                format!(
                    "{} coefficients for {} metrics",
                    coeffs.len(),
                    self.entries.len()
                ),
            ));
        }
        let total: f64 = coeffs.iter().flatten().sum();
        for (e, c) in self.entries.iter_mut().zip(coeffs) {
            e.coeff = if total > 0.0 {
                c.map(|c| c / total)
            } else {
                None
            };
        }
        Ok(())
    }

    /// The entries (with normalised coefficients).
    pub fn entries(&self) -> &[MetricEntry<B>] {
        &self.entries
    }

    /// The type names.
    pub fn type_names(&self) -> &[String] {
        &self.type_names
    }

    /// Whether there is a weighted sum (some coefficient is positive).
    pub fn has_weighted_sum(&self) -> bool {
        self.entries.iter().any(|e| e.coeff.is_some())
    }

    /// Adds host errors of entry `entry`, group `group` (a type, or 0) to the epoch's
    /// statistics.
    pub(crate) fn accumulate(&mut self, entry: usize, group: usize, errors: &[f64]) {
        self.stats[entry][group].extend(errors);
    }

    /// Pools the accumulated errors of every rank of `comm` (sums of counts, `Σe²` and
    /// `Σ|e|`, the largest `|e|`), so [`MetricsManager::compute`] then gives the metrics of
    /// the whole set on every rank, not an average of per-rank metrics.
    pub fn pool_across(&mut self, comm: &dyn crate::comm::Communicator) -> Result<()> {
        let all: Vec<&mut ErrorStats> = self.stats.iter_mut().flatten().collect();
        let mut sums: Vec<f64> = all
            .iter()
            .flat_map(|s| [s.count as f64, s.sum_sq, s.sum_abs])
            .collect();
        let mut max: Vec<f64> = all.iter().map(|s| s.max_abs).collect();
        comm.all_reduce_sum(&mut sums)?;
        comm.all_reduce_max(&mut max)?;
        for (k, s) in all.into_iter().enumerate() {
            s.count = sums[3 * k] as u64;
            s.sum_sq = sums[3 * k + 1];
            s.sum_abs = sums[3 * k + 2];
            s.max_abs = max[k];
        }
        Ok(())
    }

    /// The accumulated errors, to [`restore`](Self::restore) when a batch is skipped.
    pub(crate) fn snapshot(&self) -> Vec<Vec<ErrorStats>> {
        self.stats.clone()
    }

    /// Puts back what [`snapshot`](Self::snapshot) saved.
    pub(crate) fn restore(&mut self, stats: Vec<Vec<ErrorStats>>) {
        self.stats = stats;
    }

    /// Forgets the errors accumulated so far (start of an epoch).
    pub fn reset(&mut self) {
        for s in self.stats.iter_mut().flatten() {
            *s = ErrorStats::default();
        }
    }

    /// The differentiable loss of a batch (the weighted sum) and its metric values; the
    /// errors are also accumulated for [`compute`](Self::compute).
    ///
    /// # Errors
    /// Without coefficients, or when labels are missing where `ignore_nan` is off.
    pub fn loss(&mut self, outputs: &Outputs<B>, graph: &AtomicGraph) -> Result<BatchMetrics<B>> {
        if !self.has_weighted_sum() {
            return Err(config_error("loss", "no metric has a coefficient"));
        }
        self.batch(outputs, graph, true)
    }

    /// Accumulates the errors of a batch for [`compute`](Self::compute) and returns the
    /// batch's metric values (no tensors are built beyond the predictions).
    pub fn update(&mut self, outputs: &Outputs<B>, graph: &AtomicGraph) -> Result<MetricValues> {
        Ok(self.batch(outputs, graph, false)?.values)
    }

    /// The metrics over everything accumulated since the last [`reset`](Self::reset).
    pub fn compute(&self) -> MetricValues {
        let mut out = Vec::new();
        let mut weighted = 0.0;
        for (e, stats) in self.entries.iter().zip(&self.stats) {
            let v = if e.per_type {
                let mut present = Vec::new();
                for (t, s) in stats.iter().enumerate() {
                    let v = e.metric.compute(s);
                    out.push((format!("{}_{}", e.name, self.type_names[t]), v));
                    if !s.is_empty() {
                        present.push((v, t));
                    }
                }
                type_mean(&present, e.per_type_coeffs.as_deref())
            } else {
                e.metric.compute(&stats[0])
            };
            out.push((e.name.clone(), v));
            if let Some(c) = e.coeff {
                weighted += c * v;
            }
        }
        if self.has_weighted_sum() {
            out.push(("weighted_sum".into(), weighted));
        }
        MetricValues { values: out }
    }

    fn batch(
        &mut self,
        outputs: &Outputs<B>,
        graph: &AtomicGraph,
        with_loss: bool,
    ) -> Result<BatchMetrics<B>> {
        let (loss, mut prepared) = self.prepare(outputs, graph, with_loss)?;
        crate::pending::read_predictions(std::slice::from_mut(&mut prepared), &[])?;
        let values = self.account(&prepared);
        Ok(BatchMetrics { loss, values })
    }

    /// The device half of a batch: the loss tensor when `with_loss` (built from the
    /// labels and the predictions without reading anything back) and the predictions
    /// and label groups that [`account`](Self::account) turns into metric values once
    /// the predictions are on the host ([`crate::pending::read_predictions`]).
    pub(crate) fn prepare(
        &self,
        outputs: &Outputs<B>,
        graph: &AtomicGraph,
        with_loss: bool,
    ) -> Result<(Option<Tensor<B>>, PreparedBatch<B>)> {
        let fields = unread_fields_of(&self.entries, outputs, graph)?;
        let n_types = self.type_names.len();
        let mut loss: Option<Tensor<B>> = None;
        let mut groups = Vec::with_capacity(self.entries.len());
        for e in &self.entries {
            let fv = &fields[&e.field];
            let entry_groups = label_groups(e, fv, n_types)?;
            if with_loss
                && let Some(c) = e.coeff
                && !entry_groups.is_empty()
            {
                let mut tensor_parts: Vec<(Tensor<B>, usize)> = Vec::new();
                for (t, idx) in &entry_groups {
                    tensor_parts.push((e.metric.loss(&error_tensor(fv, idx)?), *t));
                }
                let term = match &e.per_type_coeffs {
                    None => {
                        let k = tensor_parts.len() as f64;
                        let mut it = tensor_parts.iter();
                        let first = it.next().expect("non-empty").0.clone();
                        it.fold(first, |a, (b, _)| a.add(b)).mul_scalar(c / k)
                    }
                    Some(pc) => {
                        let total: f64 = tensor_parts.iter().map(|(_, t)| pc[*t]).sum();
                        let mut it = tensor_parts.iter();
                        let (first, t0) = it.next().expect("non-empty");
                        it.fold(first.mul_scalar(pc[*t0]), |a, (b, t)| {
                            a.add(&b.mul_scalar(pc[*t]))
                        })
                        .mul_scalar(c / total)
                    }
                };
                loss = Some(match loss {
                    None => term,
                    Some(l) => l.add(&term),
                });
            }
            groups.push(entry_groups);
        }
        if with_loss && loss.is_none() {
            return Err(Error::Labels(
                "no loss term has a label in this batch".to_string(),
            ));
        }
        Ok((loss, PreparedBatch { fields, groups }))
    }

    /// The host half of a batch: its errors (the predictions of `prepared` read back)
    /// added to the epoch's statistics, and its metric values.
    pub(crate) fn account(&mut self, prepared: &PreparedBatch<B>) -> MetricValues {
        let mut values = Vec::new();
        let mut weighted = 0.0;
        for ((e, stats), groups) in self
            .entries
            .iter()
            .zip(self.stats.iter_mut())
            .zip(&prepared.groups)
        {
            let fv = &prepared.fields[&e.field];
            let mut host_parts = Vec::new();
            for (t, idx) in groups {
                let errors = host_errors(fv, idx);
                stats[*t].extend(&errors);
                let v = e.metric.evaluate(&errors);
                if e.per_type {
                    values.push((format!("{}_{}", e.name, self.type_names[*t]), v));
                }
                host_parts.push((v, *t));
            }
            let v = type_mean(&host_parts, e.per_type_coeffs.as_deref());
            values.push((e.name.clone(), v));
            if let Some(c) = e.coeff
                && !host_parts.is_empty()
            {
                weighted += c * v;
            }
        }
        if self.has_weighted_sum() {
            values.push(("weighted_sum".into(), weighted));
        }
        MetricValues { values }
    }
}

/// A batch's predictions and label groups between [`MetricsManager::prepare`] and
/// [`MetricsManager::account`]: what the host needs of the device to compute the
/// batch's metrics, kept so that many batches are read back at once.
#[derive(Debug)]
pub(crate) struct PreparedBatch<B: Backend> {
    /// Predictions (on the device; `pred_host` empty until read) and labels per field.
    pub(crate) fields: HashMap<Field, FieldValues<B>>,
    /// The labelled `(type, indices)` groups of each entry, in entry order.
    pub(crate) groups: Vec<Vec<(usize, Vec<usize>)>>,
}

impl<B: Backend> PreparedBatch<B> {
    /// The same batch with its predictions cut from the tape. A batch kept pending for a
    /// later read must hold its predictions only: attached, each would keep every buffer
    /// of the step that computed it alive (the forward and force tape), and fifty such
    /// steps slow every later allocation on a GPU and grow its memory.
    pub(crate) fn detached(mut self) -> Self {
        for values in self.fields.values_mut() {
            values.pred = values.pred.detach();
        }
        self
    }

    /// Whether any prediction still records its tape.
    #[cfg(test)]
    pub(crate) fn is_tracked(&self) -> bool {
        self.fields.values().any(|v| v.pred.is_tracked())
    }
}
