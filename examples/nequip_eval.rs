//! `run: [val, test]` of a nequip config (the seed's `configs/demo.yaml` style), with
//! Hydra-style overrides, on the CPU:
//!
//! ```sh
//! cargo run --release --example nequip_eval -- ../shared/reference/seed-demo.yaml \
//!     'run=[val,test]' ++ckpt_path=best.ckpt ++data.val_dataset.file_path=val.lmdb ...
//! ```
//!
//! Prints one JSON line per dataset and writes `{run_dir}/eval_metrics.csv`. A `train`
//! step is refused with a message (training from nequip configs is not wired yet).

use allegro::train::nequip_config::NequipRunConfig;
use allegro::train::nequip_eval::evaluate_checkpoint;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((config, overrides)) = args.split_first() else {
        eprintln!("usage: nequip_eval CONFIG.yaml [OVERRIDE ...]");
        std::process::exit(2);
    };
    let run = || -> Result<(), String> {
        let (config, warnings) =
            NequipRunConfig::from_file(config, overrides).map_err(|e| e.to_string())?;
        for w in &warnings {
            eprintln!("warning: `{}`: {}", w.key, w.message);
        }
        for r in evaluate_checkpoint(&config).map_err(|e| e.to_string())? {
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
