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

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use bytemuck::{Pod, Zeroable};
use memmap2::Mmap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::GraphSource;
use crate::error::{Error, Result};
use crate::extxyz::{ReadOptions, open_extxyz};
use crate::graph::{AtomicGraph, BatchLabels};
use crate::neighbor::{CutoffTable, NeighborOptions};
use crate::type_mapper::TypeMapper;

const MAGIC: [u8; 8] = *b"ALGRSHD1";
const VERSION: u32 = 1;
const FOOTER: usize = 32;
const META: &str = "meta.json";

const HAS_ENERGY: u64 = 1;
const HAS_FORCES: u64 = 2;
const HAS_STRESS: u64 = 4;
const HAS_VIRIAL: u64 = 8;
const HAS_ATOMIC_ENERGIES: u64 = 16;
const PBC_SHIFT: u32 = 5;

/// Fixed-size head of a frame record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct FrameHeader {
    n_atoms: u64,
    n_edges: u64,
    flags: u64,
    energy: f64,
    cell: [f64; 9],
    stress: [f64; 9],
    virial: [f64; 9],
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

fn check_endian(path: &Path) -> Result<()> {
    if cfg!(target_endian = "big") {
        return Err(Error::Shard {
            path: path.into(),
            message: "shards are little-endian only".into(),
        });
    }
    Ok(())
}

fn pad8(buf: &mut Vec<u8>) {
    while !buf.len().is_multiple_of(8) {
        buf.push(0);
    }
}

/// Writes single-frame graphs into shards of at most `frames_per_shard` frames.
pub struct ShardWriter {
    dir: PathBuf,
    meta: ShardMeta,
    frames_per_shard: usize,
    current: Option<(BufWriter<File>, PathBuf)>,
    offsets: Vec<u64>,
    pos: u64,
    record: Vec<u8>,
}

impl ShardWriter {
    /// Creates (or reuses) the directory `dir` for a dataset of graphs typed by `mapper`
    /// whose neighbor lists were built with `options`.
    pub fn create(
        dir: impl AsRef<Path>,
        mapper: &TypeMapper,
        options: &NeighborOptions,
        frames_per_shard: usize,
    ) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        check_endian(&dir)?;
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let per_type_cutoff = options.per_type_cutoff.as_ref().map(|t| {
            let n = t.n_types();
            (0..n * n).map(|k| t.get(k / n, k % n)).collect()
        });
        Ok(ShardWriter {
            dir,
            meta: ShardMeta {
                format: "allegro-shards".into(),
                version: VERSION,
                type_names: mapper.type_names().to_vec(),
                chemical_symbols: mapper.chemical_symbols().to_vec(),
                cutoff: options.cutoff,
                per_type_cutoff,
                shards: Vec::new(),
                n_frames: 0,
                n_atoms: 0,
                n_edges: 0,
            },
            frames_per_shard: frames_per_shard.max(1),
            current: None,
            offsets: Vec::new(),
            pos: 0,
            record: Vec::new(),
        })
    }

    /// Appends a graph; a batch is split into its frames.
    pub fn push(&mut self, g: &AtomicGraph) -> Result<()> {
        for f in 0..g.n_frames() {
            self.push_frame(g, f)?;
        }
        Ok(())
    }

    fn push_frame(&mut self, g: &AtomicGraph, f: usize) -> Result<()> {
        if self.current.is_none() {
            let name = format!("shard-{:05}.bin", self.meta.shards.len());
            let path = self.dir.join(&name);
            let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
            self.current = Some((BufWriter::with_capacity(1 << 20, file), path));
            self.meta.shards.push(ShardEntry {
                file: name,
                frames: 0,
            });
            self.offsets.clear();
            self.pos = 0;
        }
        let atoms = g.frame_ptr[f]..g.frame_ptr[f + 1];
        let a0 = atoms.start as u32;
        let edges: Vec<usize> = (0..g.n_edges())
            .filter(|&z| atoms.contains(&(g.edge_center[z] as usize)))
            .collect();
        let l = &g.labels;
        let forces: Option<Vec<[f64; 3]>> = atoms.clone().map(|i| l.forces[i]).collect();
        let atomic: Option<Vec<f64>> = atoms.clone().map(|i| l.atomic_energies[i]).collect();
        let mut flags = 0u64;
        let flat = |m: &Option<[[f64; 3]; 3]>, bit: u64, flags: &mut u64| -> [f64; 9] {
            match m {
                Some(m) => {
                    *flags |= bit;
                    [
                        m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2], m[2][0], m[2][1],
                        m[2][2],
                    ]
                }
                None => [0.0; 9],
            }
        };
        let stress = flat(&l.stress[f], HAS_STRESS, &mut flags);
        let virial = flat(&l.virial[f], HAS_VIRIAL, &mut flags);
        let cell = flat(&Some(g.cells[f]), 0, &mut flags);
        if l.total_energy[f].is_some() {
            flags |= HAS_ENERGY;
        }
        if forces.is_some() {
            flags |= HAS_FORCES;
        }
        if atomic.is_some() {
            flags |= HAS_ATOMIC_ENERGIES;
        }
        for k in 0..3 {
            if g.pbc[f][k] {
                flags |= 1 << (PBC_SHIFT + k as u32);
            }
        }
        let header = FrameHeader {
            n_atoms: atoms.len() as u64,
            n_edges: edges.len() as u64,
            flags,
            energy: l.total_energy[f].unwrap_or(0.0),
            cell,
            stress,
            virial,
        };
        let r = &mut self.record;
        r.clear();
        r.extend_from_slice(bytemuck::bytes_of(&header));
        r.extend_from_slice(bytemuck::cast_slice(&g.positions[atoms.clone()]));
        if let Some(fs) = &forces {
            r.extend_from_slice(bytemuck::cast_slice(fs));
        }
        if let Some(e) = &atomic {
            r.extend_from_slice(bytemuck::cast_slice(e));
        }
        r.extend_from_slice(bytemuck::cast_slice(&g.atom_types[atoms.clone()]));
        pad8(r);
        let centers: Vec<u32> = edges.iter().map(|&z| g.edge_center[z] - a0).collect();
        let neighbors: Vec<u32> = edges.iter().map(|&z| g.edge_neighbor[z] - a0).collect();
        let shifts: Vec<[i32; 3]> = edges.iter().map(|&z| g.edge_cell_shift[z]).collect();
        r.extend_from_slice(bytemuck::cast_slice(&centers));
        pad8(r);
        r.extend_from_slice(bytemuck::cast_slice(&neighbors));
        pad8(r);
        r.extend_from_slice(bytemuck::cast_slice(&shifts));
        pad8(r);

        let Some((w, path)) = self.current.as_mut() else {
            unreachable!("opened above")
        };
        w.write_all(r).map_err(|e| Error::io(&*path, e))?;
        self.offsets.push(self.pos);
        self.pos += r.len() as u64;
        self.meta.n_frames += 1;
        self.meta.n_atoms += atoms.len();
        self.meta.n_edges += edges.len();
        let entry = self
            .meta
            .shards
            .last_mut()
            .expect("shard entry pushed when opened");
        entry.frames += 1;
        if entry.frames >= self.frames_per_shard {
            self.close_shard()?;
        }
        Ok(())
    }

    fn close_shard(&mut self) -> Result<()> {
        let Some((mut w, path)) = self.current.take() else {
            return Ok(());
        };
        let io = |e| Error::io(&path, e);
        let n_frames = self.offsets.len() as u64;
        self.offsets.push(self.pos);
        w.write_all(bytemuck::cast_slice(&self.offsets))
            .map_err(io)?;
        let offsets_pos = self.pos;
        w.write_all(&MAGIC).map_err(io)?;
        w.write_all(&VERSION.to_le_bytes()).map_err(io)?;
        w.write_all(&0u32.to_le_bytes()).map_err(io)?;
        w.write_all(&n_frames.to_le_bytes()).map_err(io)?;
        w.write_all(&offsets_pos.to_le_bytes()).map_err(io)?;
        w.flush().map_err(io)
    }

    /// Closes the last shard and writes `meta.json`; returns the metadata.
    pub fn finish(mut self) -> Result<ShardMeta> {
        self.close_shard()?;
        let path = self.dir.join(META);
        let text = serde_json::to_string_pretty(&self.meta).map_err(|e| Error::Shard {
            path: path.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        Ok(self.meta)
    }
}

/// Converts an extxyz file to a shard dataset in `out_dir`, streaming (memory holds one
/// chunk of frames at a time) and building neighbor lists in parallel per chunk. Shows an
/// indicatif progress bar over the input bytes when `progress` is true.
pub fn convert_extxyz_to_shards(
    input: impl AsRef<Path>,
    out_dir: impl AsRef<Path>,
    read_options: &ReadOptions,
    mapper: &TypeMapper,
    options: &NeighborOptions,
    frames_per_shard: usize,
    progress: bool,
) -> Result<ShardMeta> {
    let input = input.as_ref();
    let total = std::fs::metadata(input)
        .map_err(|e| Error::io(input, e))?
        .len();
    let bar = if progress {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(format!("{}", input.display()));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut reader = open_extxyz(input, read_options)?;
    let mut writer = ShardWriter::create(out_dir, mapper, options, frames_per_shard)?;
    const CHUNK: usize = 256;
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        for s in reader.by_ref().take(CHUNK) {
            chunk.push(s?);
        }
        if chunk.is_empty() {
            break;
        }
        let graphs: Vec<AtomicGraph> = chunk
            .par_iter()
            .map(|s| AtomicGraph::from_structure(s, mapper, options))
            .collect::<Result<_>>()?;
        for g in &graphs {
            writer.push(g)?;
        }
        bar.set_position(reader.bytes_read());
    }
    bar.finish();
    writer.finish()
}

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
            shards.push(Shard { path, map, offsets });
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
