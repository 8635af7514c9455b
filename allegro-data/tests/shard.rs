//! On-disk shards: converting extxyz and reading back gives the same graphs as building
//! them in memory; damaged shards give errors, never panics.

mod common;

use std::path::PathBuf;

use allegro_data::extxyz::ReadOptions;
use allegro_data::{
    Error, GraphSource, InMemoryDataset, NeighborOptions, ShardDataset, ShardWriter, SplitMix64,
    StatsAccumulator, TypeMapper, convert_extxyz_to_shards, shuffled_indices,
};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("allegro-data-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn shards_round_trip_graphs() {
    let file = common::data_file("emt-cuagau.xyz");
    let data = InMemoryDataset::from_extxyz(&file, &ReadOptions::default()).unwrap();
    let mapper = TypeMapper::from_structures(&data.structures).unwrap();
    let opts = NeighborOptions::new(5.0);
    let graphs = data.to_graphs(&mapper, &opts).unwrap();

    let dir = scratch("roundtrip");
    let meta = convert_extxyz_to_shards(
        &file,
        &dir,
        &ReadOptions::default(),
        &mapper,
        &opts,
        128,
        false,
    )
    .unwrap();
    assert_eq!(meta.n_frames, 600);
    assert_eq!(meta.shards.len(), 5);
    assert_eq!(meta.n_edges, 1_049_826);
    let shards = ShardDataset::open(&dir).unwrap();
    assert_eq!(shards.len(), 600);
    assert_eq!(shards.neighbor_options(), opts);
    for i in 0..600 {
        assert_eq!(
            shards.graph(i).unwrap(),
            graphs.graph(i).unwrap(),
            "frame {i}"
        );
    }
    let order = shuffled_indices(600, 5);
    for (a, b) in shards.batches(&order, 64).zip(graphs.batches(&order, 64)) {
        assert_eq!(a.unwrap(), b.unwrap());
    }
    assert!(matches!(shards.graph(600), Err(Error::InvalidArgument(_))));
    // Streaming statistics over the shards equal those of the in-memory graphs.
    let mut acc = StatsAccumulator::new(mapper.n_types());
    for i in 0..shards.len() {
        acc.add(&shards.graph(i).unwrap()).unwrap();
    }
    let (a, b) = (acc.finish(), graphs.statistics(None).unwrap());
    assert_eq!(a.n_edges, b.n_edges);
    assert_eq!(a.per_type_forces_rms, b.per_type_forces_rms);
    for (x, y) in a
        .per_type_energy_shifts
        .unwrap()
        .iter()
        .zip(b.per_type_energy_shifts.unwrap())
    {
        assert!((x - y).abs() < 1e-9 * y.abs().max(1.0));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn damaged_shards_are_errors() {
    let file = common::data_file("xtb-organics.xyz");
    let data = InMemoryDataset::from_extxyz(&file, &ReadOptions::default()).unwrap();
    let mapper = TypeMapper::from_structures(&data.structures).unwrap();
    let opts = NeighborOptions::new(5.0);
    let dir = scratch("damaged");
    convert_extxyz_to_shards(
        &file,
        &dir,
        &ReadOptions::default(),
        &mapper,
        &opts,
        1000,
        false,
    )
    .unwrap();
    let shard = dir.join("shard-00000.bin");
    let good = std::fs::read(&shard).unwrap();

    // Truncated: the footer is gone.
    std::fs::write(&shard, &good[..good.len() - 100]).unwrap();
    let e = ShardDataset::open(&dir)
        .err()
        .expect("truncated shard must not open");
    assert!(e.to_string().contains("shard-00000.bin"), "{e}");

    // Random bytes flipped inside records: every frame read is Ok or an error.
    let mut rng = SplitMix64::new(11);
    for _ in 0..20 {
        let mut bad = good.clone();
        for _ in 0..50 {
            let k = rng.below((good.len() - 32) as u64) as usize;
            bad[k] ^= 1 << rng.below(8);
        }
        std::fs::write(&shard, &bad).unwrap();
        if let Ok(ds) = ShardDataset::open(&dir) {
            for i in 0..ds.len() {
                let _ = ds.graph(i);
            }
        }
    }
    // Missing metadata.
    std::fs::remove_file(dir.join("meta.json")).unwrap();
    assert!(matches!(ShardDataset::open(&dir), Err(Error::Io { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_pushed_batch_is_stored_frame_by_frame() {
    let data =
        InMemoryDataset::from_extxyz(common::data_file("emt-cuagau.xyz"), &ReadOptions::default())
            .unwrap();
    let data = InMemoryDataset {
        structures: data.structures[..30].to_vec(),
    };
    let mapper = TypeMapper::from_structures(&data.structures).unwrap();
    let opts = NeighborOptions::new(4.0);
    let graphs = data.to_graphs(&mapper, &opts).unwrap();
    let dir = scratch("batch");
    let mut w = ShardWriter::create(&dir, &mapper, &opts, 7).unwrap();
    w.push(&graphs.batch(&(0..30).collect::<Vec<_>>()).unwrap())
        .unwrap();
    let meta = w.finish().unwrap();
    assert_eq!((meta.n_frames, meta.shards.len()), (30, 5));
    let ds = ShardDataset::open(&dir).unwrap();
    for i in 0..30 {
        assert_eq!(ds.graph(i).unwrap(), graphs.graph(i).unwrap());
    }
    let mut broken = graphs.graph(0).unwrap();
    broken.edge_neighbor[0] = 10_000;
    let mut w = ShardWriter::create(&dir, &mapper, &opts, 7).unwrap();
    assert!(matches!(w.push(&broken), Err(Error::InvalidArgument(_))));
    std::fs::remove_dir_all(&dir).unwrap();
}
