//! PyTorch's zip archives, read without Python and without executing anything:
//! - `torch.save` files (PyTorch ≥ 1.6; Lightning checkpoints among them): a folder
//!   `<name>/` holding `data.pkl` (the pickled object, tensors referring to storages by
//!   key), `data/<key>` (each storage's raw little-endian bytes) and `byteorder`;
//! - `torch.package` archives (nequip's `.nequip.zip`): pickles such as
//!   `<name>/model/eager_model.pkl` with storages in `<name>/.data/<key>.storage`.
//!
//! The zip's directory is read with the `zip` crate; entries are read raw (torch stores
//! them uncompressed; a compressed entry is an error naming it), their size checked
//! against the file before anything is allocated and their CRC-32 checked here, so that
//! a damaged entry is named with the bytes it occupies, and a damaged pickle with the
//! byte where reading it failed. Pickles are read with the allow-list of
//! [`super::globals`]: [`Globals::TorchData`] for `torch.save` files,
//! [`Globals::TorchPackage`] for a package's pickles.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use zip::ZipArchive;

use super::torch::{Tensor, tensor_with};
use super::{Globals, Options, Value, load_with};

/// Where an archive keeps its storages.
#[derive(Clone, Debug)]
enum Layout {
    /// `torch.save`: `<prefix>data/<key>`.
    Save { prefix: String },
    /// `torch.package`: `<prefix>.data/<key>.storage`.
    Package { prefix: String },
}

/// One pickle of a PyTorch zip archive, unpickled, with access to its storages.
pub struct TorchArchive {
    path: PathBuf,
    zip: Mutex<Zip>,
    layout: Layout,
    /// The unpickled object.
    root: Value,
}

impl std::fmt::Debug for TorchArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorchArchive")
            .field("path", &self.path)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

/// Whether the file starts like a zip (`PK\x03\x04`), as `torch.save` archives and
/// `.nequip.zip` packages do.
pub fn is_zip(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"PK\x03\x04"
}

/// What a PyTorch zip archive holds, judged by its entry names alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveKind {
    /// A `torch.save` file: `<name>/data.pkl`.
    Save,
    /// A `torch.package` archive with a model: `<name>/model/eager_model.pkl` or
    /// `<name>/model/config.yaml`.
    Package,
}

/// Which kind of archive `path` is, from the zip's directory only (nothing is read from
/// its entries, so a damaged entry does not hide what the file is): `Ok(None)` for a zip
/// that is neither. Errors name the file and what the zip reader found.
pub fn archive_kind(path: &Path) -> Result<Option<ArchiveKind>, String> {
    let zip = open_zip(path)?;
    if find_entry(&zip, "/model/eager_model.pkl", 2).is_some()
        || find_entry(&zip, "/model/config.yaml", 2).is_some()
    {
        return Ok(Some(ArchiveKind::Package));
    }
    Ok(find_entry(&zip, "/data.pkl", 1).map(|_| ArchiveKind::Save))
}

/// One entry of an archive, read raw.
struct Entry {
    bytes: Vec<u8>,
    /// Where its data start in the file.
    start: u64,
    /// Whether its CRC-32 is the one the zip directory records.
    crc_ok: bool,
}

impl Entry {
    /// Where the entry's data lie in the file, for messages.
    fn span(&self) -> String {
        format!(
            "bytes {}..{} of the file",
            self.start,
            self.start + self.bytes.len() as u64
        )
    }

    /// The error for an entry whose CRC-32 does not match.
    fn crc_error(&self, name: &str) -> String {
        format!(
            "zip entry `{name}` ({}) is damaged: its CRC-32 does not match the one the zip \
             directory records",
            self.span()
        )
    }
}

/// Reads entry `name` of `zip` whole, raw. Its size is checked against the file's before
/// anything is allocated; its CRC-32 is checked, a mismatch only recorded, so that a
/// damaged pickle can still be read up to the byte where it fails.
fn read_entry(zip: &mut Zip, name: &str) -> Result<Entry, String> {
    let fail = |m: String| format!("zip entry `{name}`: {m}");
    let file_len = zip.len;
    let index = zip
        .archive
        .index_for_name(name)
        .ok_or_else(|| fail("no such entry".into()))?;
    let entry = zip
        .archive
        .by_index_raw(index)
        .map_err(|e| fail(format!("its local header cannot be read: {e}")))?;
    if entry.compression() != zip::CompressionMethod::Stored {
        return Err(fail(format!(
            "compressed ({}); torch stores entries uncompressed",
            entry.compression()
        )));
    }
    let (size, crc) = (entry.compressed_size(), entry.crc32());
    let start = entry.data_start().unwrap_or(0);
    let end = start.checked_add(size).filter(|&end| end <= file_len);
    let Some(end) = end else {
        return Err(fail(format!(
            "the zip directory says {size} bytes at byte {start}, beyond the file's \
             {file_len} bytes (a damaged or truncated archive)"
        )));
    };
    let mut bytes = Vec::with_capacity(size as usize);
    entry
        .take(size)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("bytes {start}..{end} of the file: {e}")))?;
    if bytes.len() as u64 != size {
        return Err(fail(format!(
            "bytes {start}..{end} of the file: the file ends after {} of them",
            bytes.len()
        )));
    }
    let crc_ok = crc32fast::hash(&bytes) == crc;
    Ok(Entry {
        bytes,
        start,
        crc_ok,
    })
}

/// Reads entry `name` whole, refusing it if it is damaged.
fn read_checked(zip: &mut Zip, name: &str) -> Result<Vec<u8>, String> {
    let entry = read_entry(zip, name)?;
    if !entry.crc_ok {
        return Err(entry.crc_error(name));
    }
    Ok(entry.bytes)
}

/// A zip archive and the length of its file (what entries must fit in).
struct Zip {
    archive: ZipArchive<File>,
    len: u64,
}

/// Opens `path` as a zip; errors name the file.
fn open_zip(path: &Path) -> Result<Zip, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let len = file
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let archive = ZipArchive::new(file)
        .map_err(|e| format!("{}: not a PyTorch archive (zip: {e})", path.display()))?;
    Ok(Zip { archive, len })
}

/// The first entry whose name ends with `suffix` and has exactly `depth` slashes.
fn find_entry(zip: &Zip, suffix: &str, depth: usize) -> Option<String> {
    zip.archive
        .file_names()
        .filter_map(Result::ok)
        .find(|n| n.ends_with(suffix) && n.matches('/').count() == depth)
        .map(|n| n.to_string())
}

/// Refuses a big-endian archive (torch writes `byteorder` beside the data).
fn check_byte_order(path: &Path, zip: &mut Zip, prefix: &str) -> Result<(), String> {
    let name = format!("{prefix}byteorder");
    if zip.archive.index_for_name(&name).is_none() {
        return Ok(());
    }
    let order = read_checked(zip, &name).map_err(|e| format!("{}: {e}", path.display()))?;
    if order != b"little" {
        return Err(format!(
            "{}: byte order `{}` is not supported (only little-endian)",
            path.display(),
            String::from_utf8_lossy(&order)
        ));
    }
    Ok(())
}

impl TorchArchive {
    /// Opens a `torch.save` file and unpickles its `data.pkl`. Errors name the file, and
    /// for a damaged entry the entry and the byte where reading failed.
    pub fn open(path: &Path) -> Result<TorchArchive, String> {
        let fail = |m: String| format!("{}: {m}", path.display());
        let mut zip = open_zip(path)?;
        let pkl = find_entry(&zip, "/data.pkl", 1)
            .ok_or_else(|| fail("no `<name>/data.pkl` entry: not a torch.save archive".into()))?;
        let prefix = pkl.trim_end_matches("data.pkl").to_string();
        check_byte_order(path, &mut zip, &prefix)?;
        Self::read(path, zip, &pkl, Layout::Save { prefix }, Globals::TorchData)
    }

    /// Opens the pickle `<name>/<entry>` of a `torch.package` archive (e.g.
    /// `model/eager_model.pkl` of a `.nequip.zip`). Errors name the file and the entry.
    pub fn open_package(path: &Path, entry: &str) -> Result<TorchArchive, String> {
        let mut zip = open_zip(path)?;
        let depth = entry.matches('/').count() + 1;
        let pkl = find_entry(&zip, &format!("/{entry}"), depth).ok_or_else(|| {
            format!(
                "{}: no `<name>/{entry}` entry: not a package holding it",
                path.display()
            )
        })?;
        let prefix = pkl.trim_end_matches(entry).to_string();
        check_byte_order(path, &mut zip, &prefix)?;
        let layout = Layout::Package { prefix };
        // A YAML entry is opened for its siblings; only pickles are unpickled.
        if !entry.ends_with(".pkl") {
            return Ok(TorchArchive {
                path: path.to_path_buf(),
                zip: Mutex::new(zip),
                layout,
                root: Value::None,
            });
        }
        Self::read(path, zip, &pkl, layout, Globals::TorchPackage)
    }

    /// Unpickles entry `pkl`. A failure names the entry and the byte, in the entry and
    /// in the file, where reading stopped.
    fn read(
        path: &Path,
        mut zip: Zip,
        pkl: &str,
        layout: Layout,
        globals: Globals,
    ) -> Result<TorchArchive, String> {
        let fail = |m: String| format!("{}: {m}", path.display());
        let entry = read_entry(&mut zip, pkl).map_err(fail)?;
        let options = Options {
            globals,
            ..Options::default()
        };
        let root = match load_with(&entry.bytes, &options) {
            Ok((root, _)) if entry.crc_ok => root,
            Ok(_) => return Err(fail(entry.crc_error(pkl))),
            Err(e) => {
                let damaged = if entry.crc_ok {
                    ""
                } else {
                    " (its CRC-32 does not match either: the entry is damaged)"
                };
                return Err(fail(format!(
                    "zip entry `{pkl}` ({}), byte {} of the entry (byte {} of the file, \
                     {}): {}{damaged}",
                    entry.span(),
                    e.offset,
                    entry.start + e.offset as u64,
                    e.opcode_name(),
                    e.message
                )));
            }
        };
        Ok(TorchArchive {
            path: path.to_path_buf(),
            zip: Mutex::new(zip),
            layout,
            root,
        })
    }

    /// The unpickled object.
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// The archive's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Another entry of the archive, relative to its folder (e.g. `model/config.yaml`);
    /// a damaged entry (CRC-32 mismatch) is an error naming it.
    pub fn entry(&self, name: &str) -> Result<Vec<u8>, String> {
        let prefix = match &self.layout {
            Layout::Save { prefix } | Layout::Package { prefix } => prefix,
        };
        let mut zip = self
            .zip
            .lock()
            .map_err(|_| "zip reader poisoned".to_string())?;
        read_checked(&mut zip, &format!("{prefix}{name}"))
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// The tensor `v` stands for, its storage read from the archive (a damaged storage
    /// entry is an error naming it and its bytes in the file).
    pub fn tensor(&self, v: &Value) -> Result<Tensor, String> {
        tensor_with(v, &|key| {
            let name = match &self.layout {
                Layout::Save { prefix } => format!("{prefix}data/{key}"),
                Layout::Package { prefix } => format!("{prefix}.data/{key}.storage"),
            };
            let mut zip = self
                .zip
                .lock()
                .map_err(|_| "zip reader poisoned".to_string())?;
            read_checked(&mut zip, &name)
        })
        .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}
