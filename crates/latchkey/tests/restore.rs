//! A restored backup never locks anyone out (docs/OPERATIONS.md, "After a restore"), end to end:
//! the real binary with its embedded broker, a virtual lock that keeps its slots in a state file
//! across restarts, and the documented SQLite backup (`sqlite3 … ".backup …"`). SQLite only: the
//! rig restores a file; the storage rules underneath run on both backends in
//! `crates/latchkey-app/tests/restore.rs`.
//!
//! 1. serve, PIN A (slot 0), backup, PIN B (slot 1, confirmed by the lock);
//! 2. stop, restore the backup, start: latchkey is in the restored state;
//! 3. PIN C: it goes to another slot, PIN B still opens, and is listed for adoption.

// Helpers here are test code too: a failed setup step should panic with its location.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use latchkey_sim::{FleetConfig, FleetHandle, KeypadOutcome, SlotStatus};

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");
const LOCK: &str = "front";

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("latchkey-restore-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn command(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir")
        .arg(dir)
        .env_remove("LATCHKEY_DATABASE_URL")
        .env_remove("LATCHKEY_MASTER_KEY")
        .env_remove("LATCHKEY_MQTT_URL")
        .env_remove("LATCHKEY_MQTT_URL_FILE")
        .env_remove("LATCHKEY_MQTT_LISTEN")
        .env_remove("LATCHKEY_AUDIT_ANCHOR_FILE")
        .env(
            "LATCHKEY_REPLICA_ID",
            format!("test-{}", std::process::id()),
        );
    c
}

fn run(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = command(dir).args(args).output().expect("runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (ok, text) = run(dir, args);
    assert!(ok, "latchkey {args:?} failed: {text}");
    text
}

/// The word after `word` in `text` (an id printed by a terminal command).
fn after(text: &str, word: &str) -> String {
    text.split_whitespace()
        .skip_while(|w| *w != word)
        .nth(1)
        .unwrap_or_else(|| panic!("no `{word} <id>` in: {text}"))
        .trim_end_matches([',', ':', ';'])
        .to_owned()
}

fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    check()
}

/// `latchkey serve` and the virtual lock connected to its broker.
struct Running {
    child: Child,
    _stdout: std::io::Lines<BufReader<ChildStdout>>,
    fleet: FleetHandle,
    fleet_task: tokio::task::JoinHandle<Result<(), latchkey_sim::SimError>>,
}

async fn start(dir: &Path, state: &Path) -> Running {
    let mut child = command(dir)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--mqtt-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = stdout.next().unwrap().unwrap();
    assert!(first.starts_with("latchkey listening on"), "{first}");
    let second = stdout.next().unwrap().unwrap();
    let port: u16 = second
        .strip_prefix("mqtt broker on mqtt://")
        .and_then(|rest| rest.split_once(' '))
        .and_then(|(addr, _)| addr.rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("unexpected second line: {second}"));
    let (fleet, fleet_task) = latchkey_sim::run(FleetConfig {
        mqtt_port: port,
        client_id: format!("restore-test-{}", std::process::id()),
        names: Some(vec![LOCK.to_owned()]),
        actuation: Duration::ZERO,
        state_file: Some(state.to_owned()),
        ..FleetConfig::default()
    })
    .await
    .expect("the virtual lock starts");
    Running {
        child,
        _stdout: stdout,
        fleet,
        fleet_task,
    }
}

impl Running {
    /// Stops the server as an operator does (SIGTERM, so it writes its last marker) and the
    /// virtual lock (which saves its slots).
    async fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let stopped = eventually(Duration::from_secs(20), || {
            self.child.try_wait().ok().flatten().is_some()
        });
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        self.fleet.shutdown().await;
        self.fleet_task.await.unwrap().unwrap();
    }

    /// The PIN the lock holds in `slot`, if any.
    fn pin_in(&self, slot: usize) -> Option<String> {
        let slots = self.fleet.slots(LOCK).unwrap();
        slots
            .get(slot)
            .filter(|s| s.status != SlotStatus::Available)
            .map(|s| s.pin.expose_secret().to_owned())
    }

    fn opens(&self, pin: &str) -> Option<u16> {
        match self.fleet.keypad(LOCK, pin).unwrap() {
            KeypadOutcome::Opened { slot } => Some(slot),
            _ => None,
        }
    }
}

/// Issues a PIN to a new resident of unit 1 and waits until the lock confirmed it; returns the
/// person, the credential and the slot it is in.
fn issue(dir: &Path, name: &str) -> (String, String, i64) {
    let person = after(
        &ok(
            dir,
            &[
                "person",
                "add",
                "--property",
                "1",
                "--unit",
                "1",
                "--role",
                "resident",
                "--name",
                name,
            ],
        ),
        "person",
    );
    let text = ok(
        dir,
        &[
            "credential",
            "add",
            "--property",
            "1",
            "--person",
            &person,
            "--kind",
            "pin",
            "--unit",
            "1",
        ],
    );
    let credential = text
        .split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("no credential id in: {text}"))
        .to_owned();
    let mut table = String::new();
    let set = eventually(Duration::from_secs(30), || {
        table = run(dir, &["credential", "status", "--credential", &credential]).1;
        let rows: Vec<&str> = table.lines().skip(1).collect();
        !rows.is_empty() && rows.iter().all(|r| r.contains(" set "))
    });
    assert!(set, "{name}'s PIN was not confirmed by the lock: {table}");
    let slot = table
        .lines()
        .nth(1)
        .and_then(|row| {
            row.split_whitespace()
                .skip_while(|w| *w != "set")
                .nth(1)
                .and_then(|w| w.parse().ok())
                .or_else(|| row.split_whitespace().find_map(|w| w.parse().ok()))
        })
        .unwrap_or_else(|| panic!("no slot in: {table}"));
    (person, credential, slot)
}

/// The lock slot of a credential, read from the lock itself: the slot its PIN opens.
fn slot_of(r: &Running, pin: &str) -> u16 {
    r.opens(pin)
        .unwrap_or_else(|| panic!("the PIN does not open the door"))
}

fn setup(dir: &Path) {
    std::fs::write(dir.join("admin-password"), "correct horse battery staple\n").unwrap();
    ok(
        dir,
        &[
            "admin",
            "create",
            "--name",
            "Admin",
            "--email",
            "admin@example.org",
            "--password-file",
            dir.join("admin-password").to_str().unwrap(),
        ],
    );
    ok(
        dir,
        &[
            "property",
            "create",
            "--name",
            "Birch House",
            "--timezone",
            "Europe/Berlin",
        ],
    );
    ok(dir, &["unit", "create", "--property", "1", "--label", "1A"]);
    ok(
        dir,
        &[
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
        ],
    );
}

/// Sets the property's unmanaged-code policy in the database file (no server running).
async fn set_clear_policy(dir: &Path, on: bool) {
    use sqlx::Connection;
    let url = format!("sqlite://{}", dir.join("latchkey.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let value = if on { "true" } else { "false" };
    let sql = format!(
        "UPDATE properties SET policy = json_set(policy, '$.clear_unmanaged_codes', json('{value}'))"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

fn backup(dir: &Path, to: &Path) {
    let status = Command::new("sqlite3")
        .arg(dir.join("latchkey.db"))
        .arg(format!(".backup '{}'", to.display()))
        .status()
        .expect("sqlite3 runs");
    assert!(status.success());
}

fn restore(dir: &Path, from: &Path) {
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("latchkey.db{suffix}")));
    }
    std::fs::copy(from, dir.join("latchkey.db")).unwrap();
}

async fn a_restored_backup_keeps_every_code_on_the_lock(tag: &str, clear_policy: bool) {
    let dir = temp_dir(tag);
    let state = dir.join("lock-state.json");
    let saved = dir.join("backup.db");
    setup(&dir);
    set_clear_policy(&dir, clear_policy).await;

    // 1. PIN A, the backup, PIN B.
    let running = start(&dir, &state).await;
    let listed = eventually(Duration::from_secs(20), || {
        run(&dir, &["device", "list"]).1.contains(LOCK)
    });
    assert!(listed, "the virtual lock was never announced");
    ok(&dir, &["device", "pair", "--door", "1", "--device", LOCK]);
    let (_, _, slot_a) = issue(&dir, "Alice");
    assert_eq!(slot_a, 0);
    let pin_a = running.pin_in(0).expect("the lock holds PIN A in slot 0");
    backup(&dir, &saved);
    let (bob, _, slot_b) = issue(&dir, "Bob");
    assert_eq!(slot_b, 1);
    let pin_b = running.pin_in(1).expect("the lock holds PIN B in slot 1");
    assert_eq!(slot_of(&running, &pin_b), 1);
    running.stop().await;

    // 2. The restore, and a start on the older database.
    restore(&dir, &saved);
    let running = start(&dir, &state).await;
    let status = ok(&dir, &["restore", "status"]);
    assert!(status.starts_with("RESTORED"), "{status}");

    // PIN B is found on the lock and listed for adoption.
    let mut status = String::new();
    let listed = eventually(Duration::from_secs(30), || {
        status = ok(&dir, &["restore", "status"]);
        status.lines().any(|l| {
            l.starts_with("1 ")
                && l.split_whitespace().skip_while(|w| *w != LOCK).nth(1) == Some("1")
        })
    });
    assert!(listed, "slot 1 is not listed as an unknown code: {status}");

    // 3. PIN C goes to another slot; PIN B still opens, nothing was cleared.
    let (_, _, slot_c) = issue(&dir, "Carol");
    assert!(slot_c != 1, "PIN C was written over PIN B's slot");
    let pin_c = running
        .pin_in(usize::try_from(slot_c).unwrap())
        .expect("PIN C on the lock");
    assert_eq!(slot_of(&running, &pin_c), u16::try_from(slot_c).unwrap());
    assert_eq!(running.pin_in(1).as_deref(), Some(pin_b.as_str()));
    assert_eq!(
        running.opens(&pin_b),
        Some(1),
        "PIN B no longer opens the door"
    );
    assert_eq!(running.opens(&pin_a), Some(0));

    // Adopting PIN B attaches it to Bob, without writing the lock.
    let text = ok(
        &dir,
        &[
            "restore", "adopt", "--door", "1", "--slot", "1", "--person", &bob, "--pin", &pin_b,
        ],
    );
    let adopted = after(&text, "credential");
    let list = ok(
        &dir,
        &["credential", "list", "--property", "1", "--person", &bob],
    );
    assert!(
        list.lines()
            .any(|l| l.split_whitespace().next() == Some(adopted.as_str())),
        "{list}"
    );
    let table = ok(&dir, &["credential", "status", "--credential", &adopted]);
    assert!(table.contains(" set "), "{table}");
    let status = ok(&dir, &["restore", "status"]);
    assert!(status.contains("no unknown codes"), "{status}");
    assert_eq!(running.opens(&pin_b), Some(1));

    // Ending the restored state is the admin's decision; PIN B still opens after it.
    ok(&dir, &["restore", "end"]);
    let status = ok(&dir, &["restore", "status"]);
    assert!(status.starts_with("not in the restored state"), "{status}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(running.opens(&pin_b), Some(1));
    let events = ok(&dir, &["audit", "verify"]);
    assert!(!events.is_empty());
    running.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_backup_keeps_every_code_with_the_unmanaged_code_policy_on() {
    a_restored_backup_keeps_every_code_on_the_lock("policy-on", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_backup_keeps_every_code_with_the_unmanaged_code_policy_off() {
    a_restored_backup_keeps_every_code_on_the_lock("policy-off", false).await;
}

/// A fresh data directory has no recorded history: latchkey starts as before, not restored,
/// and a PIN goes to the first slot once the lock said it is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_database_is_not_a_restored_one() {
    let dir = temp_dir("fresh");
    let state = dir.join("lock-state.json");
    setup(&dir);
    let running = start(&dir, &state).await;
    let listed = eventually(Duration::from_secs(20), || {
        run(&dir, &["device", "list"]).1.contains(LOCK)
    });
    assert!(listed);
    let status = ok(&dir, &["restore", "status"]);
    assert!(status.starts_with("not in the restored state"), "{status}");
    ok(&dir, &["device", "pair", "--door", "1", "--device", LOCK]);
    let (_, _, slot) = issue(&dir, "Dora");
    assert_eq!(slot, 0);
    let pin = running.pin_in(0).expect("the PIN is on the lock");
    assert_eq!(running.opens(&pin), Some(0));
    running.stop().await;
    // A restart on the same database is not a restore.
    let running = start(&dir, &state).await;
    let status = ok(&dir, &["restore", "status"]);
    assert!(status.starts_with("not in the restored state"), "{status}");
    running.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
