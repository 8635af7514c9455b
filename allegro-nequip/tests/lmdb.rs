//! nequip's own LMDB files (`shared/data/nequip-lmdb/`, written by nequip 0.19.1 from
//! `xtb-organics.xyz`) read natively: every frame equals its extxyz frame (species,
//! positions, energy, forces; the LMDB stores float32), and bad files are errors that
//! name the file.

mod common;

use allegro_data::extxyz::{ReadOptions, read_extxyz};
use allegro_data::{Error, Structure};
use allegro_nequip::NequipLmdb;

/// float32 storage: relative rounding 6e-8, so 2e-7 of each value's magnitude (plus a
/// little for values near zero) separates rounding from a wrong frame or unit.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 2e-7 * b.abs().max(1e-3)
}

fn check(lmdb: &NequipLmdb, frames: &[Structure], index_of: impl Fn(usize) -> usize) {
    for i in 0..lmdb.len() {
        let got = lmdb.structure(i).unwrap();
        let want = &frames[index_of(i)];
        assert_eq!(got.species, want.species, "entry {i}");
        assert_eq!(got.cell, want.cell, "entry {i}");
        assert_eq!(got.pbc, want.pbc, "entry {i}");
        for (p, q) in got
            .positions
            .iter()
            .flatten()
            .zip(want.positions.iter().flatten())
        {
            assert!(close(*p, *q), "entry {i}: position {p} vs {q}");
        }
        let (e, e_ref) = (got.labels.energy.unwrap(), want.labels.energy.unwrap());
        assert!(close(e, e_ref), "entry {i}: energy {e} vs {e_ref}");
        let (f, f_ref) = (
            got.labels.forces.unwrap(),
            want.labels.forces.clone().unwrap(),
        );
        for (p, q) in f.iter().flatten().zip(f_ref.iter().flatten()) {
            assert!(close(*p, *q), "entry {i}: force {p} vs {q}");
        }
    }
}

#[test]
fn nequip_lmdb_files_equal_their_extxyz_frames() {
    let dir = common::shared_dir().join("data/nequip-lmdb");
    let frames = read_extxyz(
        common::data_file("xtb-organics.xyz"),
        &ReadOptions::default(),
    )
    .unwrap();
    let val = NequipLmdb::open(dir.join("xtb-val.lmdb")).unwrap();
    assert_eq!(val.len(), 226);
    check(&val, &frames, |i| 10 * i);
    let train = NequipLmdb::open(dir.join("xtb-train.lmdb")).unwrap();
    assert_eq!(train.len(), 563);
    check(&train, &frames, |i| 4 * i + 1);
}

#[test]
fn bad_lmdb_input_is_an_error_naming_the_file() {
    let missing = NequipLmdb::open("no/such.lmdb").unwrap_err();
    assert!(matches!(missing, Error::Lmdb { .. }), "{missing}");
    assert!(missing.to_string().contains("no/such.lmdb"), "{missing}");
    let not_lmdb = common::data_file("water-192.xyz");
    let e = NequipLmdb::open(&not_lmdb).unwrap_err();
    assert!(e.to_string().contains("water-192.xyz"), "{e}");
    let val = NequipLmdb::open(common::shared_dir().join("data/nequip-lmdb/xtb-val.lmdb")).unwrap();
    let e = val.structure(226).unwrap_err();
    assert!(
        e.to_string().contains("xtb-val.lmdb") && e.to_string().contains("226"),
        "{e}"
    );
}

/// Training and validation sets may name the same file: handles open at the same time
/// share one LMDB environment (LMDB allows one per file and process), and the file can
/// be opened again after all are dropped.
#[test]
fn one_file_opened_twice_at_once() {
    let path = common::shared_dir().join("data/nequip-lmdb/xtb-val.lmdb");
    let a = NequipLmdb::open(&path).unwrap();
    let b = NequipLmdb::open(&path).unwrap();
    assert_eq!(a.len(), b.len());
    assert_eq!(a.structure(3).unwrap(), b.structure(3).unwrap());
    drop((a, b));
    let c = NequipLmdb::open(&path).unwrap();
    assert_eq!(c.len(), 226);
}
