//! A nequip LMDB dataset as a [`GraphSource`]: each frame is read from the file and its
//! neighbor list built when a batch asks for it, so a dataset larger than memory trains
//! with only the current batches in memory (the operating system pages the file in and
//! out as it likes).

use crate::lmdb::NequipLmdb;
use allegro_data::dataset::GraphSource;
use allegro_data::error::{Error, Result};
use allegro_data::graph::AtomicGraph;
use allegro_data::neighbor::NeighborOptions;
use allegro_data::type_mapper::TypeMapper;

/// Graphs of an LMDB dataset, built on demand.
#[derive(Debug)]
pub struct LmdbGraphs {
    lmdb: NequipLmdb,
    mapper: TypeMapper,
    options: NeighborOptions,
}

impl LmdbGraphs {
    /// The frames of `lmdb`, their atoms typed by `mapper`, neighbor lists by `options`.
    pub fn new(lmdb: NequipLmdb, mapper: TypeMapper, options: NeighborOptions) -> Self {
        LmdbGraphs {
            lmdb,
            mapper,
            options,
        }
    }

    /// The dataset underneath.
    pub fn lmdb(&self) -> &NequipLmdb {
        &self.lmdb
    }
}

impl GraphSource for LmdbGraphs {
    fn len(&self) -> usize {
        self.lmdb.len()
    }

    fn graph(&self, index: usize) -> Result<AtomicGraph> {
        if index >= self.lmdb.len() {
            return Err(Error::InvalidArgument(format!(
                "frame {index} out of range for {} frames of {}",
                self.lmdb.len(),
                self.lmdb.path().display()
            )));
        }
        let structure = self.lmdb.structure(index)?;
        AtomicGraph::from_structure(&structure, &self.mapper, &self.options)
    }
}
