//! Train an Allegro model from a YAML config, test it, save it, and (optionally) run
//! NVE molecular dynamics with it.
//!
//! `cargo run --release --example train -- examples/configs/xtb.yaml [--device cuda]`
//!
//! The device is `cpu` unless the config's `device:` key or `--device` names a GPU
//! runtime this binary was built with (`--features cuda`, `hip` or `vulkan`).
//!
//! Writes `OUTPUT_DIR/RUN_NAME/`: `metrics.csv`, `learning_curve.svg`, `best.ckpt`,
//! `last.ckpt`, `model.allegro` (EMA weights), `test_metrics.txt`, `test_predictions.xyz`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use allegro::core::backend::Backend;
use allegro::core::backend::cpu::{Cpu, CpuDevice};
use allegro::data::extxyz::{self, ReadOptions};
use allegro::data::{
    GraphDataset, GraphSource, InMemoryDataset, NeighborOptions, SplitSizes, Statistics,
    TypeMapper, split,
};
use allegro::md::VelocityVerlet;
use allegro::nn::model_file::ModelFile;
use allegro::nn::{AllegroConfig, AllegroModel, Predictor};
use allegro::train::{
    AdamW, AdamWConfig, EarlyStopping, EarlyStoppingConfig, FitConfig, GradClip, LossCoeffs,
    PlateauConfig, Progress, ReduceLROnPlateau, Trainer, energy_force_loss, energy_force_metrics,
};
use serde::Deserialize;
use serde_json::Value;

type Error = Box<dyn std::error::Error>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitConfig {
    train: f64,
    val: f64,
    #[serde(default)]
    test: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DataConfig {
    train_file: PathBuf,
    split: SplitConfig,
    batch_size: usize,
    #[serde(default)]
    val_batch_size: Option<usize>,
    #[serde(default)]
    max_frames: Option<usize>,
    #[serde(default)]
    energy_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LossConfig {
    total_energy: f64,
    forces: f64,
    #[serde(default)]
    stress: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MdConfig {
    frame: usize,
    steps: usize,
    dt_fs: f64,
    temperature_k: f64,
}

/// The run config; keys follow nequip's where they mean the same thing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunConfig {
    run_name: String,
    #[serde(default = "default_output_dir")]
    output_dir: PathBuf,
    seed: u64,
    cutoff_radius: f64,
    chemical_symbols: Vec<String>,
    max_epochs: u64,
    data: DataConfig,
    model: Value,
    loss_coeffs: LossConfig,
    metrics_coeffs: std::collections::BTreeMap<String, f64>,
    optimizer: AdamWConfig,
    #[serde(default)]
    lr_scheduler: Option<PlateauConfig>,
    #[serde(default)]
    ema_decay: Option<f64>,
    #[serde(default)]
    early_stopping: Option<EarlyStoppingConfig>,
    #[serde(default)]
    gradient_clip_norm: Option<f64>,
    #[serde(default)]
    md: Option<MdConfig>,
    /// `cpu` (default), or `cuda` / `hip` / `vulkan` in a binary built with that feature.
    #[serde(default)]
    device: Option<String>,
}

/// Everything read and derived before a model exists: the part of a run that does not
/// depend on the backend.
struct Prepared {
    run: RunConfig,
    config_path: PathBuf,
    out_dir: PathBuf,
    frames: InMemoryDataset,
    mapper: TypeMapper,
    data: GraphDataset,
    parts: allegro::data::Split,
    stats: Statistics,
}

fn default_output_dir() -> PathBuf {
    PathBuf::from("runs")
}

/// Replaces `${training_data_stats:KEY}` values (nequip's resolver) with statistics of
/// the training split, and fills `type_names`, `r_max` and ZBL species from the run.
fn resolve_model(
    model: &Value,
    run: &RunConfig,
    stats: &Statistics,
) -> Result<AllegroConfig, Error> {
    let mut m = model
        .as_object()
        .cloned()
        .ok_or("`model` must be a mapping")?;
    let per_type = |v: &[Option<f64>], key: &str| -> Result<Value, Error> {
        let values: Vec<f64> = v
            .iter()
            .zip(&run.chemical_symbols)
            .map(|(x, t)| {
                x.ok_or_else(|| format!("training_data_stats:{key}: no data for type {t}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(serde_json::json!(values))
    };
    for (key, value) in m.iter_mut() {
        let Some(s) = value.as_str() else { continue };
        let Some(stat) = s
            .trim_start_matches("${")
            .trim_end_matches('}')
            .strip_prefix("training_data_stats:")
        else {
            continue;
        };
        *value = match stat {
            "num_neighbors_mean" => serde_json::json!(stats.avg_num_neighbors),
            "per_type_num_neighbors_mean" => per_type(&stats.per_type_num_neighbors, stat)?,
            "per_atom_energy_mean" => serde_json::json!(
                stats
                    .per_atom_energy_mean
                    .ok_or("no energies in the training data")?
            ),
            "forces_rms" => {
                serde_json::json!(stats.forces_rms.ok_or("no forces in the training data")?)
            }
            "per_type_forces_rms" => per_type(&stats.per_type_forces_rms, stat)?,
            "per_type_energy_shifts" => {
                serde_json::json!(
                    stats
                        .per_type_energy_shifts
                        .clone()
                        .ok_or("no energies in the training data")?
                )
            }
            other => {
                return Err(format!("model.{key}: unknown training_data_stats `{other}`").into());
            }
        };
    }
    m.entry("type_names")
        .or_insert_with(|| serde_json::json!(run.chemical_symbols));
    m.entry("r_max")
        .or_insert_with(|| serde_json::json!(run.cutoff_radius));
    if let Some(Value::Object(pair)) = m.get_mut("pair_potential") {
        pair.entry("chemical_species")
            .or_insert_with(|| serde_json::json!(run.chemical_symbols));
    }
    Ok(AllegroConfig::from_json(&Value::Object(m).to_string())?)
}

/// A learning curve (validation metrics per epoch, log scale) as a small SVG.
fn learning_curve_svg(series: &[(String, Vec<f64>)]) -> String {
    let (w, h, pad) = (640.0, 400.0, 50.0);
    let all: Vec<f64> = series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .filter(|v| *v > 0.0)
        .collect();
    let (lo, hi) = all.iter().fold((f64::MAX, f64::MIN), |(a, b), v| {
        (a.min(v.log10()), b.max(v.log10()))
    });
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, lo + 1.0)
    };
    let n = series.iter().map(|s| s.1.len()).max().unwrap_or(1).max(2);
    let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
    let mut out = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n"
    );
    out += &format!(
        "<line x1='{pad}' y1='{}' x2='{}' y2='{}' stroke='black'/>\n",
        h - pad,
        w - pad,
        h - pad
    );
    out += &format!(
        "<line x1='{pad}' y1='{pad}' x2='{pad}' y2='{}' stroke='black'/>\n",
        h - pad
    );
    out += &format!(
        "<text x='{}' y='{}'>epoch</text><text x='5' y='20'>validation metric (log10 {lo:.2} … {hi:.2})</text>\n",
        w / 2.0,
        h - 15.0
    );
    for (k, (name, values)) in series.iter().enumerate() {
        let pts: Vec<String> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > 0.0)
            .map(|(i, v)| {
                let x = pad + (w - 2.0 * pad) * i as f64 / (n - 1) as f64;
                let y = h - pad - (h - 2.0 * pad) * (v.log10() - lo) / (hi - lo);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let c = colors[k % colors.len()];
        out += &format!(
            "<polyline fill='none' stroke='{c}' stroke-width='2' points='{}'/>\n",
            pts.join(" ")
        );
        out += &format!(
            "<text x='{}' y='{}' fill='{c}'>{name}</text>\n",
            w - pad - 150.0,
            pad + 15.0 * k as f64
        );
    }
    out + "</svg>\n"
}

fn main() {
    let mut path = "examples/configs/xtb.yaml".to_string();
    let mut device = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--device" {
            device = args.next();
        } else {
            path = a;
        }
    }
    if let Err(e) = prepare(Path::new(&path), device).and_then(dispatch) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Runs the training on the device the config or the command line names.
fn dispatch(p: Prepared) -> Result<(), Error> {
    match p.run.device.as_deref().unwrap_or("cpu") {
        "cpu" => train_test_md::<Cpu>(&p, CpuDevice),
        #[cfg(feature = "cuda")]
        "cuda" => {
            use allegro::core::backend::gpu::{CudaRuntime, Gpu, GpuDevice};
            train_test_md::<Gpu<CudaRuntime>>(&p, GpuDevice::try_default()?)
        }
        #[cfg(feature = "hip")]
        "hip" => {
            use allegro::core::backend::gpu::{Gpu, GpuDevice, HipRuntime};
            train_test_md::<Gpu<HipRuntime>>(&p, GpuDevice::try_default()?)
        }
        #[cfg(feature = "vulkan")]
        "vulkan" => {
            use allegro::core::backend::gpu::{Gpu, GpuDevice, WgpuRuntime};
            train_test_md::<Gpu<WgpuRuntime>>(&p, GpuDevice::try_default()?)
        }
        other => Err(format!(
            "device: `{other}` is not available in this binary (cpu, or a GPU runtime built with --features cuda/hip/vulkan)"
        )
        .into()),
    }
}

fn prepare(config_path: &Path, device: Option<String>) -> Result<Prepared, Error> {
    let text = std::fs::read_to_string(config_path)
        .map_err(|e| format!("{}: {e}", config_path.display()))?;
    let mut run: RunConfig =
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", config_path.display()))?;
    if device.is_some() {
        run.device = device;
    }
    let out_dir = run.output_dir.join(&run.run_name);
    std::fs::create_dir_all(&out_dir)?;

    // Data: read, map types, neighbor lists, split.
    let mut read = ReadOptions::default();
    if let Some(key) = &run.data.energy_key {
        read.energy_keys = vec![key.clone()];
    }
    let mut frames = InMemoryDataset::from_extxyz(&run.data.train_file, &read)?;
    if let Some(max) = run.data.max_frames {
        let keep = allegro::data::shuffled_indices(frames.len(), run.seed);
        let mut keep: Vec<usize> = keep.into_iter().take(max).collect();
        keep.sort_unstable();
        frames.structures = keep
            .into_iter()
            .map(|i| frames.structures[i].clone())
            .collect();
    }
    let mapper = TypeMapper::new(&run.chemical_symbols)?;
    let data: GraphDataset = frames.to_graphs(&mapper, &NeighborOptions::new(run.cutoff_radius))?;
    let s = &run.data.split;
    let parts = split(
        data.len(),
        SplitSizes::Fractions {
            train: s.train,
            val: s.val,
            test: s.test,
        },
        run.seed,
    )?;
    let stats = data.statistics(Some(&parts.train))?;
    println!(
        "data: {} frames ({} train, {} val, {} test), {:.1} neighbors per atom, force RMS {:.3} eV/Å",
        data.len(),
        parts.train.len(),
        parts.val.len(),
        parts.test.len(),
        stats.avg_num_neighbors,
        stats.forces_rms.unwrap_or(f64::NAN)
    );
    Ok(Prepared {
        run,
        config_path: config_path.to_path_buf(),
        out_dir,
        frames,
        mapper,
        data,
        parts,
        stats,
    })
}

/// Trains, tests and (optionally) runs MD on backend `B`.
fn train_test_md<B: Backend>(p: &Prepared, device: B::Device) -> Result<(), Error> {
    let Prepared {
        run,
        config_path,
        out_dir,
        frames,
        mapper,
        data,
        parts,
        stats,
    } = p;
    println!("device: {}", B::name());
    // Model and trainer.
    let config = resolve_model(&run.model, run, stats)?;
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
    let mut trainer = Trainer::new(
        model.clone(),
        params,
        AdamW::new(run.optimizer)?,
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
    if trainer.resume_from_dir(out_dir)? {
        println!("resumed from {}", out_dir.join("last.ckpt").display());
    }
    let fit = FitConfig {
        max_epochs: run.max_epochs,
        batch_size: run.data.batch_size,
        val_batch_size: run.data.val_batch_size.unwrap_or(run.data.batch_size),
        shuffle: true,
        seed: run.seed,
        monitor: "weighted_sum".to_string(),
        out_dir: Some(out_dir.clone()),
        ..FitConfig::default()
    };
    let start = Instant::now();
    let mut progress = |p: Progress<'_>| match p {
        Progress::Batch {
            epoch,
            batch,
            n_batches,
            values,
        } if batch % 10 == 0 || batch + 1 == n_batches => {
            eprint!(
                "\repoch {epoch:>3} [{:<30}] {:>4}/{n_batches} loss {:.4}   ",
                "=".repeat(30 * (batch + 1) / n_batches),
                batch + 1,
                values.weighted_sum().unwrap_or(f64::NAN)
            );
        }
        Progress::Epoch(r) => {
            eprintln!();
            let get = |k: &str| r.val.get(k).unwrap_or(f64::NAN);
            let stress = r
                .val
                .get("stress_rmse")
                .map(|s| format!("  stress_rmse {s:.5} eV/Å³"))
                .unwrap_or_default();
            println!(
                "epoch {:>3}  lr {:.2e}  val forces_rmse {:.4} eV/Å  per_atom_energy_rmse {:.4} eV{stress}  ({:.1} s)",
                r.epoch,
                r.lr,
                get("forces_rmse"),
                get("per_atom_energy_rmse"),
                r.seconds
            );
        }
        _ => {}
    };
    let summary = trainer.fit(data, &parts.train, data, &parts.val, &fit, &mut progress)?;
    let stop = summary
        .stopped_early
        .as_ref()
        .map(|r| format!("; stopped early: {r}"))
        .unwrap_or_default();
    println!(
        "trained {} epochs in {:.1} s{stop}",
        summary.epochs,
        start.elapsed().as_secs_f64(),
    );

    // Learning curve.
    let curve: Vec<(String, Vec<f64>)> = ["forces_rmse", "per_atom_energy_rmse"]
        .iter()
        .map(|k| {
            (
                k.to_string(),
                trainer
                    .history
                    .iter()
                    .map(|r| r.val.get(k).unwrap_or(f64::NAN))
                    .collect(),
            )
        })
        .collect();
    std::fs::write(
        out_dir.join("learning_curve.svg"),
        learning_curve_svg(&curve),
    )?;
    if let (Some(first), Some(last)) = (trainer.history.first(), trainer.history.last()) {
        let (a, b) = (
            first.val.get("forces_rmse").unwrap_or(f64::NAN),
            last.val.get("forces_rmse").unwrap_or(f64::NAN),
        );
        println!(
            "validation force RMSE: epoch {} {a:.4} → epoch {} {b:.4} eV/Å ({:.1}× lower)",
            first.epoch,
            last.epoch,
            a / b
        );
        if let (Some(a), Some(b)) = (first.val.get("stress_rmse"), last.val.get("stress_rmse")) {
            println!(
                "validation stress RMSE: epoch {} {a:.5} → epoch {} {b:.5} eV/Å³ ({:.1}× lower)",
                first.epoch,
                last.epoch,
                a / b
            );
        }
    }

    // The model file holds the EMA weights (what validation saw).
    let mut meta = std::collections::BTreeMap::new();
    meta.insert(
        "training_config".to_string(),
        config_path.display().to_string(),
    );
    meta.insert("epochs".to_string(), trainer.history.len().to_string());
    let model_path = out_dir.join("model.allegro");
    ModelFile::from_model(&model, trainer.eval_params(), meta)?.save(&model_path)?;
    println!("model file: {}", model_path.display());

    // Test with the EMA weights: table and predictions next to labels.
    let predictor = Predictor::new(model, trainer.eval_params(), device);
    let mut test_structures = Vec::new();
    let (mut se_f, mut n_f, mut se_e, mut n_e) = (0.0, 0usize, 0.0, 0usize);
    for &i in &parts.test {
        let g = data.graph(i)?;
        let p = predictor.predict(&g)?;
        let mut s = frames.structures[i].clone();
        if let Some(f) = &s.labels.forces {
            for (a, b) in f.iter().zip(&p.forces) {
                for d in 0..3 {
                    se_f += (a[d] - b[d]).powi(2);
                }
                n_f += 3;
            }
        }
        if let Some(e) = s.labels.energy {
            se_e += ((e - p.total_energy[0]) / s.n_atoms() as f64).powi(2);
            n_e += 1;
        }
        // Predictions beside the labels, as nequip's TestTimeXYZFileWriter.
        s.labels.info.insert(
            "allegro_energy".into(),
            allegro::data::InfoValue::Real(p.total_energy[0]),
        );
        s.labels.arrays.push(allegro::data::Column {
            name: "allegro_forces".into(),
            width: 3,
            data: allegro::data::ColumnData::Real(p.forces.iter().flatten().copied().collect()),
        });
        test_structures.push(s);
    }
    // An RMSE over nothing is not 0: a split without a test part says so.
    let rmse = |se: f64, n: usize| {
        if n == 0 {
            "none".to_string()
        } else {
            format!("{:.6}", (se / n as f64).sqrt())
        }
    };
    let table = format!(
        "test frames {}\nforces_rmse {} eV/Å\nper_atom_energy_rmse {} eV\n",
        parts.test.len(),
        rmse(se_f, n_f),
        rmse(se_e, n_e)
    );
    print!("{table}");
    std::fs::write(out_dir.join("test_metrics.txt"), &table)?;
    extxyz::write_extxyz(
        out_dir.join("test_predictions.xyz"),
        &test_structures,
        &extxyz::WriteOptions::default(),
    )?;

    // Molecular dynamics with the trained model.
    if let Some(md) = &run.md {
        let idx = *parts
            .test
            .get(md.frame)
            .ok_or("md.frame: no such test frame")?;
        let structure = frames.structures[idx].clone();
        let vv = VelocityVerlet::new(&predictor, mapper, &structure, md.dt_fs)?;
        let mut state = vv.start(structure, md.temperature_k, run.seed)?;
        let e0 = state.potential_energy + vv.kinetic_energy(&state);
        let t = Instant::now();
        let mut max_dev: f64 = 0.0;
        for step in 1..=md.steps {
            vv.step(&mut state)?;
            let e = state.potential_energy + vv.kinetic_energy(&state);
            max_dev = max_dev.max((e - e0).abs());
            if step % (md.steps / 5).max(1) == 0 {
                println!(
                    "md step {step:>5}  E_pot {:.4} eV  T {:.0} K  E_tot − E_0 {:+.2e} eV",
                    state.potential_energy,
                    vv.temperature(&state),
                    e - e0
                );
            }
        }
        println!(
            "md: {} steps of {} fs on {} atoms in {:.1} s, max |E_tot − E_0| = {max_dev:.2e} eV",
            md.steps,
            md.dt_fs,
            state.structure.n_atoms(),
            t.elapsed().as_secs_f64()
        );
    }
    println!("run directory: {}", out_dir.display());
    Ok(())
}
