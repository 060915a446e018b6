//! The event kinds docs/DEVICES.md lists are the ones the code writes: the table between the
//! `event-kinds` markers is generated from `latchkey_app::event_kinds`, and every kind about a
//! door, lock or sensor written in `crates/latchkey-app/src` must be in that table. After adding
//! a kind, regenerate the docs with
//! `LATCHKEY_UPDATE_DOCS=1 cargo test -p latchkey-app --test event_kinds`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use latchkey_app::event_kinds::{DEVICE_EVENT_KINDS, markdown_table};

const BEGIN: &str =
    "<!-- event-kinds:begin (generated from crates/latchkey-app/src/event_kinds.rs) -->\n";
const END: &str = "<!-- event-kinds:end -->";

/// Literals with these prefixes name audit events about doors, locks and sensors.
const PREFIXES: &[&str] = &["access.", "door.", "lock.", "sensor.", "credential.rotated"];

/// Literals with those prefixes that are not audit event kinds, and why.
const NOT_EVENTS: &[&str] = &[
    // Filters on kinds ("every lock event", "every door event"), not kinds.
    "lock.",
    "door.",
    "entry_notice.",
    // A prefix the live stream strips to read a command's status, not a kind.
    "lock.command_",
    // Notifications (docs/LOCKOUT.md, docs/DEVICES.md), never written to the audit log: the
    // audit event of an unexpected opening is a `lock.alarm`.
    "door.repair_needed",
    "lock.unexpected_opening",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn devices_md_lists_every_event_kind_of_the_code() {
    let path = root().join("docs/DEVICES.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let start = doc
        .find(BEGIN)
        .expect("docs/DEVICES.md has the event-kinds begin marker");
    let end = doc
        .find(END)
        .expect("docs/DEVICES.md has the event-kinds end marker");
    let inside = &doc[start + BEGIN.len()..end];
    let generated = markdown_table();
    if std::env::var_os("LATCHKEY_UPDATE_DOCS").is_some() && inside != generated {
        let updated = format!("{}{BEGIN}{generated}{}", &doc[..start], &doc[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert!(
        inside == generated,
        "docs/DEVICES.md's event table differs from crates/latchkey-app/src/event_kinds.rs; \
         regenerate it with LATCHKEY_UPDATE_DOCS=1 cargo test -p latchkey-app --test event_kinds"
    );
}

#[test]
fn the_table_is_sorted_and_each_kind_is_listed_once_with_a_meaning() {
    for pair in DEVICE_EVENT_KINDS.windows(2) {
        assert!(
            pair[0].kind < pair[1].kind,
            "{} before {}",
            pair[0].kind,
            pair[1].kind
        );
    }
    for k in DEVICE_EVENT_KINDS {
        assert!(
            !k.meaning.is_empty() && !k.meaning.contains('|'),
            "{}",
            k.kind
        );
    }
}

/// Every string literal in the file that starts with one of the prefixes.
fn literals(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('"') {
        let after = &rest[i + 1..];
        let Some(close) = after.find('"') else { break };
        let lit = &after[..close];
        if PREFIXES.iter().any(|p| lit.starts_with(p))
            && lit
                .chars()
                .all(|c| c.is_ascii_lowercase() || matches!(c, '.' | '_' | '{' | '}'))
        {
            out.push(lit.to_owned());
            rest = &after[close + 1..];
        } else {
            // The closing quote may open the next literal.
            rest = after;
        }
    }
    out
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") && !p.ends_with("event_kinds.rs") {
            out.push(p);
        }
    }
}

/// `"lock.command_{status}"` matches `lock.command_failed`.
fn matches(pattern: &str, kind: &str) -> bool {
    match (pattern.find('{'), pattern.rfind('}')) {
        (Some(a), Some(b)) => {
            let (pre, post) = (&pattern[..a], &pattern[b + 1..]);
            kind.len() > pre.len() + post.len() && kind.starts_with(pre) && kind.ends_with(post)
        }
        _ => pattern == kind,
    }
}

#[test]
fn every_kind_the_code_writes_is_in_the_table_and_every_kind_in_the_table_is_written() {
    let mut files = Vec::new();
    sources(&root().join("crates/latchkey-app/src"), &mut files);
    let mut written: Vec<(String, PathBuf)> = Vec::new();
    for f in files {
        for lit in literals(&std::fs::read_to_string(&f).unwrap()) {
            if !NOT_EVENTS.contains(&lit.as_str()) {
                written.push((lit, f.clone()));
            }
        }
    }
    assert!(
        written.len() > 30,
        "the scan found the code's kinds: {written:?}"
    );
    for (lit, file) in &written {
        assert!(
            DEVICE_EVENT_KINDS.iter().any(|k| matches(lit, k.kind)),
            "{} writes `{lit}`, which crates/latchkey-app/src/event_kinds.rs does not list",
            file.display()
        );
    }
    for k in DEVICE_EVENT_KINDS {
        assert!(
            written.iter().any(|(lit, _)| matches(lit, k.kind)),
            "`{}` is listed but nothing in crates/latchkey-app/src writes it",
            k.kind
        );
    }
}

#[test]
fn the_scan_would_catch_a_kind_missing_from_the_table() {
    let found =
        literals(r#"NewEvent::new("lock.brand_new", x); format!("door.{}_x", k); "not.this""#);
    assert_eq!(found, ["lock.brand_new", "door.{}_x"]);
    assert!(
        !DEVICE_EVENT_KINDS
            .iter()
            .any(|k| matches("lock.brand_new", k.kind))
    );
    assert!(matches("lock.command_{status}", "lock.command_failed"));
    assert!(!matches("lock.command_{status}", "lock.command_"));
}
