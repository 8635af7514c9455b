//! The globals a pickle may name: an allow-list, as PyTorch's `weights_only=True` has.
//!
//! The reader never imports or calls anything, so a global is only ever a name; the list
//! is still the contract: a file naming anything else (`os.system`, `builtins.eval`, a
//! class of some other package) is not a checkpoint, dataset or package nequip wrote,
//! and is refused by name before more of it is read.
//!
//! - [`Globals::TorchData`]: what `torch.save` checkpoints, nequip's LMDB entries and
//!   torch's legacy storages name — the containers and rebuild functions of
//!   [`DATA_GLOBALS`] (those the readers interpret, and the handful of plain types
//!   `weights_only` also allows).
//! - [`Globals::TorchPackage`]: a `torch.package` archive's model pickle (a `.nequip.zip`)
//!   names the classes of the modules it holds; those are read as data (their
//!   `_parameters`, `_buffers`, `_modules`), never built. Besides [`DATA_GLOBALS`] it may
//!   name anything inside [`PACKAGE_MODULES`].

/// `(module, name)` of every global a data pickle may name.
pub const DATA_GLOBALS: &[(&str, &str)] = &[
    // Containers: `state_dict`s are OrderedDicts; sets are read as lists.
    ("collections", "OrderedDict"),
    ("builtins", "dict"),
    ("__builtin__", "dict"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    // Protocol 2 writes bytes as `_codecs.encode(str, 'latin1')`.
    ("_codecs", "encode"),
    // Tensors (pickle/torch.rs).
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch.storage", "_load_from_bytes"),
    ("torch", "Size"),
    ("torch", "device"),
    // Storage types (named inside persistent ids); the readers decode the first six.
    ("torch", "FloatStorage"),
    ("torch", "DoubleStorage"),
    ("torch", "LongStorage"),
    ("torch", "IntStorage"),
    ("torch", "ByteStorage"),
    ("torch", "BoolStorage"),
    ("torch", "HalfStorage"),
    ("torch", "BFloat16Storage"),
    ("torch", "ShortStorage"),
    ("torch", "CharStorage"),
    // dtypes (module attributes such as a model's `_dtype`).
    ("torch", "float64"),
    ("torch", "float32"),
    ("torch", "float16"),
    ("torch", "bfloat16"),
    ("torch", "int64"),
    ("torch", "int32"),
    ("torch", "int16"),
    ("torch", "int8"),
    ("torch", "uint8"),
    ("torch", "bool"),
    // numpy arrays (nequip's `__metadata__` entry; numpy 2 and 1 module names).
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.core.numeric", "_frombuffer"),
];

/// Packages whose classes a `torch.package` model pickle may name: nequip's and
/// Allegro's modules, e3nn's irreps and spherical harmonics, torch's `nn` modules.
pub const PACKAGE_MODULES: &[&str] = &["nequip", "allegro", "e3nn", "torch.nn.modules"];

/// Which globals a pickle may name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Globals {
    /// [`DATA_GLOBALS`] only: checkpoints, datasets, storages.
    #[default]
    TorchData,
    /// [`DATA_GLOBALS`] and the classes of [`PACKAGE_MODULES`]: a packaged model.
    TorchPackage,
}

impl Globals {
    /// Whether `module.name` may be named.
    pub fn allows(self, module: &str, name: &str) -> bool {
        if DATA_GLOBALS.iter().any(|&(m, n)| m == module && n == name) {
            return true;
        }
        match self {
            Globals::TorchData => false,
            Globals::TorchPackage => {
                PACKAGE_MODULES.iter().any(|p| {
                    module == *p
                        || module
                            .strip_prefix(p)
                            .is_some_and(|rest| rest.starts_with('.'))
                }) && !name.is_empty()
                    && name.chars().all(|c| c.is_alphanumeric() || c == '_')
            }
        }
    }

    /// Why `module.name` is refused, for error messages.
    pub fn refusal(self, module: &str, name: &str) -> String {
        let allowed = match self {
            Globals::TorchData => "tensors, storages, dtypes and plain containers",
            Globals::TorchPackage => {
                "tensors, storages, dtypes, plain containers and the classes of nequip, \
                 allegro, e3nn and torch.nn"
            }
        };
        format!(
            "the global `{module}.{name}` is not allowed: a file nequip writes names only \
             {allowed} (crate::pickle::globals)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_prefixes() {
        let data = Globals::TorchData;
        assert!(data.allows("collections", "OrderedDict"));
        assert!(data.allows("torch._utils", "_rebuild_tensor_v2"));
        assert!(!data.allows("os", "system"));
        assert!(!data.allows("builtins", "eval"));
        assert!(!data.allows("nequip.nn.graph_model", "GraphModel"));
        let package = Globals::TorchPackage;
        assert!(package.allows("nequip.nn.graph_model", "GraphModel"));
        assert!(package.allows("torch.nn.modules.container", "ModuleDict"));
        assert!(package.allows("e3nn", "o3"));
        // A prefix counts only as a whole module path.
        assert!(!package.allows("nequipx", "A"));
        assert!(!package.allows("torch.nn.functional", "relu"));
        assert!(!package.allows("os", "system"));
        assert!(!package.allows("nequip.x", "a.b"));
    }
}
