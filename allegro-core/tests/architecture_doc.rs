//! `docs/architecture.md` names every trait that `Backend` requires, and no other: the
//! page a new backend's author reads first must list what they have to implement.

use std::path::PathBuf;

/// The supertraits of `pub trait Backend:` in `src/backend/mod.rs`, in order.
fn backend_bound() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/backend/mod.rs");
    let source = std::fs::read_to_string(&path).unwrap();
    let start = source
        .find("pub trait Backend:")
        .expect("src/backend/mod.rs declares `pub trait Backend:`");
    let rest = &source[start + "pub trait Backend:".len()..];
    let bound = &rest[..rest.find('{').expect("the trait has a body")];
    bound
        .split('+')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The backquoted `…Ops` names of the Backend bullet of `docs/architecture.md`.
fn documented_traits() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/architecture.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let start = doc
        .find("- **Backend = ")
        .expect("docs/architecture.md has a `- **Backend = …` bullet");
    let rest = &doc[start + 2..];
    let bullet = &rest[..rest.find("\n- ").unwrap_or(rest.len())];
    let mut names: Vec<String> = bullet
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|name| name.ends_with("Ops") && name.chars().all(char::is_alphanumeric))
        .map(str::to_string)
        .collect();
    names.dedup();
    names
}

#[test]
fn architecture_doc_lists_the_backend_traits() {
    let mut bound = backend_bound();
    let mut documented = documented_traits();
    assert!(
        bound.len() >= 6,
        "parsed too little of the bound: {bound:?}"
    );
    bound.sort();
    documented.sort();
    documented.dedup();
    assert_eq!(
        documented, bound,
        "docs/architecture.md's Backend bullet and `pub trait Backend` disagree"
    );
}
