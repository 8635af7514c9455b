//! # allegro-ffi
//!
//! A C ABI over [`allegro_nn::Predictor`]: open a `.allegro` model file on the CPU or a
//! GPU (features `cuda`, `hip`, `vulkan`), read its metadata (cutoffs, type names,
//! dtype, device), compute energies, forces, virial and per-atom virial, either
//! for a periodic or open cell ([`allegro_compute`]) or in LAMMPS's form, local plus
//! ghost atoms with a full neighbor list ([`allegro_compute_lammps`]). The C header is
//! `include/allegro.h`, generated from this crate by cbindgen (`cbindgen.toml`); the
//! LAMMPS pair style built on it lives in `allegro-ffi/lammps/`.
//!
//! Conventions: every entry point returns an error code ([`ALLEGRO_OK`] = 0) and, on
//! failure, leaves a message for [`allegro_last_error`]; no panic crosses into C (each
//! entry is wrapped in `catch_unwind`). Null pointers and sizes are checked where the
//! ABI can see them. Units are Å and eV; arrays are row-major `double`.
//!
//! Thread safety: a model handle may be used by one thread at a time (calls on one
//! handle must not overlap); open one handle per thread for parallel use. Different
//! handles are independent. The last-error message is per thread.

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
