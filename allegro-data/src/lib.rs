//! `allegro-data`: atomic structures for allegro-rs, from files on disk to batched graphs.
//!
//! - [`Structure`] — species, positions, cell, pbc and labels of one configuration.
//! - [`extxyz`] — ASE-compatible reader (streaming) and writer (lossless).
//! - [`neighbor`] — O(N) cell-list neighbor lists (periodic, triclinic, cells smaller
//!   than the cutoff, open boundaries, per-type cutoffs) and a brute-force oracle.
//! - [`TypeMapper`] — chemical symbols → model type indices.
//! - [`AtomicGraph`] — what the model consumes: atoms, edges, cell shifts, labels, for one
//!   frame or a disjoint batch of frames.
//! - [`dataset`], [`split`] — in-memory datasets with cached neighbor lists, seeded
//!   splits, batches.
//! - [`shard`] — memory-mapped on-disk datasets with cached neighbor lists, and a
//!   converter from extxyz.
//! - [`stats`] — average neighbor counts, force RMS, per-type energy shifts.
//!
//! Edge convention (see `spec/allegro.md` §1): edge z goes from the center
//! `i = edge_center[z]` to the neighbor `j = edge_neighbor[z]`, with vector
//! `pos[j] - pos[i] + shift @ cell` (cell rows are lattice vectors). Both directions of
//! every pair are present; an atom is never its own neighbor with a zero shift.
//!
//! No part of this crate depends on a tensor backend: everything is plain Rust data.

mod batch;
pub mod dataset;
pub mod error;
pub mod extxyz;
pub mod graph;
pub mod neighbor;
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
pub use neighbor::{
    CutoffTable, FrameView, NeighborList, NeighborOptions, brute_force, neighbor_list,
    neighbor_lists,
};
pub use rng::SplitMix64;
pub use shard::{ShardDataset, ShardMeta, ShardWriter, convert_extxyz_to_shards};
pub use species::{CHEMICAL_SYMBOLS, Species, atomic_number, chemical_symbol};
pub use split::{Split, SplitSizes, shuffled_indices, split};
pub use stats::{Statistics, compute_statistics};
pub use structure::{Column, ColumnData, InfoValue, Labels, Mat3, Structure};
pub use type_mapper::TypeMapper;
