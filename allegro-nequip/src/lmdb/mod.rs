//! nequip's LMDB datasets (`NequIPLMDBDataset`), read natively.
//!
//! Layout (nequip 0.19): one LMDB environment, a file (`subdir=False`) or a directory;
//! keys `b"0"`, `b"1"`, … hold `pickle.dumps(dict)` of torch tensors (`pos` `[n,3]`,
//! `cell` `[1,3,3]`, `pbc` `[1,3]`, `atomic_numbers` `[n]`, and labels such as
//! `total_energy` `[1,1]`, `forces` `[n,3]`, `stress` `[1,3,3]`); `b"__metadata__"` holds
//! the frame count.
//! Keys the reader does not know are ignored. Values are read by the pickle subset of
//! [`crate::pickle`]: nothing in a file is executed. Pages are read by
//! the file reader of `read.rs`, which checks each one (LMDB's own reader maps the file, so a
//! truncated copy would fault with SIGBUS).
//!
//! [`NequipLmdbWriter`] / [`write_nequip_lmdb`] write the same layout.

mod read;
pub mod source;
mod write;

use std::path::{Path, PathBuf};

use allegro_data::error::{Error, Origin, Result};
use allegro_data::species::{Species, chemical_symbol};
use allegro_data::structure::{Labels, Mat3, Structure};

use crate::pickle::{self, Value, torch};
use read::{LmdbFile, key_name};

pub use source::LmdbGraphs;
pub use write::{
    FloatDtype, LmdbWriteOptions, NequipLmdbWriter, encode_frame, encode_frame_with_storage_keys,
    encode_metadata, write_nequip_lmdb,
};

/// A nequip LMDB dataset opened read-only. Entries are read through
/// the checked path of `read.rs`, so a truncated or damaged file is an error naming
/// it, never a signal; the file size is checked against its header when it is opened.
pub struct NequipLmdb {
    path: PathBuf,
    file: LmdbFile,
    len: usize,
}

impl std::fmt::Debug for NequipLmdb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NequipLmdb({}, {} frames)",
            self.path.display(),
            self.len
        )
    }
}

fn lmdb_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Lmdb {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

impl NequipLmdb {
    /// Opens the dataset at `path` (an LMDB file, or a directory holding `data.mdb`).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Err(lmdb_error(&path, "no such file or directory"));
        }
        let file = LmdbFile::open(&path)?;
        let mut lmdb = NequipLmdb { path, file, len: 0 };
        lmdb.len = lmdb.count_frames()?;
        Ok(lmdb)
    }

    /// The frame count: `__metadata__`'s `num_frames` when present, else the number of
    /// consecutive integer keys from 0. Either is at most the file's entry count.
    fn count_frames(&self) -> Result<usize> {
        let entries = self.file.entries();
        if let Some(raw) = self.raw_key(b"__metadata__")? {
            let (meta, _) = pickle::load(&raw)
                .map_err(|e| lmdb_error(&self.path, format!("entry `__metadata__`: {e}")))?;
            if let Some(n) = meta.get("num_frames").and_then(Value::as_int) {
                return usize::try_from(n)
                    .ok()
                    .filter(|&n| (n as u64) < entries)
                    .ok_or_else(|| {
                        lmdb_error(
                            &self.path,
                            format!(
                                "entry `__metadata__`: num_frames = {n}, but the file holds \
                                 {entries} entries in all"
                            ),
                        )
                    });
            }
        }
        let mut n = 0;
        while (n as u64) < entries && self.raw_key(n.to_string().as_bytes())?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    fn raw_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.file.get(key)
    }

    /// The stored bytes of entry `key` (`b"0"`, …, `b"__metadata__"`), as written: a
    /// pickle. `None` when there is no such entry.
    pub fn raw_value(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.raw_key(key)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no frames.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Frame `index` as a structure with its labels (energy, forces, stress when present).
    pub fn structure(&self, index: usize) -> Result<Structure> {
        let origin = Origin {
            source: self.path.display().to_string(),
            frame: index,
            line: 0,
        };
        if index >= self.len {
            return Err(Error::InvalidStructure {
                origin: origin.to_string(),
                message: format!("frame {index} of {}", self.len),
            });
        }
        let key = index.to_string();
        let raw = self
            .raw_key(key.as_bytes())?
            .ok_or_else(|| Error::InvalidStructure {
                origin: origin.to_string(),
                message: format!("entry {} is missing", key_name(key.as_bytes())),
            })?;
        decode_frame(&raw, origin)
    }

    /// Every frame, in order.
    pub fn structures(&self) -> Result<Vec<Structure>> {
        (0..self.len).map(|i| self.structure(i)).collect()
    }
}

/// Decodes one frame entry of a nequip LMDB (the pickled dict of tensors nequip writes
/// under `b"0"`, `b"1"`, …) into a structure whose origin is `origin`. Errors name the
/// origin (file and frame) and the entry, the field or the byte where decoding failed.
pub fn decode_frame(raw: &[u8], origin: Origin) -> Result<Structure> {
    let bad = |message: String| Error::InvalidStructure {
        origin: origin.to_string(),
        message: format!("entry `{}`: {message}", origin.frame),
    };
    let (value, _) = pickle::load(raw).map_err(bad)?;
    let field = |name: &str| -> Result<Option<torch::Tensor>> {
        value
            .get(name)
            .map(|v| torch::tensor(v).map_err(|e| bad(format!("`{name}`: {e}"))))
            .transpose()
    };
    let need = |name: &str| -> Result<torch::Tensor> {
        field(name)?.ok_or_else(|| bad(format!("no `{name}`")))
    };
    let pos = need("pos")?;
    let n = pos.numel() / 3;
    if pos.numel() != 3 * n || pos.shape.last() != Some(&3) {
        return Err(bad(format!("`pos` has shape {:?}, not [n, 3]", pos.shape)));
    }
    let z = need("atomic_numbers")?;
    if z.numel() != n {
        return Err(bad(format!("{} atomic numbers for {n} atoms", z.numel())));
    }
    let species = z
        .values
        .iter()
        .map(|&z| {
            u8::try_from(z as i64)
                .ok()
                .and_then(chemical_symbol)
                .and_then(Species::new)
                .ok_or_else(|| bad(format!("atomic number {z} is not an element")))
        })
        .collect::<Result<Vec<_>>>()?;
    let triples = |t: &torch::Tensor| -> Vec<[f64; 3]> {
        t.values.chunks(3).map(|c| [c[0], c[1], c[2]]).collect()
    };
    let mat3 = |t: &torch::Tensor, name: &str| -> Result<Mat3> {
        if t.numel() != 9 {
            return Err(bad(format!("`{name}` has shape {:?}, not 3 × 3", t.shape)));
        }
        Ok(std::array::from_fn(|a| {
            std::array::from_fn(|b| t.values[3 * a + b])
        }))
    };
    let pbc = match field("pbc")? {
        Some(p) if p.numel() == 3 => [p.values[0] != 0.0, p.values[1] != 0.0, p.values[2] != 0.0],
        Some(p) => return Err(bad(format!("`pbc` has shape {:?}, not 3", p.shape))),
        None => [false; 3],
    };
    let cell = match field("cell")? {
        Some(c) => {
            let m = mat3(&c, "cell")?;
            // nequip stores a zero cell for molecules.
            (m.iter().flatten().any(|&x| x != 0.0)).then_some(m)
        }
        None => None,
    };
    let mut structure = Structure::new(species, triples(&pos), cell, pbc);
    let mut labels = Labels::default();
    if let Some(e) = field("total_energy")? {
        if e.numel() != 1 {
            return Err(bad(format!("`total_energy` has shape {:?}", e.shape)));
        }
        labels.energy = Some(e.values[0]);
    }
    if let Some(f) = field("forces")? {
        if f.numel() != 3 * n {
            return Err(bad(format!(
                "`forces` has shape {:?} for {n} atoms",
                f.shape
            )));
        }
        labels.forces = Some(triples(&f));
    }
    if let Some(s) = field("stress")? {
        labels.stress = Some(mat3(&s, "stress")?);
    }
    if let Some(v) = field("virial")? {
        labels.virial = Some(mat3(&v, "virial")?);
    }
    structure.labels = labels;
    structure.origin = Some(origin);
    Ok(structure)
}

/// Whether `path` is an LMDB dataset rather than a text file: a directory holding
/// `data.mdb`, or a file named `*.lmdb` / `*.mdb`.
pub fn is_lmdb(path: &Path) -> bool {
    if path.is_dir() {
        return path.join("data.mdb").exists();
    }
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("lmdb") | Some("mdb")
    )
}

/// Every structure of a dataset file, extxyz or nequip LMDB (by [`is_lmdb`]).
pub fn read_structures(
    path: impl AsRef<Path>,
    options: &allegro_data::extxyz::ReadOptions,
) -> Result<Vec<Structure>> {
    let path = path.as_ref();
    if is_lmdb(path) {
        NequipLmdb::open(path)?.structures()
    } else {
        allegro_data::extxyz::read_extxyz(path, options)
    }
}
