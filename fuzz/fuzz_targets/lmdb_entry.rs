//! Fuzzes the decoder of one nequip LMDB entry (a pickled dict of torch tensors) into a
//! structure: any bytes give a frame or an error naming it, never a panic.
#![no_main]

use allegro_data::Origin;
use allegro_nequip::decode_frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let origin = Origin {
        source: "fuzz.lmdb".into(),
        frame: 7,
        line: 0,
    };
    if let Err(e) = decode_frame(data, origin) {
        assert!(e.to_string().contains("fuzz.lmdb"), "{e}");
    }
});
