//! The device side end to end: the real binary with its embedded broker and the demo's virtual
//! locks in-process, the reconciler programming PINs, `latchkey sim` control messages, and what
//! happens when the MQTT port is taken.

// Helpers here are test code too: a failed setup step should panic with its location.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("latchkey-dev-{tag}-{}", std::process::id()));
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
        .env(
            "LATCHKEY_REPLICA_ID",
            format!("test-{}", std::process::id()),
        );
    c
}

/// A running server; killed when dropped.
struct Server {
    child: Child,
    stdout: std::io::Lines<BufReader<ChildStdout>>,
}

impl Server {
    fn start(dir: &Path, args: &[&str]) -> Server {
        let mut child = command(dir)
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts");
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Server { child, stdout }
    }

    fn line(&mut self) -> String {
        self.stdout.next().expect("a line").expect("text")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

/// Polls `check` until it returns true or `within` passes.
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

#[test]
fn the_demo_programs_its_pins_onto_its_virtual_locks() {
    let dir = temp_dir("demo");
    let mut server = Server::start(
        &dir,
        &[
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--mqtt-listen",
            "127.0.0.1:0",
        ],
    );
    let first = server.line();
    assert!(
        first.starts_with("latchkey listening on http://127.0.0.1:"),
        "{first}"
    );
    let second = server.line();
    let broker = second
        .strip_prefix("mqtt broker on mqtt://")
        .and_then(|rest| rest.split_once(' '))
        .map(|(addr, _)| addr.to_owned())
        .unwrap_or_else(|| panic!("unexpected second line: {second}"));
    assert!(
        !broker.ends_with(":0"),
        "the real port is printed: {second}"
    );
    assert!(
        second.ends_with("(Zigbee2MQTT base topic \"zigbee2mqtt\")"),
        "{second}"
    );

    // The first PIN among the demo's first credentials (phone keys are not on locks).
    let mut table = String::new();
    let pin_is_set_everywhere = eventually(Duration::from_secs(25), || {
        for id in 1..=4 {
            let (ok, text) = run(
                &dir,
                &["credential", "status", "--credential", &id.to_string()],
            );
            assert!(ok, "{text}");
            if text.contains("not_on_locks") {
                continue;
            }
            table = text;
            let rows: Vec<&str> = table.lines().skip(1).collect();
            return !rows.is_empty() && rows.iter().all(|r| r.contains(" set "));
        }
        panic!("none of the first credentials is a PIN");
    });
    assert!(pin_is_set_everywhere, "{table}");
    assert!(table.contains("linden/lobby"), "{table}");

    // A control message through the broker's device port reaches the virtual lock, whose
    // report reaches the database.
    let url = format!("mqtt://{broker}");
    let (ok, text) = run(
        &dir,
        &[
            "sim",
            "battery",
            "--mqtt-url",
            &url,
            "--lock",
            "linden/1a-entry",
            "17",
        ],
    );
    assert!(ok, "{text}");
    let mut list = String::new();
    let reported = eventually(Duration::from_secs(10), || {
        list = run(&dir, &["device", "list"]).1;
        list.lines()
            .any(|l| l.starts_with("linden/1a-entry ") && l.contains("17%"))
    });
    assert!(reported, "{list}");
    assert!(list.contains("door "), "{list}");

    // Every demo lock holds the policy's settings (30 s auto-relock, 5 wrong codes, 60 s off),
    // as it reports them.
    let in_step = eventually(Duration::from_secs(25), || {
        list = run(&dir, &["device", "list"]).1;
        let locks: Vec<&str> = list
            .lines()
            .filter(|l| l.starts_with("linden/") && l.contains(" yes "))
            .collect();
        locks.len() == 16
            && locks
                .iter()
                .all(|l| l.contains("relock 30/30 limit 5/5 off 60/60"))
    });
    assert!(in_step, "{list}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A PIN issued from the terminal while `serve` runs reaches the locks through the change feed,
/// not at the server's next sweep (a minute after its start).
#[test]
fn a_pin_added_from_the_terminal_reaches_the_locks_without_waiting_for_the_sweep() {
    let dir = temp_dir("feed");
    let mut server = Server::start(
        &dir,
        &[
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--mqtt-listen",
            "127.0.0.1:0",
        ],
    );
    let started = Instant::now();
    assert!(server.line().starts_with("latchkey listening on"));
    let (ok, text) = run(
        &dir,
        &[
            "person",
            "add",
            "--property",
            "1",
            "--unit",
            "1",
            "--role",
            "household",
            "--name",
            "Feed Tester",
        ],
    );
    assert!(ok, "{text}");
    let person = text
        .split_whitespace()
        .skip_while(|w| *w != "person")
        .nth(1)
        .unwrap_or_else(|| panic!("no person id in: {text}"))
        .to_owned();
    let (ok, text) = run(
        &dir,
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
    assert!(ok, "{text}");
    let credential = text
        .split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("no credential id in: {text}"))
        .to_owned();
    let mut table = String::new();
    let set = eventually(Duration::from_secs(20), || {
        table = run(&dir, &["credential", "status", "--credential", &credential]).1;
        let rows: Vec<&str> = table.lines().skip(1).collect();
        !rows.is_empty() && rows.iter().all(|r| r.contains(" set "))
    });
    assert!(set, "{table}");
    // Had it waited for the sweep, the first one after the start's would come a minute in.
    assert!(
        started.elapsed() < Duration::from_secs(55),
        "the PIN was set only after {:?}, when the sweep could have done it",
        started.elapsed()
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_taken_mqtt_port_stops_the_server_naming_both_ways_out() {
    let dir = temp_dir("taken");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = command(&dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--mqtt-listen", &addr])
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--mqtt-listen"), "{stderr}");
    assert!(stderr.contains("--mqtt-url"), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "nothing is served"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_demo_moves_to_a_free_mqtt_port_when_its_port_is_taken() {
    let dir = temp_dir("demo-taken");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut server = Server::start(
        &dir,
        &["--demo", "--listen", "127.0.0.1:0", "--mqtt-listen", &addr],
    );
    let first = server.line();
    assert!(
        first.starts_with("latchkey listening on http://"),
        "{first}"
    );
    let second = server.line();
    assert!(
        second.starts_with("mqtt broker on mqtt://127.0.0.1:"),
        "{second}"
    );
    assert!(!second.contains(&addr), "another port is used: {second}");
    drop(server);
    drop(taken);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_mqtt_the_server_serves_the_api_only() {
    let dir = temp_dir("no-mqtt");
    let mut server = Server::start(&dir, &["--no-mqtt", "--listen", "127.0.0.1:0"]);
    let first = server.line();
    assert!(
        first.starts_with("latchkey listening on http://"),
        "{first}"
    );
    // Stop it so that stdout ends: nothing else may have been printed.
    let _ = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status();
    let mut rest = String::new();
    for l in server.stdout.by_ref() {
        rest.push_str(&l.unwrap());
    }
    assert!(!rest.contains("mqtt broker"), "{rest}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sim_commands_need_a_reachable_plain_broker() {
    let dir = temp_dir("sim");
    let (ok, text) = run(
        &dir,
        &[
            "sim",
            "keypad",
            "--mqtt-url",
            "mqtts://127.0.0.1:1",
            "--lock",
            "x",
            "--pin",
            "1",
        ],
    );
    assert!(!ok && text.contains("plain MQTT"), "{text}");
    // A port nobody listens on: the listener is dropped at once.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let (ok, text) = run(
        &dir,
        &["sim", "door", "--mqtt-url", &url, "--lock", "x", "open"],
    );
    assert!(!ok && text.contains("cannot reach the broker"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A PIN revoked from the terminal while `serve` runs is cleared from its virtual locks: the
/// locks themselves confirm the empty slots, through the change feed and not the minute sweep.
#[test]
fn a_pin_revoked_from_the_terminal_while_serve_runs_is_cleared_from_its_locks() {
    let dir = temp_dir("revoke");
    let mut server = Server::start(
        &dir,
        &[
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--mqtt-listen",
            "127.0.0.1:0",
        ],
    );
    assert!(server.line().starts_with("latchkey listening on"));
    // The demo's first PIN, once every lock of its doors holds it.
    let list = run(&dir, &["credential", "list", "--property", "1"]);
    assert!(list.0, "{}", list.1);
    let credential = list
        .1
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("pin"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no PIN in: {}", list.1))
        .to_owned();
    let mut table = String::new();
    let all = |table: &str, status: &str| {
        let rows: Vec<&str> = table.lines().skip(1).collect();
        !rows.is_empty() && rows.iter().all(|r| r.contains(&format!(" {status} ")))
    };
    let set = eventually(Duration::from_secs(25), || {
        table = run(&dir, &["credential", "status", "--credential", &credential]).1;
        all(&table, "set")
    });
    assert!(set, "{table}");

    let revoked_at = Instant::now();
    let (ok, text) = run(&dir, &["credential", "revoke", &credential]);
    assert!(ok, "{text}");
    let removed = eventually(Duration::from_secs(20), || {
        table = run(&dir, &["credential", "status", "--credential", &credential]).1;
        all(&table, "removed")
    });
    assert!(removed, "{table}");
    println!(
        "revoked from the terminal: every lock confirmed within {:?} (polled every 250 ms)",
        revoked_at.elapsed()
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
