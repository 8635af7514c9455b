//! AtomicGraph: built from structures, batched as a disjoint union whose edges are the
//! union of the frames' edges with atom offsets.

mod common;

use allegro_data::extxyz::{ReadOptions, read_extxyz};
use allegro_data::{AtomicGraph, Error, NeighborOptions, TypeMapper};

#[test]
fn batch_is_the_disjoint_union() {
    let frames = read_extxyz(common::data_file("emt-cuagau.xyz"), &ReadOptions::default()).unwrap();
    let mapper = TypeMapper::from_structures(&frames).unwrap();
    assert_eq!(mapper.type_names(), ["Cu", "Ag", "Au"]);
    let opts = NeighborOptions::new(5.0);
    let graphs: Vec<AtomicGraph> = frames[..5]
        .iter()
        .map(|s| AtomicGraph::from_structure(s, &mapper, &opts).unwrap())
        .collect();
    let b = AtomicGraph::batch(&graphs);
    assert_eq!(b.n_frames(), 5);
    assert_eq!(
        b.n_atoms(),
        graphs.iter().map(|g| g.n_atoms()).sum::<usize>()
    );
    assert_eq!(
        b.n_edges(),
        graphs.iter().map(|g| g.n_edges()).sum::<usize>()
    );
    assert_eq!(b.labels.total_energy.len(), 5);
    assert_eq!(b.labels.forces.len(), b.n_atoms());
    assert!(b.labels.stress.iter().all(|s| s.is_some()));
    // Edge vectors are those of each frame, in order.
    let v: Vec<[f64; 3]> = graphs.iter().flat_map(|g| g.edge_vectors()).collect();
    assert_eq!(b.edge_vectors(), v);
    for z in 0..b.n_edges() {
        let (i, j) = (b.edge_center[z] as usize, b.edge_neighbor[z] as usize);
        assert_eq!(b.batch[i], b.batch[j], "edge {z} crosses frames");
        let f = b.batch[i] as usize;
        assert!(b.frame_ptr[f] <= i && i < b.frame_ptr[f + 1]);
    }
    // Every edge is shorter than the cutoff and both directions are present.
    assert!(
        b.edge_vectors()
            .iter()
            .all(|v| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt() < 5.0)
    );
    // Batching batches keeps frames apart.
    let bb = AtomicGraph::batch(&[
        AtomicGraph::batch(&graphs[..2]),
        AtomicGraph::batch(&graphs[2..]),
    ]);
    assert_eq!(bb, b);
}

#[test]
fn unknown_species_names_frame_and_line() {
    let frames = read_extxyz(common::data_file("emt-cuagau.xyz"), &ReadOptions::default()).unwrap();
    let mapper = TypeMapper::new(&["Cu", "Au"]).unwrap();
    let bad = frames
        .iter()
        .position(|s| s.species.iter().any(|x| x.as_str() == "Ag"))
        .unwrap();
    let err =
        AtomicGraph::from_structure(&frames[bad], &mapper, &NeighborOptions::new(5.0)).unwrap_err();
    assert!(matches!(err, Error::UnknownSpecies { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("emt-cuagau.xyz:")
            && msg.contains(&format!("(frame {bad})"))
            && msg.contains("\"Ag\""),
        "{msg}"
    );
}
