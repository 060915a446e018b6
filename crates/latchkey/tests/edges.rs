//! The workspace's dependency rules (docs/ARCHITECTURE.md, "The crates"), read from the crates'
//! own manifests and sources, so that an edge pointing up or a handler reaching the store fails
//! a test instead of waiting for a reviewer.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The workspace crates a crate's `[dependencies]` name (dev-dependencies are for tests).
fn internal_dependencies(krate: &str) -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(crates_dir().join(krate).join("Cargo.toml")).unwrap();
    let manifest: toml::Table = manifest.parse().unwrap();
    manifest
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .map(|deps| {
            deps.keys()
                .filter(|name| name.starts_with("latchkey"))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_crate_depends_only_on_the_crates_below_it() {
    let allowed: &[(&str, &[&str])] = &[
        ("latchkey-core", &[]),
        ("latchkey-z2m", &[]),
        ("latchkey-mqtt", &[]),
        ("latchkey-sim", &[]),
        ("latchkey-store", &["latchkey-core"]),
        ("latchkey-testkit", &["latchkey-store"]),
        (
            "latchkey-app",
            &["latchkey-core", "latchkey-store", "latchkey-z2m"],
        ),
        ("latchkey-http", &["latchkey-core", "latchkey-app"]),
        ("latchkey-web", &["latchkey-core", "latchkey-app"]),
        (
            "latchkey-bridge",
            &["latchkey-app", "latchkey-mqtt", "latchkey-z2m"],
        ),
    ];
    for (krate, may) in allowed {
        let may: BTreeSet<String> = may.iter().map(|s| (*s).to_owned()).collect();
        let has = internal_dependencies(krate);
        let extra: Vec<_> = has.difference(&may).collect();
        assert!(
            extra.is_empty(),
            "{krate} depends on {extra:?}, which docs/ARCHITECTURE.md does not allow"
        );
    }
}

/// Rust sources under `dir`, recursively.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

#[test]
fn the_binary_reaches_storage_only_to_open_it_and_in_its_benches() {
    // Terminal commands and the demo go through the use cases, like the API: only opening the
    // database (with its URL redacted in messages), the benches' bulk loaders and test modules
    // (which look at what was written) touch it.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed = |path: &Path| {
        let rel = path.strip_prefix(&src).unwrap();
        let test_only = rel
            .file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with("tests.rs"));
        rel.starts_with("bench")
            || rel == Path::new("wiring.rs")
            || rel == Path::new("config.rs")
            || test_only
    };
    let mut offenders = Vec::new();
    for path in sources(&src) {
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains("latchkey_store") && !allowed(&path) {
            offenders.push(path);
        }
    }
    assert!(
        offenders.is_empty(),
        "these files use latchkey_store directly instead of a use case: {offenders:?}"
    );
}

#[test]
fn the_web_layer_and_the_bridge_never_name_the_store() {
    for krate in ["latchkey-http", "latchkey-web", "latchkey-bridge"] {
        for path in sources(&crates_dir().join(krate).join("src")) {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                !text.contains("latchkey_store"),
                "{} names latchkey_store; it must use latchkey-app's use cases",
                path.display()
            );
        }
    }
}
