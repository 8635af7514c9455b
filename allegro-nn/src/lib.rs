//! # allegro-nn
//!
//! The Allegro model (Musaelian et al. 2023) as nequip-allegro 0.8.3 computes it:
//! `docs/model.md` gives every formula, the reference fixtures pin them.
//!
//! - [`AllegroConfig`]: hyper-parameters with nequip's key names.
//! - [`AllegroModel`]: the architecture (embeddings, layers, readout, scale/shift, ZBL);
//!   weights are a separate [`Parameters`] set named as the reference's `state_dict`.
//! - [`Predictor`]: energies, forces, virial and stress of structures, by the no-tape
//!   path ([`energy_forces`]) or the tape ([`AllegroModel::outputs`], the oracle).
//! - [`import`]: reference weights from a fixture-layout JSON.

pub mod config;
pub mod edge_inputs;
pub mod embedding;
pub mod energy_forces;
pub mod error;
pub mod import;
pub mod inputs;
pub mod layer;
pub mod mlp;
pub mod model;
pub mod model_file;
pub mod nequip;
pub mod nonlinearity;
pub mod pair;
pub mod parameters;
pub mod predictor;
pub mod scale_shift;
pub mod tensor_product;
pub mod tensor_product_fused;
pub mod testing;

pub use config::AllegroConfig;
pub use embedding::{CustomRadialEmbedding, RadialChemicalEmbedding};
pub use energy_forces::EnergyForcesPlan;
pub use error::{Error, Result};
pub use inputs::ModelInputs;
pub use model::AllegroModel;
pub use model_file::ModelFile;
pub use parameters::Parameters;
pub use predictor::{AtomOutputs, Outputs, Prediction, Predictor};
/// The generator the parts' `init` methods draw from (the crates' one SplitMix64), for
/// parts written outside these crates.
pub use allegro_core::SplitMix64;
