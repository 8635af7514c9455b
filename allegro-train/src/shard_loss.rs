//! The loss of a batch split into shards (one per rank of data-parallel training), made
//! exact: the gradient summed over shards equals the gradient of the whole batch's loss.
//!
//! Averaging per-shard losses is not exact: a shard's MSE divides by its own count, an
//! RMSE is not linear, and a per-type mean depends on which types the whole batch holds.
//! Every built-in loss term is instead a function of pooled sums: for an entry `e` and a
//! group `g` of its errors (all, or one atom type) the metric is `m_g = f(S_g, n_g)` with
//! `S_g = Σ φ(err)` (φ = e² or |e|) and `f = S/n` (MSE, MAE) or `√(S/n)` (RMSE); the entry
//! is the (weighted) mean of `m_g` over the groups present, and the loss `L = Σ_e c_e v_e`.
//! A loss of one's own may read several such sums, `f(S_g¹, …, S_gᴷ, n_g)`
//! ([`PooledForm::custom`]); everything below holds per sum. So each shard computes its local sums `S_{g,r}` as tensors and, on the host, the
//! values `(S_{g,r}, n_{g,r})` ([`ShardSums::pooled`]); the ranks add those up (one small
//! all-reduce); then each shard's surrogate `Σ_g (∂L/∂S_g)·S_{g,r}`, with `∂L/∂S_g` taken
//! at the global sums, has gradients that add up over shards to `∂L/∂θ` exactly
//! ([`ShardSums::surrogate`]).

use allegro_core::{Backend, Tensor};
use allegro_data::AtomicGraph;
use allegro_nn::Outputs;

use crate::error::{Error, Result, config_error};
use crate::manager::{MetricsManager, error_tensor, fields_of, host_errors, label_groups};
pub use crate::pooled_form::{ErrorMap, PooledForm, PooledMetric};

/// One shard's pooled sums of every loss term, per entry and group (all errors, or one
/// atom type), with the differentiable local sums.
#[derive(Debug)]
pub struct ShardSums<B: Backend> {
    /// Where each entry's slots start in `pooled`, and how wide a slot is
    /// (`[S_1 … S_K, n]`: one sum per map of the entry's form, then the count).
    layout: Vec<(usize, usize)>,
    /// Slots per entry: the number of types (per-type entries have a slot per type;
    /// others use slot 0).
    slots_per_entry: usize,
    /// Local `Σ φ_k(e)` as a tensor, by its index in `pooled`.
    tensors: Vec<(usize, Tensor<B>)>,
    /// Every slot, flat: what ranks add up.
    pooled: Vec<f64>,
}

/// Each entry's `(start, slot width)` in the flat sums; entries outside the loss get
/// width 1 (a count nobody reads), so the layout depends on the manager alone.
fn layout<B: Backend>(manager: &MetricsManager<B>) -> (Vec<(usize, usize)>, usize) {
    let n_types = manager.type_names().len();
    let mut start = 0;
    let mut layout = Vec::with_capacity(manager.entries().len());
    for e in manager.entries() {
        let width = match (e.coeff, e.metric.pooled_form()) {
            (Some(_), Some(form)) => form.maps().len() + 1,
            _ => 1,
        };
        layout.push((start, width));
        start += width * n_types;
    }
    (layout, start)
}

impl<B: Backend> ShardSums<B> {
    /// The sums of a shard without frames: all zero, in `manager`'s layout.
    pub fn empty(manager: &MetricsManager<B>) -> Self {
        let (layout, len) = layout(manager);
        ShardSums {
            layout,
            slots_per_entry: manager.type_names().len(),
            tensors: Vec::new(),
            pooled: vec![0.0; len],
        }
    }

    /// The host values to add up over shards: `[S_1 … S_K, n]` per slot, flat (a fixed
    /// layout for a given manager, so ranks can all-reduce it elementwise).
    pub fn pooled(&self) -> &[f64] {
        &self.pooled
    }

    /// The shard's surrogate loss, given `global` = the elementwise sum of every
    /// shard's [`ShardSums::pooled`]: a scalar tensor whose gradient, summed over
    /// shards, is the gradient of the whole batch's loss. Also returns that loss's value.
    pub fn surrogate(
        &self,
        manager: &MetricsManager<B>,
        global: &[f64],
    ) -> Result<(Option<Tensor<B>>, f64)> {
        if global.len() != self.pooled.len() {
            return Err(Error::State(format!(
                "pooled sums of {} values, this shard has {}",
                global.len(),
                self.pooled.len()
            )));
        }
        let mut surrogate: Option<Tensor<B>> = None;
        let mut loss = 0.0;
        let mut any = false;
        for (k, e) in manager.entries().iter().enumerate() {
            let (Some(c), Some(form)) = (e.coeff, e.metric.pooled_form()) else {
                continue;
            };
            let (start, width) = self.layout[k];
            let k_sums = width - 1;
            // The groups present in the whole batch (by where their slot starts), with
            // their weights in the mean.
            let present: Vec<(usize, f64)> = (0..self.slots_per_entry)
                .map(|t| (start + t * width, t))
                .filter(|&(s, _)| global[s + k_sums] > 0.0)
                .map(|(s, t)| (s, e.per_type_coeffs.as_ref().map_or(1.0, |pc| pc[t])))
                .collect();
            if present.is_empty() {
                continue;
            }
            any = true;
            let total: f64 = present.iter().map(|(_, w)| w).sum();
            for &(s, w) in &present {
                let (sums, n) = (&global[s..s + k_sums], global[s + k_sums]);
                loss += c * w / total * form.value(sums, n);
                for (j, d) in form.gradient(sums, n).into_iter().enumerate() {
                    let dl_ds = c * w / total * d;
                    if let Some((_, local)) = self.tensors.iter().find(|(i, _)| *i == s + j) {
                        let term = local.mul_scalar(dl_ds);
                        surrogate = Some(match surrogate {
                            None => term,
                            Some(acc) => acc.add(&term),
                        });
                    }
                }
            }
        }
        if !any {
            return Err(Error::Labels(
                "no loss term has a label in this batch".to_string(),
            ));
        }
        Ok((surrogate, loss))
    }
}

impl<B: Backend> MetricsManager<B> {
    /// This shard's pooled sums of every loss term ([`ShardSums`]); the errors are also
    /// accumulated for [`MetricsManager::compute`] (the shard's own epoch metrics).
    ///
    /// # Errors
    /// A loss term whose metric has no pooled form (`maxabserr`, or a user metric without
    /// [`crate::metrics::Loss::pooled_form`]), or labels missing where `ignore_nan` is off.
    pub fn shard_sums(
        &mut self,
        outputs: &Outputs<B>,
        graph: &AtomicGraph,
    ) -> Result<ShardSums<B>> {
        if !self.has_weighted_sum() {
            return Err(config_error("loss", "no metric has a coefficient"));
        }
        let n_types = self.type_names().len();
        let (layout, len) = layout(self);
        let mut pooled = vec![0.0; len];
        let mut tensors = Vec::new();
        let mut stats_updates: Vec<(usize, usize, Vec<f64>)> = Vec::new();
        let fields = fields_of(self.entries(), outputs, graph)?;
        for (k, e) in self.entries().iter().enumerate() {
            let form = match (e.coeff, e.metric.pooled_form()) {
                (Some(_), Some(form)) => Some(form),
                (Some(_), None) => {
                    return Err(config_error(
                        &format!("metrics.{}", e.name),
                        format!(
                            "`{}` has no form over pooled sums, so a batch split across \
                             ranks cannot be differentiated exactly (use mse, rmse or mae, \
                             or give the metric a PooledForm::custom)",
                            e.metric.name()
                        ),
                    ));
                }
                (None, _) => None,
            };
            let fv = &fields[&e.field];
            for (g, idx) in label_groups(e, fv, n_types)? {
                let errors = host_errors(fv, &idx);
                if let Some(form) = &form {
                    let (start, width) = layout[k];
                    let slot = start + g * width;
                    let local = error_tensor(fv, &idx)?;
                    for (j, map) in form.maps().into_iter().enumerate() {
                        pooled[slot + j] = map.host_sum(&errors);
                        tensors.push((slot + j, map.local_sum(&local)));
                    }
                    pooled[slot + width - 1] = idx.len() as f64;
                }
                stats_updates.push((k, g, errors));
            }
        }
        for (k, g, errors) in stats_updates {
            self.accumulate(k, g, &errors);
        }
        Ok(ShardSums {
            layout,
            slots_per_entry: n_types,
            tensors,
            pooled,
        })
    }
}
