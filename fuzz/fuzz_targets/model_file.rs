//! Fuzzes the `.allegro` model file reader: any bytes give a model file or an error,
//! never a panic; a file that reads builds its predictor (or says why not). Each input
//! is read as it is and again with its body length and CRC-32 made consistent, so that
//! mutations reach the body's decoder instead of stopping at the checksum.
#![no_main]

use allegro_core::backend::cpu::{Cpu, CpuDevice};
use allegro_nn::ModelFile;
use allegro_nn::model_file::{MAGIC, crc32};
use libfuzzer_sys::fuzz_target;

/// Header: magic, version `u32`, body length `u64`; trailer: CRC-32 of the body.
const HEADER: usize = 8 + 4 + 8;
const TRAILER: usize = 4;

fn read(bytes: &[u8]) {
    if let Ok(file) = ModelFile::from_bytes(bytes) {
        let _ = file.into_predictor::<Cpu>(CpuDevice);
    }
}

fuzz_target!(|data: &[u8]| {
    read(data);
    if data.len() >= HEADER + TRAILER && data[..8] == MAGIC {
        let mut fixed = data.to_vec();
        let body_len = data.len() - HEADER - TRAILER;
        fixed[12..20].copy_from_slice(&(body_len as u64).to_le_bytes());
        let crc = crc32(&fixed[HEADER..HEADER + body_len]);
        fixed[HEADER + body_len..].copy_from_slice(&crc.to_le_bytes());
        read(&fixed);
    }
});
