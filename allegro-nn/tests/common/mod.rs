//! Shared helpers of the model tests: fixture loading and fixture frames as inputs.

#![allow(dead_code)]

use std::path::PathBuf;

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::AtomicGraph;
use allegro_nn::import::load_reference_json;
use allegro_nn::{AllegroModel, ModelInputs, Parameters};
use serde_json::Value;

pub use allegro_core::testing::shared_dir;

/// `fixtures/NAME` of [`shared_dir`].
pub fn fixture_path(name: &str) -> PathBuf {
    let path = shared_dir().join("fixtures").join(name);
    assert!(path.exists(), "fixture {} not found", path.display());
    path
}

/// Model, weights and the whole fixture JSON.
pub fn load(name: &str) -> (AllegroModel, Parameters<Cpu>, Value) {
    load_reference_json::<Cpu>(&fixture_path(name), &CpuDevice).expect("fixture loads")
}

fn f64s(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().flat_map(f64s).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        Value::Bool(b) => vec![if *b { 1.0 } else { 0.0 }],
        _ => panic!("not numeric: {v}"),
    }
}

/// A fixture frame: its inputs (with the fixture's own edge list) and raw JSON.
pub fn frame_inputs(model: &AllegroModel, frame: &Value) -> ModelInputs<Cpu> {
    let types: Vec<u32> = f64s(&frame["atom_types"])
        .iter()
        .map(|&t| t as u32)
        .collect();
    let pos = f64s(&frame["positions"]);
    let cell = f64s(&frame["cell"]);
    let ei = f64s(&frame["edge_index"]);
    let shifts = f64s(&frame["edge_cell_shift"]);
    let e = ei.len() / 2;
    let center: Vec<u32> = ei[..e].iter().map(|&x| x as u32).collect();
    let neighbor: Vec<u32> = ei[e..].iter().map(|&x| x as u32).collect();
    let vectors: Vec<[f64; 3]> = (0..e)
        .map(|z| {
            let (i, j) = (center[z] as usize, neighbor[z] as usize);
            std::array::from_fn(|d| {
                pos[3 * j + d] - pos[3 * i + d]
                    + (0..3)
                        .map(|k| shifts[3 * z + k] * cell[3 * k + d])
                        .sum::<f64>()
            })
        })
        .collect();
    let batch = vec![0u32; types.len()];
    ModelInputs::new(
        model.num_types(),
        &types,
        &batch,
        1,
        &center,
        &neighbor,
        &vectors,
        &CpuDevice,
    )
    .unwrap()
}

/// Flattened numbers of a JSON value.
pub fn numbers(v: &Value) -> Vec<f64> {
    f64s(v)
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// A fixture frame with its own edge list as a one-frame graph.
pub fn frame_graph(frame: &Value) -> AtomicGraph {
    let types: Vec<u32> = numbers(&frame["atom_types"])
        .iter()
        .map(|&t| t as u32)
        .collect();
    let n = types.len();
    let pos = numbers(&frame["positions"]);
    let cell = numbers(&frame["cell"]);
    let pbc = numbers(&frame["pbc"]);
    let ei = numbers(&frame["edge_index"]);
    let shifts = numbers(&frame["edge_cell_shift"]);
    let e = ei.len() / 2;
    AtomicGraph {
        positions: (0..n)
            .map(|i| std::array::from_fn(|d| pos[3 * i + d]))
            .collect(),
        atom_types: types,
        batch: vec![0; n],
        frame_ptr: vec![0, n],
        cells: vec![std::array::from_fn(|a| {
            std::array::from_fn(|b| cell[3 * a + b])
        })],
        pbc: vec![std::array::from_fn(|d| pbc[d] != 0.0)],
        edge_center: ei[..e].iter().map(|&x| x as u32).collect(),
        edge_neighbor: ei[e..].iter().map(|&x| x as u32).collect(),
        edge_cell_shift: (0..e)
            .map(|z| std::array::from_fn(|d| shifts[3 * z + d] as i32))
            .collect(),
        ..AtomicGraph::default()
    }
}
