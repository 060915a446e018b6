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
        ("latchkey-zwave", &[]),
        ("latchkey-mqtt", &[]),
        ("latchkey-sim", &[]),
        ("latchkey-store", &["latchkey-core"]),
        ("latchkey-testkit", &["latchkey-store"]),
        ("latchkey-app", &["latchkey-core", "latchkey-store"]),
        ("latchkey-http", &["latchkey-core", "latchkey-app"]),
        ("latchkey-web", &["latchkey-core", "latchkey-app"]),
        (
            "latchkey-bridge",
            &[
                "latchkey-app",
                "latchkey-core",
                "latchkey-mqtt",
                "latchkey-z2m",
                "latchkey-zwave",
            ],
        ),
        ("latchkey-mail", &["latchkey-app"]),
        ("latchkey-push", &["latchkey-app"]),
        ("latchkey-webhook", &["latchkey-app"]),
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

#[test]
fn the_virtual_locks_never_use_the_codecs_they_are_tested_against() {
    // latchkey-sim writes its payloads from the protocol; sharing the server's parser would
    // mirror its mistakes (docs/ARCHITECTURE.md). Dev-dependencies count too.
    let manifest = std::fs::read_to_string(crates_dir().join("latchkey-sim/Cargo.toml")).unwrap();
    for codec in ["latchkey-z2m", "latchkey-zwave"] {
        assert!(
            !manifest.contains(codec),
            "latchkey-sim's manifest names {codec}"
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
fn the_use_cases_speak_only_the_core_lock_vocabulary() {
    let src = crates_dir().join("latchkey-app").join("src");
    let mut offenders = Vec::new();
    for path in sources(&src) {
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains("latchkey_z2m") || text.contains("latchkey_zwave") {
            offenders.push(path);
        }
    }
    assert!(
        offenders.is_empty(),
        "these use-case files name a codec instead of latchkey_core::lock: {offenders:?}"
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

/// A function of latchkey-app: its name, where it is, its signature and its body.
struct AppFn {
    file: PathBuf,
    name: String,
    public: bool,
    signature: String,
    body: String,
}

/// The name of the function a line starts (`pub async fn name`, `fn name`, …) and whether it
/// is `pub` (public outside the crate).
fn fn_start(line: &str) -> Option<(String, bool)> {
    let mut rest = line.trim_start();
    let mut public = false;
    if let Some(r) = rest.strip_prefix("pub ") {
        public = true;
        rest = r;
    } else if rest.starts_with("pub(") {
        rest = rest.split_once(") ")?.1;
    }
    rest = rest.strip_prefix("async ").unwrap_or(rest);
    let name: String = rest
        .strip_prefix("fn ")?
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    Some((name, public))
}

/// Every function with a body in latchkey-app's sources (`authz` excepted), read by matching
/// braces: enough for code that rustfmt keeps in shape.
fn app_functions() -> Vec<AppFn> {
    let src = crates_dir().join("latchkey-app").join("src");
    let mut out = Vec::new();
    for path in sources(&src) {
        if path.strip_prefix(&src).unwrap().starts_with("authz") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let Some((name, public)) = fn_start(line) else {
                continue;
            };
            let Some(open) = text[start..].find(['{', ';']).map(|i| start + i) else {
                continue;
            };
            if text.as_bytes()[open] == b';' {
                continue;
            }
            let mut depth = 0usize;
            let mut close = open;
            for (i, c) in text[open..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            close = open + i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            out.push(AppFn {
                file: path.clone(),
                name,
                public,
                signature: text[start..open].to_owned(),
                body: text[open..=close].to_owned(),
            });
        }
    }
    out
}

/// The names of the functions that change state: those that open a write transaction or
/// commit audit events, and those that call one of them (by name, within the crate). Rate-limit
/// counters (`limits.rs`, `ratelimit.rs`) are not a change a capability guards: a loader
/// counts a try before it reads.
fn writers(fns: &[AppFn]) -> BTreeSet<String> {
    let counters =
        |f: &&AppFn| !(f.file.ends_with("limits.rs") || f.file.ends_with("ratelimit.rs"));
    let mut writes: BTreeSet<String> = fns
        .iter()
        .filter(counters)
        .filter(|f| {
            f.body.contains(".write().await")
                || f.body.contains("commit_with(")
                || f.body.contains("commit_at(")
        })
        .map(|f| f.name.clone())
        .collect();
    loop {
        let more: Vec<String> = fns
            .iter()
            .filter(counters)
            .filter(|f| !writes.contains(&f.name))
            .filter(|f| {
                writes.iter().any(|w| {
                    f.body.contains(&format!(".{w}(")) || f.body.contains(&format!(" {w}("))
                })
            })
            .map(|f| f.name.clone())
            .collect();
        if more.is_empty() {
            return writes;
        }
        writes.extend(more);
    }
}

/// Whether a signature takes a `&Principal` (with or without a named lifetime).
fn takes_principal(signature: &str) -> bool {
    signature.match_indices("Principal").any(|(i, _)| {
        let before = signature[..i].trim_end();
        before.ends_with('&')
            || before
                .rsplit_once('&')
                .is_some_and(|(_, lifetime)| lifetime.starts_with('\'') && !lifetime.contains(' '))
    })
}

#[test]
fn a_public_use_case_that_changes_state_takes_a_capability_not_a_principal() {
    let fns = app_functions();
    let writes = writers(&fns);
    let offenders: Vec<String> = fns
        .iter()
        .filter(|f| f.public && writes.contains(&f.name))
        .filter(|f| takes_principal(&f.signature))
        .map(|f| format!("{} ({})", f.name, f.file.display()))
        .collect();
    assert!(
        offenders.is_empty(),
        "these use cases change state but take a &Principal: take a capability minted in \
         authz instead (load the record first for a change by id): {offenders:?}"
    );
}

#[test]
fn capabilities_are_minted_only_in_authz_and_cannot_be_copied() {
    let authz = crates_dir().join("latchkey-app").join("src").join("authz");
    for path in sources(&authz) {
        // The principal is minted by authentication (`pub(crate) fn new`) and may be cloned:
        // it proves who asks, not what they may do.
        if path.ends_with("principal.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.display();
        for line in text.lines().map(str::trim_start) {
            let public = line.starts_with("pub ") || line.starts_with("pub(");
            let item = [
                "fn ", "use ", "mod ", "struct ", "const ", "trait ", "type ",
            ]
            .iter()
            .any(|k| line.contains(k));
            assert!(
                !(public && !item && line.contains(':')),
                "{name}: a capability has a public field: `{line}`"
            );
            assert!(
                !(line.contains("derive(") && (line.contains("Clone") || line.contains("Copy"))),
                "{name}: a capability is Clone or Copy: `{line}`"
            );
            assert!(
                !line.starts_with("impl Clone for") && !line.starts_with("impl Copy for"),
                "{name}: a capability is Clone or Copy: `{line}`"
            );
            assert!(
                !(public && line.contains("fn new")),
                "{name}: a capability has a public constructor: `{line}`"
            );
            assert!(
                !(line.starts_with("pub struct") && line.contains("(pub")),
                "{name}: a capability has a public field: `{line}`"
            );
        }
    }
}
