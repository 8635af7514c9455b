//! Training, the saved model file and the test split's errors, on any backend.

use std::collections::BTreeMap;
use std::path::PathBuf;

use allegro_core::Backend;
use allegro_data::extxyz::{WriteOptions, write_extxyz};
use allegro_data::{Column, ColumnData, GraphSource, InfoValue};
use allegro_nn::model_file::ModelFile;
use allegro_nn::{AllegroModel, Predictor};

use super::plots::{ParityPanel, learning_curve_svg, parity_svg};
use super::prepare::PreparedRun;
use crate::checkpoint::EpochRecord;
use crate::clip::GradClip;
use crate::early_stopping::EarlyStopping;
use crate::error::{Result, io_error};
use crate::loss::{LossCoeffs, energy_force_loss, energy_force_metrics};
use crate::optim::AdamW;
use crate::schedule::ReduceLROnPlateau;
use crate::trainer::{FitConfig, FitSummary, Progress, Trainer};

/// Errors on the test split with the trained (EMA) weights; `None` where the split has
/// no such labels (an RMSE over nothing is not 0).
#[derive(Clone, Debug, PartialEq)]
pub struct TestReport {
    /// Test frames.
    pub frames: usize,
    /// Force component RMSE (eV/Å).
    pub forces_rmse: Option<f64>,
    /// Per-atom energy RMSE (eV).
    pub per_atom_energy_rmse: Option<f64>,
}

impl TestReport {
    /// The `test_metrics.txt` table.
    pub fn table(&self) -> String {
        let f = |v: Option<f64>| v.map_or("none".to_string(), |v| format!("{v:.6}"));
        format!(
            "test frames {}\nforces_rmse {} eV/Å\nper_atom_energy_rmse {} eV\n",
            self.frames,
            f(self.forces_rmse),
            f(self.per_atom_energy_rmse)
        )
    }
}

/// What a run produced.
pub struct RunOutcome<B: Backend> {
    /// How the fit ended.
    pub summary: FitSummary,
    /// Wall time of the fit (s).
    pub fit_seconds: f64,
    /// Every epoch's metrics.
    pub history: Vec<EpochRecord>,
    /// The saved model file (EMA weights).
    pub model_path: PathBuf,
    /// Test-split errors.
    pub test: TestReport,
    /// The trained model with its EMA weights, for MD or more predictions.
    pub predictor: Predictor<B>,
}

impl<B: Backend> RunOutcome<B> {
    /// Epochs trained and why it stopped, then how validation errors moved from the
    /// first epoch to the last, one line per metric the run has (`forces_rmse`,
    /// `stress_rmse`).
    pub fn describe(&self) -> String {
        let stop = self.summary.stopped_early.as_ref();
        let mut out = format!(
            "trained {} epochs in {:.1} s{}\n",
            self.summary.epochs,
            self.fit_seconds,
            stop.map(|r| format!("; stopped early: {r}"))
                .unwrap_or_default()
        );
        let (Some(first), Some(last)) = (self.history.first(), self.history.last()) else {
            return out;
        };
        for (key, unit) in [("forces_rmse", "eV/Å"), ("stress_rmse", "eV/Å³")] {
            if let (Some(a), Some(b)) = (first.val.get(key), last.val.get(key)) {
                out += &format!(
                    "validation {key}: epoch {} {a:.5} → epoch {} {b:.5} {unit} ({:.1}× lower)\n",
                    first.epoch,
                    last.epoch,
                    a / b
                );
            }
        }
        out
    }
}

/// Trains `prepared`'s model on `device` (resuming from `last.ckpt` in the run folder if
/// there is one), then writes `metrics.csv`, `best.ckpt`, `last.ckpt`,
/// `learning_curve.svg`, `model.allegro`, `test_metrics.txt`, `test_predictions.xyz` and
/// `parity.svg`
/// there. `progress` sees every batch and epoch.
pub fn train_and_test<B: Backend>(
    prepared: &PreparedRun,
    device: B::Device,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<RunOutcome<B>> {
    let (run, out_dir) = (&prepared.run, &prepared.out_dir);
    let config = prepared.model_config()?;
    let model = AllegroModel::new(&config)?;
    let params = model.init_parameters::<B>(&device);
    let names = &config.type_names;
    let coeffs = LossCoeffs {
        energy: run.loss_coeffs.total_energy,
        forces: run.loss_coeffs.forces,
        stress: run.loss_coeffs.stress,
    };
    let loss = energy_force_loss::<B>(coeffs, true, names, vec![])?;
    let metric_coeffs: Vec<(&str, f64)> = run
        .metrics_coeffs
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    let stress = run.loss_coeffs.stress.is_some();
    let val_metrics = energy_force_metrics::<B>(&metric_coeffs, stress, names, vec![])?;
    let optimizer = AdamW::new(run.optimizer)?;
    let mut trainer = Trainer::new(
        model.clone(),
        params,
        optimizer,
        loss,
        val_metrics,
        device.clone(),
    )?;
    if let Some(d) = run.ema_decay {
        trainer = trainer.with_ema(d)?;
    }
    if let Some(p) = run.lr_scheduler {
        trainer = trainer.with_scheduler(ReduceLROnPlateau::new(p)?);
    }
    if let Some(e) = run.early_stopping {
        trainer = trainer.with_early_stopping(EarlyStopping::new(e));
    }
    if let Some(c) = run.gradient_clip_norm {
        trainer = trainer.with_clip(GradClip::Norm(c));
    }
    trainer.resume_from_dir(out_dir)?;
    let fit = FitConfig {
        max_epochs: run.max_epochs,
        batch_size: run.data.batch_size,
        val_batch_size: run.data.val_batch_size.unwrap_or(run.data.batch_size),
        shuffle: true,
        seed: run.seed,
        monitor: "weighted_sum".to_string(),
        out_dir: Some(out_dir.clone()),
        non_finite: run.non_finite,
        ..FitConfig::default()
    };
    let (data, parts) = (&prepared.data, &prepared.parts);
    let start = std::time::Instant::now();
    let summary = trainer.fit(data, &parts.train, data, &parts.val, &fit, progress)?;
    let fit_seconds = start.elapsed().as_secs_f64();

    let curve: Vec<(String, Vec<f64>)> = ["forces_rmse", "per_atom_energy_rmse"]
        .iter()
        .map(|k| {
            let values = trainer.history.iter();
            (
                k.to_string(),
                values.map(|r| r.val.get(k).unwrap_or(f64::NAN)).collect(),
            )
        })
        .collect();
    let svg = out_dir.join("learning_curve.svg");
    let curve = learning_curve_svg(&curve).map_err(|m| io_error(&svg, std::io::Error::other(m)))?;
    std::fs::write(&svg, curve).map_err(|e| io_error(&svg, e))?;

    // The model file holds the EMA weights (what validation saw).
    let mut meta = BTreeMap::new();
    let source = prepared.config_path.display().to_string();
    meta.insert("training_config".to_string(), source);
    meta.insert("epochs".to_string(), trainer.history.len().to_string());
    let model_path = out_dir.join("model.allegro");
    ModelFile::from_model(&model, trainer.eval_params(), meta)?.save(&model_path)?;

    let predictor = Predictor::new(model, trainer.eval_params(), device);
    let test = test_split(prepared, &predictor)?;
    let table = out_dir.join("test_metrics.txt");
    std::fs::write(&table, test.table()).map_err(|e| io_error(&table, e))?;
    Ok(RunOutcome {
        summary,
        fit_seconds,
        history: trainer.history.clone(),
        model_path,
        test,
        predictor,
    })
}

/// Predicts the test frames, writes them with the predictions beside the labels
/// (`test_predictions.xyz`, as nequip's TestTimeXYZFileWriter) and returns the errors.
fn test_split<B: Backend>(prepared: &PreparedRun, predictor: &Predictor<B>) -> Result<TestReport> {
    let mut written = Vec::new();
    let (mut se_f, mut n_f, mut se_e, mut n_e) = (0.0, 0usize, 0.0, 0usize);
    // (label, prediction) pairs for parity.svg.
    let (mut forces, mut energies) = (Vec::new(), Vec::new());
    for &i in &prepared.parts.test {
        let p = predictor.predict(&prepared.data.graph(i)?)?;
        let mut s = prepared.frames.structures[i].clone();
        if let Some(f) = &s.labels.forces {
            for (a, b) in f.iter().zip(&p.forces) {
                se_f += (0..3).map(|d| (a[d] - b[d]).powi(2)).sum::<f64>();
                n_f += 3;
                forces.extend((0..3).map(|d| (a[d], b[d])));
            }
        }
        if let Some(e) = s.labels.energy {
            let n = s.n_atoms() as f64;
            se_e += ((e - p.total_energy[0]) / n).powi(2);
            n_e += 1;
            energies.push((e / n, p.total_energy[0] / n));
        }
        let energy = InfoValue::Real(p.total_energy[0]);
        s.labels.info.insert("allegro_energy".into(), energy);
        s.labels.arrays.push(Column {
            name: "allegro_forces".into(),
            width: 3,
            data: ColumnData::Real(p.forces.iter().flatten().copied().collect()),
        });
        written.push(s);
    }
    let path = prepared.out_dir.join("test_predictions.xyz");
    write_extxyz(&path, &written, &WriteOptions::default())?;
    let panels = [
        ParityPanel {
            quantity: "force component (eV/Å)".into(),
            pairs: forces,
        },
        ParityPanel {
            quantity: "energy per atom (eV)".into(),
            pairs: energies,
        },
    ];
    // No labelled test frame: nothing to draw.
    if let Ok(svg) = parity_svg(&panels) {
        let path = prepared.out_dir.join("parity.svg");
        std::fs::write(&path, svg).map_err(|e| io_error(&path, e))?;
    }
    let rmse = |se: f64, n: usize| (n > 0).then(|| (se / n as f64).sqrt());
    Ok(TestReport {
        frames: prepared.parts.test.len(),
        forces_rmse: rmse(se_f, n_f),
        per_atom_energy_rmse: rmse(se_e, n_e),
    })
}
