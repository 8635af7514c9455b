//! Train an Allegro model from a run config, test it, save it, and (optionally) run NVE
//! molecular dynamics with it: [`allegro::cli`]'s `train` command.
//!
//! ```sh
//! # our short YAML (docs/accuracy.md)
//! cargo run --release --example train -- examples/configs/xtb.yaml [--device cuda]
//! # a nequip config with Hydra overrides, as nequip-train runs it
//! cargo run --release --example train -- ../shared/reference/seed-demo.yaml \
//!     ++data.train_dataset.file_path=train.lmdb ++data.val_dataset.file_path=val.lmdb \
//!     ++data.test_dataset.0.file_path=test.lmdb trainer.max_epochs=1 hydra.run.dir=outputs/demo
//! ```
//!
//! The device is `cpu` unless the config's `device:` key or `--device` names a GPU
//! runtime this binary was built with (`--features cuda`, `hip` or `vulkan`); `--mpi`
//! (feature `mpi`) trains a nequip config data-parallel over `mpirun`'s ranks.

fn main() {
    if let Err(e) = allegro::cli::train_command(std::env::args().skip(1).collect()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
