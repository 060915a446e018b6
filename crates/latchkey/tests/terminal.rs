//! What an installer does at the terminal, through the real binary on every backend:
//! `credential list` with its filters (never a code), `credential revoke` (audited as a terminal
//! action, refused for what does not exist or is already revoked), `event kinds`, and
//! `home-assistant account`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use latchkey_testkit::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

/// One installation: a data directory (for the master key) and a database.
struct Site {
    dir: PathBuf,
    db: TestDb,
}

impl Site {
    fn new(db: TestDb, tag: &str) -> Site {
        let dir = std::env::temp_dir().join(format!(
            "latchkey-term-{tag}-{:?}-{}",
            db.backend,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Site { dir, db }
    }

    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(BIN)
            .arg("--data-dir")
            .arg(&self.dir)
            .arg("--database-url")
            .arg(&self.db.url)
            .args(args)
            .env_remove("LATCHKEY_DATABASE_URL")
            .env_remove("LATCHKEY_MASTER_KEY")
            .env("LATCHKEY_ADMIN_PASSWORD", "correct-horse-battery")
            .env("LATCHKEY_LOG", "warn")
            .output()
            .expect("runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "{args:?} failed: {out}{err}");
        out
    }

    async fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        self.db.remove().await;
    }
}

/// Word `n` after `word` in `text`.
fn after<'a>(text: &'a str, word: &str) -> &'a str {
    text.split_whitespace()
        .skip_while(|w| *w != word)
        .nth(1)
        .unwrap_or_else(|| panic!("no {word} in {text}"))
}

/// A building with two units, Rita's PIN in 1A and Bob's phone key in 1B; returns the ids of
/// Rita, Bob, Rita's PIN and Bob's phone key.
fn building(site: &Site) -> (String, String, String, String) {
    site.ok(&[
        "admin",
        "create",
        "--name",
        "Ada",
        "--email",
        "ada@example.org",
    ]);
    site.ok(&[
        "property",
        "create",
        "--name",
        "Elm",
        "--timezone",
        "Europe/Berlin",
    ]);
    site.ok(&["unit", "create", "--property", "1", "--label", "1A"]);
    site.ok(&["unit", "create", "--property", "1", "--label", "1B"]);
    site.ok(&[
        "door",
        "create",
        "--property",
        "1",
        "--name",
        "1A entry",
        "--kind",
        "unit_entry",
        "--unit",
        "1",
    ]);
    site.ok(&[
        "door",
        "create",
        "--property",
        "1",
        "--name",
        "1B entry",
        "--kind",
        "unit_entry",
        "--unit",
        "2",
    ]);
    let rita = site.ok(&[
        "person",
        "add",
        "--property",
        "1",
        "--unit",
        "1",
        "--role",
        "resident",
        "--name",
        "Rita",
    ]);
    let bob = site.ok(&[
        "person",
        "add",
        "--property",
        "1",
        "--unit",
        "2",
        "--role",
        "resident",
        "--name",
        "Bob",
    ]);
    let (rita, bob) = (
        after(&rita, "person").to_owned(),
        after(&bob, "person").to_owned(),
    );
    let pin = site.ok(&[
        "credential",
        "add",
        "--property",
        "1",
        "--person",
        &rita,
        "--kind",
        "pin",
        "--unit",
        "1",
    ]);
    let key = site.ok(&[
        "credential",
        "add",
        "--property",
        "1",
        "--person",
        &bob,
        "--kind",
        "phone_key",
        "--unit",
        "2",
    ]);
    (
        rita,
        bob,
        after(&pin, "credential").to_owned(),
        after(&key, "credential").to_owned(),
    )
}

/// The data rows of a `credential list`, each split into its columns (the label, which may
/// hold spaces, is the rest of the line).
fn rows(list: &str) -> Vec<Vec<String>> {
    let mut lines = list.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "KIND", "STATUS", "PERSON", "UNIT", "DOORS", "LABEL"]
    );
    lines
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let mut row: Vec<String> = words[..6].iter().map(|w| (*w).to_owned()).collect();
            row.push(words[6..].join(" "));
            row
        })
        .collect()
}

#[tokio::test]
async fn credential_list_shows_each_credential_without_its_code_and_filters_by_person_and_unit() {
    for db in latchkey_testkit::backends("term_list").await {
        let site = Site::new(db, "list");
        let (rita, bob, pin, key) = building(&site);

        let all = rows(&site.ok(&["credential", "list", "--property", "1"]));
        // Every column is accounted for: id, kind, status, holder, unit, doors, label. A code
        // would be one more column.
        assert_eq!(
            all,
            [
                vec![
                    pin.clone(),
                    "pin".into(),
                    "active".into(),
                    rita.clone(),
                    "1".into(),
                    "1".into(),
                    "pin".into()
                ],
                vec![
                    key.clone(),
                    "phone_key".into(),
                    "active".into(),
                    bob.clone(),
                    "2".into(),
                    "2".into(),
                    "phone key".into()
                ],
            ]
        );
        let by_unit = rows(&site.ok(&["credential", "list", "--property", "1", "--unit", "2"]));
        assert_eq!(by_unit.len(), 1);
        assert_eq!(by_unit[0][0], key);
        let by_person =
            rows(&site.ok(&["credential", "list", "--property", "1", "--person", &rita]));
        assert_eq!(by_person.len(), 1);
        assert_eq!(by_person[0][0], pin);
        let none = site.ok(&[
            "credential",
            "list",
            "--property",
            "1",
            "--person",
            &rita,
            "--unit",
            "2",
        ]);
        assert_eq!(none.trim(), "no credentials match");
        // A property that does not exist is an error, not an empty list.
        let (ok, _, err) = site.run(&["credential", "list", "--property", "99"]);
        assert!(!ok && err.contains("not found"), "{err}");
        site.remove().await;
    }
}

#[tokio::test]
async fn credential_revoke_is_audited_as_a_terminal_action_and_refuses_what_cannot_be_revoked() {
    for db in latchkey_testkit::backends("term_revoke").await {
        let site = Site::new(db, "revoke");
        let (_, _, pin, key) = building(&site);

        let out = site.ok(&["credential", "revoke", &pin]);
        assert!(
            out.contains(&format!("revoked credential {pin} (pin)")),
            "{out}"
        );
        let list = rows(&site.ok(&["credential", "list", "--property", "1"]));
        assert_eq!(list[0][2], "revoked");
        assert_eq!(list[1][2], "active", "the other credential is untouched");

        let export = site.ok(&["export", "--format", "jsonl"]);
        let revoked: Vec<serde_json::Value> = export
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|e| e["kind"] == "credential.revoked")
            .collect();
        assert_eq!(revoked.len(), 1, "{export}");
        assert_eq!(revoked[0]["subject"], format!("credential:{pin}"));
        assert_eq!(
            revoked[0]["actor_id"], 1,
            "the admin acting at the terminal"
        );
        assert_eq!(revoked[0]["data"]["via"], "terminal");

        // Again: refused, and nothing more is written.
        let (ok, _, err) = site.run(&["credential", "revoke", &pin]);
        assert!(!ok && err.contains("is revoked"), "{err}");
        let (ok, _, err) = site.run(&["credential", "revoke", "9999"]);
        assert!(!ok && err.contains("credential not found"), "{err}");
        let (ok, _, err) = site.run(&["credential", "revoke", "not-a-number"]);
        assert!(!ok && err.contains("invalid value"), "{err}");
        let again = site.ok(&["export", "--format", "jsonl"]);
        assert_eq!(
            again.lines().count(),
            export.lines().count(),
            "no event was added"
        );
        let list = rows(&site.ok(&["credential", "list", "--property", "1"]));
        assert_eq!(list[1][0], key);
        assert_eq!(list[1][2], "active");
        site.remove().await;
    }
}

#[test]
fn event_kinds_prints_the_table_docs_devices_md_shows() {
    let out = Command::new(BIN).args(["event", "kinds"]).output().unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/DEVICES.md"),
    )
    .unwrap();
    assert!(doc.contains(&table), "{table}");
    for kind in [
        "lock.command",
        "lock.command_unconfirmed",
        "lock.locked",
        "lock.unlocked",
        "door.compromised",
        "credential.rotated",
    ] {
        assert!(table.contains(&format!("| `{kind}` |")), "{kind} is listed");
    }
}

#[tokio::test]
async fn audit_retention_runs_at_the_terminal_and_the_log_still_verifies() {
    for db in latchkey_testkit::backends("term_retention").await {
        let site = Site::new(db, "retention");
        building(&site);
        // Nothing is older than the default 90 days yet (the rule itself is tested in
        // crates/latchkey-app/tests/privacy.rs, with a clock that moves).
        let out = site.ok(&["audit", "retention"]);
        assert!(
            out.contains("0 personal events redacted, 0 people erased"),
            "{out}"
        );
        let out = site.ok(&["audit", "verify"]);
        assert!(out.contains("audit chain intact"), "{out}");
        site.remove().await;
    }
}

#[tokio::test]
async fn home_assistant_account_is_a_guest_with_a_phone_key_and_its_token_in_a_private_file() {
    for db in latchkey_testkit::backends("term_hass").await {
        let site = Site::new(db, "hass");
        building(&site);
        let token = site.dir.join("ha-token");
        let token_arg = token.display().to_string();
        let args = [
            "home-assistant",
            "account",
            "--property",
            "1",
            "--unit",
            "1",
            "--token-file",
            &token_arg,
        ];
        let out = site.ok(&args);
        assert!(out.contains("a guest of unit 1"), "{out}");
        assert!(
            out.contains("for doors 1."),
            "the unit's doors by default: {out}"
        );
        assert!(
            !out.contains("lkt_"),
            "the token goes to the file only: {out}"
        );
        let text = std::fs::read_to_string(&token).unwrap();
        assert!(text.starts_with("lkt_"), "an API token");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&token).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // An existing file is never overwritten: the token in it may be in use.
        let (ok, _, err) = site.run(&args);
        assert!(!ok && err.contains("exists"), "{err}");
        assert_eq!(std::fs::read_to_string(&token).unwrap(), text);
        // The household sees the account's phone key among its unit's credentials.
        let unit = rows(&site.ok(&["credential", "list", "--property", "1", "--unit", "1"]));
        assert!(
            unit.iter()
                .any(|r| r[1] == "phone_key" && r[6] == "Home Assistant"),
            "{unit:?}"
        );
        site.remove().await;
    }
}
