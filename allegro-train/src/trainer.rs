//! `Trainer`: the seed's training loop (nequip's `EMALightningModule` under Lightning),
//! made of parts a user can also assemble by hand.
//!
//! One training step: `tracked = params.tracked()`, `outputs(tracked, create_graph)`,
//! loss = weighted sum of the loss manager, gradients, optional clipping, AdamW step,
//! EMA update. One epoch of [`Trainer::fit`]: training batches in an order fixed by the
//! seed and the epoch number, validation with the EMA weights, scheduler step on the
//! monitored validation value, history and CSV log, `best.ckpt` when the monitored value
//! improved, `last.ckpt` always, then early stopping. A checkpoint holds the state at the
//! end of an epoch, so a resumed run repeats the uninterrupted one.

use std::borrow::Borrow;
use std::path::Path;
use std::time::Instant;

use allegro_core::{Backend, Tensor};
use allegro_data::{AtomicGraph, GraphSource, SplitMix64, for_each_batch, shuffled_indices};
use allegro_nn::energy_forces::profile::StageTimer;
use allegro_nn::predictor::inputs_from_graph;
use allegro_nn::{AllegroModel, Parameters, TrainableModel};

use crate::checkpoint::{
    Checkpoint, EpochRecord, StateRecord, params_from_records, params_to_records, write_atomic,
};
use crate::clip::GradClip;
use crate::comm::{Communicator, SingleProcess};
use crate::early_stopping::EarlyStopping;
use crate::ema::Ema;
use crate::error::{Error, Result, config_error};
pub use crate::fit_config::{FitConfig, FitSummary, NonFinitePolicy, Progress};
use crate::step_check::PendingStep;

mod deferred;
mod epoch;
use crate::grads::{Gradients, gradients};
use crate::manager::{EpochMetrics, MetricValues, MetricsManager, PreparedBatch};
use crate::metrics_csv::metrics_csv;
use crate::optim::{AdamW, Optimizer};
use crate::schedule::LrScheduler;
use crate::shard_loss::ShardSums;

/// A model, its weights and everything that trains them. The model is any
/// [`TrainableModel`] (an [`AllegroModel`] by default) and the optimizer any
/// [`Optimizer`] ([`AdamW`] by default); the scheduler any [`LrScheduler`].
#[derive(Debug)]
pub struct Trainer<B: Backend, M: TrainableModel = AllegroModel, O: Optimizer<B> = AdamW<B>> {
    /// The architecture.
    pub model: M,
    /// The raw (optimised) weights.
    pub params: Parameters<B>,
    /// The optimizer.
    pub optimizer: O,
    /// LR schedule stepped once per epoch on the monitored value.
    pub scheduler: Option<Box<dyn LrScheduler>>,
    /// EMA of the weights, used for validation and saved models.
    pub ema: Option<Ema<B>>,
    /// The training loss (`weighted_sum` of its metrics).
    pub loss: MetricsManager<B>,
    /// Validation metrics.
    pub val_metrics: MetricsManager<B>,
    /// Gradient clipping.
    pub clip: Option<GradClip>,
    /// Early stopping.
    pub early_stopping: Option<EarlyStopping>,
    /// The device the tensors live on.
    pub device: B::Device,
    /// Epochs finished.
    pub epoch: u64,
    /// Optimizer steps taken.
    pub global_step: u64,
    /// One record per finished epoch.
    pub history: Vec<EpochRecord>,
    /// Best monitored validation value.
    pub best_metric: Option<f64>,
    /// Steps enqueued by [`Trainer::enqueue_step`] whose numbers are not read yet.
    pending: Vec<PendingStep<B>>,
    /// Validation batches enqueued whose predictions are not read yet.
    pending_val: Vec<PreparedBatch<B>>,
    /// The device-side gate of the enqueued steps ([`crate::step_check`]): 1 while all
    /// were finite.
    gate: Option<Tensor<B>>,
}

/// Rank `rank`'s contiguous share of `indices` split over `size` ranks (sizes differ by
/// at most one; a share may be empty).
fn share_of(indices: &[usize], rank: usize, size: usize) -> &[usize] {
    let n = indices.len();
    &indices[n * rank / size..n * (rank + 1) / size]
}

/// The shuffling seed of an epoch: a SplitMix64 draw from `seed` and `epoch`.
pub fn epoch_seed(seed: u64, epoch: u64) -> u64 {
    SplitMix64::new(seed ^ epoch.wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64()
}

/// `indices` in the order of epoch `epoch`.
pub fn epoch_order(indices: &[usize], seed: u64, epoch: u64) -> Vec<usize> {
    shuffled_indices(indices.len(), epoch_seed(seed, epoch))
        .into_iter()
        .map(|k| indices[k])
        .collect()
}

impl<B: Backend, M: TrainableModel, O: Optimizer<B>> Trainer<B, M, O> {
    /// A trainer with no scheduler, EMA, clipping or early stopping (add them with the
    /// `with_*` methods or by setting the fields).
    pub fn new(
        model: M,
        params: Parameters<B>,
        optimizer: O,
        loss: MetricsManager<B>,
        val_metrics: MetricsManager<B>,
        device: B::Device,
    ) -> Result<Self> {
        if !loss.has_weighted_sum() {
            return Err(config_error("loss", "no loss term has a coefficient"));
        }
        Ok(Trainer {
            model,
            params,
            optimizer,
            scheduler: None,
            ema: None,
            loss,
            val_metrics,
            clip: None,
            early_stopping: None,
            device,
            epoch: 0,
            global_step: 0,
            history: Vec::new(),
            best_metric: None,
            pending: Vec::new(),
            pending_val: Vec::new(),
            gate: None,
        })
    }

    /// Adds an LR scheduler.
    pub fn with_scheduler(mut self, s: impl LrScheduler + 'static) -> Self {
        self.scheduler = Some(Box::new(s));
        self
    }

    /// Adds an EMA of the weights with `decay`; like nequip, it starts as a copy of the
    /// current weights.
    pub fn with_ema(mut self, decay: f64) -> Result<Self> {
        let mut ema = Ema::new(decay)?;
        ema.update(&self.params)?;
        self.ema = Some(ema);
        Ok(self)
    }

    /// Adds gradient clipping.
    pub fn with_clip(mut self, clip: GradClip) -> Self {
        self.clip = Some(clip);
        self
    }

    /// Adds early stopping.
    pub fn with_early_stopping(mut self, e: EarlyStopping) -> Self {
        self.early_stopping = Some(e);
        self
    }

    /// The weights for evaluation and saved models: the EMA when there is one.
    pub fn eval_params(&self) -> &Parameters<B> {
        match &self.ema {
            Some(e) => e.weights_or(&self.params),
            None => &self.params,
        }
    }

    /// One optimisation step on a batch; returns the batch's loss metrics.
    pub fn train_step(&mut self, batch: &AtomicGraph) -> Result<MetricValues> {
        let device = self.device.clone();
        // Stage times and device counts with `ALLEGRO_PROFILE` (else free).
        let mut timer = StageTimer::<B>::start(&device);
        let inputs = inputs_from_graph::<B>(batch, self.model.num_types(), &self.device)?;
        timer.stage("step 1 inputs");
        let tracked = self.params.tracked();
        let outputs = self.model.outputs(&tracked, &inputs, true);
        timer.stage("step 2 forward + forces");
        let b = self.loss.loss(&outputs, batch)?;
        let loss = b.loss.expect("loss() returns a loss tensor");
        // The loss's value as the metrics computed it on the host from the same
        // predictions (reading the tensor back would be one more wait for the device).
        let value = b.values.weighted_sum().unwrap_or_else(|| loss.item());
        if !value.is_finite() {
            return Err(self.non_finite("loss", value));
        }
        timer.stage("step 3 loss + metrics");
        let grads = gradients(&loss, &tracked);
        drop((outputs, tracked, loss));
        timer.stage("step 4 parameter gradients");
        self.apply_gradients(grads, &mut timer)?;
        Ok(b.values)
    }

    /// One data-parallel optimisation step: this rank's `shard` of a batch whose other
    /// shards the other ranks of `comm` hold. The loss terms are pooled exactly across
    /// ranks ([`crate::shard_loss`]: one small all-reduce of sums and counts), the
    /// gradients summed (one flat all-reduce), and every rank then takes the same
    /// clipping, AdamW and EMA step, so the replicated weights stay identical and equal
    /// the single-process step on the whole batch (up to summation order). Returns the
    /// whole batch's loss as `weighted_sum`.
    ///
    /// An empty shard (a rank without frames in the last batch of an epoch) still takes
    /// part, with zero gradients.
    pub fn train_step_sharded(
        &mut self,
        shard: &AtomicGraph,
        comm: &dyn Communicator,
    ) -> Result<MetricValues> {
        let tracked = self.params.tracked();
        // The forward pass, and this shard's pooled sums (none for an empty shard).
        let (outputs, sums) = if shard.n_frames() == 0 {
            (None, ShardSums::empty(&self.loss))
        } else {
            let inputs = inputs_from_graph::<B>(shard, self.model.num_types(), &self.device)?;
            let outputs = self.model.outputs(&tracked, &inputs, true);
            let sums = self.loss.shard_sums(&outputs, shard)?;
            (Some(outputs), sums)
        };
        let mut global = sums.pooled().to_vec();
        comm.all_reduce_sum(&mut global)?;
        let (surrogate, loss) = sums.surrogate(&self.loss, &global)?;
        if !loss.is_finite() {
            return Err(self.non_finite("loss", loss));
        }
        let names = tracked.trainable_names();
        let mut grads: Gradients<B> = match &surrogate {
            Some(s) => gradients(s, &tracked),
            None => names
                .iter()
                .map(|n| (n.clone(), tracked.get(n).detach().zeros_like()))
                .collect(),
        };
        drop((outputs, surrogate, tracked));
        // One flat all-reduce of every gradient.
        let mut flat: Vec<f64> = grads.iter().flat_map(|(_, g)| g.to_vec_f64()).collect();
        comm.all_reduce_sum(&mut flat)?;
        let mut at = 0;
        for (_, g) in &mut grads {
            let n = g.numel();
            *g = Tensor::from_f64(&flat[at..at + n], g.shape(), g.dtype(), &g.device())?;
            at += n;
        }
        let device = self.device.clone();
        self.apply_gradients(grads, &mut StageTimer::<B>::start(&device))?;
        Ok(MetricValues {
            values: vec![("weighted_sum".into(), loss)],
        })
    }

    /// The update every step ends with: clipping, the optimizer step, the EMA update.
    fn apply_gradients(
        &mut self,
        mut grads: Gradients<B>,
        timer: &mut StageTimer<'_, B>,
    ) -> Result<()> {
        // The norm clipping computes anyway; without clipping, one reduction read back.
        let norm = match &self.clip {
            Some(c) => c.apply(&mut grads),
            None => crate::grads::sum_of_squares(&grads).sqrt(),
        };
        if !norm.is_finite() {
            return Err(self.non_finite("gradient norm", norm));
        }
        timer.stage("step 5 gradient norm");
        self.optimizer.step(&mut self.params, &grads)?;
        timer.stage("step 6 optimizer");
        if let Some(ema) = &mut self.ema {
            ema.update(&self.params)?;
        }
        timer.stage("step 7 ema");
        self.global_step += 1;
        Ok(())
    }

    /// The error of a step not taken because `what` is `value`.
    fn non_finite(&self, what: &'static str, value: f64) -> Error {
        Error::NonFinite {
            what,
            value,
            step: self.global_step,
            place: String::new(),
        }
    }

    /// Validation metrics over `batches` with the evaluation (EMA) weights, pooled.
    pub fn validate<G: Borrow<AtomicGraph>>(
        &mut self,
        batches: impl IntoIterator<Item = G>,
    ) -> Result<EpochMetrics> {
        self.val_metrics.reset();
        for b in batches {
            self.enqueue_validation(b.borrow(), usize::MAX)?;
        }
        self.settle_validation()?;
        Ok(self.val_metrics.compute())
    }

    /// Validation metrics of a set split across the ranks of `comm`: this rank evaluates
    /// its `batches`, then the errors are pooled over ranks, so every rank returns the
    /// metrics of the whole set (exactly those of one process evaluating it all).
    pub fn validate_sharded<G: Borrow<AtomicGraph>>(
        &mut self,
        batches: impl IntoIterator<Item = G>,
        comm: &dyn Communicator,
    ) -> Result<EpochMetrics> {
        self.val_metrics.reset();
        for b in batches {
            self.enqueue_validation(b.borrow(), usize::MAX)?;
        }
        self.settle_validation()?;
        self.val_metrics.pool_across(comm)?;
        Ok(self.val_metrics.compute())
    }

    /// The whole state as a checkpoint.
    pub fn checkpoint(&self, seed: u64) -> Result<Checkpoint> {
        let scheduler = match &self.scheduler {
            Some(s) => Some(StateRecord {
                kind: s.kind().into(),
                bytes: s.save_state()?,
            }),
            None => None,
        };
        Ok(Checkpoint {
            model_config: Some(self.model.describe()),
            params: params_to_records(&self.params),
            optimizer: StateRecord {
                kind: self.optimizer.kind().into(),
                bytes: self.optimizer.save_state()?,
            },
            scheduler,
            ema: self.ema.as_ref().map(Ema::state),
            early_stopping: self.early_stopping.clone(),
            rng: vec![seed],
            epoch: self.epoch,
            global_step: self.global_step,
            history: self.history.clone(),
            best_metric: self.best_metric,
        })
    }

    /// Loads a checkpoint into this trainer (built as for the original run: same model,
    /// loss, metrics and kinds of scheduler/EMA/early stopping). Settings of the scheduler
    /// and early stopping come from the checkpoint; the EMA keeps this trainer's decay.
    pub fn resume(&mut self, ckpt: &Checkpoint) -> Result<()> {
        if let Some(cfg) = &ckpt.model_config
            && *cfg != self.model.describe()
        {
            return Err(Error::State(
                "the checkpoint was written for a different model config".into(),
            ));
        }
        let params = params_from_records::<B>(&ckpt.params, &self.device)?;
        let mine: Vec<(&str, Vec<usize>)> = self
            .params
            .iter()
            .map(|(n, p)| (n, p.tensor.shape().to_vec()))
            .collect();
        let theirs: Vec<(&str, Vec<usize>)> = params
            .iter()
            .map(|(n, p)| (n, p.tensor.shape().to_vec()))
            .collect();
        if mine != theirs {
            return Err(Error::State(
                "the checkpoint's parameters differ from the model's (names or shapes)".into(),
            ));
        }
        check_kind("optimizer", &ckpt.optimizer, self.optimizer.kind())?;
        self.optimizer.load_state(&ckpt.optimizer.bytes, &params)?;
        match (&mut self.ema, &ckpt.ema) {
            (Some(e), Some(s)) => e.load_state(s, &params)?,
            (None, None) => {}
            (mine, _) => {
                return Err(Error::State(format!(
                    "the checkpoint {} an EMA, this trainer {}",
                    if ckpt.ema.is_some() { "has" } else { "has no" },
                    if mine.is_some() {
                        "has one"
                    } else {
                        "has none"
                    }
                )));
            }
        }
        match (&mut self.scheduler, &ckpt.scheduler) {
            (Some(s), Some(record)) => {
                check_kind("LR scheduler", record, s.kind())?;
                s.load_state(&record.bytes)?;
            }
            (None, None) => {}
            _ => {
                return Err(Error::State(
                    "the checkpoint and this trainer differ in having an LR scheduler".into(),
                ));
            }
        }
        if self.early_stopping.is_some() && ckpt.early_stopping.is_some() {
            self.early_stopping = ckpt.early_stopping.clone();
        }
        self.params = params;
        self.epoch = ckpt.epoch;
        self.global_step = ckpt.global_step;
        self.history = ckpt.history.clone();
        self.best_metric = ckpt.best_metric;
        Ok(())
    }

    /// Trains from the current epoch up to `config.max_epochs` (see the module docs);
    /// `progress` hears of every batch and epoch.
    pub fn fit<S: GraphSource + ?Sized>(
        &mut self,
        train: &S,
        train_indices: &[usize],
        val: &S,
        val_indices: &[usize],
        config: &FitConfig,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<FitSummary> {
        self.fit_on(
            train,
            train_indices,
            val,
            val_indices,
            config,
            &SingleProcess,
            progress,
        )
    }

    /// [`Trainer::fit`] as one rank of a data-parallel run over `comm`: every rank holds
    /// the same data and draws the same epoch order; each batch of `batch_size` frames
    /// *per rank* is split into disjoint shares ([`Trainer::train_step_sharded`]), and
    /// each rank validates its share of the validation set, the errors pooled over
    /// ranks, so every rank sees the same metrics, scheduler and early-stopping
    /// decisions. Only rank 0 writes `metrics.csv` and checkpoints. With one rank this
    /// is [`Trainer::fit`] exactly.
    #[allow(clippy::too_many_arguments)]
    pub fn fit_on<S: GraphSource + ?Sized>(
        &mut self,
        train: &S,
        train_indices: &[usize],
        val: &S,
        val_indices: &[usize],
        config: &FitConfig,
        comm: &dyn Communicator,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<FitSummary> {
        let (rank, size) = (comm.rank(), comm.size());
        let out_dir = config.out_dir.as_ref().filter(|_| rank == 0);
        if train_indices.is_empty() || val_indices.is_empty() {
            return Err(config_error(
                "split",
                "training and validation sets must not be empty",
            ));
        }
        if config.batch_size == 0 || config.val_batch_size == 0 {
            return Err(config_error("batch_size", "must be positive"));
        }
        if let Some(dir) = out_dir {
            std::fs::create_dir_all(dir).map_err(|e| crate::error::io_error(dir, e))?;
        }
        let mut stopped = None;
        while self.epoch < config.max_epochs {
            let epoch = self.epoch;
            let start = Instant::now();
            let lr = self.optimizer.lr();
            let order = if config.shuffle {
                epoch_order(train_indices, config.seed, epoch)
            } else {
                train_indices.to_vec()
            };
            // This rank's share of every global batch of `batch_size × size` frames.
            let steps: Vec<&[usize]> = order
                .chunks(config.batch_size * size)
                .map(|idx| share_of(idx, rank, size))
                .collect();
            self.train_batches(train, &steps, epoch, config, comm, progress)?;
            if size > 1 {
                self.loss.pool_across(comm)?;
            }
            let train_metrics = self.loss.compute();
            progress(Progress::Validating { epoch });
            self.val_metrics.reset();
            let val_steps: Vec<&[usize]> = share_of(val_indices, rank, size)
                .chunks(config.val_batch_size)
                .collect();
            for_each_batch(
                val,
                &val_steps,
                config.loader_threads,
                |_, batch| -> Result<()> { self.enqueue_validation(&batch, config.settle_every) },
            )?;
            self.settle_validation()?;
            if size > 1 {
                self.val_metrics.pool_across(comm)?;
            }
            let val_metrics = self.val_metrics.compute();
            let monitored = val_metrics.get(&config.monitor).ok_or_else(|| {
                config_error(
                    "monitor",
                    format!(
                        "`{}` is not a validation metric (have: {})",
                        config.monitor,
                        val_metrics.names().collect::<Vec<_>>().join(", ")
                    ),
                )
            })?;
            if let Some(s) = &mut self.scheduler {
                let new_lr = s.step(monitored, lr);
                self.optimizer.set_lr(new_lr);
            }
            let improved = self.best_metric.is_none_or(|b| monitored < b);
            if improved && !monitored.is_nan() {
                self.best_metric = Some(monitored);
            }
            let record = EpochRecord {
                epoch,
                lr,
                train: train_metrics,
                val: val_metrics,
                seconds: start.elapsed().as_secs_f64(),
            };
            self.history.push(record.clone());
            self.epoch += 1;
            if let Some(e) = &mut self.early_stopping {
                stopped = e.check(monitored, self.optimizer.lr());
            }
            if let Some(dir) = out_dir {
                self.write_epoch_files(dir, config.seed, improved && !monitored.is_nan())?;
            }
            progress(Progress::Epoch(&record));
            if stopped.is_some() {
                break;
            }
        }
        Ok(FitSummary {
            epochs: self.epoch,
            stopped_early: stopped,
            best_metric: self.best_metric,
        })
    }

    /// The files of a finished epoch in `dir`: `metrics.csv`, `best.ckpt` when the
    /// monitored value `improved`, `last.ckpt`; none with weights that are not finite.
    fn write_epoch_files(&self, dir: &Path, seed: u64, improved: bool) -> Result<()> {
        write_atomic(
            &dir.join("metrics.csv"),
            metrics_csv(&self.history).as_bytes(),
        )?;
        let ckpt = self.checkpoint(seed)?;
        if let Some(name) = ckpt.non_finite_parameter() {
            return Err(Error::State(format!(
                "the weight `{name}` is not finite after epoch {} (the optimizer \
                 overflowed); best.ckpt and last.ckpt were kept as they were",
                self.epoch - 1
            )));
        }
        if improved {
            ckpt.save(dir.join("best.ckpt"))?;
        }
        ckpt.save(dir.join("last.ckpt"))
    }

    /// Loads `dir/last.ckpt` if it exists (then returns true). A `last.ckpt` that cannot
    /// be read is refused, naming `best.ckpt` as the fallback when there is one (it is
    /// never taken silently: it may be epochs older).
    pub fn resume_from_dir(&mut self, dir: &Path) -> Result<bool> {
        let path = dir.join("last.ckpt");
        if !path.exists() {
            return Ok(false);
        }
        let ckpt = Checkpoint::load(&path).map_err(|e| {
            let best = dir.join("best.ckpt");
            let fallback = match Checkpoint::load(&best) {
                Ok(b) => format!(
                    "; {} (epoch {}) reads: copy it over last.ckpt to resume from it",
                    best.display(),
                    b.epoch
                ),
                Err(_) if best.exists() => format!("; {} cannot be read either", best.display()),
                Err(_) => "; there is no best.ckpt to fall back on".to_string(),
            };
            Error::Checkpoint {
                path: path.display().to_string(),
                message: format!("cannot resume from it ({e}){fallback}"),
            }
        })?;
        self.resume(&ckpt)?;
        Ok(true)
    }
}

/// Refuses a part's saved state written by a part of another kind.
fn check_kind(part: &str, record: &StateRecord, mine: &str) -> Result<()> {
    if record.kind == mine {
        return Ok(());
    }
    Err(Error::State(format!(
        "the checkpoint's {part} is {}, this trainer's is {mine}",
        record.kind
    )))
}

/// `", epoch E, batch B (frames …)"` for [`Error::NonFinite`]: the dataset indices of
/// the frames this rank held, the first 16 of them.
fn batch_place(epoch: u64, batch: usize, frames: &[usize]) -> String {
    let mut list: Vec<String> = frames.iter().take(16).map(usize::to_string).collect();
    if frames.len() > 16 {
        list.push(format!("… {} in all", frames.len()));
    }
    format!(
        ", epoch {epoch}, batch {batch} (frames {})",
        list.join(", ")
    )
}
