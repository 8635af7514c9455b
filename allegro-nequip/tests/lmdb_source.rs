//! `LmdbGraphs` builds, frame by frame from the file, the graphs an in-memory dataset of
//! the same frames holds; bad indices are errors naming the file.

mod common;

use allegro_data::{GraphSource, InMemoryDataset, NeighborOptions, TypeMapper};
use allegro_nequip::{LmdbGraphs, NequipLmdb};

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

/// The xtb-val frames as an LMDB source and as in-memory graphs (types by sorted symbol).
fn both() -> (LmdbGraphs, allegro_data::GraphDataset) {
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
    let options = NeighborOptions::new(4.0);
    let memory = InMemoryDataset { structures }
        .to_graphs(&mapper, &options)
        .unwrap();
    (LmdbGraphs::new(lmdb, mapper, options), memory)
}

#[test]
fn streaming_statistics_equal_the_in_memory_ones_bit_for_bit() {
    let (source, memory) = both();
    let n_types = memory.type_names.len();
    let streamed = allegro_data::source_statistics(&source, n_types).unwrap();
    assert_eq!(streamed, memory.statistics(None).unwrap());
    assert_eq!(streamed.n_frames, 226);
}

#[test]
fn loader_threads_hand_out_the_same_batches_in_order() {
    let (source, memory) = both();
    let order = allegro_data::shuffled_indices(source.len(), 7);
    let steps: Vec<&[usize]> = order.chunks(9).collect();
    for loaders in [0, 1, 3] {
        let mut seen = 0;
        allegro_data::for_each_batch(&source, &steps, loaders, |k, batch| {
            assert_eq!(k, seen, "batches in order with {loaders} loaders");
            assert_eq!(batch, memory.batch(steps[k]).unwrap(), "batch {k}");
            seen += 1;
            Ok::<(), allegro_data::Error>(())
        })
        .unwrap();
        assert_eq!(seen, steps.len());
    }
}

#[test]
fn loader_errors_stop_the_loop_and_name_the_file() {
    let (source, _) = both();
    let good: Vec<usize> = (0..10).collect();
    let bad = [1usize, 500];
    let steps: Vec<&[usize]> = vec![&good, &good, &bad, &good];
    for loaders in [0, 2] {
        let mut consumed = 0;
        let e = allegro_data::for_each_batch(&source, &steps, loaders, |_, _| {
            consumed += 1;
            Ok::<(), allegro_data::Error>(())
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("500") && e.contains("xtb-val.lmdb"), "{e}");
        assert_eq!(consumed, 2, "batches before the bad one, none after");
        // An error of the consumer stops the loaders too.
        let e = allegro_data::for_each_batch(&source, &steps, loaders, |k, _| {
            if k == 1 {
                Err(allegro_data::Error::InvalidArgument("stop at 1".into()))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert!(e.to_string().contains("stop at 1"), "{e}");
    }
}
