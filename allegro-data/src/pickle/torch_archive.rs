//! PyTorch's zip archives, read without Python and without executing anything:
//! - `torch.save` files (PyTorch ≥ 1.6; Lightning checkpoints among them): a folder
//!   `<name>/` holding `data.pkl` (the pickled object, tensors referring to storages by
//!   key), `data/<key>` (each storage's raw little-endian bytes) and `byteorder`;
//! - `torch.package` archives (nequip's `.nequip.zip`): pickles such as
//!   `<name>/model/eager_model.pkl` with storages in `<name>/.data/<key>.storage`.
//!
//! The zip is read with the `zip` crate (torch stores entries uncompressed; a compressed
//! entry is an error naming it). Pickles are read with the allow-list of
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
    zip: Mutex<ZipArchive<File>>,
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

/// Reads entry `name` of `zip` whole.
fn read_entry(zip: &mut ZipArchive<File>, name: &str) -> Result<Vec<u8>, String> {
    let mut entry = zip
        .by_name(name)
        .map_err(|e| format!("zip entry `{name}`: {e}"))?;
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| format!("zip entry `{name}`: {e}"))?;
    Ok(bytes)
}

/// Opens `path` as a zip; errors name the file.
fn open_zip(path: &Path) -> Result<ZipArchive<File>, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    ZipArchive::new(file)
        .map_err(|e| format!("{}: not a PyTorch archive (zip: {e})", path.display()))
}

/// The first entry whose name ends with `suffix` and has exactly `depth` slashes.
fn find_entry(zip: &ZipArchive<File>, suffix: &str, depth: usize) -> Option<String> {
    zip.file_names()
        .filter_map(Result::ok)
        .find(|n| n.ends_with(suffix) && n.matches('/').count() == depth)
        .map(|n| n.to_string())
}

/// Refuses a big-endian archive (torch writes `byteorder` beside the data).
fn check_byte_order(path: &Path, zip: &mut ZipArchive<File>, prefix: &str) -> Result<(), String> {
    if let Ok(order) = read_entry(zip, &format!("{prefix}byteorder"))
        && order != b"little"
    {
        return Err(format!(
            "{}: byte order `{}` is not supported (only little-endian)",
            path.display(),
            String::from_utf8_lossy(&order)
        ));
    }
    Ok(())
}

impl TorchArchive {
    /// Opens a `torch.save` file and unpickles its `data.pkl`. Errors name the file.
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
        Self::read(path, zip, &pkl, layout, Globals::TorchPackage)
    }

    fn read(
        path: &Path,
        mut zip: ZipArchive<File>,
        pkl: &str,
        layout: Layout,
        globals: Globals,
    ) -> Result<TorchArchive, String> {
        let fail = |m: String| format!("{}: {m}", path.display());
        let data = read_entry(&mut zip, pkl).map_err(fail)?;
        let options = Options {
            globals,
            ..Options::default()
        };
        let (root, _) = load_with(&data, &options).map_err(|e| fail(format!("{pkl}: {e}")))?;
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

    /// Another entry of the archive, relative to its folder (e.g. `model/config.yaml`).
    pub fn entry(&self, name: &str) -> Result<Vec<u8>, String> {
        let prefix = match &self.layout {
            Layout::Save { prefix } | Layout::Package { prefix } => prefix,
        };
        let mut zip = self
            .zip
            .lock()
            .map_err(|_| "zip reader poisoned".to_string())?;
        read_entry(&mut zip, &format!("{prefix}{name}"))
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// The tensor `v` stands for, its storage read from the archive.
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
            read_entry(&mut zip, &name)
        })
        .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}
