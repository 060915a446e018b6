//! The real binary as an operator monitors it: JSON log lines on stderr, `/readyz` with the
//! embedded broker and the reconciler's lease, and `/metrics` behind its token counting the
//! pages as well as the API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use latchkey_testkit::openmetrics::{self, value};

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");
const TOKEN: &str = "e2e-scrape-token-0123456789abcdef0123456789";

fn get(addr: &str, path: &str, auth: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = auth.map_or_else(String::new, |a| format!("Authorization: {a}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    // The answers here are short: chunked ones come as one chunk.
    let body = match body.split_once("\r\n") {
        Some((len, rest)) if u64::from_str_radix(len, 16).is_ok() && out.contains("chunked") => {
            rest.rsplit_once("\r\n0\r\n")
                .map_or(rest, |(b, _)| b)
                .to_owned()
        }
        _ => body,
    };
    (status, body)
}

#[test]
fn json_logs_readiness_and_a_scrape_of_the_running_server() {
    let dir = std::env::temp_dir().join(format!("latchkey-e2e-monitoring-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
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
        .env_remove("LATCHKEY_DATABASE_URL")
        .env_remove("LATCHKEY_MASTER_KEY")
        .env_remove("LATCHKEY_MQTT_URL")
        .env_remove("LATCHKEY_LOG")
        .env("LATCHKEY_REPLICA_ID", "monitored-replica")
        .env("LATCHKEY_LOG_FORMAT", "json")
        .env("LATCHKEY_METRICS_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut s);
        s
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("latchkey listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    std::thread::spawn(move || for _ in lines {});

    // Ready once the reconciler has taken its lease (at once, as the only replica); a liveness
    // bound only.
    let started = Instant::now();
    let ready = loop {
        let (status, body) = get(&addr, "/readyz", None);
        if status == 200 || started.elapsed() > Duration::from_secs(30) {
            break (status, body);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (status, body) = ready;
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "status": "ready", "database": "ok", "broker": "ok", "reconciler": "holder"
        })
    );
    assert_eq!(get(&addr, "/healthz", None), (200, "ok".to_owned()));

    let (status, _) = get(&addr, "/sign-in", None);
    assert_eq!(status, 200);
    let (status, body) = get(&addr, "/metrics", None);
    assert_eq!(status, 401, "{body}");
    let (status, body) = get(&addr, "/metrics", Some(&format!("Bearer {TOKEN}")));
    assert_eq!(status, 200, "{body}");
    let s = openmetrics::parse(&body);
    assert_eq!(
        value(
            &s,
            "latchkey_http_requests_total",
            &[("route", "/sign-in"), ("method", "GET"), ("status", "2xx")]
        ),
        Some(1.0),
        "a page is counted under its route"
    );
    assert_eq!(
        value(
            &s,
            "latchkey_http_requests_total",
            &[("route", "/metrics"), ("status", "4xx")]
        ),
        Some(1.0),
        "the refused scrape"
    );
    assert_eq!(value(&s, "latchkey_up", &[("check", "broker")]), Some(1.0));
    assert_eq!(
        value(&s, "latchkey_reconciler_lease", &[("role", "holder")]),
        Some(1.0)
    );
    // The demo's virtual locks announce themselves shortly after start (a liveness bound only).
    let started = Instant::now();
    loop {
        let (status, body) = get(&addr, "/metrics", Some(&format!("Bearer {TOKEN}")));
        assert_eq!(status, 200, "{body}");
        let s = openmetrics::parse(&body);
        if value(&s, "latchkey_locks", &[("availability", "online")]).unwrap_or(0.0) >= 1.0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the demo's virtual locks never showed online: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let log = log.join().unwrap();
    let mut messages = Vec::new();
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        for field in ["level", "target", "message", "timestamp"] {
            assert!(v[field].is_string(), "no {field} in {line}");
        }
        messages.push(v["message"].as_str().unwrap().to_owned());
    }
    assert!(
        messages.iter().any(|m| m == "serving"),
        "the start-up line is there: {messages:?}"
    );
    assert!(
        !log.contains(TOKEN),
        "the scrape token never reaches the log"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
