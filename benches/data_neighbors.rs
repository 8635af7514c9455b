//! Neighbor list of water-23559.xyz (23,559 atoms, cubic 61.7 Å cell) at r = 6 Å on one
//! core, and reading that file. Reads `testdata/data/water-23559.xyz`.
//!
//! `cargo bench --bench data_neighbors`

use std::path::PathBuf;

use allegro::data::extxyz::{ReadOptions, read_extxyz};
use allegro::data::{FrameView, NeighborOptions, neighbor_list};
use criterion::{Criterion, criterion_group, criterion_main};

fn water_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/data/water-23559.xyz")
}

fn bench(c: &mut Criterion) {
    let path = water_file();
    if !path.exists() {
        eprintln!("skipped: {} not found", path.display());
        return;
    }
    let opts = ReadOptions::default();
    let frames = read_extxyz(&path, &opts).expect("read water-23559.xyz");
    let s = &frames[0];
    let nl_opts = NeighborOptions::new(6.0);
    let edges = neighbor_list(&FrameView::of(s, None), &nl_opts)
        .expect("neighbor list")
        .len();
    eprintln!("water-23559: {} atoms, {edges} edges at 6 Å", s.n_atoms());

    let mut g = c.benchmark_group("data");
    g.sample_size(20);
    g.bench_function("neighbor_list_water23559_r6", |b| {
        b.iter(|| neighbor_list(&FrameView::of(s, None), &nl_opts).expect("neighbor list"))
    });
    g.bench_function("read_extxyz_water23559", |b| {
        b.iter(|| read_extxyz(&path, &opts).expect("read"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
