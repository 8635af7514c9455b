//! Model inputs built from per-atom arrays and a neighbor list on the device
//! (`ModelInputs::from_neighbor_list`, what `Predictor` uses) against those built on the
//! host (the oracle), on the CPU backend: periodic skewed cells with cell shifts, a
//! batch of structures, edges out of center order; and the errors of bad lists.

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_core::rng::SplitMix64;
use allegro_data::{AtomicGraph, NeighborOptions, TypeMapper};
use allegro_nn::edge_inputs::NeighborListInputs;
use allegro_nn::inputs::ModelInputs;
use allegro_nn::testing::{device_inputs_deviation, random_cell, random_crystal, random_molecule};
use allegro_nn::{AllegroConfig, AllegroModel, Predictor};

const TYPES: [&str; 3] = ["H", "C", "O"];

fn graphs() -> Vec<AtomicGraph> {
    let mapper = TypeMapper::new(&TYPES.map(String::from)).unwrap();
    let mut rng = SplitMix64::new(3);
    let mut out = Vec::new();
    let mut periodic = Vec::new();
    for k in 0..3 {
        // Small skewed cells: many edges cross several cell images.
        let cell = random_cell(&mut rng, 2.5 + k as f64, 0.3);
        let s = random_crystal(&mut rng, &TYPES, 5 + k, cell, 1.0);
        let g = AtomicGraph::from_structure(&s, &mapper, &NeighborOptions::new(4.0)).unwrap();
        assert!(g.edge_cell_shift.iter().any(|s| s.iter().any(|c| *c != 0)));
        periodic.push(g);
    }
    let m = random_molecule(&mut rng, &TYPES, 10, 4.0, 1.0);
    periodic.push(AtomicGraph::from_structure(&m, &mapper, &NeighborOptions::new(4.0)).unwrap());
    out.push(AtomicGraph::batch(&periodic));
    let mut shuffled = periodic[0].clone();
    let e = shuffled.n_edges();
    let order: Vec<usize> = (0..e).map(|z| (z * 7919) % e).collect();
    shuffled.edge_center = order.iter().map(|&z| periodic[0].edge_center[z]).collect();
    shuffled.edge_neighbor = order
        .iter()
        .map(|&z| periodic[0].edge_neighbor[z])
        .collect();
    shuffled.edge_cell_shift = order
        .iter()
        .map(|&z| periodic[0].edge_cell_shift[z])
        .collect();
    out.extend(periodic);
    out.push(shuffled);
    out
}

#[test]
fn device_built_inputs_equal_host_built_on_the_cpu() {
    for (k, g) in graphs().iter().enumerate() {
        let d = device_inputs_deviation::<Cpu>(g, TYPES.len(), &CpuDevice).unwrap();
        // Same formula, same order of operations: the same bits.
        assert_eq!(d, 0.0, "graph {k}");
    }
}

fn list(g: &AtomicGraph) -> NeighborListInputs<'_> {
    NeighborListInputs::of_graph(g)
}

fn error_of(g: &AtomicGraph) -> String {
    match ModelInputs::<Cpu>::from_neighbor_list(TYPES.len(), &list(g), &CpuDevice) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn bad_lists_are_errors_and_large_shifts_fall_back() {
    let g = graphs().remove(1);
    let mut bad = g.clone();
    bad.edge_neighbor[3] = 10_000;
    assert!(
        error_of(&bad).contains("edge 3 joins atoms"),
        "{}",
        error_of(&bad)
    );
    let mut bad = g.clone();
    bad.edge_neighbor[4] = bad.edge_center[4];
    bad.edge_cell_shift[4] = [0, 0, 0];
    assert!(
        error_of(&bad).contains("edge 4 has zero length"),
        "{}",
        error_of(&bad)
    );
    let mut bad = g.clone();
    bad.positions[1][2] = f64::NAN;
    assert!(
        error_of(&bad).contains("atom 1 has a non-finite position"),
        "{}",
        error_of(&bad)
    );
    let mut bad = g.clone();
    bad.atom_types[0] = 9;
    assert!(
        error_of(&bad).contains("atom 0 has type 9"),
        "{}",
        error_of(&bad)
    );
    let mut bad = g.clone();
    bad.edge_cell_shift.pop();
    assert!(error_of(&bad).contains("cell shifts"), "{}", error_of(&bad));
    // A shift beyond the packed form: no device inputs, and predictions still come
    // (through host-built vectors). Adding a lattice vector 200 times to an edge's shift
    // and removing it from the neighbor's position keeps every vector.
    let mut far = g.clone();
    far.edge_cell_shift[0][0] += 200;
    let j = far.edge_neighbor[0] as usize;
    let cell = far.cells[0];
    let moved: Vec<usize> = (0..far.n_edges())
        .filter(|&z| far.edge_neighbor[z] as usize == j)
        .collect();
    for &z in &moved[1..] {
        far.edge_cell_shift[z][0] += 200;
    }
    for d in 0..3 {
        far.positions[j][d] -= 200.0 * cell[0][d];
    }
    for z in 0..far.n_edges() {
        if far.edge_center[z] as usize == j {
            far.edge_cell_shift[z][0] -= 200;
        }
    }
    let none =
        ModelInputs::<Cpu>::from_neighbor_list(TYPES.len(), &list(&far), &CpuDevice).unwrap();
    assert!(none.is_none());
    let config = AllegroConfig::from_json(
        r#"{"type_names": ["H", "C", "O"], "r_max": 4.0, "l_max": 1, "num_layers": 1,
            "num_scalar_features": 8, "num_tensor_features": 4,
            "radial_chemical_embed": {"_target_": "allegro.nn.TwoBodyBesselScalarEmbed", "num_bessels": 4},
            "allegro_mlp_hidden_layers_width": 8, "scalar_embed_mlp_hidden_layers_width": 8,
            "avg_num_neighbors": 10.0}"#,
    )
    .unwrap();
    let model = AllegroModel::new(&config).unwrap();
    let params = model.init_parameters::<Cpu>(&CpuDevice);
    let predictor = Predictor::new(model, &params, CpuDevice);
    let (a, b) = (
        predictor.predict(&g).unwrap(),
        predictor.predict(&far).unwrap(),
    );
    let scale = a
        .forces
        .iter()
        .flatten()
        .fold(0.0f64, |m, f| m.max(f.abs()));
    for (fa, fb) in a.forces.iter().flatten().zip(b.forces.iter().flatten()) {
        assert!((fa - fb).abs() <= 1e-9 * scale, "{fa} {fb}");
    }
    // Two atoms at the same place: the device cannot tell before the model runs; the
    // prediction is an error naming the edge, not NaN.
    let mut same = g.clone();
    let z = (0..same.n_edges())
        .find(|&z| same.edge_cell_shift[z] == [0, 0, 0])
        .unwrap();
    let (i, j) = (same.edge_center[z] as usize, same.edge_neighbor[z] as usize);
    same.positions[j] = same.positions[i];
    let e = predictor.predict(&same).unwrap_err().to_string();
    assert!(e.contains("zero length") && e.contains("same place"), "{e}");
}
