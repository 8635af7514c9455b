//! # allegro-data
//!
//! Atomic structures for allegro-rs, from files on disk to the batched graphs a model
//! reads. No part of this crate depends on a tensor backend: everything is plain Rust
//! data, so tools that never run a model can use it too.
//!
//! ## Types you meet first
//!
//! - [`Structure`]: species, positions, cell, pbc and [`Labels`] of one configuration.
//! - [`TypeMapper`]: chemical symbols → model type indices.
//! - [`NeighborOptions`] for [`neighbor_list`]: O(N) cell lists (periodic, triclinic,
//!   cells smaller than the cutoff, open boundaries, per-type cutoffs); [`brute_force`]
//!   is their oracle.
//! - [`AtomicGraph`]: what the model consumes: atoms, edges, cell shifts and
//!   [`BatchLabels`], for one frame or a disjoint batch of frames ([`AtomicGraph::batch`]).
//! - [`GraphSource`]: graphs by index, from [`GraphDataset`] (in memory); the crate
//!   `allegro-nequip` adds nequip's LMDB files, read on demand (data larger than memory).
//!
//! ## How the pieces fit
//!
//! Files become [`Structure`]s through [`extxyz`] (ASE-compatible; streaming reader,
//! lossless writer; nequip's LMDB datasets are `allegro-nequip`'s). A [`TypeMapper`] and [`NeighborOptions`] turn a
//! structure into an [`AtomicGraph`] ([`AtomicGraph::from_structure`]);
//! [`InMemoryDataset::to_graphs`] does a whole file in parallel and keeps the neighbor
//! lists. Seeded [`split`](fn@split)s pick the train/validation/test frames ([`SplitMix64`]
//! gives the same order on every machine and version), [`stats`] gives a model's
//! normalisation constants (average neighbor count, force RMS, per-type energy shifts),
//! and batches come from [`GraphSource::batch`] or, built ahead by loader threads, from
//! [`for_each_batch`].
//!
//! Edge convention (see `docs/model.md` §1): edge z goes from the center
//! `i = edge_center[z]` to the neighbor `j = edge_neighbor[z]`, with vector
//! `pos[j] - pos[i] + shift @ cell` (cell rows are lattice vectors). Both directions of
//! every pair are present; an atom is never its own neighbor with a zero shift.
//!
//! ```
//! use allegro_data::extxyz::{ReadOptions, read_extxyz_str};
//! use allegro_data::{AtomicGraph, NeighborOptions, TypeMapper};
//!
//! let text = "2\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:R:3 \
//!             energy=-1.5 pbc=\"T T T\"\nH 0 0 0\nH 0.74 0 0\n";
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
pub mod masses;
pub mod neighbor;
pub mod prefetch;
pub mod rng;
pub mod species;
pub mod split;
pub mod stats;
pub mod structure;
pub mod type_mapper;

pub use dataset::{Batches, GraphDataset, GraphSource, InMemoryDataset};
pub use error::{Error, Origin, Result};
pub use graph::{AtomicGraph, BatchLabels};
pub use masses::atomic_mass;
pub use neighbor::{
    CellBins, CutoffTable, FrameView, NeighborList, NeighborOptions, brute_force, cell_bins,
    neighbor_list, neighbor_lists,
};
pub use prefetch::for_each_batch;
pub use rng::SplitMix64;
pub use species::{CHEMICAL_SYMBOLS, Species, atomic_number, chemical_symbol};
pub use split::{Split, SplitSizes, shuffled_indices, split};
pub use stats::{Statistics, StatsAccumulator, compute_statistics, source_statistics};
pub use structure::{Column, ColumnData, InfoValue, Labels, Mat3, Structure};
pub use type_mapper::TypeMapper;
