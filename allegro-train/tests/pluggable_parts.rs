//! The trainer with parts written outside the crate: a model (`TrainableModel`), an
//! optimizer (`Optimizer`) and an LR schedule (`LrScheduler`). Training with them lowers
//! the loss, their states survive a checkpoint (a resumed run equals the uninterrupted
//! one), and a checkpoint of other parts is refused by name.

mod common;

use std::path::{Path, PathBuf};

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_core::{Backend, no_grad};
use allegro_data::GraphDataset;
use allegro_nn::{AllegroModel, ModelInputs, Outputs, Parameters, TrainableModel};
use allegro_train::{
    AdamW, AdamWConfig, Checkpoint, FitConfig, Gradients, LossCoeffs, LrScheduler, Optimizer,
    Result, Trainer, decode_state, encode_state, energy_force_loss, energy_force_metrics,
};
use common::{dataset, tiny_model};
use serde::{Deserialize, Serialize};

/// Plain gradient descent: `θ ← θ − lr·g`.
#[derive(Debug, Serialize, Deserialize)]
struct Sgd {
    lr: f64,
    steps: u64,
}

impl<B: Backend> Optimizer<B> for Sgd {
    fn kind(&self) -> &'static str {
        "SGD"
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn steps(&self) -> u64 {
        self.steps
    }
    fn step(&mut self, params: &mut Parameters<B>, grads: &Gradients<B>) -> Result<()> {
        no_grad(|| -> Result<()> {
            for (name, g) in grads {
                let theta = params.get(name).detach();
                params.set(name, theta.sub(&g.detach().mul_scalar(self.lr)))?;
            }
            Ok(())
        })?;
        self.steps += 1;
        Ok(())
    }
    fn save_state(&self) -> Result<Vec<u8>> {
        encode_state("SGD", self)
    }
    fn load_state(&mut self, bytes: &[u8], _params: &Parameters<B>) -> Result<()> {
        *self = decode_state("SGD", bytes)?;
        Ok(())
    }
}

/// The lr times `factor` every `every` epochs, whatever the monitored value.
#[derive(Debug, Serialize, Deserialize)]
struct StepDecay {
    every: u64,
    factor: f64,
    epochs: u64,
}

impl LrScheduler for StepDecay {
    fn kind(&self) -> &'static str {
        "StepDecay"
    }
    fn step(&mut self, _metric: f64, lr: f64) -> f64 {
        self.epochs += 1;
        if self.epochs.is_multiple_of(self.every) {
            lr * self.factor
        } else {
            lr
        }
    }
    fn save_state(&self) -> Result<Vec<u8>> {
        encode_state("StepDecay", self)
    }
    fn load_state(&mut self, bytes: &[u8]) -> Result<()> {
        *self = decode_state("StepDecay", bytes)?;
        Ok(())
    }
}

/// An Allegro model whose energies are in other units: every output times `scale`
/// (labels in kcal/mol for a model of eV, say).
#[derive(Clone, Debug)]
struct UnitScaled {
    inner: AllegroModel,
    scale: f64,
}

impl TrainableModel for UnitScaled {
    fn num_types(&self) -> usize {
        self.inner.num_types()
    }
    fn outputs<B: Backend>(
        &self,
        params: &Parameters<B>,
        inputs: &ModelInputs<B>,
        create_graph: bool,
    ) -> Outputs<B> {
        let o = self.inner.outputs(params, inputs, create_graph);
        let s = self.scale;
        Outputs {
            atomic_energies: o.atomic_energies.mul_scalar(s),
            total_energy: o.total_energy.mul_scalar(s),
            forces: o.forces.mul_scalar(s),
            strain_derivative: o.strain_derivative.mul_scalar(s),
            atom_virial: o.atom_virial.map(|w| w.mul_scalar(s)),
        }
    }
    fn describe(&self) -> String {
        format!("{} scaled by {}", self.inner.describe(), self.scale)
    }
}

fn trainer<M: TrainableModel, O: Optimizer<Cpu>>(
    data: &GraphDataset,
    model: M,
    params: Parameters<Cpu>,
    optimizer: O,
) -> Trainer<Cpu, M, O> {
    let names = data.type_names.clone();
    let loss = energy_force_loss(LossCoeffs::default(), true, &names, vec![]).unwrap();
    let val = energy_force_metrics(&[("forces_rmse", 1.0)], false, &names, vec![]).unwrap();
    Trainer::new(model, params, optimizer, loss, val, CpuDevice).unwrap()
}

fn user_trainer(data: &GraphDataset, model: &AllegroModel) -> Trainer<Cpu, UnitScaled, Sgd> {
    let scaled = UnitScaled {
        inner: model.clone(),
        scale: 0.5,
    };
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    trainer(data, scaled, params, Sgd { lr: 0.02, steps: 0 }).with_scheduler(StepDecay {
        every: 2,
        factor: 0.5,
        epochs: 0,
    })
}

fn out_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("allegro-train-pp-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn fit(epochs: u64, dir: &Path) -> FitConfig {
    FitConfig {
        max_epochs: epochs,
        batch_size: 3,
        val_batch_size: 3,
        seed: 5,
        out_dir: Some(dir.to_path_buf()),
        ..Default::default()
    }
}

#[test]
fn user_parts_train_and_resume() {
    let data = dataset(9);
    let model = tiny_model(&data);
    let (train, val): (Vec<usize>, Vec<usize>) = ((0..6).collect(), (6..9).collect());
    let (da, db) = (out_dir("full"), out_dir("split"));

    let mut a = user_trainer(&data, &model);
    a.fit(&data, &train, &data, &val, &fit(4, &da), &mut |_| {})
        .unwrap();
    let lrs: Vec<f64> = a.history.iter().map(|r| r.lr).collect();
    assert_eq!(
        lrs,
        [0.02, 0.02, 0.01, 0.01],
        "StepDecay halves the lr every 2 epochs"
    );
    assert_eq!(Optimizer::<Cpu>::steps(&a.optimizer), 8);
    let loss: Vec<f64> = a
        .history
        .iter()
        .map(|r| r.train.weighted_sum().unwrap())
        .collect();
    assert!(loss[3] < loss[0], "SGD does not lower the loss: {loss:?}");

    let mut b = user_trainer(&data, &model);
    b.fit(&data, &train, &data, &val, &fit(2, &db), &mut |_| {})
        .unwrap();
    let ckpt = Checkpoint::load(db.join("last.ckpt")).unwrap();
    assert_eq!(
        (
            ckpt.optimizer.kind.as_str(),
            ckpt.scheduler.as_ref().unwrap().kind.as_str()
        ),
        ("SGD", "StepDecay")
    );
    let mut c = user_trainer(&data, &model);
    c.resume(&ckpt).unwrap();
    c.fit(&data, &train, &data, &val, &fit(4, &db), &mut |_| {})
        .unwrap();
    let lrs_c: Vec<f64> = c.history.iter().map(|r| r.lr).collect();
    assert_eq!(lrs, lrs_c);
    for (name, p) in a.params.iter() {
        let (u, v) = (p.tensor.to_vec_f64(), c.params.get(name).to_vec_f64());
        assert_eq!(u, v, "{name}: the resumed run differs");
    }

    // The same checkpoint into a trainer of other parts: refused, naming both.
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    let scaled = UnitScaled {
        inner: model.clone(),
        scale: 0.5,
    };
    let mut adamw = trainer(
        &data,
        scaled,
        params,
        AdamW::new(AdamWConfig::default()).unwrap(),
    )
    .with_scheduler(StepDecay {
        every: 2,
        factor: 0.5,
        epochs: 0,
    });
    let err = adamw.resume(&ckpt).unwrap_err().to_string();
    assert!(err.contains("SGD") && err.contains("AdamW"), "{err}");
    let mut other_units = user_trainer(&data, &model);
    other_units.model.scale = 1.0;
    let err = other_units.resume(&ckpt).unwrap_err().to_string();
    assert!(err.contains("different model"), "{err}");
    let _ = std::fs::remove_dir_all(da);
    let _ = std::fs::remove_dir_all(db);
}

/// The wrapper is what it says: at scale 1 it trains exactly as the plain model.
#[test]
fn unit_scale_one_is_the_plain_model() {
    let data = dataset(6);
    let model = tiny_model(&data);
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    let sgd = || Sgd { lr: 0.01, steps: 0 };
    let one = UnitScaled {
        inner: model.clone(),
        scale: 1.0,
    };
    let mut a = trainer(&data, one, params.clone(), sgd());
    let mut b = trainer(&data, model, params, sgd());
    let batch = allegro_data::AtomicGraph::batch(&data.graphs[..3]);
    for _ in 0..2 {
        let (la, lb) = (a.train_step(&batch).unwrap(), b.train_step(&batch).unwrap());
        assert_eq!(la.weighted_sum(), lb.weighted_sum());
    }
}
