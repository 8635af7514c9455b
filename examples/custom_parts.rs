//! Parts written outside the crates, trained end to end: a radial embedding of Gaussian
//! basis functions and a loss term that mixes squared and absolute force errors, in an
//! Allegro model trained on the xTB organics; the model is saved, reloaded with the same
//! part and checked to predict what it predicted before saving.
//!
//! `cargo run --release --example custom_parts [-- EPOCHS]` (default 10 epochs; CI runs
//! it through `tests/custom_parts.rs`).

use allegro::core::backend::UnaryOp;
use allegro::core::backend::cpu::{Cpu, CpuDevice};
use allegro::core::radial::polynomial_cutoff;
use allegro::core::{Backend, DType, Tensor};
use allegro::data::extxyz::ReadOptions;
use allegro::data::{GraphSource, InMemoryDataset, NeighborOptions, TypeMapper};
use allegro::nn::model_file::ModelFile;
use allegro::nn::{
    AllegroConfig, AllegroModel, CustomRadialEmbedding, ModelInputs, Parameters, Predictor,
    RadialChemicalEmbedding, SplitMix64,
};
use allegro::train::{
    AdamW, AdamWConfig, ErrorStats, Field, FitConfig, Loss, Metric, MetricEntry, MetricsManager,
    Mse, Rmse, Trainer,
};

type Error = Box<dyn std::error::Error>;

/// `e_z = (g(x_z)·u_6(x_z)) W ⊙ center[t_i] ⊙ neighbor[t_j]`: `K` Gaussians on
/// `x = r/r_c ∈ [0, 1]` under the polynomial envelope, mixed to `dim` features and
/// modulated by one learned vector per center and per neighbor type.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianEmbedding {
    /// Types in the model.
    pub num_types: usize,
    /// Gaussians `K`.
    pub num_gaussians: usize,
    /// Feature width `D`.
    pub dim: usize,
}

impl GaussianEmbedding {
    const W: &'static str = "radial_chemical_embed.gaussian.mix";
    const CENTER: &'static str = "radial_chemical_embed.gaussian.center_types";
    const NEIGHBOR: &'static str = "radial_chemical_embed.gaussian.neighbor_types";

    fn normal(rng: &mut SplitMix64, n: usize, scale: f64) -> Vec<f64> {
        (0..n).map(|_| scale * rng.normal()).collect()
    }
}

impl RadialChemicalEmbedding for GaussianEmbedding {
    fn output_dim(&self) -> usize {
        self.dim
    }

    fn init<B: Backend>(
        &self,
        params: &mut Parameters<B>,
        rng: &mut SplitMix64,
        dtype: DType,
        device: &B::Device,
    ) {
        let (k, d, t) = (self.num_gaussians, self.dim, self.num_types);
        let w = Self::normal(rng, k * d, 1.0 / (k as f64).sqrt());
        params.insert(
            Self::W,
            Tensor::from_f64(&w, &[k, d], dtype, device).unwrap(),
            true,
        );
        for name in [Self::CENTER, Self::NEIGHBOR] {
            let v: Vec<f64> = Self::normal(rng, t * d, 0.1)
                .iter()
                .map(|x| 1.0 + x)
                .collect();
            params.insert(
                name,
                Tensor::from_f64(&v, &[t, d], dtype, device).unwrap(),
                true,
            );
        }
    }

    fn forward<B: Backend>(
        &self,
        params: &Parameters<B>,
        x: &Tensor<B>,
        inputs: &ModelInputs<B>,
    ) -> Tensor<B> {
        let k = self.num_gaussians;
        let centers: Vec<f64> = (0..k).map(|i| i as f64 / (k - 1) as f64).collect();
        let mu = Tensor::from_f64(&centers, &[1, k], x.dtype(), &x.device()).unwrap();
        let width = 1.0 / (k - 1) as f64;
        // g_k(x) = exp(−(x − μ_k)² / (2 w²)), [E, K].
        let g = x
            .sub(&mu)
            .unary(UnaryOp::Square)
            .mul_scalar(-0.5 / (width * width))
            .unary(UnaryOp::Exp);
        let radial = g
            .mul(&polynomial_cutoff(x, 6.0))
            .matmul(params.get(Self::W));
        let center = params
            .get(Self::CENTER)
            .index_select(0, &inputs.center_types);
        let neighbor = params
            .get(Self::NEIGHBOR)
            .index_select(0, &inputs.neighbor_types);
        radial.mul(&center).mul(&neighbor)
    }
}

impl CustomRadialEmbedding for GaussianEmbedding {
    fn name(&self) -> String {
        "custom_parts.GaussianEmbedding".into()
    }
    fn settings(&self) -> serde_json::Value {
        serde_json::json!({"num_gaussians": self.num_gaussians, "dim": self.dim})
    }
}

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

impl<B: Backend> Loss<B> for SquaredAbsMix {
    fn loss(&self, e: &Tensor<B>) -> Tensor<B> {
        let sq = e.unary(UnaryOp::Square).mean_all().mul_scalar(self.0);
        sq.add(&e.unary(UnaryOp::Abs).mean_all().mul_scalar(1.0 - self.0))
    }
}

/// What a run shows.
#[derive(Debug)]
pub struct Report {
    /// Validation force RMSE of the untrained model (eV/Å).
    pub untrained_val_forces_rmse: f64,
    /// Validation force RMSE after each epoch (eV/Å).
    pub val_forces_rmse: Vec<f64>,
    /// Largest |ΔE| / |E| and |ΔF| between the trained and the reloaded model.
    pub reload_energy_rel: f64,
    /// Largest force component difference after reloading (eV/Å).
    pub reload_force_abs: f64,
    /// What loading the file without the part says.
    pub without_part: String,
    /// Largest force difference between the no-tape path and the tape (the oracle)
    /// with the custom part (eV/Å).
    pub tape_vs_no_tape: f64,
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
    let part = GaussianEmbedding {
        num_types: 4,
        num_gaussians: 10,
        dim: 16,
    };
    let model = AllegroModel::with_radial_embedding(&config, part.clone())?;
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
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    let opt = AdamW::new(AdamWConfig {
        lr: 0.005,
        ..Default::default()
    })?;
    let mut trainer =
        Trainer::new(model.clone(), params, opt, loss, metrics, CpuDevice)?.with_ema(0.9)?;
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
    let val_forces_rmse: Vec<f64> = trainer
        .history
        .iter()
        .map(|r| r.val.get("forces_rmse").unwrap_or(f64::NAN))
        .collect();

    let path = dir.join("custom.allegro");
    ModelFile::from_model(&model, trainer.eval_params(), Default::default())?.save(&path)?;
    let without_part = match ModelFile::load(&path)?.into_predictor::<Cpu>(CpuDevice) {
        Ok(_) => return Err("a custom model loaded without its part".into()),
        Err(e) => e.to_string(),
    };
    let reloaded = ModelFile::load(&path)?.into_predictor_with::<Cpu, _>(CpuDevice, part)?;
    let trained = Predictor::new(model, trainer.eval_params(), CpuDevice);
    let tape = trained.clone().with_tape(true);
    let (mut de, mut df, mut dt) = (0.0f64, 0.0f64, 0.0f64);
    for &i in &val {
        let g = data.graph(i)?;
        let (a, b, t) = (
            trained.predict(&g)?,
            reloaded.predict(&g)?,
            tape.predict(&g)?,
        );
        for (fa, ft) in a.forces.iter().zip(&t.forces) {
            (0..3).for_each(|d| dt = dt.max((fa[d] - ft[d]).abs()));
        }
        de = de.max((a.total_energy[0] - b.total_energy[0]).abs() / a.total_energy[0].abs());
        for (fa, fb) in a.forces.iter().zip(&b.forces) {
            (0..3).for_each(|d| df = df.max((fa[d] - fb[d]).abs()));
        }
    }
    Ok(Report {
        untrained_val_forces_rmse: untrained,
        val_forces_rmse,
        reload_energy_rel: de,
        reload_force_abs: df,
        without_part,
        tape_vs_no_tape: dt,
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
                "model saved and reloaded with its part: energy {:.1e} relative, forces {:.1e} eV/Å apart",
                r.reload_energy_rel, r.reload_force_abs
            );
            println!(
                "no-tape path vs tape with the part: forces {:.1e} eV/Å apart",
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
