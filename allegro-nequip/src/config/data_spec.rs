//! The `data` block: datasets (a file, its cutoff and its chemical symbols) and data
//! loaders, as nequip's `NequIPDataModule` takes them.

use std::path::PathBuf;

use super::error::ConfigResult;
use super::extract::Node;
use super::targets::{Role, Target};

/// How a dataset file is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatasetKind {
    /// `nequip.data.dataset.NequIPLMDBDataset`: nequip's LMDB of pickled frames.
    Lmdb,
    /// `nequip.data.dataset.ASEDataset`, read as extended XYZ.
    Extxyz,
}

/// One dataset: its file and the transforms nequip applies while reading it.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetSpec {
    /// The storage format.
    pub kind: DatasetKind,
    /// The file, as written (relative paths are relative to the working directory:
    /// Hydra ≥ 1.2, as nequip runs it, does not change directory).
    pub file_path: PathBuf,
    /// Neighbor-list cutoff (`NeighborListTransform.r_max`, Å).
    pub r_max: f64,
    /// Type names in type-index order (`ChemicalSpeciesToAtomTypeMapper.chemical_symbols`).
    pub chemical_symbols: Vec<String>,
}

/// A `torch.utils.data.DataLoader`'s settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoaderSpec {
    /// Frames per batch (torch's default 1).
    pub batch_size: usize,
    /// Worker processes (torch's default 0); kept, unused until streaming loaders exist.
    pub num_workers: usize,
    /// Whether each epoch shuffles the frames (torch's default false).
    pub shuffle: bool,
}

/// The `data` block.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSpec {
    /// `data.seed`: the seed of data shuffling.
    pub seed: Option<u64>,
    /// `train_dataset` (nequip supports one).
    pub train: Option<DatasetSpec>,
    /// `val_dataset`: one or a list.
    pub val: Vec<DatasetSpec>,
    /// `test_dataset`: one or a list.
    pub test: Vec<DatasetSpec>,
    /// `train_dataloader`.
    pub train_loader: Option<LoaderSpec>,
    /// `val_dataloader`.
    pub val_loader: Option<LoaderSpec>,
    /// `test_dataloader`.
    pub test_loader: Option<LoaderSpec>,
}

/// Reads the `data` block at `node`.
pub(crate) fn parse_data(node: &Node<'_>) -> ConfigResult<DataSpec> {
    node.target(Role::DataModule)?;
    let datasets = |key: &str| -> ConfigResult<Vec<DatasetSpec>> {
        node.opt(key).map_or(Ok(Vec::new()), |n| {
            n.one_or_many().iter().map(parse_dataset).collect()
        })
    };
    let mut train = datasets("train_dataset")?;
    if train.len() > 1 {
        return Err(node.req("train_dataset")?.err(format!(
            "{} training datasets: nequip supports one",
            train.len()
        )));
    }
    let loader = |key: &str| node.opt(key).map(|n| parse_loader(&n)).transpose();
    Ok(DataSpec {
        seed: node.opt("seed").map(|n| n.u64()).transpose()?,
        train: train.pop(),
        val: datasets("val_dataset")?,
        test: datasets("test_dataset")?,
        train_loader: loader("train_dataloader")?,
        val_loader: loader("val_dataloader")?,
        test_loader: loader("test_dataloader")?,
    })
}

fn parse_dataset(node: &Node<'_>) -> ConfigResult<DatasetSpec> {
    let kind = match node.target(Role::Dataset)? {
        Target::AseDataset => {
            if let Some(format) = node.opt("ase_args").and_then(|a| a.opt("format")) {
                let f = format.str()?;
                if f != "extxyz" {
                    return Err(
                        format.err(format!("ASE format `{f}`: only extxyz files are read here"))
                    );
                }
            }
            DatasetKind::Extxyz
        }
        _ => DatasetKind::Lmdb,
    };
    let file_path = PathBuf::from(node.req("file_path")?.str()?.trim());
    let transforms = node.req("transforms")?;
    let (mut r_max, mut symbols) = (None, None);
    for t in transforms.one_or_many() {
        match t.target(Role::Transform)? {
            Target::NeighborListTransform if r_max.is_none() => {
                r_max = Some(t.req("r_max")?.f64()?);
            }
            Target::ChemicalSpeciesToAtomTypeMapper if symbols.is_none() => {
                symbols = Some(t.req("chemical_symbols")?.strings()?);
            }
            other => {
                return Err(t.err(format!("a second `{}`", other.class_name())));
            }
        }
    }
    let missing = |class: &str, why: &str| transforms.err(format!("no `{class}`: {why}"));
    Ok(DatasetSpec {
        kind,
        file_path,
        r_max: r_max.ok_or_else(|| {
            missing(
                Target::NeighborListTransform.class_name(),
                "the frames would have no edges",
            )
        })?,
        chemical_symbols: symbols.ok_or_else(|| {
            missing(
                Target::ChemicalSpeciesToAtomTypeMapper.class_name(),
                "atoms would have no type index",
            )
        })?,
    })
}

fn parse_loader(node: &Node<'_>) -> ConfigResult<LoaderSpec> {
    node.target(Role::DataLoader)?;
    let batch_size = node.opt("batch_size").map_or(Ok(1), |n| n.usize())?;
    if batch_size == 0 {
        return Err(node.req("batch_size")?.err("must be at least 1"));
    }
    Ok(LoaderSpec {
        batch_size,
        num_workers: node.opt("num_workers").map_or(Ok(0), |n| n.usize())?,
        shuffle: node.bool_or("shuffle", false)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::key_path::KeyPath;
    use super::*;
    use serde_json::json;

    fn transforms() -> serde_json::Value {
        json!([
            {"_target_": "nequip.data.transforms.NeighborListTransform", "r_max": 5.0},
            {"_target_": "nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper", "chemical_symbols": ["H", "O"]},
        ])
    }

    #[test]
    fn datasets_and_loaders() {
        let v = json!({
            "_target_": "nequip.data.datamodule.NequIPDataModule",
            "seed": 3,
            "train_dataset": {"_target_": "nequip.data.dataset.ASEDataset", "file_path": "t.xyz",
                              "ase_args": {"format": "extxyz"}, "transforms": transforms()},
            "val_dataset": {"_target_": "nequip.data.dataset.NequIPLMDBDataset", "file_path": "v.lmdb",
                            "transforms": transforms()},
            "train_dataloader": {"_target_": "torch.utils.data.DataLoader", "batch_size": 4, "shuffle": true},
        });
        let d = parse_data(&Node::new(&v, KeyPath::parse("data").unwrap())).unwrap();
        assert_eq!(d.seed, Some(3));
        let t = d.train.unwrap();
        assert_eq!((t.kind, t.r_max), (DatasetKind::Extxyz, 5.0));
        assert_eq!(t.chemical_symbols, vec!["H", "O"]);
        assert_eq!(d.val.len(), 1);
        assert_eq!(d.val[0].kind, DatasetKind::Lmdb);
        assert!(d.test.is_empty());
        assert_eq!(
            d.train_loader,
            Some(LoaderSpec {
                batch_size: 4,
                num_workers: 0,
                shuffle: true
            })
        );
    }

    #[test]
    fn missing_transform_and_bad_format_are_named() {
        let v = json!({"_target_": "nequip.data.datamodule.NequIPDataModule",
            "test_dataset": [{"_target_": "nequip.data.dataset.NequIPLMDBDataset", "file_path": "x",
                              "transforms": [transforms()[0].clone()]}]});
        let e = parse_data(&Node::new(&v, KeyPath::parse("data").unwrap())).unwrap_err();
        assert_eq!(e.key, "data.test_dataset[0].transforms");
        assert!(e.message.contains("ChemicalSpeciesToAtomTypeMapper"), "{e}");
        let v = json!({"_target_": "nequip.data.datamodule.NequIPDataModule",
            "val_dataset": {"_target_": "nequip.data.dataset.ASEDataset", "file_path": "x",
                            "ase_args": {"format": "vasp"}, "transforms": transforms()}});
        let e = parse_data(&Node::new(&v, KeyPath::parse("data").unwrap())).unwrap_err();
        assert_eq!(e.key, "data.val_dataset.ase_args.format");
    }
}
