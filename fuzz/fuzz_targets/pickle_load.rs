//! Fuzzes the pickle machine: any bytes give a value or an error, under both allow-lists,
//! never a panic, an abort, a stack overflow or an allocation beyond the limits. What
//! reads is then interpreted as far as the readers do: every tensor in it decoded, the
//! value turned into JSON.
#![no_main]

use allegro_nequip::pickle::torch::tensor;
use allegro_nequip::pickle::{Globals, Options, Value, load_with};
use libfuzzer_sys::fuzz_target;

/// Decodes every tensor below `v` (errors are fine, panics are not).
fn walk(v: &Value, depth: usize) {
    if depth > 300 {
        return;
    }
    let _ = tensor(v);
    match v {
        Value::Tuple(items) | Value::List(items) => items.iter().for_each(|i| walk(i, depth + 1)),
        Value::Dict(items) => items.iter().for_each(|(k, i)| {
            walk(k, depth + 1);
            walk(i, depth + 1)
        }),
        Value::Reduce {
            callable,
            args,
            state,
        } => {
            walk(callable, depth + 1);
            walk(args, depth + 1);
            if let Some(s) = state {
                walk(s, depth + 1);
            }
        }
        Value::Persistent(p) => walk(p, depth + 1),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    for globals in [Globals::TorchData, Globals::TorchPackage] {
        let options = Options {
            globals,
            ..Options::default()
        };
        if let Ok((value, used)) = load_with(data, &options) {
            assert!(used <= data.len());
            walk(&value, 0);
            let _ = value.to_json("fuzz");
        }
    }
});
