//! Writing nequip LMDB datasets: what is written reads back bit for bit, every entry
//! equals what nequip 0.19.1 wrote for the same frame byte for byte (storage keys aside,
//! see `entries_equal_nequip_s_bytes`), the metadata entry equals nequip's, and bad
//! input is an error naming the file or frame.

mod common;

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use allegro_data::extxyz::{ReadOptions, read_extxyz};
use allegro_data::{Error, Species, Structure};
use allegro_nequip::NequipLmdb;
use allegro_nequip::lmdb::{
    FloatDtype, LmdbWriteOptions, NequipLmdbWriter, encode_frame, encode_frame_with_storage_keys,
    encode_metadata, write_nequip_lmdb,
};
use allegro_nequip::pickle::{self, Value};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("allegro-lmdb-write-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// heed refuses to open an LMDB file that is already open in the process, so the tests
/// that open nequip's files take turns.
static NEQUIP_FILES: Mutex<()> = Mutex::new(());

/// nequip's file `name`, and the turn to open it.
fn nequip_file(name: &str) -> (PathBuf, MutexGuard<'static, ()>) {
    let turn = NEQUIP_FILES.lock().unwrap_or_else(|e| e.into_inner());
    (
        common::shared_dir().join("data/nequip-lmdb").join(name),
        turn,
    )
}

fn bits(v: &[[f64; 3]]) -> Vec<u64> {
    v.iter().flatten().map(|x| x.to_bits()).collect()
}

fn mat_bits(m: &Option<[[f64; 3]; 3]>) -> Option<Vec<u64>> {
    m.map(|m| m.iter().flatten().map(|x| x.to_bits()).collect())
}

/// Everything the LMDB holds, compared bit for bit.
fn assert_same(got: &Structure, want: &Structure, what: &str) {
    assert_eq!(got.species, want.species, "{what}: species");
    assert_eq!(
        bits(&got.positions),
        bits(&want.positions),
        "{what}: positions"
    );
    assert_eq!(mat_bits(&got.cell), mat_bits(&want.cell), "{what}: cell");
    assert_eq!(got.pbc, want.pbc, "{what}: pbc");
    assert_eq!(
        got.labels.energy.map(f64::to_bits),
        want.labels.energy.map(f64::to_bits),
        "{what}: energy"
    );
    assert_eq!(
        got.labels.forces.as_deref().map(bits),
        want.labels.forces.as_deref().map(bits),
        "{what}: forces"
    );
    assert_eq!(
        mat_bits(&got.labels.stress),
        mat_bits(&want.labels.stress),
        "{what}: stress"
    );
    assert_eq!(
        mat_bits(&got.labels.virial),
        mat_bits(&want.labels.virial),
        "{what}: virial"
    );
}

fn write_and_read(
    path: &PathBuf,
    frames: &[Structure],
    options: LmdbWriteOptions,
) -> Vec<Structure> {
    let mut w = NequipLmdbWriter::with_options(path, options).unwrap();
    for s in frames {
        w.push(s).unwrap();
    }
    assert_eq!(w.finish().unwrap(), frames.len());
    let back = NequipLmdb::open(path).unwrap();
    assert_eq!(back.len(), frames.len());
    back.structures().unwrap()
}

/// nequip's validation file, read, written (float64 and float32), read again: the same
/// frames, bit for bit (its values are float32, which both dtypes hold exactly).
#[test]
fn nequip_file_round_trips() {
    let (file, _turn) = nequip_file("xtb-val.lmdb");
    let val = NequipLmdb::open(file).unwrap();
    let frames = val.structures().unwrap();
    assert_eq!(frames.len(), 226);
    let dir = scratch("roundtrip");
    for float_dtype in [FloatDtype::F64, FloatDtype::F32] {
        let path = dir.join(format!("val-{float_dtype:?}.lmdb"));
        let options = LmdbWriteOptions {
            float_dtype,
            ..Default::default()
        };
        let back = write_and_read(&path, &frames, options);
        for (i, (got, want)) in back.iter().zip(&frames).enumerate() {
            assert_same(got, want, &format!("{float_dtype:?} frame {i}"));
        }
    }
    // The plain function writes float64, like the default options.
    let path = dir.join("val.lmdb");
    assert_eq!(write_nequip_lmdb(&path, &frames).unwrap(), 226);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(dir.join("val-F64.lmdb")).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The storage key of each tensor of a pickled nequip entry, in the dict's order: the
/// third field of the persistent id inside `_load_from_bytes(legacy)`, after the magic
/// number, protocol version and system info pickles.
fn storage_keys(raw: &[u8]) -> Vec<String> {
    let (entry, _) = pickle::load(raw).unwrap();
    let Value::Dict(items) = entry else {
        panic!("an entry is a dict");
    };
    items
        .iter()
        .map(|(_, tensor)| {
            let Value::Reduce { args, .. } = tensor else {
                panic!("a tensor is a reduction");
            };
            let Value::Reduce { args: storage, .. } = &args.as_seq().unwrap()[0] else {
                panic!("its storage is _load_from_bytes(…)");
            };
            let Value::Bytes(legacy) = &storage.as_seq().unwrap()[0] else {
                panic!("of bytes");
            };
            let mut at = 0;
            for _ in 0..3 {
                at += pickle::load(&legacy[at..]).unwrap().1;
            }
            let Value::Persistent(pid) = pickle::load(&legacy[at..]).unwrap().0 else {
                panic!("the storage is a persistent id");
            };
            pid.as_seq().unwrap()[2].as_str().unwrap().to_string()
        })
        .collect()
}

/// Every entry of nequip's validation file, and its `__metadata__`, equal what is encoded
/// here for the same frame byte for byte: from the frame read back from that file, and
/// from the extxyz frame nequip converted (float64 text → float32 tensors, both rounding
/// to nearest). The one thing no writer can reproduce is the storage keys: torch names
/// each storage by its address in memory (`str(storage._cdata)`), so the keys are taken
/// from nequip's entry; with the writer's own key ("0") the entry differs only there.
#[test]
fn entries_equal_nequip_s_bytes() {
    let (file, _turn) = nequip_file("xtb-val.lmdb");
    let val = NequipLmdb::open(file).unwrap();
    let xyz = read_extxyz(
        common::data_file("xtb-organics.xyz"),
        &ReadOptions::default(),
    )
    .unwrap();
    for i in 0..val.len() {
        let raw = val.raw_value(i.to_string().as_bytes()).unwrap().unwrap();
        let keys = storage_keys(&raw);
        let from_lmdb = val.structure(i).unwrap();
        let ours =
            encode_frame_with_storage_keys(&from_lmdb, FloatDtype::F32, &mut |k| keys[k].clone())
                .unwrap();
        assert!(ours == raw, "entry {i} differs from nequip's");
        let from_xyz = &xyz[10 * i];
        let ours =
            encode_frame_with_storage_keys(from_xyz, FloatDtype::F32, &mut |k| keys[k].clone())
                .unwrap();
        assert!(ours == raw, "entry {i} (from extxyz) differs from nequip's");
    }
    // With the writer's own key ("0") the length prefixes around each storage differ
    // from nequip's too, so that entry is compared by what it decodes to.
    let raw0 = val.raw_value(b"0").unwrap().unwrap();
    let ours0 = encode_frame(&val.structure(0).unwrap(), FloatDtype::F32).unwrap();
    let decoded = |b: &[u8]| -> Vec<(String, allegro_nequip::pickle::torch::Tensor)> {
        let (v, _) = pickle::load(b).unwrap();
        let Value::Dict(items) = v else { panic!() };
        items
            .iter()
            .map(|(k, t)| {
                (
                    k.as_str().unwrap().to_string(),
                    pickle::torch::tensor(t).unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(decoded(&ours0), decoded(&raw0));
    assert_eq!(storage_keys(&ours0), vec!["0"; 6]);

    let meta = val.raw_value(b"__metadata__").unwrap().unwrap();
    let atoms: Vec<usize> = (0..val.len())
        .map(|i| val.structure(i).unwrap().species.len())
        .collect();
    assert!(
        encode_metadata(&atoms) == meta,
        "__metadata__ differs from nequip's"
    );
    // And so does the metadata of a written file.
    let dir = scratch("metadata");
    let path = dir.join("val.lmdb");
    write_nequip_lmdb(&path, &val.structures().unwrap()).unwrap();
    let written = NequipLmdb::open(&path).unwrap();
    assert!(written.raw_value(b"__metadata__").unwrap().unwrap() == meta);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// extxyz frames round-trip bit for bit in float64: molecules (no cell: a zero cell and
/// pbc false in the file, no cell when read back), a periodic water box without labels,
/// and periodic frames with energy, forces and stress; a virial too.
#[test]
fn extxyz_frames_round_trip() {
    let read = ReadOptions::default();
    let mut frames: Vec<Structure> = read_extxyz(common::data_file("xtb-organics.xyz"), &read)
        .unwrap()
        .into_iter()
        .take(20)
        .collect();
    assert!(
        frames
            .iter()
            .all(|s| s.cell.is_none() && s.labels.forces.is_some())
    );
    let water = read_extxyz(common::data_file("water-192.xyz"), &read).unwrap();
    assert!(water[0].cell.is_some() && water[0].pbc == [true; 3]);
    frames.extend(water);
    let emt: Vec<Structure> = read_extxyz(common::data_file("emt-cuagau.xyz"), &read)
        .unwrap()
        .into_iter()
        .take(20)
        .collect();
    assert!(emt.iter().all(|s| s.labels.stress.is_some()));
    frames.extend(emt);
    let mut with_virial = frames.last().unwrap().clone();
    with_virial.labels.virial = Some([[1.5, -2.0, 0.25], [-2.0, 3.0, 1e-9], [0.25, 1e-9, -7.0]]);
    frames.push(with_virial);

    let dir = scratch("extxyz");
    let path = dir.join("mixed.lmdb");
    let back = write_and_read(&path, &frames, LmdbWriteOptions::default());
    for (i, (got, want)) in back.iter().zip(&frames).enumerate() {
        assert_same(got, want, &format!("frame {i}"));
    }
    // The file is one LMDB file, no lock file or temporary left beside it.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["mixed.lmdb"]);
    assert!(allegro_nequip::is_lmdb(&path));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A map far too small and one frame per transaction: the map grows, every frame lands.
#[test]
fn the_map_grows_as_needed() {
    let (file, _turn) = nequip_file("xtb-train.lmdb");
    let train = NequipLmdb::open(file).unwrap();
    let frames = train.structures().unwrap();
    let dir = scratch("grow");
    let options = LmdbWriteOptions {
        float_dtype: FloatDtype::F64,
        frames_per_commit: 7,
        initial_map_size: 1,
    };
    let path = dir.join("train.lmdb");
    let back = write_and_read(&path, &frames, options);
    assert_eq!(back.len(), 563);
    for (i, (got, want)) in back.iter().zip(&frames).enumerate() {
        assert_same(got, want, &format!("frame {i}"));
    }
    // Over 1 MiB of float64 frames: more than the initial map held.
    assert!(std::fs::metadata(&path).unwrap().len() > 1 << 20);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_frames_is_an_empty_dataset() {
    let dir = scratch("empty");
    let path = dir.join("empty.lmdb");
    assert_eq!(write_nequip_lmdb(&path, &[]).unwrap(), 0);
    let back = NequipLmdb::open(&path).unwrap();
    assert!(back.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_output_or_frames_are_errors_naming_them() {
    let dir = scratch("errors");
    let frames = read_extxyz(common::data_file("water-192.xyz"), &ReadOptions::default()).unwrap();

    // A directory that does not exist.
    let missing = dir.join("no/such/dir/out.lmdb");
    let e = write_nequip_lmdb(&missing, &frames).unwrap_err();
    assert!(matches!(e, Error::Lmdb { .. }), "{e}");
    assert!(e.to_string().contains("no/such/dir/out.lmdb"), "{e}");

    // A destination that is a directory: the file is written, cannot be moved there,
    // and its temporary is removed.
    let taken = dir.join("taken.lmdb");
    std::fs::create_dir(&taken).unwrap();
    std::fs::write(taken.join("keep"), b"").unwrap();
    let e = write_nequip_lmdb(&taken, &frames).unwrap_err();
    assert!(e.to_string().contains("taken.lmdb"), "{e}");
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["taken.lmdb"]);

    // A species that is not an element, in the second frame: named by its origin.
    let out = dir.join("out.lmdb");
    let mut w = NequipLmdbWriter::create(&out).unwrap();
    w.push(&frames[0]).unwrap();
    let mut odd = frames[0].clone();
    odd.species[3] = Species::new("Xx").unwrap();
    let e = w.push(&odd).unwrap_err();
    assert!(
        e.to_string().contains("Xx") && e.to_string().contains("water-192.xyz"),
        "{e}"
    );
    // Without an origin, the frame's index in the output names it.
    odd.origin = None;
    let e = w.push(&odd).unwrap_err();
    assert!(e.to_string().contains("frame 1"), "{e}");
    // Periodic without a cell, as nequip refuses it.
    let mut no_cell = frames[0].clone();
    no_cell.cell = None;
    let e = w.push(&no_cell).unwrap_err();
    assert!(e.to_string().contains("without a cell"), "{e}");
    // Dropped unfinished: neither the destination nor a temporary exists.
    drop(w);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["taken.lmdb"]);

    let e = NequipLmdbWriter::with_options(
        &out,
        LmdbWriteOptions {
            frames_per_commit: 0,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
