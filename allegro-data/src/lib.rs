//! `allegro-data`: atomic structures for allegro-rs, from files on disk to batched graphs.
//!
//! - [`Structure`] — species, positions, cell, pbc and labels of one configuration.
//! - [`extxyz`] — ASE-compatible reader (streaming) and writer (lossless).
//! - [`neighbor`] — O(N) cell-list neighbor lists (periodic, triclinic, cells smaller
//!   than the cutoff, open boundaries, per-type cutoffs) and a brute-force oracle.
//! - [`TypeMapper`] — chemical symbols → model type indices.
//! - [`AtomicGraph`] — what the model consumes: atoms, edges, cell shifts, labels, for one
//!   frame or a disjoint batch of frames.
//! - [`dataset`], [`split`](mod@split) — in-memory datasets with cached neighbor lists, seeded
//!   splits, batches.
//! - [`shard`] — memory-mapped on-disk datasets with cached neighbor lists, and a
//!   converter from extxyz.
//! - [`stats`] — average neighbor counts, force RMS, per-type energy shifts.
//! - [`lmdb`] — nequip's LMDB datasets, read and written.
//!
//! Edge convention (see `docs/model.md` §1): edge z goes from the center
//! `i = edge_center[z]` to the neighbor `j = edge_neighbor[z]`, with vector
//! `pos[j] - pos[i] + shift @ cell` (cell rows are lattice vectors). Both directions of
//! every pair are present; an atom is never its own neighbor with a zero shift.
//!
//! No part of this crate depends on a tensor backend: everything is plain Rust data.
//!
//! ```
//! use allegro_data::extxyz::{ReadOptions, read_extxyz_str};
//! use allegro_data::{AtomicGraph, NeighborOptions, TypeMapper};
//!
//! let text = "2\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:R:3 energy=-1.5 pbc=\"T T T\"\n\
//!             H 0 0 0\nH 0.74 0 0\n";
//! let frames = read_extxyz_str(text, "example", &ReadOptions::default())?;
//! let mapper = TypeMapper::new(&["H"])?;
//! let g = AtomicGraph::from_structure(&frames[0], &mapper, &NeighborOptions::new(2.5))?;
//! // Each H sees the other (at 0.74 Å and 2.26 Å through the cell) and its own images
//! // at 3 Å are beyond the cutoff: 2 edges per atom.
//! assert_eq!(g.n_edges(), 4);
//! assert_eq!(g.labels.total_energy, vec![Some(-1.5)]);
//! let batch = AtomicGraph::batch(&[g.clone(), g]);
//! assert_eq!((batch.n_frames(), batch.n_atoms(), batch.n_edges()), (2, 4, 8));
//! # Ok::<(), allegro_data::Error>(())
//! ```

mod batch;
pub mod dataset;
pub mod error;
pub mod extxyz;
pub mod graph;
pub mod lmdb;
pub mod lmdb_source;
mod lmdb_write;
pub mod masses;
pub mod neighbor;
mod page_release;
pub mod pickle;
pub mod prefetch;
pub mod rng;
pub mod shard;
pub mod species;
pub mod split;
pub mod stats;
pub mod structure;
pub mod type_mapper;

pub use dataset::{Batches, GraphDataset, GraphSource, InMemoryDataset};
pub use error::{Error, Origin, Result};
pub use graph::{AtomicGraph, BatchLabels};
pub use lmdb::{NequipLmdb, NequipLmdbWriter, is_lmdb, read_structures, write_nequip_lmdb};
pub use lmdb_source::LmdbGraphs;
pub use masses::atomic_mass;
pub use neighbor::{
    CutoffTable, FrameView, NeighborList, NeighborOptions, brute_force, neighbor_list,
    neighbor_lists,
};
pub use prefetch::for_each_batch;
pub use rng::SplitMix64;
pub use shard::{ShardDataset, ShardMeta, ShardWriter, convert_extxyz_to_shards};
pub use species::{CHEMICAL_SYMBOLS, Species, atomic_number, chemical_symbol};
pub use split::{Split, SplitSizes, shuffled_indices, split};
pub use stats::{Statistics, StatsAccumulator, compute_statistics, source_statistics};
pub use structure::{Column, ColumnData, InfoValue, Labels, Mat3, Structure};
pub use type_mapper::TypeMapper;
