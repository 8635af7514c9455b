//! `.allegro` model files: save → load gives bit-identical predictions (f64 and f32),
//! and every way a file can be unreadable gives an `Error::ModelFile`, never a panic.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use allegro_core::DType;
use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_data::AtomicGraph;
use allegro_nn::model_file::{FORMAT_VERSION, MAGIC, TensorValues, crc32};
use allegro_nn::{AllegroModel, Error, ModelFile, Parameters, Prediction, Predictor};
use common::{load, numbers};
use serde_json::Value;

/// A fresh path under cargo's per-target scratch directory.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("model_file");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// All frames of a fixture as one batched graph, with the fixture's own edge lists.
fn fixture_graph(fixture: &Value) -> AtomicGraph {
    let mut g = AtomicGraph::default();
    g.frame_ptr.push(0);
    for (f, frame) in fixture["frames"].as_array().unwrap().iter().enumerate() {
        let offset = g.positions.len() as u32;
        let types: Vec<u32> = numbers(&frame["atom_types"])
            .iter()
            .map(|&t| t as u32)
            .collect();
        let pos = numbers(&frame["positions"]);
        let cell = numbers(&frame["cell"]);
        let ei = numbers(&frame["edge_index"]);
        let shifts = numbers(&frame["edge_cell_shift"]);
        let pbc: Vec<bool> = frame["pbc"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_bool().unwrap())
            .collect();
        let e = ei.len() / 2;
        g.positions
            .extend(pos.chunks(3).map(|c| [c[0], c[1], c[2]]));
        g.batch.extend(std::iter::repeat_n(f as u32, types.len()));
        g.atom_types.extend(types);
        g.frame_ptr.push(g.positions.len());
        g.cells.push(std::array::from_fn(|a| {
            std::array::from_fn(|b| cell[3 * a + b])
        }));
        g.pbc.push([pbc[0], pbc[1], pbc[2]]);
        g.edge_center
            .extend(ei[..e].iter().map(|&x| x as u32 + offset));
        g.edge_neighbor
            .extend(ei[e..].iter().map(|&x| x as u32 + offset));
        g.edge_cell_shift.extend(
            shifts
                .chunks(3)
                .map(|s| [s[0] as i32, s[1] as i32, s[2] as i32]),
        );
    }
    g
}

fn bits(p: &Prediction) -> Vec<u64> {
    let mut out: Vec<u64> = p.total_energy.iter().map(|x| x.to_bits()).collect();
    out.extend(p.atomic_energies.iter().map(|x| x.to_bits()));
    out.extend(p.forces.iter().flatten().map(|x| x.to_bits()));
    out.extend(p.virial.iter().flatten().flatten().map(|x| x.to_bits()));
    out.extend(
        p.stress
            .iter()
            .flatten()
            .flatten()
            .flatten()
            .map(|x| x.to_bits()),
    );
    out
}

/// Saves `model` with `params`, loads it back, and checks predictions bit for bit.
fn round_trip(model: AllegroModel, params: Parameters<Cpu>, fixture: &Value, file: &str) {
    let graph = fixture_graph(fixture);
    let before = Predictor::new(model.clone(), &params, CpuDevice)
        .predict(&graph)
        .unwrap();
    let meta = BTreeMap::from([("training".to_string(), "fixture".to_string())]);
    let path = scratch(file);
    ModelFile::from_model(&model, &params, meta)
        .unwrap()
        .save(&path)
        .unwrap();
    let loaded = ModelFile::load(&path).unwrap();
    assert_eq!(loaded.metadata["training"], "fixture");
    assert!(loaded.metadata.contains_key("writer"));
    assert_eq!(loaded.type_names, model.config().type_names);
    assert_eq!(loaded.cutoffs, model.config().cutoff_table().unwrap());
    let (model2, params2) = loaded.clone().into_model::<Cpu>(&CpuDevice).unwrap();
    assert_eq!(model2.config(), model.config());
    for (name, p) in params.iter() {
        let q = params2.entry(name).unwrap();
        assert_eq!(p.trainable, q.trainable, "{name}");
        assert_eq!(p.tensor.dtype(), q.tensor.dtype(), "{name}");
        assert_eq!(p.tensor.to_host(), q.tensor.to_host(), "{name}");
    }
    let after = loaded
        .into_predictor::<Cpu>(CpuDevice)
        .unwrap()
        .predict(&graph)
        .unwrap();
    assert_eq!(
        bits(&before),
        bits(&after),
        "{file}: predictions differ after reload"
    );
    assert_eq!(
        before.total_energy.len(),
        fixture["frames"].as_array().unwrap().len()
    );
}

#[test]
fn round_trip_small_noparity_is_bit_identical() {
    let (model, params, fixture) = load("small_noparity.json");
    round_trip(model, params, &fixture, "small_noparity.allegro");
}

#[test]
fn round_trip_seed_lmax2_is_bit_identical() {
    let (model, params, fixture) = load("seed_lmax2.json");
    round_trip(model, params, &fixture, "seed_lmax2.allegro");
}

#[test]
fn round_trip_float32_model_keeps_dtypes_and_bits() {
    let (mut model, params, fixture) = load("small_noparity.json");
    model.set_dtype(DType::F32);
    let params = params.cast(DType::F32, AllegroModel::is_float64_parameter);
    let file = ModelFile::from_model(&model, &params, BTreeMap::new()).unwrap();
    assert_eq!(file.model_dtype, DType::F32);
    for t in &file.tensors {
        let want = if AllegroModel::is_float64_parameter(&t.name) {
            DType::F64
        } else {
            DType::F32
        };
        assert_eq!(t.values.dtype(), want, "{}", t.name);
    }
    round_trip(model, params, &fixture, "small_f32.allegro");
}

/// The bytes of a valid small model file.
fn valid_bytes() -> Vec<u8> {
    let (model, params, _) = load("small_noparity.json");
    ModelFile::from_model(&model, &params, BTreeMap::new())
        .unwrap()
        .to_bytes()
        .unwrap()
}

fn small_file() -> ModelFile {
    ModelFile::from_bytes(&valid_bytes()).unwrap()
}

/// The message of the `Error::ModelFile` of loading `bytes` from a file.
fn load_error(bytes: &[u8], file: &str) -> String {
    let path = scratch(file);
    std::fs::write(&path, bytes).unwrap();
    match ModelFile::load(&path) {
        Err(Error::ModelFile { path: p, message }) => {
            assert_eq!(p, path.display().to_string());
            message
        }
        Err(other) => panic!("{file}: expected a model-file error, got {other}"),
        Ok(_) => panic!("{file}: loaded"),
    }
}

fn bytes_error(bytes: &[u8]) -> String {
    match ModelFile::from_bytes(bytes) {
        Err(Error::ModelFile { path, message }) => {
            assert_eq!(path, "<bytes>");
            message
        }
        Err(other) => panic!("expected a model-file error, got {other}"),
        Ok(_) => panic!("loaded"),
    }
}

#[test]
fn header_layout() {
    let b = valid_bytes();
    assert_eq!(b[..8], MAGIC);
    assert_eq!(
        u32::from_le_bytes(b[8..12].try_into().unwrap()),
        FORMAT_VERSION
    );
    let len = u64::from_le_bytes(b[12..20].try_into().unwrap()) as usize;
    assert_eq!(b.len(), 20 + len + 4);
    let crc = u32::from_le_bytes(b[20 + len..].try_into().unwrap());
    assert_eq!(crc, crc32(&b[20..20 + len]));
}

#[test]
fn missing_file() {
    let path = scratch("does-not-exist.allegro");
    let _ = std::fs::remove_file(&path);
    match ModelFile::load(&path) {
        Err(Error::ModelFile { path: p, message }) => {
            assert!(p.ends_with("does-not-exist.allegro"));
            assert!(message.contains("cannot read"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_file() {
    let b = valid_bytes();
    for cut in [0, 3, 8, 10, 16, 20, b.len() / 2, b.len() - 4, b.len() - 1] {
        let m = load_error(&b[..cut], "truncated.allegro");
        assert!(m.contains("truncated"), "cut at {cut}: {m}");
    }
}

#[test]
fn foreign_file() {
    let m = load_error(b"{\"config\": {}, \"state_dict\": {}}", "foreign.json");
    assert!(m.contains("not an allegro-rs model file"), "{m}");
    assert!(m.contains("JSON"), "{m}");
    let m = bytes_error(b"PK\x03\x04 some zip archive bytes");
    assert!(
        m.contains("not an allegro-rs model file") && m.contains("zip"),
        "{m}"
    );
    let m = bytes_error(b"ALLEGRX\0\x01\0\0\0");
    assert!(m.contains("not an allegro-rs model file"), "{m}");
}

#[test]
fn newer_format_version() {
    let mut b = valid_bytes();
    b[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let m = load_error(&b, "newer.allegro");
    assert_eq!(
        m,
        format!(
            "written by a newer allegro-rs: format {}, this build reads up to {FORMAT_VERSION}",
            FORMAT_VERSION + 1
        )
    );
}

#[test]
fn corrupted_body() {
    let b = valid_bytes();
    for at in [21, b.len() / 3, b.len() - 5] {
        let mut c = b.clone();
        c[at] ^= 0x40;
        let m = load_error(&c, "corrupted.allegro");
        assert!(
            m.contains("corrupted") && m.contains("checksum"),
            "byte {at}: {m}"
        );
    }
    // Trailing garbage is corruption too.
    let mut c = b.clone();
    c.extend_from_slice(b"xx");
    assert!(bytes_error(&c).contains("corrupted"));
    // A body that passes the checksum but is not a body.
    let mut c = b[..20].to_vec();
    let body = vec![0xFFu8; 7];
    c[12..20].copy_from_slice(&(body.len() as u64).to_le_bytes());
    c.extend_from_slice(&body);
    c.extend_from_slice(&crc32(&body).to_le_bytes());
    assert!(bytes_error(&c).contains("corrupted body"));
}

#[test]
fn config_failing_validation() {
    let mut f = small_file();
    f.config.l_max = 7;
    let m = bytes_error(&f.to_bytes().unwrap());
    assert!(m.contains("invalid config") && m.contains("l_max"), "{m}");
    let mut f = small_file();
    f.config.model_dtype = "float16".into();
    let m = bytes_error(&f.to_bytes().unwrap());
    assert!(m.contains("model_dtype"), "{m}");
}

#[test]
fn fields_disagreeing_with_config() {
    let mut f = small_file();
    f.type_names.swap(0, 1);
    assert!(bytes_error(&f.to_bytes().unwrap()).contains("type names"));
    let mut f = small_file();
    f.cutoffs[3] = 4.0;
    assert!(bytes_error(&f.to_bytes().unwrap()).contains("cutoffs"));
    let mut f = small_file();
    f.model_dtype = DType::F32;
    assert!(bytes_error(&f.to_bytes().unwrap()).contains("model dtype"));
}

#[test]
fn parameters_not_matching_config() {
    // A missing tensor.
    let mut f = small_file();
    let gone = f.tensors.remove(2).name;
    let m = bytes_error(&f.to_bytes().unwrap());
    assert!(m.contains(&gone) && m.contains("missing"), "{m}");
    // A wrong shape (values consistent with it).
    let mut f = small_file();
    let t = f
        .tensors
        .iter_mut()
        .find(|t| t.name.ends_with("mlp.0.weight"))
        .unwrap();
    t.shape[0] += 1;
    let n: usize = t.shape.iter().product();
    t.values = TensorValues::F64(vec![0.0; n]);
    let name = t.name.clone();
    let m = bytes_error(&f.to_bytes().unwrap());
    assert!(m.contains(&name) && m.contains("shape"), "{m}");
    // Fewer values than the shape says.
    let mut f = small_file();
    f.tensors[0].values = TensorValues::F64(vec![]);
    f.tensors[0].shape = vec![2];
    assert!(bytes_error(&f.to_bytes().unwrap()).contains("values for shape"));
    // A shape whose element count overflows (fuzz target `model_file`: an overflow panic).
    let mut f = small_file();
    f.tensors[0].shape = vec![1 << 40, 1 << 40, 1 << 40];
    assert!(bytes_error(&f.to_bytes().unwrap()).contains("values for shape"));
    // A config whose parameters differ (wider MLP) from the stored ones.
    let mut f = small_file();
    f.config.allegro_mlp_hidden_layers_width += 1;
    let m = bytes_error(&f.to_bytes().unwrap());
    assert!(m.contains("shape"), "{m}");
    // The same checks guard `into_model` on a file edited in memory.
    let mut f = small_file();
    f.tensors.pop();
    assert!(matches!(
        f.into_model::<Cpu>(&CpuDevice),
        Err(Error::ModelFile { .. })
    ));
}

#[test]
fn from_model_refuses_parameters_of_another_model() {
    let (model, _, _) = load("small_noparity.json");
    let (_, other_params, _) = load("seed_lmax2.json");
    assert!(matches!(
        ModelFile::from_model(&model, &other_params, BTreeMap::new()),
        Err(Error::ModelFile { .. })
    ));
}

#[test]
fn save_is_atomic_and_overwrites() {
    let f = small_file();
    let dir = scratch("atomic");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("overwrite.allegro");
    std::fs::write(&path, b"old contents").unwrap();
    f.save(&path).unwrap();
    assert_eq!(ModelFile::load(&path).unwrap().tensors, f.tensors);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // A directory that does not exist: an error naming the path, no panic.
    let bad = scratch("no-such-dir").join("x.allegro");
    assert!(matches!(f.save(&bad), Err(Error::ModelFile { .. })));
}
