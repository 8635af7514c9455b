//! nequip's LMDB datasets, written natively: the mirror of [`crate::lmdb`]'s reader.
//!
//! What nequip 0.19's `NequIPLMDBDataset.save_from_iterator` writes, and so what is
//! written here: one LMDB file (`subdir=False`); under `b"0"`, `b"1"`, … the
//! `pickle.dumps(dict, protocol=5)` of each frame's tensors, in the order nequip's
//! `from_ase` builds them: `pos` `[n,3]`, `cell` `[1,3,3]` (zeros when there is none, as
//! ASE has it), `pbc` `[1,3]` bool, `atomic_numbers` `[n]` int64, then the labels
//! present: `total_energy` `[1,1]`, `forces` `[n,3]`, `stress` `[1,3,3]`, `virial`
//! `[1,3,3]` (the order of nequip's own files made from `total_energy=` extxyz; nequip
//! follows the order of the ASE frame's fields, which varies by file, and no loader
//! depends on it). Per-atom energies and other extxyz columns or comment keys are not
//! written. Under `b"__metadata__"`, the pickled dict `{'num_atoms_per_entry': int64
//! array, 'num_edges_per_entry': object array of None, 'num_frames': n}` (numpy arrays,
//! as nequip's `np.asarray` of its lists makes them). Pickles are written the way
//! CPython writes them ([`crate::pickle::writer`]), so an entry equals nequip's byte for
//! byte except for the storage keys inside each tensor, which torch takes from memory
//! addresses (see [`encode_frame_with_storage_keys`]).
//!
//! Floating-point tensors are float64 by default: nequip's data dtype (`_GLOBAL_DTYPE`),
//! which a nequip run sets as torch's default before `from_ase` converts a frame, and
//! the precision of extxyz text. [`FloatDtype::F32`] writes what `from_ase` gives under
//! torch's own default dtype (the files in `shared/data/nequip-lmdb` were made so).
//!
//! The file is built under a temporary name beside the destination and renamed into
//! place when complete, so a reader never sees half a dataset and a failed conversion
//! leaves no file behind.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions, MdbError};

use crate::pickle::writer::{self, Elements, Object};
use allegro_data::error::{Error, Origin, Result, describe};
use allegro_data::structure::{Mat3, Structure};

/// The dtype of the floating-point tensors of a written frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FloatDtype {
    /// `torch.float32`, torch's default dtype.
    F32,
    /// `torch.float64`, nequip's data dtype: values are stored exactly.
    #[default]
    F64,
}

/// How [`NequipLmdbWriter`] writes.
#[derive(Clone, Debug)]
pub struct LmdbWriteOptions {
    /// The dtype of positions, cell and labels (atomic numbers are int64, pbc bool).
    pub float_dtype: FloatDtype,
    /// Frames per LMDB transaction (nequip's `write_frequency`, 1000); the frames of one
    /// transaction are held in memory until it commits.
    pub frames_per_commit: usize,
    /// The LMDB map size to start with, in bytes; it doubles whenever the data outgrow
    /// it. The file only ever takes the pages in use, whatever the map size.
    pub initial_map_size: usize,
}

impl Default for LmdbWriteOptions {
    fn default() -> Self {
        LmdbWriteOptions {
            float_dtype: FloatDtype::F64,
            frames_per_commit: 1000,
            initial_map_size: 64 << 20,
        }
    }
}

fn lmdb_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Lmdb {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The storage key [`encode_frame`] gives every tensor. Each storage is serialized on its
/// own (`torch.storage._load_from_bytes`), so the key only has to match itself.
const STORAGE_KEY: &str = "0";

/// The pickled entry of one frame, as nequip stores it, with float tensors of `float`.
/// Errors (naming the structure's origin) for species that are not elements, lengths
/// that disagree, or periodic boundaries without a cell (which nequip refuses too).
pub fn encode_frame(s: &Structure, float: FloatDtype) -> Result<Vec<u8>> {
    encode_frame_with_storage_keys(s, float, &mut |_| STORAGE_KEY.to_string())
}

/// [`encode_frame`] with `storage_key(i)` as the key of the `i`-th tensor's storage in
/// the dict's order. torch writes `str(storage._cdata)`, an address in memory, which no
/// writer can reproduce; given the keys a file used, this reproduces its entry exactly.
pub fn encode_frame_with_storage_keys(
    s: &Structure,
    float: FloatDtype,
    storage_key: &mut dyn FnMut(usize) -> String,
) -> Result<Vec<u8>> {
    encode(s, float, None, storage_key)
}

/// The entry of `s`; errors name its origin, or else `frame` (its index in the output)
/// when given.
fn encode(
    s: &Structure,
    float: FloatDtype,
    frame: Option<usize>,
    storage_key: &mut dyn FnMut(usize) -> String,
) -> Result<Vec<u8>> {
    let bad = |message: String| Error::InvalidStructure {
        origin: match (&s.origin, frame) {
            (None, Some(i)) => Origin::frame(i).to_string(),
            (origin, _) => describe(origin.as_ref()),
        },
        message,
    };
    let n = s.species.len();
    if s.positions.len() != n {
        return Err(bad(format!(
            "{} positions for {n} species",
            s.positions.len()
        )));
    }
    let numbers = s
        .species
        .iter()
        .map(|sp| {
            sp.atomic_number()
                .map(i64::from)
                .ok_or_else(|| bad(format!("species {sp} is not an element")))
        })
        .collect::<Result<Vec<_>>>()?;
    let cell = s.cell.unwrap_or([[0.0; 3]; 3]);
    if s.pbc.iter().any(|&p| p) && cell.iter().flatten().all(|&x| x == 0.0) {
        return Err(bad(format!(
            "periodic (pbc {:?}) without a cell; nequip refuses such a frame",
            s.pbc
        )));
    }

    // Keys in from_ase's order: pos, cell, pbc, atomic_numbers, then the labels.
    let mut fields: Vec<(&str, Field, Vec<usize>)> = vec![
        ("pos", Field::Float(flat3(&s.positions)), vec![n, 3]),
        ("cell", Field::Float(flat33(&cell)), vec![1, 3, 3]),
        ("pbc", Field::Bool(s.pbc.to_vec()), vec![1, 3]),
        ("atomic_numbers", Field::Int(numbers), vec![n]),
    ];
    let labels = &s.labels;
    if let Some(e) = labels.energy {
        fields.push(("total_energy", Field::Float(vec![e]), vec![1, 1]));
    }
    if let Some(f) = &labels.forces {
        if f.len() != n {
            return Err(bad(format!("{} forces for {n} atoms", f.len())));
        }
        fields.push(("forces", Field::Float(flat3(f)), vec![n, 3]));
    }
    if let Some(m) = &labels.stress {
        fields.push(("stress", Field::Float(flat33(m)), vec![1, 3, 3]));
    }
    if let Some(m) = &labels.virial {
        fields.push(("virial", Field::Float(flat33(m)), vec![1, 3, 3]));
    }

    let mut items = Vec::with_capacity(fields.len());
    for (i, (name, field, shape)) in fields.iter().enumerate() {
        let f32s: Vec<f32>;
        let elements = match (field, float) {
            (Field::Float(v), FloatDtype::F64) => Elements::F64(v),
            (Field::Float(v), FloatDtype::F32) => {
                // Rounds to nearest, ties to even, as torch's float64 → float32 cast does.
                f32s = v.iter().map(|&x| x as f32).collect();
                Elements::F32(&f32s)
            }
            (Field::Int(v), _) => Elements::I64(v),
            (Field::Bool(v), _) => Elements::Bool(v),
        };
        let tensor = writer::torch_tensor(elements, shape, &storage_key(i))
            .map_err(|e| bad(format!("`{name}`: {e}")))?;
        items.push((Object::str(*name), tensor));
    }
    writer::dumps(&Object::Dict(items), 5).map_err(bad)
}

/// The values of one tensor of a frame, before the float dtype is applied.
enum Field {
    Float(Vec<f64>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
}

fn flat3(v: &[[f64; 3]]) -> Vec<f64> {
    v.iter().flatten().copied().collect()
}

fn flat33(m: &Mat3) -> Vec<f64> {
    m.iter().flatten().copied().collect()
}

/// The pickled `__metadata__` entry nequip writes for frames of `num_atoms` atoms each:
/// `{'num_atoms_per_entry': np.asarray(num_atoms), 'num_edges_per_entry':
/// np.asarray([None] * n), 'num_frames': n}`. With no frames both arrays are
/// `np.asarray([])`, which numpy makes float64.
pub fn encode_metadata(num_atoms: &[usize]) -> Vec<u8> {
    let (atoms, edges) = if num_atoms.is_empty() {
        (
            writer::numpy_array(Elements::F64(&[])),
            writer::numpy_array(Elements::F64(&[])),
        )
    } else {
        let counts: Vec<i64> = num_atoms.iter().map(|&n| n as i64).collect();
        (
            writer::numpy_array(Elements::I64(&counts)),
            // nequip records edge counts only for frames that carry edges; a frame
            // converted from a structure has none, hence None for each.
            writer::numpy_object_array(vec![Object::None; num_atoms.len()]),
        )
    };
    let meta = Object::Dict(vec![
        (Object::str("num_atoms_per_entry"), atoms),
        (Object::str("num_edges_per_entry"), edges),
        (
            Object::str("num_frames"),
            Object::Int(num_atoms.len() as i128),
        ),
    ]);
    writer::dumps(&meta, 5).expect("protocol 5 holds the metadata")
}

/// Distinguishes the temporary files of writers in one process.
static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Writes a nequip LMDB dataset frame by frame: [`push`](Self::push) each structure,
/// then [`finish`](Self::finish), which writes `__metadata__` and moves the file into
/// place. Dropped unfinished, it removes its temporary file and the destination is
/// left as it was.
pub struct NequipLmdbWriter {
    path: PathBuf,
    temp: PathBuf,
    env: Option<Env>,
    db: Database<'static, Bytes, Bytes>,
    options: LmdbWriteOptions,
    map_size: usize,
    /// Encoded frames not yet committed; their keys follow `committed`.
    pending: Vec<Vec<u8>>,
    committed: usize,
    num_atoms: Vec<usize>,
    /// Whether the file has been renamed to `path` (nothing to clean up).
    done: bool,
}

impl std::fmt::Debug for NequipLmdbWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NequipLmdbWriter({}, {} frames)",
            self.path.display(),
            self.len()
        )
    }
}

impl NequipLmdbWriter {
    /// Starts writing the dataset `path` (an existing file there is replaced when the
    /// writer finishes) with the default options.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Self::with_options(path, LmdbWriteOptions::default())
    }

    /// Starts writing the dataset `path` with `options`.
    pub fn with_options(path: impl AsRef<Path>, options: LmdbWriteOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let name = path
            .file_name()
            .ok_or_else(|| lmdb_error(&path, "not a file name"))?
            .to_string_lossy()
            .into_owned();
        if options.frames_per_commit == 0 {
            return Err(Error::InvalidArgument(
                "LMDB writer: frames_per_commit must be at least 1".into(),
            ));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Beside the destination, so that the final rename stays on one filesystem.
        let temp = dir.join(format!(
            ".{name}.{}-{}.tmp",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        // LMDB wants the map size in whole pages; 1 MiB multiples are whole pages on
        // every page size in use (4 KiB to 64 KiB).
        let map_size = options
            .initial_map_size
            .max(1 << 20)
            .next_multiple_of(1 << 20);
        let _ = std::fs::remove_file(&temp);
        let mut env_options = EnvOpenOptions::new();
        env_options.map_size(map_size);
        // SAFETY: the file is new, named for this writer alone, and nothing else maps
        // it; no lock file is needed for a single writer (and none is left behind).
        let env = unsafe {
            env_options.flags(EnvFlags::NO_SUB_DIR | EnvFlags::NO_LOCK);
            env_options.open(&temp)
        }
        .map_err(|e| lmdb_error(&path, format!("cannot create {}: {e}", temp.display())))?;
        let db = (|| -> heed::Result<_> {
            let wtxn = env.write_txn()?;
            Ok(env
                .create_databases_and_commit(wtxn, |opener, wtxn| -> heed::Result<_> {
                    Ok(CommitOrAbort::<_, ()>::Commit(
                        opener.create_database::<Bytes, Bytes>(wtxn, None)?,
                    ))
                })?
                .unwrap_commit())
        })();
        let db = match db {
            Ok(db) => db,
            Err(e) => {
                drop(env);
                let _ = std::fs::remove_file(&temp);
                return Err(lmdb_error(&path, e.to_string()));
            }
        };
        Ok(NequipLmdbWriter {
            path,
            temp,
            env: Some(env),
            db,
            options,
            map_size,
            pending: Vec::new(),
            committed: 0,
            num_atoms: Vec::new(),
            done: false,
        })
    }

    /// The destination.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames pushed so far.
    pub fn len(&self) -> usize {
        self.num_atoms.len()
    }

    /// Whether no frame has been pushed.
    pub fn is_empty(&self) -> bool {
        self.num_atoms.is_empty()
    }

    /// Adds `structure` as the next frame. A structure without an origin is named by its
    /// frame index in errors.
    pub fn push(&mut self, structure: &Structure) -> Result<()> {
        let entry = encode(
            structure,
            self.options.float_dtype,
            Some(self.len()),
            &mut |_| STORAGE_KEY.to_string(),
        )?;
        self.pending.push(entry);
        self.num_atoms.push(structure.species.len());
        if self.pending.len() >= self.options.frames_per_commit {
            self.commit(None)?;
        }
        Ok(())
    }

    /// Writes the pending frames (and `metadata`) in one transaction, growing the map
    /// and retrying whenever LMDB finds it full.
    fn commit(&mut self, metadata: Option<&[u8]>) -> Result<()> {
        loop {
            match self.try_commit(metadata) {
                Ok(()) => break,
                Err(heed::Error::Mdb(MdbError::MapFull)) => {
                    // The failed transaction was aborted (dropped), so none is active
                    // while the map is resized.
                    self.map_size = self.map_size.checked_mul(2).ok_or_else(|| {
                        lmdb_error(&self.path, "the LMDB map cannot grow further")
                    })?;
                    let env = self.env.as_ref().expect("open until finished");
                    // SAFETY: no transaction of this environment is active.
                    unsafe { env.resize(self.map_size) }
                        .map_err(|e| lmdb_error(&self.path, format!("growing the map: {e}")))?;
                }
                Err(e) => return Err(lmdb_error(&self.path, e.to_string())),
            }
        }
        self.committed += self.pending.len();
        self.pending.clear();
        Ok(())
    }

    fn try_commit(&self, metadata: Option<&[u8]>) -> heed::Result<()> {
        let env = self.env.as_ref().expect("open until finished");
        let mut wtxn = env.write_txn()?;
        for (i, entry) in self.pending.iter().enumerate() {
            let key = (self.committed + i).to_string();
            self.db.put(&mut wtxn, key.as_bytes(), entry)?;
        }
        if let Some(m) = metadata {
            self.db.put(&mut wtxn, b"__metadata__", m)?;
        }
        wtxn.commit()
    }

    /// Writes the remaining frames and `__metadata__`, closes the file and renames it to
    /// the destination. Returns the number of frames.
    pub fn finish(mut self) -> Result<usize> {
        let metadata = encode_metadata(&self.num_atoms);
        self.commit(Some(&metadata))?;
        let env = self.env.take().expect("open until finished");
        env.prepare_for_closing().wait();
        #[cfg(unix)]
        {
            // LMDB creates the file private (0600); a dataset is for sharing.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.temp, std::fs::Permissions::from_mode(0o644))
                .map_err(|e| Error::io(&self.temp, e))?;
        }
        std::fs::rename(&self.temp, &self.path).map_err(|e| {
            lmdb_error(
                &self.path,
                format!(
                    "cannot move the written file {} into place: {e}",
                    self.temp.display()
                ),
            )
        })?;
        self.done = true;
        Ok(self.num_atoms.len())
    }
}

impl Drop for NequipLmdbWriter {
    fn drop(&mut self) {
        if let Some(env) = self.env.take() {
            env.prepare_for_closing().wait();
        }
        if !self.done {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Writes `frames` as the nequip LMDB dataset `path` (float64, see the module
/// documentation); returns the number of frames.
pub fn write_nequip_lmdb<'a>(
    path: impl AsRef<Path>,
    frames: impl IntoIterator<Item = &'a Structure>,
) -> Result<usize> {
    let mut writer = NequipLmdbWriter::create(path)?;
    for s in frames {
        writer.push(s)?;
    }
    writer.finish()
}
