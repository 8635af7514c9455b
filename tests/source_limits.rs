//! The size limits of the style guide, checked on every Rust file of the repository: no
//! file over 700 lines, no function over 150 lines outside GPU kernels (`#[cube]`
//! functions, which cubecl compiles as one kernel and cannot call out of).
//!
//! Functions over the limit when this test was written are listed in [`KNOWN_LONG`] with
//! their length then: each may shrink, none may grow, and no other may join them. Remove
//! an entry when its function is split.

use std::path::{Path, PathBuf};

/// The longest a file may be.
const FILE_LIMIT: usize = 700;

/// The longest a function may be, signature to closing brace.
const FUNCTION_LIMIT: usize = 150;

/// `(file, function, lines)` over [`FUNCTION_LIMIT`] on 2026-12-07, to be split.
const KNOWN_LONG: &[(&str, &str, usize)] = &[];

/// Folders that hold no code of ours (build outputs, vendored crates, tool caches).
const SKIPPED: &[&str] = &["target", "vendor", ".git", ".ci", ".devbin", "node_modules"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            if !SKIPPED.contains(&name.as_str()) {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// The name of the function a line declares, if it declares one.
fn declared_function(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "async ",
        "unsafe ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    rest = rest.strip_prefix("extern \"C\" ").unwrap_or(rest);
    let rest = rest.strip_prefix("fn ")?;
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// A line with comments, string and character literals blanked, so that braces in them
/// do not count.
fn code_of(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => break,
            '"' => {
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' => {
                // A char literal ('{', '\n') — not a lifetime ('a): skip up to its quote.
                let ahead: String = chars.clone().take(3).collect();
                if let Some(close) = ahead.find('\'')
                    && close > 0
                {
                    for _ in 0..=close {
                        chars.next();
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// `(function, lines)` of every function of `text` longer than [`FUNCTION_LIMIT`], GPU
/// kernels aside.
fn long_functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = declared_function(line) else {
            continue;
        };
        let kernel = lines[i.saturating_sub(3)..i]
            .iter()
            .any(|l| l.contains("#[cube"));
        let (mut depth, mut opened) = (0i64, false);
        for (j, body_line) in lines.iter().enumerate().skip(i) {
            let code = code_of(body_line);
            if !opened && code.contains(';') && !code.contains('{') {
                break; // a declaration without a body
            }
            for c in code.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if opened && depth <= 0 {
                let length = j - i + 1;
                if length > FUNCTION_LIMIT && !kernel {
                    found.push((name.to_string(), length));
                }
                break;
            }
        }
    }
    found
}

#[test]
fn files_and_functions_stay_small() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 100, "found only {} Rust files", files.len());
    let mut problems = Vec::new();
    for path in &files {
        let relative = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(path).unwrap();
        let n = text.lines().count();
        if n > FILE_LIMIT {
            problems.push(format!("{relative}: {n} lines (limit {FILE_LIMIT})"));
        }
        for (name, length) in long_functions(&text) {
            let known = KNOWN_LONG
                .iter()
                .find(|(file, function, _)| *file == relative && *function == name);
            match known {
                Some((_, _, was)) if length <= *was => {}
                Some((_, _, was)) => problems.push(format!(
                    "{relative}: fn {name} grew to {length} lines (was {was}; split it)"
                )),
                None => problems.push(format!(
                    "{relative}: fn {name} has {length} lines (limit {FUNCTION_LIMIT})"
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scanner_finds_a_long_function() {
    let body = "    let x = 1;\n".repeat(FUNCTION_LIMIT);
    let text = format!("/// Doc.\npub fn long() {{\n{body}}}\n\nfn short() {{ '{{'; }}\n");
    assert_eq!(
        long_functions(&text),
        vec![("long".to_string(), FUNCTION_LIMIT + 2)]
    );
    let kernel = format!("#[cube(launch)]\nfn kernel() {{\n{body}}}\n");
    assert!(long_functions(&kernel).is_empty());
}
