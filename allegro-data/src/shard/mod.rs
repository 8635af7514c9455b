//! On-disk datasets larger than memory: graphs with their neighbor lists in
//! memory-mapped binary shards.
//!
//! A dataset is a directory holding `meta.json` (type names, neighbor options, shard
//! list) and shard files `shard-NNNNN.bin`. A shard is a sequence of frame records, then
//! a table of record offsets, then a 32-byte footer:
//!
//! ```text
//! record*  offsets: u64 × (n_frames + 1)  footer: magic "ALGRSHD1", version u32, 0 u32,
//!                                                 n_frames u64, offsets_pos u64
//! record = FrameHeader (248 bytes) | positions f64×3n | forces f64×3n (if flagged)
//!        | atomic energies f64×n (if flagged) | atom_types u32×n | edge_center u32×E
//!        | edge_neighbor u32×E | edge_cell_shift i32×3E      (each part padded to 8 bytes)
//! ```
//!
//! All numbers are little-endian; opening or writing on a big-endian machine is an
//! error. Records are 8-byte aligned inside a page-aligned map, so arrays are read in
//! place with `bytemuck` (no parsing); every length and offset is checked against the
//! file size first, so a truncated or corrupt shard is an [`Error::Shard`], not a panic.
//! Free-form info (`molecule`, ...) is not stored: shards hold what training needs.

mod reader;
mod writer;

pub use reader::ShardDataset;
pub use writer::{ShardWriter, convert_extxyz_to_shards};

use std::path::Path;

use bytemuck::{Pod, Zeroable};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub(crate) const MAGIC: [u8; 8] = *b"ALGRSHD1";
pub(crate) const VERSION: u32 = 1;
pub(crate) const FOOTER: usize = 32;
pub(crate) const META: &str = "meta.json";

pub(crate) const HAS_ENERGY: u64 = 1;
pub(crate) const HAS_FORCES: u64 = 2;
pub(crate) const HAS_STRESS: u64 = 4;
pub(crate) const HAS_VIRIAL: u64 = 8;
pub(crate) const HAS_ATOMIC_ENERGIES: u64 = 16;
pub(crate) const PBC_SHIFT: u32 = 5;

/// Fixed-size head of a frame record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct FrameHeader {
    pub n_atoms: u64,
    pub n_edges: u64,
    pub flags: u64,
    pub energy: f64,
    pub cell: [f64; 9],
    pub stress: [f64; 9],
    pub virial: [f64; 9],
}

/// Contents of `meta.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardMeta {
    /// Always `"allegro-shards"`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Model type names the atom types index.
    pub type_names: Vec<String>,
    /// Species label of each type.
    pub chemical_symbols: Vec<String>,
    /// Global cutoff of the stored neighbor lists (Å).
    pub cutoff: f64,
    /// Per-type cutoff table, row-major T×T, if one was used.
    pub per_type_cutoff: Option<Vec<f64>>,
    /// Shard files (relative to the directory) and their frame counts, in order.
    pub shards: Vec<ShardEntry>,
    /// Total frames.
    pub n_frames: usize,
    /// Total atoms.
    pub n_atoms: usize,
    /// Total edges.
    pub n_edges: usize,
}

/// One shard file of a dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// File name inside the dataset directory.
    pub file: String,
    /// Frames in the file.
    pub frames: usize,
}

pub(crate) fn check_endian(path: &Path) -> Result<()> {
    if cfg!(target_endian = "big") {
        return Err(Error::Shard {
            path: path.into(),
            message: "shards are little-endian only".into(),
        });
    }
    Ok(())
}

pub(crate) fn pad8(buf: &mut Vec<u8>) {
    while !buf.len().is_multiple_of(8) {
        buf.push(0);
    }
}
