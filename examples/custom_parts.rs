//! Parts written outside the crates, trained end to end: a radial embedding of Gaussian
//! basis functions and a gated tensor product (`custom_parts/parts.rs`), and a loss term
//! that mixes squared and absolute force errors, in an Allegro model trained on the xTB
//! organics. The model file it saves names both parts: a program that has not
//! registered them is refused by name, one that has (`parts::register`) loads it and
//! predicts what the trained model predicted.
//!
//! `cargo run --release --example custom_parts [-- EPOCHS]` (default 10 epochs; CI runs
//! it through `tests/custom_parts.rs`).

#[path = "custom_parts/parts.rs"]
pub mod parts;

use allegro::core::backend::UnaryOp;
use allegro::core::backend::cpu::{Cpu, CpuDevice};
use allegro::core::{Backend, Tensor};
use allegro::data::extxyz::ReadOptions;
use allegro::data::{
    AtomicGraph, GraphDataset, GraphSource, InMemoryDataset, NeighborOptions, TypeMapper,
};
use allegro::nn::model_file::ModelFile;
use allegro::nn::model_parts::ModelParts;
use allegro::nn::registry::{self, PartKind};
use allegro::nn::{AllegroConfig, AllegroModel, Parameters, Prediction, Predictor};
use allegro::train::{
    AdamW, AdamWConfig, ErrorMap, ErrorStats, Field, FitConfig, Loss, Metric, MetricEntry,
    MetricsManager, Mse, PooledForm, PooledMetric, Rmse, ThreadGroup, Trainer,
};
use parts::{GatedProduct, GaussianEmbedding};

type Error = Box<dyn std::error::Error>;

/// `a·mean(e²) + (1 − a)·mean(|e|)`: squared errors for large residuals, absolute ones
/// keep pulling on the small ones.
#[derive(Clone, Copy, Debug)]
pub struct SquaredAbsMix(pub f64);

impl Metric for SquaredAbsMix {
    fn name(&self) -> &str {
        "sqabsmix"
    }
    fn compute(&self, s: &ErrorStats) -> f64 {
        let n = s.count as f64;
        (self.0 * s.sum_sq + (1.0 - self.0) * s.sum_abs) / n
    }
}

/// The same as a function of two pooled sums, `(a·Σe² + (1 − a)·Σ|e|) / n`: what lets a
/// batch split across data-parallel ranks differentiate it exactly.
impl PooledMetric for SquaredAbsMix {
    fn maps(&self) -> Vec<ErrorMap> {
        vec![ErrorMap::Square, ErrorMap::Abs]
    }
    fn value(&self, sums: &[f64], n: f64) -> f64 {
        (self.0 * sums[0] + (1.0 - self.0) * sums[1]) / n
    }
    fn gradient(&self, _sums: &[f64], n: f64) -> Vec<f64> {
        vec![self.0 / n, (1.0 - self.0) / n]
    }
}

impl<B: Backend> Loss<B> for SquaredAbsMix {
    fn loss(&self, e: &Tensor<B>) -> Tensor<B> {
        let sq = e.unary(UnaryOp::Square).mean_all().mul_scalar(self.0);
        sq.add(&e.unary(UnaryOp::Abs).mean_all().mul_scalar(1.0 - self.0))
    }
    fn pooled_form(&self) -> Option<PooledForm> {
        Some(PooledForm::custom(*self))
    }
}

/// A trainer of `model` from `params` with the custom loss term.
fn trainer(model: &AllegroModel, params: Parameters<Cpu>) -> Result<Trainer<Cpu>, Error> {
    let names = &model.config().type_names;
    let loss = MetricsManager::new(
        vec![
            MetricEntry::new(Field::PerAtomEnergy, Mse).coeff(1.0),
            MetricEntry::new(Field::Forces, SquaredAbsMix(0.5)).coeff(1.0),
        ],
        names,
    )?;
    let metrics = MetricsManager::new(
        vec![MetricEntry::new(Field::Forces, Rmse).coeff(1.0)],
        names,
    )?;
    let opt = AdamW::new(AdamWConfig {
        lr: 0.005,
        ..Default::default()
    })?;
    Ok(Trainer::new(model.clone(), params, opt, loss, metrics, CpuDevice)?.with_ema(0.9)?)
}

/// What a rank of [`fit_data_parallel`] ends with: its validation force RMSE per epoch
/// and its weights.
type RankResult = (Vec<f64>, Parameters<Cpu>);

/// `fit` data-parallel over two ranks (threads of this process, a `ThreadGroup`; MPI or
/// NCCL ranks run the same code): each rank's validation force RMSE per epoch, and
/// whether the ranks end with the same weights.
fn fit_data_parallel(
    model: &AllegroModel,
    params: &Parameters<Cpu>,
    data: &GraphDataset,
    (train, val): (&[usize], &[usize]),
    fit: &FitConfig,
) -> Result<(Vec<f64>, bool), Error> {
    let group = ThreadGroup::new(2);
    let ranks: Vec<Result<RankResult, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = group
            .iter()
            .map(|comm| {
                s.spawn(move || {
                    let mut t = trainer(model, params.clone()).map_err(|e| e.to_string())?;
                    t.fit_on(data, train, data, val, fit, comm, &mut |_| {})
                        .map_err(|e| e.to_string())?;
                    let rmse = t
                        .history
                        .iter()
                        .map(|r| r.val.get("forces_rmse").unwrap_or(f64::NAN));
                    Ok((rmse.collect(), t.params))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a rank panicked".into())))
            .collect()
    });
    let ranks = ranks.into_iter().collect::<Result<Vec<_>, String>>()?;
    let same = ranks[0]
        .1
        .iter()
        .zip(ranks[1].1.iter())
        .all(|((n, a), (m, b))| n == m && a.tensor.to_vec_f64() == b.tensor.to_vec_f64());
    Ok((ranks[0].0.clone(), same))
}

/// What a run shows.
#[derive(Debug)]
pub struct Report {
    /// Validation force RMSE of the untrained model (eV/Å).
    pub untrained_val_forces_rmse: f64,
    /// Validation force RMSE after each epoch (eV/Å).
    pub val_forces_rmse: Vec<f64>,
    /// Largest |ΔE| / |E| between the trained model and the file, loaded with the
    /// parts registered.
    pub reload_energy_rel: f64,
    /// Largest force component difference after reloading (eV/Å).
    pub reload_force_abs: f64,
    /// Validation force RMSE after each epoch of the same training data-parallel over
    /// two ranks, with the custom loss pooled across them (eV/Å).
    pub data_parallel_val_forces_rmse: Vec<f64>,
    /// Whether the two ranks ended with bit-identical weights.
    pub data_parallel_ranks_agree: bool,
    /// What loading the file says while the parts are not registered.
    pub without_part: String,
    /// Largest force difference between the gated product and Allegro's at
    /// initialisation (gates 1, same weights): 0 up to rounding (eV/Å).
    pub gated_vs_allegro_at_init: f64,
    /// The same after training, when the gates have moved: far from 0 (eV/Å).
    pub gated_vs_allegro_trained: f64,
    /// Largest force difference between the no-tape path and the tape (the oracle)
    /// with the custom embedding (eV/Å).
    pub tape_vs_no_tape: f64,
}

/// Largest |ΔE|/|E| and |ΔF| between two predictors over `graphs`.
fn largest_differences(
    a: &Predictor<Cpu>,
    b: &Predictor<Cpu>,
    graphs: &[AtomicGraph],
) -> Result<(f64, f64), Error> {
    let (mut de, mut df) = (0.0f64, 0.0f64);
    for g in graphs {
        let (pa, pb): (Prediction, Prediction) = (a.predict(g)?, b.predict(g)?);
        de = de.max((pa.total_energy[0] - pb.total_energy[0]).abs() / pa.total_energy[0].abs());
        for (fa, fb) in pa.forces.iter().zip(&pb.forces) {
            (0..3).for_each(|d| df = df.max((fa[d] - fb[d]).abs()));
        }
    }
    Ok((de, df))
}

/// Trains `epochs` epochs on 240 small xTB molecules (C, H, N, O), saves the model to
/// `dir`, reloads it with the part and compares predictions on the validation frames.
pub fn run(epochs: u64, dir: &std::path::Path) -> Result<Report, Error> {
    let data_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/xtb-organics.xyz"
    );
    let all = InMemoryDataset::from_extxyz(data_path, &ReadOptions::default())?;
    let mapper = TypeMapper::new(&["C", "H", "N", "O"])?;
    let keep = all
        .structures
        .into_iter()
        .filter(|s| s.n_atoms() <= 12 && mapper.map(s).is_ok());
    let frames = InMemoryDataset {
        structures: keep.take(240).collect(),
    };
    let data = frames.to_graphs(&mapper, &NeighborOptions::new(4.0))?;
    let train: Vec<usize> = (0..200).collect();
    let val: Vec<usize> = (200..data.len()).collect();
    let stats = data.statistics(Some(&train))?;

    let config = AllegroConfig::from_json(
        &serde_json::json!({
            "seed": 11, "model_dtype": "float64", "type_names": ["C", "H", "N", "O"],
            "r_max": 4.0, "l_max": 1, "num_layers": 1, "num_scalar_features": 16,
            "num_tensor_features": 4, "allegro_mlp_hidden_layers_width": 16,
            "readout_mlp_hidden_layers_width": 8, "scalar_embed_mlp_hidden_layers_width": 16,
            "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed"},
            "avg_num_neighbors": stats.avg_num_neighbors,
            "per_type_energy_shifts": stats.per_type_energy_shifts.clone().ok_or("no energies")?,
            "per_type_energy_scales": stats.forces_rms.ok_or("no forces")?,
        })
        .to_string(),
    )?;
    let embedding = GaussianEmbedding {
        num_types: 4,
        num_gaussians: 10,
        dim: 16,
    };
    let model = AllegroModel::with_parts(
        &config,
        ModelParts::new()
            .with_radial_embedding(embedding.clone())
            .with_tensor_product(GatedProduct),
    )?;
    let val_graphs = val
        .iter()
        .map(|&i| data.graph(i))
        .collect::<Result<Vec<_>, _>>()?;

    // At initialisation the gates are 1: the same model as Allegro's product with the
    // same weights. And the no-tape path runs the custom embedding as the tape does.
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    let allegro_product = AllegroModel::with_radial_embedding(&config, embedding.clone())?;
    let gated = Predictor::new(model.clone(), &params, CpuDevice);
    let plain = Predictor::new(allegro_product, &params, CpuDevice);
    let (_, gated_vs_allegro_at_init) = largest_differences(&gated, &plain, &val_graphs)?;
    let (_, tape_vs_no_tape) =
        largest_differences(&plain, &plain.clone().with_tape(true), &val_graphs)?;

    let mut trainer = trainer(&model, params.clone())?;
    let batches = val
        .chunks(5)
        .map(|idx| data.batch(idx))
        .collect::<Result<Vec<_>, _>>()?;
    let untrained = trainer
        .validate(&batches)?
        .get("forces_rmse")
        .unwrap_or(f64::NAN);
    let fit = FitConfig {
        max_epochs: epochs,
        batch_size: 5,
        ..Default::default()
    };
    trainer.fit(&data, &train, &data, &val, &fit, &mut |_| {})?;
    let (data_parallel_val_forces_rmse, data_parallel_ranks_agree) =
        fit_data_parallel(&model, &params, &data, (&train, &val), &fit)?;
    let val_forces_rmse: Vec<f64> = trainer
        .history
        .iter()
        .map(|r| r.val.get("forces_rmse").unwrap_or(f64::NAN))
        .collect();

    let path = dir.join("custom.allegro");
    ModelFile::from_model(&model, trainer.eval_params(), Default::default())?.save(&path)?;
    registry::unregister(PartKind::RadialEmbedding, "custom_parts.GaussianEmbedding");
    registry::unregister(PartKind::TensorProduct, "custom_parts.GatedProduct");
    let without_part = match ModelFile::load(&path)?.into_predictor::<Cpu>(CpuDevice) {
        Ok(_) => return Err("a custom model loaded without its parts".into()),
        Err(e) => e.to_string(),
    };
    parts::register();
    let reloaded = ModelFile::load(&path)?.into_predictor::<Cpu>(CpuDevice)?;
    let trained = Predictor::new(model, trainer.eval_params(), CpuDevice);
    let (de, df) = largest_differences(&trained, &reloaded, &val_graphs)?;
    let allegro_product = AllegroModel::with_radial_embedding(&config, embedding)?;
    let plain = Predictor::new(allegro_product, trainer.eval_params(), CpuDevice);
    let (_, gated_vs_allegro_trained) = largest_differences(&trained, &plain, &val_graphs)?;
    Ok(Report {
        untrained_val_forces_rmse: untrained,
        val_forces_rmse,
        reload_energy_rel: de,
        reload_force_abs: df,
        without_part,
        gated_vs_allegro_at_init,
        gated_vs_allegro_trained,
        data_parallel_val_forces_rmse,
        data_parallel_ranks_agree,
        tape_vs_no_tape,
    })
}

#[allow(dead_code)]
fn main() {
    let epochs = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let dir = std::env::temp_dir().join("allegro-custom-parts");
    let result = std::fs::create_dir_all(&dir)
        .map_err(Error::from)
        .and_then(|_| run(epochs, &dir));
    match result {
        Ok(r) => {
            println!(
                "untrained: validation force RMSE {:.4} eV/Å",
                r.untrained_val_forces_rmse
            );
            for (e, v) in r.val_forces_rmse.iter().enumerate() {
                println!("epoch {e}: validation force RMSE {v:.4} eV/Å");
            }
            println!(
                "data-parallel over 2 ranks, the custom loss pooled: validation force RMSE {:.4} eV/Å after {} epochs (ranks agree: {})",
                r.data_parallel_val_forces_rmse
                    .last()
                    .copied()
                    .unwrap_or(f64::NAN),
                r.data_parallel_val_forces_rmse.len(),
                r.data_parallel_ranks_agree
            );
            println!(
                "model saved, reloaded with its parts registered: energy {:.1e} relative, forces {:.1e} eV/Å apart",
                r.reload_energy_rel, r.reload_force_abs
            );
            println!(
                "gated product vs Allegro's at initialisation: forces {:.1e} eV/Å apart",
                r.gated_vs_allegro_at_init
            );
            println!(
                "after training (gates moved): forces {:.1e} eV/Å apart",
                r.gated_vs_allegro_trained
            );
            println!(
                "no-tape path vs tape with the custom embedding: forces {:.1e} eV/Å apart",
                r.tape_vs_no_tape
            );
            println!("loading it without the part: {}", r.without_part);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
