//! A damaged nequip checkpoint or package is reported where it is damaged: the zip entry
//! and, for its pickle, the byte where reading stopped — not as "neither a nequip
//! checkpoint nor a package" (146 of 150 damaged checkpoints were, before).

mod common;

use std::path::{Path, PathBuf};

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_core::rng::SplitMix64;
use allegro_nequip::model::import_nequip;

fn checkpoint() -> PathBuf {
    common::shared_dir().join("reference/trained/nequip-xtb-best.ckpt")
}

fn package() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/nequip-xtb-best/model.nequip.zip")
}

/// Where the data of `entry` lie in the zip `bytes`: after the local header that names
/// it, up to the next signature (torch writes sizes in a data descriptor after the data,
/// not in the local header).
fn entry_data(bytes: &[u8], entry: &str) -> (usize, usize) {
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]) as usize;
    let header = bytes
        .windows(4 + 26 + entry.len())
        .position(|w| w[..4] == *b"PK\x03\x04" && w[30..] == *entry.as_bytes())
        .unwrap_or_else(|| panic!("no entry {entry}"));
    let data = header + 30 + entry.len() + u16_at(header + 28);
    let size = bytes[data..]
        .windows(4)
        .position(|w| w == b"PK\x07\x08" || w == b"PK\x03\x04")
        .unwrap();
    (data, size)
}

fn import_error(path: &Path) -> String {
    import_nequip::<Cpu>(path, &CpuDevice)
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

#[test]
fn damaged_pickles_name_the_entry_and_byte() {
    let dir = std::env::temp_dir().join(format!("allegro-nequip-damaged-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (source, name, entry) in [
        (checkpoint(), "damaged.ckpt", "archive/data.pkl"),
        (
            package(),
            "damaged.nequip.zip",
            "xtb-best.nequip/model/eager_model.pkl",
        ),
    ] {
        let original = std::fs::read(&source).unwrap();
        let (start, size) = entry_data(&original, entry);
        let path = dir.join(name);
        let mut rng = SplitMix64::new(146);
        let mut at_byte = 0;
        for trial in 0..150 {
            let mut bytes = original.clone();
            let at = start + rng.next_u64() as usize % size;
            bytes[at] = rng.next_u64() as u8;
            if bytes[at] == original[at] {
                bytes[at] ^= 0x80;
            }
            std::fs::write(&path, &bytes).unwrap();
            let e = import_error(&path);
            assert!(
                e.contains(name) && e.contains(&format!("`{entry}`")) && !e.contains("neither"),
                "{name}, trial {trial}, byte {at}: {e}"
            );
            if e.contains(" of the entry (byte ") {
                at_byte += 1;
            }
        }
        // The rest changed the pickle into another valid one: its CRC-32 names the entry.
        assert!(at_byte >= 50, "{name}: {at_byte} of 150 located to a byte");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
