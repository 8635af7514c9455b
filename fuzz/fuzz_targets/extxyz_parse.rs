//! Fuzzes the extxyz reader: any bytes must give frames or an error, never a panic.
//! Parsed frames are then written, read back, and must equal what was read (the writer is
//! lossless for everything the reader accepts, except text info values that read back as
//! numbers or booleans, which are skipped); small frames also get a neighbor list.
#![no_main]

use allegro_data::extxyz::{ReadOptions, WriteOptions, read_extxyz_from, write_extxyz_string, read_extxyz_str};
use allegro_data::{ColumnData, FrameView, InfoValue, NeighborOptions, neighbor_list};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = ReadOptions::default();
    let Ok(frames) = read_extxyz_from(data, "fuzz", &opts) else { return };
    for s in &frames {
        if s.n_atoms() <= 64 {
            let _ = neighbor_list(&FrameView::of(s, None), &NeighborOptions::new(2.0));
        }
    }
    let Ok(text) = write_extxyz_string(&frames, &WriteOptions::default()) else { return };
    let back = read_extxyz_str(&text, "rewritten", &opts).expect("written text must parse");
    // Text that looks like a number reads back as one (as in ASE), and NaN != NaN.
    let ambiguous = frames.iter().any(|s| {
        s.labels.info.values().any(|v| match v {
            InfoValue::Str(_) => true,
            InfoValue::Real(x) => x.is_nan(),
            InfoValue::RealArray(v) => v.iter().any(|x| x.is_nan()),
            _ => false,
        }) || s.labels.arrays.iter().any(|c| matches!(&c.data, ColumnData::Real(v) if v.iter().any(|x| x.is_nan())))
    });
    if !ambiguous {
        assert_eq!(frames, back, "read -> write -> read changed the frames");
    }
});
