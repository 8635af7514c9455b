//! Shared helper of the `e3_*` integration tests: locating and loading the
//! reference fixtures (`fixtures/e3nn.json`, `fixtures/*.json` state dicts).

#![allow(dead_code)]

use std::path::PathBuf;

pub use allegro_core::testing::shared_dir;

/// The fixture directory, `fixtures/` of [`shared_dir`]. Panics (naming the file) when
/// `e3nn.json` is not there, so a missing fixture never passes silently.
pub fn fixtures_dir() -> PathBuf {
    let dir = shared_dir().join("fixtures");
    assert!(
        dir.join("e3nn.json").is_file(),
        "{} has no e3nn.json",
        dir.display()
    );
    dir
}

/// Parse `name` in the fixture directory.
pub fn load(name: &str) -> serde_json::Value {
    let path = fixtures_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Flatten a nested JSON array of numbers (row-major) and return it with its shape.
pub fn flatten(v: &serde_json::Value) -> (Vec<usize>, Vec<f64>) {
    fn shape_of(v: &serde_json::Value) -> Vec<usize> {
        match v {
            serde_json::Value::Array(a) => {
                let mut s = vec![a.len()];
                if let Some(first) = a.first() {
                    s.extend(shape_of(first));
                }
                s
            }
            _ => vec![],
        }
    }
    fn walk(v: &serde_json::Value, out: &mut Vec<f64>) {
        match v {
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            x => out.push(x.as_f64().expect("number")),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    (shape_of(v), out)
}

/// Largest absolute difference of two equally long slices.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

pub use allegro_core::testing::SplitMix64;

/// Random vectors and rotations from the crate's test generator.
pub trait RandomGeometry {
    /// Uniform in `[-1, 1)^3`.
    fn vec3(&mut self) -> [f64; 3];
    /// A Haar-random rotation.
    fn rotation(&mut self) -> allegro_core::e3::Matrix3;
}

impl RandomGeometry for SplitMix64 {
    fn vec3(&mut self) -> [f64; 3] {
        [0, 1, 2].map(|_| 2.0 * self.next_f64() - 1.0)
    }

    fn rotation(&mut self) -> allegro_core::e3::Matrix3 {
        allegro_core::e3::rotation_from_uniform([self.next_f64(), self.next_f64(), self.next_f64()])
    }
}
