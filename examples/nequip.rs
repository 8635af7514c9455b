//! A nequip config's run (the seed's `configs/demo.yaml`), with Hydra-style overrides,
//! as `nequip-train -cn demo.yaml ...` runs it: the `train` command ([`allegro::cli`])
//! under the name the nequip how-to uses; `examples/train.rs` takes the same arguments.
//!
//! ```sh
//! cargo run --release --example nequip -- ../shared/reference/seed-demo.yaml \
//!     ++data.train_dataset.file_path=train.lmdb ++data.val_dataset.file_path=val.lmdb \
//!     ++data.test_dataset.0.file_path=test.lmdb hydra.run.dir=outputs/demo
//! cargo run --release --example nequip -- demo.yaml 'run=[val,test]' \
//!     ++ckpt_path=outputs/demo/best.ckpt ...
//! ```
//!
//! Data-parallel over MPI ranks (built with `--features mpi`): `mpirun -np N nequip
//! demo.yaml --mpi ...`, `batch_size` per rank; rank 0 writes the run directory. With
//! `--device cuda` each rank takes the GPU of its rank within the node; `cuda:N` names
//! one.

fn main() {
    if let Err(e) = allegro::cli::train_command(std::env::args().skip(1).collect()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
