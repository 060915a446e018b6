//! `serve` e-mails the household of a lockout case through the relay `LATCHKEY_SMTP_*` names:
//! the real binary, a public lockout request over HTTP, and a small SMTP receiver in the test.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

/// Each message received: its recipients and its data.
type Inbox = Arc<Mutex<Vec<(Vec<String>, String)>>>;

/// Accepts SMTP sessions (EHLO, MAIL, RCPT, DATA, QUIT) and records each message's recipients
/// and data.
fn receiver() -> (u16, Inbox) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got: Inbox = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(sock) = sock else { return };
            let g = g.clone();
            std::thread::spawn(move || {
                let mut w = sock.try_clone().unwrap();
                let mut r = BufReader::new(sock);
                let _ = w.write_all(b"220 receiver.test ESMTP\r\n");
                let mut rcpt = Vec::new();
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let up = line.trim_end().to_ascii_uppercase();
                    let reply: &[u8] = if up.starts_with("EHLO") || up.starts_with("HELO") {
                        b"250 receiver.test\r\n"
                    } else if up.starts_with("MAIL FROM:") {
                        rcpt.clear();
                        b"250 ok\r\n"
                    } else if up.starts_with("RCPT TO:") {
                        rcpt.push(line.trim_end()[8..].trim_matches(['<', '>']).to_owned());
                        b"250 ok\r\n"
                    } else if up == "DATA" {
                        let _ = w.write_all(b"354 go on\r\n");
                        let mut data = String::new();
                        loop {
                            line.clear();
                            if r.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" {
                                break;
                            }
                            data.push_str(&line);
                        }
                        g.lock().unwrap().push((rcpt.clone(), data));
                        b"250 queued\r\n"
                    } else if up == "QUIT" {
                        let _ = w.write_all(b"221 bye\r\n");
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    if w.write_all(reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, got)
}

fn post(addr: &str, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_emails_the_household_of_a_lockout_case() {
    let dir = std::env::temp_dir().join(format!("latchkey-e2e-notify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (port, got) = receiver();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--demo",
            "--no-mqtt",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&dir)
        .env_remove("LATCHKEY_DATABASE_URL")
        .env_remove("LATCHKEY_MASTER_KEY")
        .env("LATCHKEY_SMTP_HOST", "127.0.0.1")
        .env("LATCHKEY_SMTP_PORT", port.to_string())
        .env("LATCHKEY_SMTP_SECURITY", "plain")
        .env(
            "LATCHKEY_SMTP_FROM",
            "latchkey <latchkey@linden-court.example>",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("latchkey listening on http://")
        .unwrap()
        .to_owned();
    std::thread::spawn(move || for _ in lines {});
    let answer = post(
        &addr,
        "/api/v1/lockouts",
        r#"{"property_id":1,"unit":"1A","identity":"ana.1a@linden-court.example"}"#,
    );
    assert!(answer.starts_with("HTTP/1.1 2"), "{answer}");
    // Liveness bound only: the worker wakes on the change feed well before this.
    let started = Instant::now();
    let mut to: Vec<String> = Vec::new();
    while started.elapsed() < Duration::from_secs(60) {
        to = got
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(r, _)| r.clone())
            .collect();
        if to.len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    to.sort_unstable();
    assert!(
        to.contains(&"ana.1a@linden-court.example".to_owned())
            && to.contains(&"marta.1a@linden-court.example".to_owned()),
        "{to:?}"
    );
    for (_, data) in got.lock().unwrap().iter() {
        assert!(!data.contains("lkc_"), "a case token in an e-mail");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The header `name` of a message's data, if present.
fn header(data: &str, name: &str) -> Option<String> {
    data.lines()
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
}

#[tokio::test]
async fn a_forced_virtual_lock_emails_the_buildings_staff_at_once_without_residents_data() {
    latchkey_testkit::each_backend("e2e_alarm", |db| async move {
        let url = db.url.clone();
        tokio::task::spawn_blocking(move || forced_lock_emails_staff(&url))
            .await
            .unwrap();
    })
    .await;
}

/// `serve --demo` on `database_url` with its virtual locks; unit 1A's lock is forced.
fn forced_lock_emails_staff(database_url: &str) {
    let dir = std::env::temp_dir().join(format!(
        "latchkey-e2e-alarm-{}-{}",
        std::process::id(),
        database_url.len()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let (port, got) = receiver();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--mqtt-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&dir)
        .env("LATCHKEY_DATABASE_URL", database_url)
        .env_remove("LATCHKEY_MASTER_KEY")
        .env_remove("LATCHKEY_MQTT_URL")
        .env(
            "LATCHKEY_REPLICA_ID",
            format!("alarm-{}", std::process::id()),
        )
        .env("LATCHKEY_SMTP_HOST", "127.0.0.1")
        .env("LATCHKEY_SMTP_PORT", port.to_string())
        .env("LATCHKEY_SMTP_SECURITY", "plain")
        .env(
            "LATCHKEY_SMTP_FROM",
            "latchkey <latchkey@linden-court.example>",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let _http = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    let broker = second
        .strip_prefix("mqtt broker on mqtt://")
        .and_then(|rest| rest.split_once(' '))
        .map(|(addr, _)| addr.to_owned())
        .unwrap_or_else(|| panic!("unexpected second line: {second}"));
    std::thread::spawn(move || for _ in lines {});
    // The virtual lock of unit 1A's door is forced open, through the broker like a real one.
    let url = format!("mqtt://{broker}");
    let started = Instant::now();
    let mut security: Vec<(Vec<String>, String)> = Vec::new();
    // Liveness bound only: the lock reports at once and the worker wakes on the change feed.
    while started.elapsed() < Duration::from_secs(60) {
        let out = Command::new(BIN)
            .args([
                "sim",
                "force",
                "--mqtt-url",
                &url,
                "--lock",
                "linden/1a-entry",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
        security = got
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, d)| header(d, "Subject").is_some_and(|s| s.starts_with("Security alarm")))
            .cloned()
            .collect();
        if security.len() >= 2 {
            break;
        }
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let mut to: Vec<String> = security.iter().flat_map(|(r, _)| r.clone()).collect();
    to.sort_unstable();
    assert_eq!(
        to,
        [
            "installer@linden-court.example",
            "manager@linden-court.example"
        ],
        "the property's staff, once each"
    );
    for (_, data) in &security {
        let subject = header(data, "Subject").unwrap();
        assert!(subject.ends_with(": 1 forced"), "{subject}");
        for personal in ["Ana", "ana.1a@", "Marta", "marta.1a@"] {
            assert!(
                !data.contains(personal),
                "{personal} in a staff alarm: {data}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
