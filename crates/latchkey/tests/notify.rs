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
