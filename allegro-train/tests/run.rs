//! The short-config run as a library (`allegro_train::run`): a small run writes every
//! output, its model file predicts what the returned predictor predicts, and config
//! mistakes are errors naming the file or key.

mod common;

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::GraphSource;
use allegro_nn::model_file::ModelFile;
use allegro_train::run::{PreparedRun, RunConfig, train_and_test};

/// A 2-epoch run on 60 xtb frames in a fresh folder; returns the config file's path.
fn config(name: &str, extra: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("allegro-run-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = format!(
        "run_name: r\noutput_dir: {out}\nseed: 3\ncutoff_radius: 4.0\n\
         chemical_symbols: [C, Cl, F, H, N, O, S]\nmax_epochs: 2\n\
         data: {{train_file: {data}, split: {{train: 0.7, val: 0.15, test: 0.15}}, \
         batch_size: 8, max_frames: 60}}\n\
         model: {{model_dtype: float64, l_max: 1, num_layers: 1, num_scalar_features: 8, \
         radial_chemical_embed: {{_target_: allegro.nn.TwoBodyBesselScalarEmbed, \
         num_bessels: 8, bessel_trainable: false, polynomial_cutoff_p: 6}}, parity: false, \
         num_tensor_features: 4, allegro_mlp_hidden_layers_width: 16, \
         readout_mlp_hidden_layers_width: 8, radial_chemical_embed_dim: 8, \
         scalar_embed_mlp_hidden_layers_width: 8, \
         avg_num_neighbors: '${{training_data_stats:num_neighbors_mean}}', \
         per_type_energy_shifts: '${{training_data_stats:per_atom_energy_mean}}'}}\n\
         loss_coeffs: {{total_energy: 1.0, forces: 1.0}}\n\
         metrics_coeffs: {{forces_rmse: 1.0}}\noptimizer: {{lr: 0.005}}\n{extra}",
        out = dir.display(),
        data = common::data_path().display(),
    );
    let path = dir.join("run.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn a_small_run_writes_its_outputs_and_a_model_file_that_predicts_the_same() {
    let path = config("ok", "ema_decay: 0.9\n");
    let prepared = PreparedRun::new(RunConfig::from_file(&path).unwrap(), &path).unwrap();
    assert_eq!(prepared.data.len(), 60);
    let out = train_and_test::<Cpu>(&prepared, CpuDevice, &mut |_| {}).unwrap();
    assert_eq!(out.summary.epochs, 2);
    assert_eq!(out.history.len(), 2);
    for f in [
        "metrics.csv",
        "best.ckpt",
        "last.ckpt",
        "learning_curve.svg",
        "model.allegro",
    ]
    .iter()
    .chain(&["test_metrics.txt", "test_predictions.xyz", "parity.svg"])
    {
        assert!(prepared.out_dir.join(f).is_file(), "{f} missing");
    }
    let parity = std::fs::read_to_string(prepared.out_dir.join("parity.svg")).unwrap();
    assert!(parity.contains("force component") && parity.contains("RMSE"));
    assert_eq!(out.test.frames, prepared.parts.test.len());
    assert!(out.test.forces_rmse.unwrap().is_finite());
    assert!(out.describe().starts_with("trained 2 epochs"));
    // The saved model (EMA weights) gives the returned predictor's numbers.
    let file = ModelFile::load(&out.model_path).unwrap();
    let reloaded = file.into_predictor::<Cpu>(CpuDevice).unwrap();
    let g = prepared.data.graph(prepared.parts.test[0]).unwrap();
    let (a, b) = (
        out.predictor.predict(&g).unwrap(),
        reloaded.predict(&g).unwrap(),
    );
    assert!((a.total_energy[0] - b.total_energy[0]).abs() <= 1e-12 * a.total_energy[0].abs());
    let _ = std::fs::remove_dir_all(prepared.out_dir.parent().unwrap());
}

#[test]
fn config_mistakes_name_the_file_or_the_key() {
    let path = config("bad", "no_such_key: 1\n");
    let e = RunConfig::from_file(&path).unwrap_err().to_string();
    assert!(e.contains("run.yaml") && e.contains("no_such_key"), "{e}");
    let path = config("stat", "");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("num_neighbors_mean", "no_such_stat")).unwrap();
    let prepared = PreparedRun::new(RunConfig::from_file(&path).unwrap(), &path).unwrap();
    let e = prepared.model_config().unwrap_err().to_string();
    assert!(
        e.contains("avg_num_neighbors") && e.contains("no_such_stat"),
        "{e}"
    );
}
