//! Truncated and damaged copies of nequip's LMDB files (`shared/data/nequip-lmdb/`) are
//! errors naming the file, never a signal: cut at many byte offsets (0, 1, inside and at
//! the edges of the meta pages, at and beside page boundaries, inside the last page),
//! whole pages overwritten with zeros or random bytes, single bytes flipped. Each copy is
//! read through every public reader: [`NequipLmdb`] (open, every frame),
//! [`read_structures`] (what `evaluate` calls) and [`LmdbGraphs`] (what nequip training
//! streams). A signal (the SIGBUS LMDB's memory map gave on a truncated file) would kill
//! this test process.

mod common;

use std::path::{Path, PathBuf};

use allegro_data::extxyz::ReadOptions;
use allegro_data::{GraphSource, NeighborOptions, SplitMix64, TypeMapper};
use allegro_nequip::{LmdbGraphs, NequipLmdb, read_structures};

const PAGE: usize = 4096;

/// A fresh folder for one test (tests run in parallel).
fn scratch(test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("allegro-lmdb-damage-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Reads `path` through every reader; the first error, or `Ok` if all of it reads.
fn read_all(path: &Path) -> Result<(), String> {
    let lmdb = NequipLmdb::open(path).map_err(|e| e.to_string())?;
    lmdb.structures().map_err(|e| e.to_string())?;
    read_structures(path, &ReadOptions::default()).map_err(|e| e.to_string())?;
    let mapper = TypeMapper::new(&["C", "H", "N", "O"]).unwrap();
    let graphs = LmdbGraphs::new(lmdb, mapper, NeighborOptions::new(4.0));
    for i in 0..graphs.len() {
        graphs.graph(i).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Whether page `index` of `original` is part of the database: its header names it and
/// says it is a meta, branch, leaf or overflow page.
fn in_use(original: &[u8], index: usize) -> bool {
    let page = &original[index * PAGE..(index + 1) * PAGE];
    let pgno = u64::from_le_bytes(page[..8].try_into().unwrap());
    let flags = u16::from_le_bytes([page[10], page[11]]);
    pgno == index as u64 && matches!(flags, 0x01 | 0x02 | 0x04 | 0x08)
}

/// Writes `bytes` as `name` in `dir` and reads it; returns the outcome.
fn try_copy(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let outcome = read_all(&path);
    std::fs::remove_file(&path).unwrap();
    outcome
}

fn assert_names_file(outcome: &Result<(), String>, name: &str, case: &str) {
    match outcome {
        Err(e) => assert!(
            e.contains(name),
            "{case}: the error does not name {name}: {e}"
        ),
        Ok(()) => panic!("{case}: read without an error"),
    }
}

/// The byte offsets to cut `len` bytes at.
fn cuts(len: usize) -> Vec<usize> {
    let mut at = vec![
        0,
        1,
        15,
        16,
        100,
        151,
        152,
        PAGE - 1,
        PAGE,
        PAGE + 1,
        PAGE + 152,
    ];
    at.extend([
        2 * PAGE - 1,
        2 * PAGE,
        2 * PAGE + 1,
        3 * PAGE,
        3 * PAGE + 17,
    ]);
    // Every 7th page boundary and a byte inside the page after it.
    for page in (4..len / PAGE).step_by(7) {
        at.extend([page * PAGE, page * PAGE + 1 + page % 4000]);
    }
    // Inside the last page, and one byte short.
    at.extend([
        len - PAGE,
        len - PAGE + 1,
        len - PAGE / 2,
        len - 16,
        len - 1,
    ]);
    at.retain(|&c| c < len);
    at.sort_unstable();
    at.dedup();
    at
}

#[test]
fn truncated_lmdb_files_are_errors_naming_the_file() {
    let dir = scratch("cuts");
    for name in ["xtb-val.lmdb", "xtb-train.lmdb"] {
        let original =
            std::fs::read(common::shared_dir().join("data/nequip-lmdb").join(name)).unwrap();
        let copy = format!("cut-{name}");
        let cut_at = cuts(original.len());
        assert!(cut_at.len() > 30, "{} cuts", cut_at.len());
        for &cut in &cut_at {
            let outcome = try_copy(&dir, &copy, &original[..cut]);
            assert_names_file(&outcome, &copy, &format!("{name} cut at {cut}"));
            // From the meta pages on, the message says what the header needs.
            if cut >= 2 * PAGE {
                let e = outcome.unwrap_err();
                assert!(
                    e.contains(&format!("{cut} bytes"))
                        && e.contains(&format!("{} bytes needed", original.len())),
                    "{name} cut at {cut}: {e}"
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn overwritten_pages_are_errors_naming_the_file() {
    let dir = scratch("pages");
    let mut rng = SplitMix64::new(18);
    for (name, step) in [("xtb-val.lmdb", 1), ("xtb-train.lmdb", 5)] {
        let original =
            std::fs::read(common::shared_dir().join("data/nequip-lmdb").join(name)).unwrap();
        let copy = format!("paged-{name}");
        let pages = original.len() / PAGE;
        let mut errors = 0;
        for index in (0..pages).step_by(step).chain([pages - 1]) {
            for random in [false, true] {
                let mut damaged = original.clone();
                for b in &mut damaged[index * PAGE..(index + 1) * PAGE] {
                    *b = if random { rng.next_u64() as u8 } else { 0 };
                }
                let outcome = try_copy(&dir, &copy, &damaged);
                let case = format!(
                    "{name}, page {index} overwritten with {}",
                    if random { "random bytes" } else { "zeros" }
                );
                if in_use(&original, index) {
                    assert_names_file(&outcome, &copy, &case);
                    errors += 1;
                } else if let Err(e) = &outcome {
                    // A page outside the tree (free, never written) may go unnoticed.
                    assert!(e.contains(&copy), "{case}: {e}");
                }
            }
        }
        assert!(errors > pages / step, "{name}: {errors} errors");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Single flipped bytes anywhere in the file: an error naming the file, or data read
/// (a flipped bit inside a stored float changes the float: LMDB keeps no checksum) —
/// never a signal.
#[test]
fn flipped_bytes_never_crash() {
    let dir = scratch("flips");
    let name = "xtb-val.lmdb";
    let original = std::fs::read(common::shared_dir().join("data/nequip-lmdb").join(name)).unwrap();
    let copy = format!("flipped-{name}");
    let mut rng = SplitMix64::new(7);
    let mut errors = 0;
    for trial in 0..300 {
        let mut damaged = original.clone();
        // Headers and node tables (the first 64 bytes of pages) half the time.
        let at = if trial % 2 == 0 {
            (rng.next_u64() as usize % (original.len() / PAGE)) * PAGE
                + rng.next_u64() as usize % 64
        } else {
            rng.next_u64() as usize % original.len()
        };
        damaged[at] ^= 1 << (rng.next_u64() % 8);
        if let Err(e) = try_copy(&dir, &copy, &damaged) {
            assert!(e.contains(&copy), "byte {at} flipped: {e}");
            errors += 1;
        }
    }
    assert!(errors > 50, "{errors} of 300 flips noticed");
    std::fs::remove_dir_all(&dir).unwrap();
}
