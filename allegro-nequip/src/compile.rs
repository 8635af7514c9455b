//! The step `nequip-compile` does: a trained model to one portable `.allegro` file.
//!
//! The input is any of
//! - our training checkpoint (`best.ckpt` / `last.ckpt` of [`Trainer`](allegro_train::Trainer)): its
//!   config and the EMA weights when it kept an EMA (those validation scored), else the
//!   raw weights;
//! - a nequip Lightning checkpoint (`.ckpt` from nequip-train): its config and the
//!   weights nequip evaluates (EMA when present);
//! - a nequip package (`.nequip.zip` from `nequip-package build`).
//!
//! The format is told by the file's content, never by its name alone.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::model::{NequipFormat, import_nequip};
use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_nn::{AllegroConfig, AllegroModel, ModelFile, Parameters};

use allegro_train::checkpoint::{CHECKPOINT_MAGIC, Checkpoint, params_from_records};
use allegro_train::{Error, Result};

/// What a compiled model came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompileSource {
    /// An allegro-rs training checkpoint.
    Checkpoint,
    /// A nequip Lightning checkpoint.
    NequipCheckpoint,
    /// A nequip `.nequip.zip` package.
    NequipPackage,
}

impl CompileSource {
    /// A short name for messages and metadata.
    pub fn name(self) -> &'static str {
        match self {
            CompileSource::Checkpoint => "allegro-rs checkpoint",
            CompileSource::NequipCheckpoint => "nequip checkpoint",
            CompileSource::NequipPackage => "nequip package",
        }
    }
}

/// A model ready to be written, and how it was read.
#[derive(Debug)]
pub struct Compiled {
    /// The model file.
    pub file: ModelFile,
    /// What the input was.
    pub source: CompileSource,
    /// Remarks for the user (which weights were taken, …).
    pub notes: Vec<String>,
}

/// Metadata key: the input file a model was compiled from.
pub const META_COMPILED_FROM: &str = "compiled_from";
/// Metadata key: the kind of input ([`CompileSource::name`]).
pub const META_SOURCE_KIND: &str = "source_kind";

fn starts_with_magic(path: &Path) -> bool {
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && head == *CHECKPOINT_MAGIC
}

/// Our checkpoint's config and evaluation weights.
fn from_checkpoint(path: &Path) -> Result<(AllegroModel, Parameters<Cpu>, Vec<String>)> {
    let shown = path.display().to_string();
    let fail = |message: String| Error::Checkpoint {
        path: shown.clone(),
        message,
    };
    let ckpt = Checkpoint::load(path)?;
    let config_json = ckpt
        .model_config
        .as_deref()
        .ok_or_else(|| fail("holds no model config (written without one)".into()))?;
    let config: AllegroConfig =
        serde_json::from_str(config_json).map_err(|e| fail(format!("model config: {e}")))?;
    let model = AllegroModel::new(&config)?;
    let mut records = ckpt.params.clone();
    let mut notes = Vec::new();
    match &ckpt.ema {
        Some(ema) if !ema.weights.is_empty() => {
            for (name, values) in &ema.weights {
                let r = records
                    .iter_mut()
                    .find(|r| &r.name == name)
                    .ok_or_else(|| fail(format!("EMA weight `{name}` is not a parameter")))?;
                if r.values.len() != values.len() {
                    return Err(fail(format!(
                        "EMA weight `{name}` has {} values, the parameter {}",
                        values.len(),
                        r.values.len()
                    )));
                }
                r.values = values.clone();
            }
            notes.push(format!(
                "EMA weights after {} updates (those validation scored)",
                ema.num_updates
            ));
        }
        _ => notes.push("raw weights (the checkpoint kept no EMA)".into()),
    }
    let params = params_from_records::<Cpu>(&records, &CpuDevice)?;
    notes.push(format!("{} epochs trained", ckpt.epoch));
    Ok((model, params, notes))
}

/// Reads a trained model from any supported input (see the module docs).
pub fn compile(input: &Path) -> Result<Compiled> {
    let (model, params, source, notes) = if starts_with_magic(input) {
        let (m, p, n) = from_checkpoint(input)?;
        (m, p, CompileSource::Checkpoint, n)
    } else {
        let imported = import_nequip::<Cpu>(input, &CpuDevice)?;
        let source = match imported.format {
            NequipFormat::Checkpoint => CompileSource::NequipCheckpoint,
            NequipFormat::Package => CompileSource::NequipPackage,
        };
        (imported.model, imported.params, source, imported.notes)
    };
    let mut meta = BTreeMap::new();
    meta.insert(META_COMPILED_FROM.to_string(), input.display().to_string());
    meta.insert(META_SOURCE_KIND.to_string(), source.name().to_string());
    let file = ModelFile::from_model(&model, &params, meta)?;
    Ok(Compiled {
        file,
        source,
        notes,
    })
}
