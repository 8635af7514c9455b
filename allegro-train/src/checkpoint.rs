//! Training checkpoints: everything needed to continue a run exactly.
//!
//! File layout (little-endian):
//!
//! ```text
//! magic  b"ALGRCKPT"       8 bytes
//! version u32              CHECKPOINT_VERSION
//! length  u64              payload bytes
//! fnv1a   u64              FNV-1a 64 of the payload
//! payload                  postcard of `Checkpoint`
//! ```
//!
//! Writes are atomic: the bytes go to a temporary file in the same directory, which is
//! flushed to disk (`fsync`) and then renamed over the target, so a crash leaves either
//! the old file or the new one, never a torn one.

use std::io::Write;
use std::path::{Path, PathBuf};

use allegro_core::{Backend, DType, Tensor};
use allegro_nn::Parameters;
use serde::{Deserialize, Serialize};

use crate::early_stopping::EarlyStopping;
use crate::ema::EmaState;
use crate::error::{Error, Result, io_error};
use crate::manager::MetricValues;

/// First bytes of a checkpoint file.
pub const CHECKPOINT_MAGIC: &[u8; 8] = b"ALGRCKPT";
/// Format version written and read. Version 1 (AdamW and plateau states stored as such,
/// before optimizers and schedulers were pluggable; a 0.1 pre-release) is no longer read:
/// its files are refused with the version named.
pub const CHECKPOINT_VERSION: u32 = 2;
const HEADER_LEN: usize = 8 + 4 + 8 + 8;

/// One parameter tensor on the host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamRecord {
    /// Name (as in [`Parameters`]).
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// `"float32"` or `"float64"`.
    pub dtype: String,
    /// Whether it is trained.
    pub trainable: bool,
    /// Values, row-major, widened to `f64` (lossless).
    pub values: Vec<f64>,
}

/// The record of one finished epoch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch index, from 0.
    pub epoch: u64,
    /// Learning rate used during the epoch.
    pub lr: f64,
    /// Training loss metrics pooled over the epoch.
    pub train: MetricValues,
    /// Validation metrics (EMA weights when there is an EMA).
    pub val: MetricValues,
    /// Wall time of the epoch (s).
    pub seconds: f64,
}

/// The saved state of a pluggable part (optimizer, LR scheduler): which kind of part
/// wrote it and its own encoding of its state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateRecord {
    /// The part's kind (`Optimizer::kind`, `LrScheduler::kind`).
    pub kind: String,
    /// The part's state, as the part encoded it (postcard for the parts of this crate).
    pub bytes: Vec<u8>,
}

pub use crate::part_state::{decode_state, encode_state};

/// Everything a run needs to continue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The model's description (`TrainableModel::describe`: an `AllegroConfig` as JSON),
    /// if known.
    pub model_config: Option<String>,
    /// The raw (optimised) weights.
    pub params: Vec<ParamRecord>,
    /// Optimizer state.
    pub optimizer: StateRecord,
    /// Scheduler state.
    pub scheduler: Option<StateRecord>,
    /// EMA state.
    pub ema: Option<EmaState>,
    /// Early-stopping state.
    pub early_stopping: Option<EarlyStopping>,
    /// Random state: the shuffling seed (shuffles are a function of seed and epoch).
    pub rng: Vec<u64>,
    /// Epochs finished.
    pub epoch: u64,
    /// Optimizer steps taken.
    pub global_step: u64,
    /// One record per finished epoch.
    pub history: Vec<EpochRecord>,
    /// Best monitored validation value so far.
    pub best_metric: Option<f64>,
}

impl Checkpoint {
    /// The name of the first parameter holding a NaN or an infinity, if any: such a
    /// checkpoint is not written (it would replace a good one with weights that cannot be
    /// trained on).
    pub fn non_finite_parameter(&self) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.values.iter().any(|v| !v.is_finite()))
            .map(|p| p.name.as_str())
    }
}

/// Host records of every tensor of `params`.
pub fn params_to_records<B: Backend>(params: &Parameters<B>) -> Vec<ParamRecord> {
    params
        .iter()
        .map(|(name, p)| ParamRecord {
            name: name.to_string(),
            shape: p.tensor.shape().to_vec(),
            dtype: p.tensor.dtype().name().to_string(),
            trainable: p.trainable,
            values: p.tensor.to_vec_f64(),
        })
        .collect()
}

/// A parameter set on `device` from host records.
pub fn params_from_records<B: Backend>(
    records: &[ParamRecord],
    device: &B::Device,
) -> Result<Parameters<B>> {
    let mut p = Parameters::new();
    for r in records {
        let dtype: DType = r
            .dtype
            .parse()
            .map_err(|e| Error::State(format!("parameter `{}`: {e}", r.name)))?;
        if r.shape.iter().product::<usize>() != r.values.len() {
            return Err(Error::State(format!(
                "parameter `{}` has shape {:?} but {} values",
                r.name,
                r.shape,
                r.values.len()
            )));
        }
        p.insert(
            &r.name,
            Tensor::from_f64(&r.values, &r.shape, dtype, device)?,
            r.trainable,
        );
    }
    Ok(p)
}

/// FNV-1a, 64 bit.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl Checkpoint {
    /// The file bytes: header then postcard payload.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let payload = postcard::to_stdvec(self).map_err(|e| Error::Checkpoint {
            path: "<memory>".into(),
            message: format!("cannot encode: {e}"),
        })?;
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(CHECKPOINT_MAGIC);
        out.extend_from_slice(&CHECKPOINT_VERSION.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&fnv1a(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// Decodes file bytes; `origin` names the source in errors.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self> {
        let err = |message: String| Error::Checkpoint {
            path: origin.to_string(),
            message,
        };
        if bytes.len() < HEADER_LEN || &bytes[..8] != CHECKPOINT_MAGIC {
            return Err(err("not an allegro-rs checkpoint (bad magic header)".into()));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version != CHECKPOINT_VERSION {
            return Err(err(format!(
                "format version {version}, this build reads version {CHECKPOINT_VERSION} \
                 (version 1 came from pre-release builds: train again, or load its weights \
                 with that build and save a model file)"
            )));
        }
        let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
        let sum = u64::from_le_bytes(bytes[20..28].try_into().expect("8 bytes"));
        let payload = &bytes[HEADER_LEN..];
        if payload.len() as u64 != len {
            return Err(err(format!(
                "truncated or padded: header says {len} payload bytes, file has {}",
                payload.len()
            )));
        }
        if fnv1a(payload) != sum {
            return Err(err("checksum mismatch (file corrupted)".into()));
        }
        let decode_err = |e: postcard::Error| err(format!("cannot decode: {e}"));
        let (ckpt, rest) = postcard::take_from_bytes::<Checkpoint>(payload).map_err(decode_err)?;
        if !rest.is_empty() {
            return Err(err(format!(
                "{} trailing bytes after the payload",
                rest.len()
            )));
        }
        Ok(ckpt)
    }

    /// Writes atomically to `path` (temporary file, fsync, rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), &self.to_bytes()?)
    }

    /// Reads a checkpoint file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync,
/// rename over `path`, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, bytes, || Ok(()))
}

/// [`write_atomic`] with a hook run after the temporary file is complete and before the
/// rename; an error from the hook aborts the write (tests use it to simulate a crash).
pub(crate) fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    before_rename: impl FnOnce() -> std::io::Result<()>,
) -> Result<()> {
    let tmp = temp_path(path);
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        before_rename()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            // Persist the rename; not every platform can open a directory.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        // Said in the message: a full disk mid-run must not look like a lost checkpoint.
        let kept = if path.exists() {
            "not replaced: the previous file is intact"
        } else {
            "not written"
        };
        Error::Io {
            path: format!("{} ({kept})", path.display()),
            source: e,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{AdamWConfig, AdamWState, MomentRecord};
    use crate::schedule::ReduceLROnPlateau;
    use allegro_core::backend::cpu::{Cpu, CpuDevice};

    fn adamw_state() -> AdamWState {
        AdamWState {
            config: AdamWConfig::default(),
            step: 3,
            moments: vec![MomentRecord {
                name: "a".into(),
                exp_avg: vec![0.1, 0.2],
                exp_avg_sq: vec![0.3, 0.4],
                max_exp_avg_sq: None,
            }],
        }
    }

    fn sample(epoch: u64) -> Checkpoint {
        let mut p = Parameters::<Cpu>::new();
        p.insert(
            "a",
            Tensor::from_f64(&[1.5, -0.1], &[2], DType::F32, &CpuDevice).unwrap(),
            true,
        );
        p.insert(
            "b",
            Tensor::from_f64(&[0.1, 0.2, 0.3, 1e-300], &[2, 2], DType::F64, &CpuDevice).unwrap(),
            false,
        );
        Checkpoint {
            model_config: Some("{}".into()),
            params: params_to_records(&p),
            optimizer: StateRecord {
                kind: crate::optim::adamw::KIND.into(),
                bytes: encode_state("optimizer", &adamw_state()).unwrap(),
            },
            scheduler: Some(StateRecord {
                kind: crate::schedule::plateau::KIND.into(),
                bytes: encode_state(
                    "scheduler",
                    &ReduceLROnPlateau::new(Default::default()).unwrap(),
                )
                .unwrap(),
            }),
            ema: Some(EmaState {
                decay: 0.999,
                num_updates: 4,
                weights: vec![("a".into(), vec![1.0, 2.0])],
            }),
            early_stopping: None,
            rng: vec![901],
            epoch,
            global_step: 3 * epoch,
            history: vec![EpochRecord {
                epoch: 0,
                lr: 0.002,
                train: MetricValues {
                    values: vec![("weighted_sum".into(), 0.5)],
                },
                val: MetricValues::default(),
                seconds: 1.0,
            }],
            best_metric: Some(0.25),
        }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("allegro-train-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn round_trip_and_parameters() {
        let dir = temp_dir("ckpt-rt");
        let path = dir.join("last.ckpt");
        let c = sample(2);
        c.save(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap();
        assert_eq!(back, c);
        let p: Parameters<Cpu> = params_from_records(&back.params, &CpuDevice).unwrap();
        assert_eq!(p.get("a").dtype(), DType::F32);
        assert_eq!(p.get("a").to_vec_f64(), vec![1.5f32 as f64, -0.1f32 as f64]);
        assert_eq!(p.get("b").shape(), &[2, 2]);
        assert!(!p.entry("b").unwrap().trainable);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A version-1 file (a pre-release layout) is refused, naming the versions.
    #[test]
    fn version_one_files_are_refused_by_version() {
        let mut bytes = sample(2).to_bytes().unwrap();
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        let e = Checkpoint::from_bytes(&bytes, "old.ckpt")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("old.ckpt") && e.contains("format version 1"),
            "{e}"
        );
    }

    #[test]
    fn interrupted_write_keeps_the_old_file() {
        let dir = temp_dir("ckpt-crash");
        let path = dir.join("last.ckpt");
        sample(1).save(&path).unwrap();
        let new = sample(2).to_bytes().unwrap();
        let crash = || Err(std::io::Error::other("simulated crash before rename"));
        let err = write_atomic_with(&path, &new, crash)
            .unwrap_err()
            .to_string();
        assert!(err.contains("simulated crash"), "{err}");
        assert_eq!(Checkpoint::load(&path).unwrap().epoch, 1);
        // A torn temporary file left by a real crash does not matter either.
        std::fs::write(temp_path(&path), &new[..new.len() / 2]).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap().epoch, 1);
        sample(3).save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap().epoch, 3);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A full disk (ENOSPC from the kernel: the temporary file is a link to `/dev/full`)
    /// leaves the previous checkpoint as it was, no temporary file, and says so.
    #[cfg(target_os = "linux")]
    #[test]
    fn full_disk_keeps_the_old_file() {
        let dir = temp_dir("ckpt-full");
        let path = dir.join("last.ckpt");
        sample(1).save(&path).unwrap();
        std::os::unix::fs::symlink("/dev/full", temp_path(&path)).unwrap();
        let err = sample(2).save(&path).unwrap_err().to_string();
        assert!(
            err.contains("last.ckpt")
                && err.contains("previous file is intact")
                && err.contains("No space left"),
            "{err}"
        );
        assert_eq!(Checkpoint::load(&path).unwrap().epoch, 1);
        assert!(!temp_path(&path).exists(), "the temporary link is removed");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let bytes = sample(1).to_bytes().unwrap();
        let msg = |b: &[u8]| Checkpoint::from_bytes(b, "x.ckpt").unwrap_err().to_string();
        assert!(msg(b"hello").contains("bad magic"));
        assert!(msg(&bytes[..bytes.len() - 3]).contains("truncated"));
        let mut v = bytes.clone();
        v[8] = 9;
        assert!(msg(&v).contains("version 9"));
        let mut v = bytes.clone();
        let last = v.len() - 1;
        v[last] ^= 1;
        assert!(msg(&v).contains("checksum"));
        let e = Checkpoint::load("/nonexistent/dir/x.ckpt")
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/dir/x.ckpt"), "{e}");
    }
}
