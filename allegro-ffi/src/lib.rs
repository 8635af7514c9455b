//! # allegro-ffi
//!
//! A C ABI over [`allegro_nn::Predictor`], for C and C++ programs and MD engines: open a
//! `.allegro` model file ([`allegro_nn::ModelFile`]) on the CPU or a GPU (features `cuda`,
//! `hip`, `vulkan`), read its metadata, compute energies, forces, virial and per-atom
//! virial. Rust code should call `allegro-nn` directly. The C header is
//! `include/allegro.h`, generated from this crate by cbindgen (`cbindgen.toml`;
//! `tests/header.rs` fails when the checked-in header drifts).
//!
//! ## Entry points
//!
//! - A model handle, [`AllegroModel`] (opaque to C): [`allegro_model_open`] on the CPU,
//!   [`allegro_model_open_device`] on `"cpu"`, `"cuda:N"`, `"hip:N"` or `"vulkan"`;
//!   [`allegro_model_free`] releases it.
//! - Metadata: [`allegro_model_r_max`], [`allegro_model_cutoff`] (per edge type),
//!   [`allegro_model_num_types`], [`allegro_model_type_name`],
//!   [`allegro_model_type_index`], [`allegro_model_dtype`], [`allegro_model_device`].
//! - Compute: [`allegro_compute`] for a periodic or open cell (the neighbor list is built
//!   inside), or [`allegro_compute_lammps`] in LAMMPS's form, local plus ghost atoms with
//!   a full neighbor list; [`allegro_model_set_max_edges_per_pass`] bounds the memory of
//!   one evaluation.
//! - [`ALLEGRO_ABI_VERSION`] and [`allegro_abi_version`], so a program can refuse a
//!   library built for another header.
//!
//! The LAMMPS pair style built on it (`pair_style allegro`, a plugin a stock LAMMPS loads
//! at run time) lives in `allegro-ffi/lammps/`; [`lammps_data`] writes a structure as a
//! LAMMPS data file to run it on.
//!
//! Conventions: every entry point returns an error code ([`ALLEGRO_OK`] = 0) and, on
//! failure, leaves a message for [`allegro_last_error`]; no panic crosses into C (each
//! entry is wrapped in `catch_unwind`). Null pointers and sizes are checked where the
//! ABI can see them. Units are Å and eV; arrays are row-major `double`.
//!
//! Thread safety: a model handle may be used by one thread at a time (calls on one
//! handle must not overlap); open one handle per thread for parallel use. Different
//! handles are independent. The last-error message is per thread.
//!
//! A water molecule from C (`examples/cpp/predict.cpp` is a complete program):
//!
//! ```c
//! AllegroModel *model = NULL;
//! if (allegro_model_open("water.allegro", &model) != ALLEGRO_OK) {
//!     fprintf(stderr, "allegro: %s\n", allegro_last_error());
//!     return 1;
//! }
//! int32_t types[3];  /* model type indices of O, H, H */
//! allegro_model_type_index(model, "O", &types[0]);
//! allegro_model_type_index(model, "H", &types[1]);
//! types[2] = types[1];
//! double pos[9] = {0, 0, 0, 0.96, 0, 0, -0.24, 0.93, 0}, energy, forces[9];
//! allegro_compute(model, 3, types, pos, NULL, NULL, &energy, NULL, forces, NULL);
//! allegro_model_free(model);
//! ```

mod compute;
mod device;
mod error;
mod lammps;
pub mod lammps_data;
mod metadata;
mod model;

pub use compute::allegro_compute;
pub use error::{
    ALLEGRO_ERR_COMPUTE, ALLEGRO_ERR_DEVICE, ALLEGRO_ERR_INVALID, ALLEGRO_ERR_MODEL_FILE,
    ALLEGRO_ERR_NULL, ALLEGRO_ERR_PANIC, ALLEGRO_OK, allegro_last_error,
};
pub use lammps::allegro_compute_lammps;
pub use metadata::{
    ALLEGRO_DTYPE_FLOAT32, ALLEGRO_DTYPE_FLOAT64, allegro_model_cutoff, allegro_model_device,
    allegro_model_dtype, allegro_model_num_types, allegro_model_r_max, allegro_model_type_index,
    allegro_model_type_name,
};
pub use model::{
    AllegroModel, allegro_model_free, allegro_model_open, allegro_model_open_device,
    allegro_model_set_max_edges_per_pass,
};

/// Version of this C ABI. It changes whenever a signature or a meaning changes, so a
/// program built against one header can refuse a library of another
/// (`allegro_abi_version`).
///
/// 2: `allegro_model_open_device`, `allegro_model_device`, and the `atom_virial` output
/// of `allegro_compute_lammps`. 3: `allegro_model_set_max_edges_per_pass`.
pub const ALLEGRO_ABI_VERSION: i32 = 3;

/// The ABI version of the loaded library; compare with the header's
/// `ALLEGRO_ABI_VERSION`.
#[unsafe(no_mangle)]
pub extern "C" fn allegro_abi_version() -> i32 {
    ALLEGRO_ABI_VERSION
}
