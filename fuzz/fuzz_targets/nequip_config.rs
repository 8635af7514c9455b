//! Fuzzes the nequip config language: YAML, Hydra command-line overrides and OmegaConf
//! interpolation (cycles, self-references, deep nesting, resolvers). The input is the
//! YAML text, then after a NUL byte one override per line. Errors are fine; a panic, a
//! stack overflow or a hang are findings.
#![no_main]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use allegro_nequip::config::{LoadOptions, NequipRunConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (yaml, overrides) = text.split_once('\0').unwrap_or((text, ""));
    let overrides: Vec<&str> = overrides.lines().collect();
    let options = LoadOptions {
        cwd: PathBuf::from("/fuzz"),
        env: BTreeMap::from([("HOME".to_string(), "/home/fuzz".to_string())]),
        now: UNIX_EPOCH,
    };
    let _ = NequipRunConfig::from_yaml_str(yaml, Path::new("fuzz.yaml"), &overrides, &options);
});
