//! Reading memory-mapped shards.

use std::fs::File;
use std::path::{Path, PathBuf};

use bytemuck::Pod;
use memmap2::Mmap;

use super::*;
use crate::dataset::GraphSource;
use crate::graph::{AtomicGraph, BatchLabels};
use crate::neighbor::{CutoffTable, NeighborOptions};
use crate::page_release::PageRelease;

/// A shard dataset opened for reading: every shard memory-mapped, frames decoded on
/// demand.
pub struct ShardDataset {
    meta: ShardMeta,
    shards: Vec<Shard>,
    /// Global index of each shard's first frame, `[n_shards + 1]`.
    first: Vec<usize>,
}

struct Shard {
    path: PathBuf,
    map: Mmap,
    offsets: Vec<u64>,
    /// Bounds the map's resident size when shards larger than memory are streamed.
    pages: PageRelease,
}

impl ShardDataset {
    /// Opens the dataset in `dir`, checking every shard's footer and offsets.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        check_endian(dir)?;
        let meta_path = dir.join(META);
        let text = std::fs::read_to_string(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
        let bad = |path: &Path, message: String| Error::Shard {
            path: path.into(),
            message,
        };
        let meta: ShardMeta =
            serde_json::from_str(&text).map_err(|e| bad(&meta_path, e.to_string()))?;
        if meta.format != "allegro-shards" || meta.version != VERSION {
            return Err(bad(
                &meta_path,
                format!(
                    "format {:?} version {} not supported",
                    meta.format, meta.version
                ),
            ));
        }
        let mut shards = Vec::new();
        let mut first = vec![0];
        for entry in &meta.shards {
            let path = dir.join(&entry.file);
            let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
            // SAFETY: the map is read-only and we never hand out references that outlive
            // it; as with any mmap, another process truncating or rewriting the file while
            // it is mapped is not supported (documented on the format).
            let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?;
            let len = map.len();
            if len < FOOTER {
                return Err(bad(
                    &path,
                    format!("{len} bytes, shorter than the footer (truncated)"),
                ));
            }
            let foot = &map[len - FOOTER..];
            let u64_at = |k: usize| u64::from_le_bytes(foot[k..k + 8].try_into().unwrap_or([0; 8]));
            if foot[..8] != MAGIC {
                return Err(bad(
                    &path,
                    "not a shard (bad magic at the end; truncated?)".into(),
                ));
            }
            let version = u32::from_le_bytes(foot[8..12].try_into().unwrap_or([0; 4]));
            if version != VERSION {
                return Err(bad(
                    &path,
                    format!("shard version {version}, expected {VERSION}"),
                ));
            }
            let (n_frames, offsets_pos) = (u64_at(16), u64_at(24));
            let table_end = offsets_pos.checked_add((n_frames + 1).saturating_mul(8));
            if n_frames as usize != entry.frames || table_end != Some((len - FOOTER) as u64) {
                return Err(bad(
                    &path,
                    format!(
                        "footer says {n_frames} frames at {offsets_pos}, meta.json {}",
                        entry.frames
                    ),
                ));
            }
            let table = &map[offsets_pos as usize..len - FOOTER];
            let offsets: Vec<u64> = table
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect();
            if offsets.windows(2).any(|w| w[0] > w[1] || w[0] % 8 != 0)
                || offsets.last() != Some(&offsets_pos)
            {
                return Err(bad(
                    &path,
                    "record offsets are not increasing and aligned".into(),
                ));
            }
            first.push(first.last().copied().unwrap_or(0) + entry.frames);
            shards.push(Shard {
                path,
                map,
                offsets,
                pages: PageRelease::default(),
            });
        }
        if first.last().copied() != Some(meta.n_frames) {
            return Err(bad(
                &meta_path,
                "frame counts of the shards do not add up".into(),
            ));
        }
        Ok(ShardDataset {
            meta,
            shards,
            first,
        })
    }

    /// The metadata.
    pub fn meta(&self) -> &ShardMeta {
        &self.meta
    }

    /// The neighbor options the lists were built with.
    pub fn neighbor_options(&self) -> NeighborOptions {
        let mut o = NeighborOptions::new(self.meta.cutoff);
        if let Some(v) = &self.meta.per_type_cutoff {
            let n = self.meta.type_names.len();
            o.per_type_cutoff = Some(CutoffTable::from_fn(n, |a, b| v[a * n + b]));
        }
        o
    }
}

/// Reads typed arrays from a record, checking bounds and alignment.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
    path: &'a Path,
    frame: usize,
}

impl<'a> Cursor<'a> {
    fn take<T: Pod>(&mut self, count: usize) -> Result<&'a [T]> {
        let size = count.checked_mul(std::mem::size_of::<T>());
        let end = size
            .and_then(|s| self.at.checked_add(s))
            .filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(Error::Shard {
                path: self.path.into(),
                message: format!(
                    "frame {} record too short for {count} items (corrupt)",
                    self.frame
                ),
            });
        };
        let slice =
            bytemuck::try_cast_slice(&self.bytes[self.at..end]).map_err(|e| Error::Shard {
                path: self.path.into(),
                message: format!("frame {}: {e}", self.frame),
            })?;
        self.at = end.next_multiple_of(8);
        Ok(slice)
    }
}

impl GraphSource for ShardDataset {
    fn len(&self) -> usize {
        self.meta.n_frames
    }

    fn graph(&self, index: usize) -> Result<AtomicGraph> {
        if index >= self.meta.n_frames {
            return Err(Error::InvalidArgument(format!(
                "frame {index} out of range for {} frames",
                self.meta.n_frames
            )));
        }
        let s = self.first.partition_point(|&f| f <= index) - 1;
        let shard = &self.shards[s];
        let local = index - self.first[s];
        let (a, b) = (
            shard.offsets[local] as usize,
            shard.offsets[local + 1] as usize,
        );
        let mut c = Cursor {
            bytes: &shard.map[a..b],
            at: 0,
            path: &shard.path,
            frame: index,
        };
        let h: FrameHeader = c.take::<FrameHeader>(1)?[0];
        let n = usize::try_from(h.n_atoms).unwrap_or(usize::MAX);
        let e = usize::try_from(h.n_edges).unwrap_or(usize::MAX);
        let positions = c.take::<[f64; 3]>(n)?.to_vec();
        let forces = if h.flags & HAS_FORCES != 0 {
            c.take::<[f64; 3]>(n)?.iter().map(|&f| Some(f)).collect()
        } else {
            vec![None; n]
        };
        let atomic_energies = if h.flags & HAS_ATOMIC_ENERGIES != 0 {
            c.take::<f64>(n)?.iter().map(|&x| Some(x)).collect()
        } else {
            vec![None; n]
        };
        let atom_types = c.take::<u32>(n)?.to_vec();
        let edge_center = c.take::<u32>(e)?.to_vec();
        let edge_neighbor = c.take::<u32>(e)?.to_vec();
        let edge_cell_shift = c.take::<[i32; 3]>(e)?.to_vec();
        shard.pages.note_read(&shard.map[a..b]);
        let corrupt = |m: &str| Error::Shard {
            path: shard.path.clone(),
            message: format!("frame {index}: {m}"),
        };
        if edge_center
            .iter()
            .chain(&edge_neighbor)
            .any(|&i| i as usize >= n)
        {
            return Err(corrupt("edge index out of range"));
        }
        if atom_types
            .iter()
            .any(|&t| t as usize >= self.meta.type_names.len())
        {
            return Err(corrupt("atom type out of range"));
        }
        let m = |v: &[f64; 9]| [[v[0], v[1], v[2]], [v[3], v[4], v[5]], [v[6], v[7], v[8]]];
        let opt = |bit: u64, v: &[f64; 9]| (h.flags & bit != 0).then(|| m(v));
        Ok(AtomicGraph {
            positions,
            atom_types,
            batch: vec![0; n],
            frame_ptr: vec![0, n],
            cells: vec![m(&h.cell)],
            pbc: vec![[0, 1, 2].map(|k| h.flags & (1 << (PBC_SHIFT + k)) != 0)],
            edge_center,
            edge_neighbor,
            edge_cell_shift,
            labels: BatchLabels {
                total_energy: vec![(h.flags & HAS_ENERGY != 0).then_some(h.energy)],
                forces,
                stress: vec![opt(HAS_STRESS, &h.stress)],
                virial: vec![opt(HAS_VIRIAL, &h.virial)],
                atomic_energies,
            },
        })
    }
}
