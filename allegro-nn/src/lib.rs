//! # allegro-nn
//!
//! The Allegro model (Musaelian et al. 2023) as nequip-allegro 0.8.3 computes it, on any
//! [`Backend`](allegro_core::Backend): `docs/model.md` gives every formula, the reference
//! fixtures pin them. Parameter names are nequip's `state_dict` names, so reference and
//! trained nequip weights load as they are.
//!
//! ## Types you meet first
//!
//! - [`AllegroConfig`]: hyper-parameters with nequip's key names and defaults.
//! - [`AllegroModel`]: the architecture (embeddings, layers, readout, scale/shift, ZBL)
//!   without weights; those are a [`Parameters`] set, so one model runs with trained,
//!   EMA or tracked weights.
//! - [`Predictor`]: a model with its weights on a device; [`Predictor::predict`] gives
//!   the [`Prediction`] (energies, forces, virial, stress) of an
//!   [`AtomicGraph`](allegro_data::AtomicGraph).
//! - [`ModelFile`]: the portable `.allegro` file (config, type names, cutoffs, every
//!   tensor bit-exact), which [`ModelFile::into_predictor`] and the C ABI load.
//! - [`DevicePredictor`]: a model file opened on a device named at run time by a
//!   [`DeviceSpec`] string (`cpu`, `cuda:N`, `hip:N`, `vulkan`), as the C ABI and the
//!   Python package open models.
//!
//! ## How the pieces fit
//!
//! [`AllegroModel::new`] builds the parts of a config in nequip's order: [`embedding`]
//! (radial-chemical scalars, spherical-harmonic tensors) → [`layer`]s (environment sum,
//! [`tensor_product`], latent [`mlp`]) → readout → [`scale_shift`] → optional [`pair`]
//! potential. [`AllegroModel::init_parameters`] draws seeded weights; [`import`] reads
//! existing ones by their `state_dict` names (reference fixtures here; nequip's own
//! checkpoints and packages through the crate `allegro-nequip`). A batch
//! enters as [`ModelInputs`]; two paths compute [`Outputs`]: the tape
//! ([`AllegroModel::outputs`]: differentiable with `create_graph`, for training, and the
//! oracle) and the no-tape inference path ([`energy_forces`], [`EnergyForcesPlan`]) on
//! fused kernels, which [`Predictor`] takes unless [`Predictor::with_tape`] says otherwise.
//! Parts of your own — a radial embedding ([`CustomRadialEmbedding`]), a tensor product
//! ([`tensor_product_custom::CustomTensorProduct`]) — plug in through
//! [`AllegroModel::with_parts`]; model files record their names, and a program that
//! [`registry`]-registers them loads such files anywhere (the C ABI, the Python
//! package), while one that has not is refused by the part's name. [`testing`] has
//! nequip's physics battery (rotation, translation, locality, finite differences) for
//! any model.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use allegro_core::backend::cpu::{Cpu, CpuDevice};
//! use allegro_data::extxyz::{ReadOptions, read_extxyz};
//! use allegro_data::{AtomicGraph, NeighborOptions, TypeMapper};
//! use allegro_nn::{AllegroConfig, AllegroModel, ModelFile, Predictor};
//!
//! let config = AllegroConfig::from_json(
//!     r#"{"type_names": ["H", "O"], "r_max": 4.0, "l_max": 2,
//!         "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed"}}"#,
//! )?;
//! let model = AllegroModel::new(&config)?; // the architecture, no weights
//! let params = model.init_parameters::<Cpu>(&CpuDevice); // seeded by `config.seed`
//! ModelFile::from_model(&model, &params, Default::default())?.save("water.allegro")?;
//!
//! let predictor = Predictor::new(model, &params, CpuDevice);
//! let mapper = TypeMapper::new(&config.type_names)?;
//! let options = NeighborOptions::new(config.r_max);
//! let graphs = read_extxyz("water.xyz", &ReadOptions::default())?
//!     .iter()
//!     .map(|s| AtomicGraph::from_structure(s, &mapper, &options))
//!     .collect::<Result<Vec<_>, _>>()?;
//! let p = predictor.predict(&AtomicGraph::batch(&graphs))?; // every frame in one pass
//! println!("E = {:?} eV, F[0] = {:?} eV/Å", p.total_energy, p.forces[0]);
//! # Ok(()) }
//! ```

pub mod atom_types_cache;
pub(crate) mod backend_erasure;
pub mod config;
pub mod device;
pub mod edge_inputs;
pub mod embedding;
pub mod energy_forces;
pub mod energy_model;
pub mod error;
pub mod forces;
#[cfg(feature = "gpu")]
pub mod gpu_neighbors;
pub mod import;
pub mod inputs;
pub mod layer;
pub mod mlp;
pub mod model;
pub mod model_file;
pub mod model_parts;
pub mod nonlinearity;
pub mod pair;
pub mod parameters;
pub mod predictor;
pub mod registry;
pub mod scale_shift;
pub mod tensor_product;
pub mod tensor_product_custom;
pub mod tensor_product_fused;
pub mod testing;
pub mod trainable;

/// The generator the parts' `init` methods draw from (the crates' one SplitMix64), for
/// parts written outside these crates.
pub use allegro_core::SplitMix64;
pub use config::AllegroConfig;
pub use device::{DevicePredictor, DeviceSpec, DeviceSpecError};
pub use embedding::{CustomRadialEmbedding, RadialChemicalEmbedding};
pub use energy_forces::EnergyForcesPlan;
pub use energy_model::EnergyModel;
pub use error::{Error, Result};
pub use forces::Outputs;
pub use inputs::ModelInputs;
pub use model::AllegroModel;
pub use model_file::ModelFile;
pub use model_parts::ModelParts;
pub use parameters::Parameters;
pub use predictor::{AtomOutputs, Prediction, Predictor};
pub use trainable::TrainableModel;
