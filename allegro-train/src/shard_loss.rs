//! The loss of a batch split into shards (one per rank of data-parallel training), made
//! exact: the gradient summed over shards equals the gradient of the whole batch's loss.
//!
//! Averaging per-shard losses is not exact: a shard's MSE divides by its own count, an
//! RMSE is not linear, and a per-type mean depends on which types the whole batch holds.
//! Every built-in loss term is instead a function of pooled sums: for an entry `e` and a
//! group `g` of its errors (all, or one atom type) the metric is `m_g = f(S_g, n_g)` with
//! `S_g = Σ φ(err)` (φ = e² or |e|) and `f = S/n` (MSE, MAE) or `√(S/n)` (RMSE); the entry
//! is the (weighted) mean of `m_g` over the groups present, and the loss `L = Σ_e c_e v_e`.
//! So each shard computes its local sums `S_{g,r}` as tensors and, on the host, the
//! values `(S_{g,r}, n_{g,r})` ([`ShardSums::pooled`]); the ranks add those up (one small
//! all-reduce); then each shard's surrogate `Σ_g (∂L/∂S_g)·S_{g,r}`, with `∂L/∂S_g` taken
//! at the global sums, has gradients that add up over shards to `∂L/∂θ` exactly
//! ([`ShardSums::surrogate`]).

use allegro_core::{Backend, Tensor};
use allegro_data::AtomicGraph;
use allegro_nn::Outputs;

use crate::error::{Error, Result, config_error};
use crate::manager::{MetricsManager, error_tensor, fields_of, host_errors, label_groups};
pub use crate::pooled_form::PooledForm;

/// One shard's pooled sums of every loss term, per entry and group (all errors, or one
/// atom type), with the differentiable local sums.
#[derive(Debug)]
pub struct ShardSums<B: Backend> {
    /// `(entry, group)` slots: `slots_per_entry` per entry (the number of types, so
    /// per-type entries have a slot per type; others use slot 0).
    slots_per_entry: usize,
    /// Local `Σ φ(e)` as a tensor per filled slot.
    tensors: Vec<(usize, Tensor<B>)>,
    /// `[S, n]` per slot, flat: what ranks add up.
    pooled: Vec<f64>,
}

impl<B: Backend> ShardSums<B> {
    /// The sums of a shard without frames: all zero, in `manager`'s layout.
    pub fn empty(manager: &MetricsManager<B>) -> Self {
        let n_types = manager.type_names().len();
        ShardSums {
            slots_per_entry: n_types,
            tensors: Vec::new(),
            pooled: vec![0.0; 2 * n_types * manager.entries().len()],
        }
    }

    /// The host values to add up over shards: `[S, n]` per slot, flat (a fixed layout
    /// for a given manager, so ranks can all-reduce it elementwise).
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
            let slots = k * self.slots_per_entry..(k + 1) * self.slots_per_entry;
            // The groups present in the whole batch, with their weights in the mean.
            let present: Vec<(usize, f64)> = slots
                .clone()
                .filter(|&s| global[2 * s + 1] > 0.0)
                .map(|s| {
                    let t = s - slots.start;
                    (s, e.per_type_coeffs.as_ref().map_or(1.0, |pc| pc[t]))
                })
                .collect();
            if present.is_empty() {
                continue;
            }
            any = true;
            let total: f64 = present.iter().map(|(_, w)| w).sum();
            for &(s, w) in &present {
                let (sum, n) = (global[2 * s], global[2 * s + 1]);
                loss += c * w / total * form.value(sum, n);
                let dl_ds = c * w / total * form.derivative(sum, n);
                if let Some((_, local)) = self.tensors.iter().find(|(slot, _)| *slot == s) {
                    let term = local.mul_scalar(dl_ds);
                    surrogate = Some(match surrogate {
                        None => term,
                        Some(acc) => acc.add(&term),
                    });
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
        let mut pooled = vec![0.0; 2 * n_types * self.entries().len()];
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
                             ranks cannot be differentiated exactly (use mse, rmse or mae)",
                            e.metric.name()
                        ),
                    ));
                }
                (None, _) => None,
            };
            let fv = &fields[&e.field];
            for (g, idx) in label_groups(e, fv, n_types)? {
                let errors = host_errors(fv, &idx);
                if let Some(form) = form {
                    let slot = k * n_types + g;
                    pooled[2 * slot] = form.host_sum(&errors);
                    pooled[2 * slot + 1] = idx.len() as f64;
                    tensors.push((slot, form.local_sum(&error_tensor(fv, &idx)?)));
                }
                stats_updates.push((k, g, errors));
            }
        }
        for (k, g, errors) in stats_updates {
            self.accumulate(k, g, &errors);
        }
        Ok(ShardSums {
            slots_per_entry: n_types,
            tensors,
            pooled,
        })
    }
}
