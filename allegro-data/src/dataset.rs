//! Datasets: structures in memory, graphs with precomputed neighbor lists, and batches.

use std::path::Path;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::extxyz::{ReadOptions, read_extxyz};
use crate::graph::AtomicGraph;
use crate::neighbor::NeighborOptions;
use crate::structure::Structure;
use crate::type_mapper::TypeMapper;

/// Anything that hands out graphs by index: [`GraphDataset`] (in memory), or a reader of
/// files larger than memory (`allegro-nequip`'s LMDB source).
pub trait GraphSource: Sync {
    /// Number of frames.
    fn len(&self) -> usize;

    /// Whether there are no frames.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The graph of frame `index` (an owned copy).
    fn graph(&self, index: usize) -> Result<AtomicGraph>;

    /// The frames `indices` batched into one disjoint graph.
    fn batch(&self, indices: &[usize]) -> Result<AtomicGraph> {
        let graphs: Vec<AtomicGraph> = indices
            .iter()
            .map(|&i| self.graph(i))
            .collect::<Result<_>>()?;
        Ok(AtomicGraph::batch(&graphs))
    }

    /// Batches of `batch_size` frames taken from `indices` in order (the last may be
    /// smaller). Shuffle `indices` first for training, e.g. with
    /// [`shuffled_indices`](crate::shuffled_indices).
    fn batches<'a>(&'a self, indices: &'a [usize], batch_size: usize) -> Batches<'a, Self>
    where
        Self: Sized,
    {
        Batches {
            source: self,
            chunks: indices.chunks(batch_size.max(1)),
        }
    }
}

/// Iterator over batches of a [`GraphSource`].
pub struct Batches<'a, S: ?Sized> {
    source: &'a S,
    chunks: std::slice::Chunks<'a, usize>,
}

impl<S: GraphSource + ?Sized> Iterator for Batches<'_, S> {
    type Item = Result<AtomicGraph>;

    fn next(&mut self) -> Option<Self::Item> {
        self.chunks.next().map(|idx| self.source.batch(idx))
    }
}

/// Structures held in memory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InMemoryDataset {
    /// The frames.
    pub structures: Vec<Structure>,
}

impl InMemoryDataset {
    /// Reads every frame of an extxyz file.
    pub fn from_extxyz(path: impl AsRef<Path>, options: &ReadOptions) -> Result<Self> {
        Ok(InMemoryDataset {
            structures: read_extxyz(path, options)?,
        })
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.structures.len()
    }

    /// Whether there are no frames.
    pub fn is_empty(&self) -> bool {
        self.structures.is_empty()
    }

    /// Graphs of every frame, neighbor lists computed in parallel (rayon) and kept.
    pub fn to_graphs(
        &self,
        mapper: &TypeMapper,
        options: &NeighborOptions,
    ) -> Result<GraphDataset> {
        let graphs = self
            .structures
            .par_iter()
            .map(|s| AtomicGraph::from_structure(s, mapper, options))
            .collect::<Result<Vec<_>>>()?;
        Ok(GraphDataset {
            graphs,
            type_names: mapper.type_names().to_vec(),
            neighbor_options: options.clone(),
        })
    }
}

/// Graphs with precomputed neighbor lists, held in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphDataset {
    /// One single-frame graph per frame.
    pub graphs: Vec<AtomicGraph>,
    /// The type names the atom types index.
    pub type_names: Vec<String>,
    /// How the neighbor lists were built.
    pub neighbor_options: NeighborOptions,
}

impl GraphSource for GraphDataset {
    fn len(&self) -> usize {
        self.graphs.len()
    }

    fn graph(&self, index: usize) -> Result<AtomicGraph> {
        self.graphs.get(index).cloned().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "frame {index} out of range for {} frames",
                self.graphs.len()
            ))
        })
    }
}
