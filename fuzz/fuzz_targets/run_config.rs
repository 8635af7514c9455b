//! Fuzzes the short YAML run config (`allegro train config.yaml`): any text gives a
//! config or an error naming the origin, never a panic.
#![no_main]

use allegro_train::run::RunConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = RunConfig::from_yaml_str(text, "fuzz.yaml") {
        assert!(e.to_string().contains("fuzz.yaml"), "{e}");
    }
});
