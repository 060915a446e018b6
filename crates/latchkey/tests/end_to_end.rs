//! Starts the real binary on port 0 with the demo, talks HTTP to it, stops it with SIGTERM,
//! then verifies and tampers with the audit log it left behind.

// Helpers here are test code too: a failed setup step should panic with its location.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("latchkey-e2e-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).expect("reads a response");
    out
}

fn latchkey(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("LATCHKEY_DATABASE_URL")
        .env_remove("LATCHKEY_MASTER_KEY")
        .output()
        .expect("runs")
}

#[test]
fn demo_server_answers_and_its_audit_log_detects_an_edit() {
    let dir = temp_dir("demo");
    let config = dir.join("typo.toml");
    std::fs::write(&config, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut s);
        s
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a line").expect("text");
    let addr = first
        .strip_prefix("latchkey listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    println!("serving after {:?}", started.elapsed());
    assert!(!addr.ends_with(":0"), "the real port is printed: {addr}");

    let response = http_get(&addr, "/api/openapi.json");
    assert!(response.starts_with("HTTP/1.1 "), "{response}");
    println!(
        "GET /api/openapi.json -> {}",
        response.lines().next().unwrap_or("")
    );

    // Graceful stop: SIGTERM, as a service manager would.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !killed {
        child.kill().unwrap();
    }
    let status = child.wait().unwrap();
    let log = log.join().unwrap();
    assert!(log.contains("unknown key `lisen`"), "{log}");
    if killed {
        assert!(
            status.success(),
            "graceful shutdown exits 0: {status:?}\n{log}"
        );
    }

    let out = latchkey(&dir, &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("audit chain intact"), "{stdout}");

    tamper(&dir.join("latchkey.db"));
    let out = latchkey(&dir, &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("event 5 was changed"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Edits one event behind latchkey's back, as an attacker with the file would.
fn tamper(db: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", db.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let done = sqlx::query("UPDATE events SET data = '{\"edited\":true}' WHERE seq = 5")
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
        conn.close().await.unwrap();
    });
}

#[test]
fn config_example_prints_a_config_that_parses() {
    let out = Command::new(BIN)
        .args(["config", "example"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let table: toml::Table = text.parse().expect("the example is TOML");
    assert!(table.contains_key("listen"));
}

#[test]
fn a_usage_error_exits_with_2_and_a_failure_with_1() {
    let out = Command::new(BIN)
        .args(["serve", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let dir = temp_dir("noadmin");
    let out = latchkey(&dir, &["property", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no admin yet"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs a statement on the SQLite file behind latchkey's back, as an attacker with the file would.
fn sql(db: &Path, statement: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", db.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    });
}

#[test]
fn serve_anchors_the_audit_head_and_verify_holds_the_log_to_its_anchors() {
    let root = temp_dir("anchors");
    let dir = root.join("data");
    let anchors = root.join("anchors");

    let refused = Command::new(BIN)
        .args([
            "serve",
            "--no-mqtt",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&dir)
        .arg("--audit-anchor-file")
        .arg(dir.join("anchors"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("is inside the data directory"), "{err}");

    let created = Command::new(BIN)
        .args([
            "admin",
            "create",
            "--name",
            "Ada",
            "--email",
            "ada@example.org",
            "--data-dir",
        ])
        .arg(&dir)
        .env("LATCHKEY_ADMIN_PASSWORD", "ada's long password")
        .env_remove("LATCHKEY_DATABASE_URL")
        .env_remove("LATCHKEY_MASTER_KEY")
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );

    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--no-mqtt",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&dir)
        .env("LATCHKEY_AUDIT_ANCHOR_FILE", &anchors)
        .env_remove("LATCHKEY_DATABASE_URL")
        .env_remove("LATCHKEY_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut s);
        s
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a line").expect("text");
    assert!(first.starts_with("latchkey listening on"), "{first}");
    let written = std::fs::read_to_string(&anchors).expect("an anchor at start");
    assert_eq!(written.lines().count(), 1, "{written}");
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.wait().unwrap().success());
    let log = log.join().unwrap();
    let written = std::fs::read_to_string(&anchors).unwrap();
    assert_eq!(written.lines().count(), 2, "and one at shutdown: {written}");
    let last = written.lines().last().unwrap();
    assert!(last.starts_with("latchkey-audit-anchor v1 seq="), "{last}");
    assert!(log.contains("audit anchor") && log.contains(last), "{log}");
    let anchored: i64 = last["latchkey-audit-anchor v1 seq=".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        anchored >= 2,
        "the keying marker and the admin's events: {anchored}"
    );

    let anchors_arg = anchors.display().to_string();
    let out = latchkey(&dir, &["audit", "verify", "--anchor", &anchors_arg]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("2 anchors hold"), "{stdout}");

    // Dropping the last event and moving the head back needs no key: the chain alone still
    // verifies, the anchors do not.
    let db = dir.join("latchkey.db");
    sql(
        &db,
        &format!(
            "DELETE FROM events WHERE seq = {anchored}; \
             UPDATE audit_head SET seq = {prev}, hash = (SELECT hash FROM events WHERE seq = {prev});",
            prev = anchored - 1
        ),
    );
    let out = latchkey(&dir, &["audit", "verify"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = latchkey(&dir, &["audit", "verify", "--anchor", &anchors_arg]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "audit chain broken: anchor on line 1 (event {anchored}"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("past the end of the log"), "{stdout}");

    // With the head row gone, the terminal still starts and names the damage.
    sql(&db, "DELETE FROM audit_head");
    let out = latchkey(&dir, &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("audit chain broken: the chain head is missing"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
