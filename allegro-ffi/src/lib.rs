//! # allegro-ffi
//!
//! A C ABI over [`allegro_nn::Predictor`]: open a `.allegro` model file, read its
//! metadata, compute energies, forces and virial. Every entry point returns an error
//! code (`ALLEGRO_OK` = 0) and leaves a message for [`allegro_last_error`]; no panic
//! crosses into C (each entry is wrapped in `catch_unwind`). A model handle may be used
//! by one thread at a time.
//!
//! Status: the periodic/open entry point `allegro_compute`; the LAMMPS form (local +
//! ghost atoms with a full neighbor list), the generated header and the plugin follow.

mod compute;
mod error;
mod lammps;
mod model;

pub use compute::allegro_compute;
pub use error::{
    ALLEGRO_ERR_COMPUTE, ALLEGRO_ERR_INVALID, ALLEGRO_ERR_MODEL_FILE, ALLEGRO_ERR_NULL,
    ALLEGRO_ERR_PANIC, ALLEGRO_OK, allegro_last_error,
};
pub use lammps::allegro_compute_lammps;
pub use model::{
    AllegroModel, allegro_model_free, allegro_model_num_types, allegro_model_open,
    allegro_model_r_max, allegro_model_type_name,
};
