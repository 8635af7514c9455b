//! `LmdbGraphs` builds, frame by frame from the file, the graphs an in-memory dataset of
//! the same frames holds; bad indices are errors naming the file.

mod common;

use allegro_data::{
    GraphSource, InMemoryDataset, LmdbGraphs, NeighborOptions, NequipLmdb, TypeMapper,
};

#[test]
fn graphs_on_demand_equal_the_in_memory_dataset() {
    let path = common::shared_dir().join("data/nequip-lmdb/xtb-val.lmdb");
    let lmdb = NequipLmdb::open(&path).unwrap();
    let structures = lmdb.structures().unwrap();
    let mut names: Vec<String> = structures
        .iter()
        .flat_map(|s| s.species.iter().map(|x| x.as_str().to_string()))
        .collect();
    names.sort();
    names.dedup();
    let mapper = TypeMapper::new(&names).unwrap();
    let options = NeighborOptions::new(5.0);
    let memory = InMemoryDataset { structures }
        .to_graphs(&mapper, &options)
        .unwrap();
    let source = LmdbGraphs::new(lmdb, mapper, options);
    assert_eq!(source.len(), 226);
    for i in 0..source.len() {
        assert_eq!(source.graph(i).unwrap(), memory.graphs[i], "frame {i}");
    }
    let indices = [3, 17, 200];
    assert_eq!(
        source.batch(&indices).unwrap(),
        memory.batch(&indices).unwrap()
    );
    let e = source.graph(226).unwrap_err().to_string();
    assert!(e.contains("226") && e.contains("xtb-val.lmdb"), "{e}");
}
