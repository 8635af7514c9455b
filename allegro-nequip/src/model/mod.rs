//! Trained nequip models read in Rust, with no Python: the step `nequip-compile` does.
//!
//! - [`checkpoint`]: a Lightning `.ckpt` nequip-train wrote (EMA weights when it has them);
//! - [`package`]: a `.nequip.zip` from `nequip-package build`.
//!
//! Both end as an [`AllegroConfig`] and a `state_dict`, checked against the model that
//! config builds by [`parameters_from_tensors`] (every weight present with its shape, the
//! coupling coefficients and `1/r_max` equal to ours within the model dtype's rounding).
//! [`import_nequip`] does it all and says which format it found.

pub mod checkpoint;
pub mod model_config;
pub mod package;
pub mod state;

use std::collections::HashSet;
use std::path::Path;

use crate::pickle::torch_archive::{ArchiveKind, TorchArchive, archive_kind, is_zip};
use allegro_core::Backend;
use allegro_core::backend::cpu::{Cpu, CpuDevice};

use allegro_nn::AllegroConfig;
use allegro_nn::AllegroModel;
use allegro_nn::Parameters;
use allegro_nn::import::{StateDict, parameters_from_tensors};
use allegro_nn::{Error, Result};

/// A nequip model's architecture and evaluation weights, before they are checked.
#[derive(Clone, Debug)]
pub struct NequipWeights {
    /// The architecture.
    pub config: AllegroConfig,
    /// The Allegro tensors, named `model.func.<module>.<tensor>`.
    pub state_dict: StateDict,
    /// Remarks for the user (EMA used, modifiers applied, …).
    pub notes: Vec<String>,
}

/// The two files nequip writes a trained model to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NequipFormat {
    /// A Lightning training checkpoint (`best.ckpt`, `last.ckpt`).
    Checkpoint,
    /// A `.nequip.zip` package.
    Package,
}

/// A nequip model read and checked: ready to save as a model file.
#[derive(Debug)]
pub struct NequipModel<B: Backend> {
    /// The model.
    pub model: AllegroModel,
    /// Its weights (the EMA weights where nequip would evaluate those).
    pub params: Parameters<B>,
    /// Which file it came from.
    pub format: NequipFormat,
    /// Remarks for the user.
    pub notes: Vec<String>,
}

/// Which nequip format `path` holds, if either: a zip with `model/eager_model.pkl` (or
/// `model/config.yaml`) is a package, a zip with `<name>/data.pkl` a checkpoint. Judged
/// from the zip's directory alone: a damaged entry does not change the answer.
pub fn nequip_format(path: &Path) -> Option<NequipFormat> {
    if !is_zip(path) {
        return None;
    }
    archive_kind(path).ok().flatten().map(|kind| match kind {
        ArchiveKind::Package => NequipFormat::Package,
        ArchiveKind::Save => NequipFormat::Checkpoint,
    })
}

/// Reads a nequip checkpoint or package and checks its weights against the model its
/// config builds. Errors name the file.
pub fn import_nequip<B: Backend>(path: &Path, device: &B::Device) -> Result<NequipModel<B>> {
    let file_error = |message: String| Error::ModelFile {
        path: path.display().to_string(),
        message,
    };
    if !path.exists() {
        return Err(file_error("no such file".into()));
    }
    let neither =
        || file_error("neither a nequip checkpoint (.ckpt) nor a package (.nequip.zip)".into());
    let format = if path.to_string_lossy().ends_with(".nequip.zip") {
        NequipFormat::Package
    } else if !is_zip(path) {
        return Err(neither());
    } else {
        // A zip whose directory cannot be read says why (a damaged or truncated file);
        // one that reads is judged by its entry names, so that damage inside an entry is
        // reported where it is, when the entry is read.
        match archive_kind(path).map_err(file_error)? {
            Some(ArchiveKind::Package) => NequipFormat::Package,
            Some(ArchiveKind::Save) => NequipFormat::Checkpoint,
            None => return Err(neither()),
        }
    };
    let weights = match format {
        NequipFormat::Checkpoint => checkpoint::read_checkpoint(path),
        NequipFormat::Package => package::read_package(path),
    }
    .map_err(file_error)?;
    let model = AllegroModel::new(&weights.config)?;
    let params = parameters_from_tensors(&model, &weights.state_dict, device)
        .map_err(|e| file_error(e.to_string()))?;
    Ok(NequipModel {
        model,
        params,
        format,
        notes: weights.notes,
    })
}

/// The [`AllegroConfig`] of a training module's model block, following fine-tuning
/// loaders to the checkpoints or packages they name (paths as nequip reads them, from the
/// working directory).
pub fn config_of_model(
    model: &serde_json::Value,
    notes: &mut Vec<String>,
) -> std::result::Result<AllegroConfig, String> {
    let nested = |target: &str, path: &str| -> std::result::Result<serde_json::Value, String> {
        let p = Path::new(path);
        if target.ends_with("ModelFromPackage") {
            package::package_model_config(&TorchArchive::open_package(p, "model/config.yaml")?)
        } else {
            checkpoint::checkpoint_model_config(&TorchArchive::open(p)?)
        }
    };
    let block = model_config::allegro_block(model, &nested, notes)?;
    model_config::allegro_config(&block)
}

/// Names (without `model.func.`) of the weights nequip registers as `nn.Parameter`s for
/// `config`: the trainable ones (fixed Bessel roots, per-type scales and shifts are
/// buffers there).
pub fn nequip_parameters(config: &AllegroConfig) -> std::result::Result<HashSet<String>, String> {
    let model = AllegroModel::new(config).map_err(|e| e.to_string())?;
    Ok(model
        .init_parameters::<Cpu>(&CpuDevice)
        .iter()
        .filter(|(_, p)| p.trainable)
        .map(|(n, _)| n.to_string())
        .collect())
}
