//! One epoch's training batches of [`Trainer::fit_on`]: enqueued and settled every
//! `settle_every` steps, or one synchronous step each (skipping non-finite batches, or
//! data-parallel).

use allegro_core::Backend;
use allegro_data::{GraphSource, for_each_batch};
use allegro_nn::TrainableModel;

use super::{Trainer, batch_place};
use crate::comm::Communicator;
use crate::error::{Error, Result};
use crate::fit_config::{FitConfig, NonFinitePolicy, Progress};
use crate::optim::Optimizer;

impl<B: Backend, M: TrainableModel, O: Optimizer<B>> Trainer<B, M, O> {
    /// The training batches `steps` (this rank's frames of each) of epoch `epoch`, their
    /// errors accumulated in the training metrics and reported through `progress`.
    pub(super) fn train_batches<S: GraphSource + ?Sized>(
        &mut self,
        train: &S,
        steps: &[&[usize]],
        epoch: u64,
        config: &FitConfig,
        comm: &dyn Communicator,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<()> {
        let size = comm.size();
        self.loss.reset();
        // One process stopping at a non-finite step: steps are enqueued on the device
        // and their numbers read every `settle_every` steps (no wait inside a step).
        // Skipping such batches needs the check before the update, so that policy
        // (and data-parallel steps) read once per step.
        let deferred = size == 1 && config.non_finite == NonFinitePolicy::Stop;
        let first_step = self.global_step;
        let place = |step: u64| {
            let k = (step - first_step) as usize;
            batch_place(epoch, k, steps[k])
        };
        let report = |trainer: &mut Self, progress: &mut dyn FnMut(Progress<'_>)| -> Result<()> {
            let settled_from = trainer.global_step - trainer.pending_steps() as u64;
            let values = trainer.settle().map_err(|e| match e {
                Error::NonFinite {
                    what, value, step, ..
                } => Error::NonFinite {
                    what,
                    value,
                    step,
                    place: place(step),
                },
                e => e,
            })?;
            for (j, values) in values.iter().enumerate() {
                progress(Progress::Batch {
                    epoch,
                    batch: (settled_from - first_step) as usize + j,
                    n_batches: steps.len(),
                    values,
                });
            }
            Ok(())
        };
        for_each_batch(
            train,
            steps,
            config.loader_threads,
            |k, batch| -> Result<()> {
                if deferred {
                    self.enqueue_step(&batch)?;
                    if self.pending_steps() >= config.settle_every.max(1) {
                        report(self, &mut *progress)?;
                    }
                    return Ok(());
                }
                let before = self.loss.snapshot();
                let step = if size == 1 {
                    self.train_step(&batch)
                } else {
                    self.train_step_sharded(&batch, comm)
                };
                let values = match step {
                    Ok(values) => values,
                    Err(Error::NonFinite {
                        what, value, step, ..
                    }) => {
                        let e = Error::NonFinite {
                            what,
                            value,
                            step,
                            place: batch_place(epoch, k, steps[k]),
                        };
                        if config.non_finite == NonFinitePolicy::Stop {
                            return Err(e);
                        }
                        self.loss.restore(before);
                        progress(Progress::SkippedBatch {
                            epoch,
                            batch: k,
                            reason: e.to_string(),
                        });
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                };
                progress(Progress::Batch {
                    epoch,
                    batch: k,
                    n_batches: steps.len(),
                    values: &values,
                });
                Ok(())
            },
        )?;
        if deferred {
            report(self, &mut *progress)?;
        }
        Ok(())
    }
}
