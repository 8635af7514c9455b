//! The `train` command: one entry point for both languages a run can be written in.
//!
//! - our short YAML (`examples/configs/*.yaml`: `data`, `model`, `max_epochs`, …), a
//!   documented shorthand that [`crate::train::run`] maps into the run's structures;
//! - a nequip config (the seed's `configs/demo.yaml`: a Hydra config with a top-level
//!   `training_module`), with Hydra-style overrides, run as `nequip-train -cn` runs it
//!   ([`crate::nequip::train`]), also data-parallel over MPI ranks (`--mpi`).
//!
//! ```text
//! train [CONFIG.yaml] [--device cpu|cuda[:N]|hip[:N]|vulkan] [--mpi] [OVERRIDE ...]
//! ```
//!
//! `examples/train.rs` is this command; `examples/nequip.rs` is the same command under
//! the name the nequip how-to uses.

mod device;
#[cfg(feature = "host-profile")]
mod host_profile;
mod nequip_run;
mod short_run;

use std::path::{Path, PathBuf};

pub use device::split_device;

/// The config a run is read from when the command names none.
pub const DEFAULT_CONFIG: &str = "examples/configs/xtb.yaml";

/// The language of a run config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigKind {
    /// Our short YAML ([`crate::train::run::RunConfig`]).
    Short,
    /// A nequip (Hydra) config ([`crate::nequip::config::NequipRunConfig`]).
    Nequip,
}

/// Which language the YAML file at `path` is written in: a nequip config has a
/// top-level `training_module` (nequip-train needs one); anything else is ours.
pub fn config_kind(path: &Path) -> Result<ConfigKind, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let top: serde_json::Value =
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: not YAML: {e}", path.display()))?;
    Ok(match top.get("training_module") {
        Some(_) => ConfigKind::Nequip,
        None => ConfigKind::Short,
    })
}

/// The `train` command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrainArgs {
    /// The run config.
    pub config: PathBuf,
    /// `--device` (the config's own `device:` key, else the CPU, when absent).
    pub device: Option<String>,
    /// `--mpi`: data-parallel over the ranks of `mpirun` (nequip configs).
    pub mpi: bool,
    /// Hydra-style overrides (`a.b=v`, `++a.b=v`, `~a`; nequip configs).
    pub overrides: Vec<String>,
}

impl TrainArgs {
    /// Parses the arguments after the program name: flags anywhere, then the config
    /// (else [`DEFAULT_CONFIG`]) and its overrides in order.
    pub fn parse(mut args: Vec<String>) -> Result<Self, String> {
        let mut device = None;
        if let Some(k) = args.iter().position(|a| a == "--device") {
            if k + 1 >= args.len() {
                return Err("--device needs a value: cpu, cuda[:N], hip[:N] or vulkan".into());
            }
            device = Some(args.remove(k + 1));
            args.remove(k);
        }
        let mpi = match args.iter().position(|a| a == "--mpi") {
            Some(k) => {
                args.remove(k);
                true
            }
            None => false,
        };
        if let Some(flag) = args.iter().find(|a| a.starts_with("--")) {
            return Err(format!(
                "unknown option {flag} (train [CONFIG.yaml] [--device D] [--mpi] [OVERRIDE ...])"
            ));
        }
        let mut rest = args.into_iter();
        let config = rest.next().unwrap_or_else(|| DEFAULT_CONFIG.to_string());
        Ok(TrainArgs {
            config: PathBuf::from(config),
            device,
            mpi,
            overrides: rest.collect(),
        })
    }
}

/// Runs the `train` command on `args` (without the program name).
pub fn train_command(args: Vec<String>) -> Result<(), String> {
    let args = TrainArgs::parse(args)?;
    // A training program owns its process: keep the CPU backend's freed buffers in the
    // heap ([`crate::core::backend::cpu::keep_freed_buffers`]).
    crate::core::backend::cpu::keep_freed_buffers();
    #[cfg(feature = "host-profile")]
    let profile = host_profile::HostProfile::from_env()?;
    let result = run_config(&args);
    #[cfg(feature = "host-profile")]
    if let Some(profile) = profile {
        profile.finish()?;
    }
    result
}

/// Runs the config in the language it is written in.
fn run_config(args: &TrainArgs) -> Result<(), String> {
    match config_kind(&args.config)? {
        ConfigKind::Nequip => nequip_run::run(args),
        ConfigKind::Short if !args.overrides.is_empty() || args.mpi => Err(format!(
            "{}: overrides and --mpi are for nequip configs (a top-level `training_module`); \
             edit the short YAML instead",
            args.config.display()
        )),
        ConfigKind::Short => short_run::run(&args.config, args.device.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_in_any_order() {
        let a = TrainArgs::parse(
            ["demo.yaml", "--device", "cuda:1", "a.b=2", "--mpi", "++c=3"]
                .map(String::from)
                .to_vec(),
        )
        .unwrap();
        assert_eq!(a.config, PathBuf::from("demo.yaml"));
        assert_eq!(a.device.as_deref(), Some("cuda:1"));
        assert!(a.mpi);
        assert_eq!(a.overrides, ["a.b=2", "++c=3"]);
        let none = TrainArgs::parse(Vec::new()).unwrap();
        assert_eq!(none.config, PathBuf::from(DEFAULT_CONFIG));
        assert!(TrainArgs::parse(vec!["--device".into()]).is_err());
        assert!(TrainArgs::parse(vec!["x.yaml".into(), "--epochs".into()]).is_err());
    }

    #[test]
    fn config_kinds() {
        let dir = std::env::temp_dir().join(format!("cli-kinds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let nequip = dir.join("demo.yaml");
        std::fs::write(&nequip, "run: [train]\ntraining_module:\n  _target_: x\n").unwrap();
        let short = dir.join("short.yaml");
        std::fs::write(&short, "run_name: a\ndata: {train_file: x.xyz}\n").unwrap();
        assert_eq!(config_kind(&nequip).unwrap(), ConfigKind::Nequip);
        assert_eq!(config_kind(&short).unwrap(), ConfigKind::Short);
        let err = config_kind(&dir.join("missing.yaml")).unwrap_err();
        assert!(err.contains("missing.yaml"), "{err}");
        let err = train_command(vec![short.display().to_string(), "a=1".into()]).unwrap_err();
        assert!(err.contains("nequip configs"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
