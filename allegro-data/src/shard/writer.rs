//! Writing shards, and converting extxyz to a shard dataset.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::*;
use crate::extxyz::{ReadOptions, open_extxyz};
use crate::graph::AtomicGraph;
use crate::neighbor::NeighborOptions;
use crate::type_mapper::TypeMapper;

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
    /// The graph must be consistent (as built by this crate): edge indices, `batch` and
    /// `frame_ptr` in range, else an [`Error::InvalidArgument`].
    pub fn push(&mut self, g: &AtomicGraph) -> Result<()> {
        let n = g.n_atoms();
        let consistent = g.batch.len() == n
            && g.frame_ptr.last() == Some(&n)
            && g.batch.iter().all(|&b| (b as usize) < g.n_frames())
            && g.edge_center
                .iter()
                .chain(&g.edge_neighbor)
                .all(|&i| (i as usize) < n);
        if !consistent {
            return Err(Error::InvalidArgument(
                "inconsistent graph pushed to a shard writer".into(),
            ));
        }
        // One pass to group edges by frame (a batch may hold thousands of frames).
        let mut per_frame: Vec<Vec<usize>> = vec![Vec::new(); g.n_frames()];
        for z in 0..g.n_edges() {
            per_frame[g.batch[g.edge_center[z] as usize] as usize].push(z);
        }
        for (f, edges) in per_frame.iter().enumerate() {
            self.push_frame(g, f, edges)?;
        }
        Ok(())
    }

    fn push_frame(&mut self, g: &AtomicGraph, f: usize, edges: &[usize]) -> Result<()> {
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
