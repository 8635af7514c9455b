//! A nequip config's run (the seed's `configs/demo.yaml`), with Hydra-style overrides,
//! on the CPU, as `nequip-train -cn demo.yaml ...` runs it:
//!
//! ```sh
//! cargo run --release --example nequip -- ../shared/reference/seed-demo.yaml \
//!     ++data.train_dataset.file_path=train.lmdb ++data.val_dataset.file_path=val.lmdb \
//!     ++data.test_dataset.0.file_path=test.lmdb hydra.run.dir=outputs/demo
//! cargo run --release --example nequip -- demo.yaml 'run=[val,test]' \
//!     ++ckpt_path=outputs/demo/best.ckpt ...
//! ```
//!
//! Writes `best.ckpt`, `last.ckpt`, `metrics.csv`, `eval_metrics.csv` and the test-time
//! XYZ file in the run directory; prints one line per epoch and one JSON line per
//! evaluated dataset.

use allegro::train::Progress;
use allegro::train::nequip_config::NequipRunConfig;
use allegro::train::nequip_train::run_nequip;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((config, overrides)) = args.split_first() else {
        eprintln!("usage: nequip CONFIG.yaml [OVERRIDE ...]");
        std::process::exit(2);
    };
    let run = || -> Result<(), String> {
        let (config, warnings) =
            NequipRunConfig::from_file(config, overrides).map_err(|e| e.to_string())?;
        for w in &warnings {
            eprintln!("warning: `{}`: {}", w.key, w.message);
        }
        let mut progress = |p: Progress<'_>| {
            if let Progress::Epoch(r) = p {
                let ws = r.val.weighted_sum().unwrap_or(f64::NAN);
                eprintln!(
                    "epoch {} ({:.1} s): val weighted_sum {ws:.6}",
                    r.epoch, r.seconds
                );
            }
        };
        let report = run_nequip(&config, &mut progress).map_err(|e| e.to_string())?;
        for r in report.metrics {
            let values: serde_json::Map<String, serde_json::Value> =
                r.values.into_iter().map(|(n, v)| (n, v.into())).collect();
            let line = serde_json::json!({"split": r.split.name(), "dataset": r.index,
                "file": r.file, "frames": r.frames, "metrics": values});
            println!("{line}");
        }
        eprintln!(
            "metrics: {}",
            config.run_dir.join("eval_metrics.csv").display()
        );
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
