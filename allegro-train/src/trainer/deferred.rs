//! The deferred training step: enqueued on the device without waiting for it, its
//! numbers read for many steps at once ([`Trainer::settle`]); validation likewise.

use allegro_core::{Backend, Tensor};
use allegro_data::AtomicGraph;
use allegro_nn::TrainableModel;
use allegro_nn::energy_forces::profile::StageTimer;
use allegro_nn::predictor::inputs_from_graph;

use super::Trainer;
use crate::error::{Error, Result};
use crate::grads::gradients;
use crate::manager::MetricValues;
use crate::optim::Optimizer;
use crate::step_check::{PendingStep, clip_on_device, next_gate, step_check};

impl<B: Backend, M: TrainableModel, O: Optimizer<B>> Trainer<B, M, O> {
    /// One optimisation step on a batch, enqueued on the device without waiting for it:
    /// the loss, the gradients, their finiteness check, clipping, AdamW and the EMA all
    /// stay on the device, the update gated there by the check (`Σg² + loss`: the module `step_check`).
    /// [`settle`](Self::settle) reads what the enqueued steps computed, in one wait,
    /// and accumulates their metrics. An optimizer that cannot gate on the device
    /// ([`Optimizer::step_gated`]) costs one wait here.
    ///
    /// Unlike [`train_step`](Self::train_step), a step whose loss or gradients are not
    /// finite is found only by `settle`; it and every step enqueued after it are not
    /// taken (the gate stays 0), but the optimizer's and the EMA's step counts advance.
    pub fn enqueue_step(&mut self, batch: &AtomicGraph) -> Result<()> {
        let device = self.device.clone();
        let mut timer = StageTimer::<B>::start(&device);
        let inputs = inputs_from_graph::<B>(batch, self.model.num_types(), &self.device)?;
        timer.stage("step 1 inputs");
        let tracked = self.params.tracked();
        let outputs = self.model.outputs(&tracked, &inputs, true);
        timer.stage("step 2 forward + forces");
        let (loss, prepared) = self.loss.prepare(&outputs, batch, true)?;
        let loss = loss.expect("prepare() with a loss returns one");
        timer.stage("step 3 loss");
        let mut grads = gradients(&loss, &tracked);
        drop((outputs, tracked));
        timer.stage("step 4 parameter gradients");
        let (check, sum_sq) = step_check(&loss, &grads);
        let gate = next_gate(self.gate.take(), &check);
        if let Some(clip) = &self.clip {
            clip_on_device(clip, &mut grads, sum_sq.as_ref());
        }
        timer.stage("step 5 gradient check and clipping");
        if !self.optimizer.step_gated(&mut self.params, &grads, &gate)? {
            // The optimizer cannot gate on the device: read the gate (a wait), said once.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                eprintln!(
                    "allegro: the optimizer `{}` cannot skip a non-finite step on the device; \
                     each step waits for its check (said once)",
                    self.optimizer.kind()
                )
            });
            if gate.item() != 0.0 {
                self.optimizer.step(&mut self.params, &grads)?;
            }
        }
        timer.stage("step 6 optimizer");
        if let Some(ema) = &mut self.ema {
            ema.update_gated(&self.params, Some(&gate))?;
        }
        timer.stage("step 7 ema");
        self.gate = Some(gate);
        self.pending.push(PendingStep {
            step: self.global_step,
            batch: prepared.detached(),
            check,
        });
        self.global_step += 1;
        Ok(())
    }

    /// Steps enqueued and not yet settled.
    pub fn pending_steps(&self) -> usize {
        self.pending.len()
    }

    /// Reads what the steps of [`enqueue_step`](Self::enqueue_step) computed (one wait
    /// for the device), adds their errors to the epoch's training metrics and returns
    /// each step's metric values, in order.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for the first step whose loss or gradients were not finite
    /// (its `step` is that step's number): that step and those after it were not taken,
    /// their errors are left out, and `global_step` counts the steps taken. Enqueueing
    /// goes on from the weights before it.
    pub fn settle(&mut self) -> Result<Vec<MetricValues>> {
        let pending = std::mem::take(&mut self.pending);
        let mut batches = Vec::with_capacity(pending.len());
        let mut meta = Vec::with_capacity(pending.len());
        for p in pending {
            batches.push(p.batch);
            meta.push((p.step, p.check));
        }
        let checks: Vec<Tensor<B>> = meta.iter().map(|(_, c)| c.clone()).collect();
        let checks = crate::pending::read_predictions(&mut batches, &checks)?;
        let mut out = Vec::with_capacity(batches.len());
        for ((batch, (step, _)), check) in batches.iter().zip(&meta).zip(checks) {
            if check.is_finite() {
                out.push(self.loss.account(batch));
                continue;
            }
            // The loss as the metrics compute it, without keeping the batch's errors.
            let kept = self.loss.snapshot();
            let loss = self.loss.account(batch).weighted_sum().unwrap_or(f64::NAN);
            self.loss.restore(kept);
            let (what, value) = if loss.is_finite() {
                ("gradient norm", (check - loss).sqrt())
            } else {
                ("loss", loss)
            };
            // The gate held from this step on: the weights are those before it.
            self.gate = None;
            self.global_step = *step;
            return Err(Error::NonFinite {
                what,
                value,
                step: *step,
                place: String::new(),
            });
        }
        Ok(out)
    }

    /// Evaluates a validation batch without waiting for the device; its predictions are
    /// read with those of the other pending batches, once `settle_every` are pending.
    pub(super) fn enqueue_validation(
        &mut self,
        batch: &AtomicGraph,
        settle_every: usize,
    ) -> Result<()> {
        let device = self.device.clone();
        let mut timer = StageTimer::<B>::start(&device);
        let inputs = inputs_from_graph::<B>(batch, self.model.num_types(), &self.device)?;
        timer.stage("val 1 inputs");
        let weights = match &self.ema {
            Some(e) => e.weights_or(&self.params),
            None => &self.params,
        };
        let outputs = self.model.outputs(weights, &inputs, false);
        timer.stage("val 2 forward + forces");
        let (_, prepared) = self.val_metrics.prepare(&outputs, batch, false)?;
        self.pending_val.push(prepared.detached());
        if self.pending_val.len() >= settle_every {
            self.settle_validation()?;
        }
        timer.stage("val 3 metrics");
        Ok(())
    }

    /// Reads the pending validation batches' predictions (one wait) into the metrics.
    pub(super) fn settle_validation(&mut self) -> Result<()> {
        let mut batches = std::mem::take(&mut self.pending_val);
        crate::pending::read_predictions(&mut batches, &[])?;
        for b in &batches {
            self.val_metrics.account(b);
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "../../tests/common/mod.rs"]
mod common;

#[cfg(test)]
mod tests {
    use allegro_core::backend::cpu::{Cpu, CpuDevice};
    use allegro_data::GraphSource;

    use super::common::{dataset, tiny_model};
    use crate::{AdamW, AdamWConfig, LossCoeffs, Trainer, energy_force_loss, energy_force_metrics};

    /// Pending steps and validation batches hold their predictions, not the tapes that
    /// computed them (attached, fifty pending steps kept fifty forward and force tapes
    /// alive: on an H100 a seed epoch took 14.5 s, 4.2 s once detached, one command).
    #[test]
    fn pending_batches_keep_no_tape() {
        let data = dataset(4);
        let model = tiny_model(&data);
        let names = model.config().type_names.clone();
        let params = model.init_parameters::<Cpu>(&CpuDevice);
        let opt = AdamW::new(AdamWConfig::default()).unwrap();
        let loss = energy_force_loss(LossCoeffs::default(), true, &names, vec![]).unwrap();
        let val = energy_force_metrics(&[("forces_rmse", 1.0)], false, &names, vec![]).unwrap();
        let mut trainer = Trainer::new(model, params, opt, loss, val, CpuDevice).unwrap();
        let batch = data.batch(&[0, 1]).unwrap();

        let inputs =
            allegro_nn::predictor::inputs_from_graph::<Cpu>(&batch, 4, &CpuDevice).unwrap();
        let tracked = trainer.params.tracked();
        let outputs = allegro_nn::TrainableModel::outputs(&trainer.model, &tracked, &inputs, true);
        let (_, prepared) = trainer.loss.prepare(&outputs, &batch, true).unwrap();
        assert!(
            prepared.is_tracked(),
            "a step's predictions record their tape"
        );

        trainer.enqueue_step(&batch).unwrap();
        trainer.enqueue_validation(&batch, usize::MAX).unwrap();
        assert!(
            !trainer.pending[0].batch.is_tracked(),
            "a pending step keeps its tape"
        );
        assert!(
            !trainer.pending_val[0].is_tracked(),
            "a pending validation batch keeps its tape"
        );
        assert_eq!(trainer.settle().unwrap().len(), 1);
    }
}
