//! `GET /api/v1/stream` over real HTTP against the real binary and the demo's virtual locks, on
//! SQLite and PostgreSQL. On PostgreSQL the stream is served by a second `serve` process on the
//! same database, so every event it carries crossed processes.

// Helpers here are test code too: a failed setup step should panic with its location.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use latchkey_testkit::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");
const PASSWORD: &str = "linden-demo-2026";
const MASTER_KEY: &str = "5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c";

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("latchkey-stream-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running `serve`; killed when dropped.
struct Server {
    child: Child,
    addr: String,
    _stdout: std::io::Lines<BufReader<ChildStdout>>,
}

impl Server {
    fn start(dir: &Path, db: &TestDb, args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(dir)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("LATCHKEY_DATABASE_URL", &db.url)
            .env("LATCHKEY_MASTER_KEY", MASTER_KEY)
            .env_remove("LATCHKEY_MQTT_URL")
            .env_remove("LATCHKEY_MQTT_LISTEN")
            .env(
                "LATCHKEY_REPLICA_ID",
                dir.file_name().unwrap().to_string_lossy().into_owned(),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(dir.with_extension("log")).unwrap(),
            ))
            .spawn()
            .expect("starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = stdout.next().expect("a line").expect("text");
        let addr = first
            .strip_prefix("latchkey listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        Server {
            child,
            addr,
            _stdout: stdout,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request; the status and the body.
fn request(addr: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).expect("reads a response");
    let status = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Signs in; the session token (sent as a bearer token, as API clients do).
fn sign_in(addr: &str, email: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    let body = format!(r#"{{"email":"{email}","password":"{PASSWORD}"}}"#);
    write!(
        s,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    let at = out.find("latchkey_session=").unwrap() + "latchkey_session=".len();
    out[at..].split(';').next().unwrap().to_owned()
}

/// The id of the door called `name` among those `token`'s person may see.
fn door_id(addr: &str, token: &str, name: &str) -> i64 {
    let (status, body) = request(addr, "GET", "/api/v1/properties/1/doors", Some(token), "");
    assert_eq!(status, 200, "{body}");
    let doors: serde_json::Value = serde_json::from_str(&body).unwrap();
    doors
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no door {name} in {body}"))["id"]
        .as_i64()
        .unwrap()
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
struct Sse {
    id: Option<i64>,
    event: String,
    data: serde_json::Value,
}

/// A client of the stream.
struct Stream {
    lines: BufReader<TcpStream>,
    seen: Vec<Sse>,
}

impl Stream {
    fn open(addr: &str, token: &str, last_event_id: Option<i64>) -> Stream {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let resume = last_event_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
        (&s).write_all(
            format!(
                "GET /api/v1/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
                 Accept: text/event-stream\r\n{resume}\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
        let mut lines = BufReader::new(s);
        let mut head = String::new();
        loop {
            let mut l = String::new();
            lines.read_line(&mut l).unwrap();
            if l == "\r\n" || l.is_empty() {
                break;
            }
            head.push_str(&l);
        }
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("content-type: text/event-stream"), "{head}");
        Stream {
            lines,
            seen: Vec::new(),
        }
    }

    /// The next event; `None` when the server closed the stream. Chunked framing lines (sizes)
    /// and keep-alive comments are skipped.
    fn next(&mut self) -> Option<Sse> {
        let (mut id, mut event, mut data) = (None, String::new(), String::new());
        loop {
            let mut l = String::new();
            match self.lines.read_line(&mut l) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => panic!("the stream stalled: {e}; seen {:?}", self.seen),
            }
            let l = l.trim_end_matches(['\r', '\n']);
            if let Some(v) = l.strip_prefix("id: ") {
                id = Some(v.parse().unwrap());
            } else if let Some(v) = l.strip_prefix("event: ") {
                event = v.to_owned();
            } else if let Some(v) = l.strip_prefix("data: ") {
                data.push_str(v);
            } else if l.is_empty() && !event.is_empty() {
                let e = Sse {
                    id,
                    event,
                    data: serde_json::from_str(&data).unwrap(),
                };
                self.seen.push(e.clone());
                return Some(e);
            } else if l == "0" {
                return None;
            }
        }
    }

    /// Reads until `until` holds for an event; panics when the stream ends first.
    fn until(&mut self, what: &str, until: impl Fn(&Sse) -> bool) -> Sse {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match self.next() {
                Some(e) if until(&e) => return e,
                Some(_) => {}
                None => panic!("the stream ended before {what}; seen {:?}", self.seen),
            }
        }
        panic!("no {what} within 30 s; seen {:?}", self.seen)
    }
}

fn is_command(e: &Sse, door: i64, status: &str) -> bool {
    e.event == "command" && e.data["door_id"] == door && e.data["status"] == status
}

/// An API token made with a session: remote commands from a script need no fresh proof
/// (docs/ARCHITECTURE.md, "Fresh proof to unlock"), a browser session's do.
fn api_token(addr: &str, session: &str) -> String {
    let (status, body) = request(
        addr,
        "POST",
        "/api/v1/tokens",
        Some(session),
        r#"{"name":"stream test"}"#,
    );
    assert_eq!(status, 201, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A remote command, confirmed by the lock (retried while the demo's locks are still
/// connecting: 503).
fn command(addr: &str, token: &str, door: i64, action: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = request(
            addr,
            "POST",
            &format!("/api/v1/doors/{door}/{action}"),
            Some(token),
            r#"{"wait_seconds":15}"#,
        );
        if status == 503 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
            continue;
        }
        assert_eq!(status, 200, "the lock confirms the {action}: {body}");
        return;
    }
}

fn journey(db: &TestDb) {
    let pg = db.url.starts_with("postgres");
    let tag = if pg { "postgres" } else { "sqlite" };
    let dir_a = temp_dir(&format!("{tag}-a"));
    let a = Server::start(&dir_a, db, &["--demo", "--mqtt-listen", "127.0.0.1:0"]);
    // On PostgreSQL a second process, with no locks of its own, serves the stream.
    let (dir_b, b) = if pg {
        let dir = temp_dir(&format!("{tag}-b"));
        let b = Server::start(&dir, db, &["--no-mqtt"]);
        (Some(dir), Some(b))
    } else {
        (None, None)
    };
    let streams = b.as_ref().map_or(a.addr.as_str(), |b| b.addr.as_str());

    let ana = sign_in(streams, "ana.1a@linden-court.example");
    let ana_on_a = api_token(&a.addr, &sign_in(&a.addr, "ana.1a@linden-court.example"));
    let ben = api_token(&a.addr, &sign_in(&a.addr, "ben.1b@linden-court.example"));
    let mine = door_id(&a.addr, &ana_on_a, "Unit 1A entry");
    let theirs = door_id(&a.addr, &ben, "Unit 1B entry");

    let manager = api_token(&a.addr, &sign_in(&a.addr, "manager@linden-court.example"));
    let lobby = door_id(&a.addr, &manager, "Lobby");
    let mut live = Stream::open(streams, &ana, None);
    let mut staff = Stream::open(streams, &manager, None);
    // Another unit's unlock first, then Ana's own: her stream must carry hers and not theirs.
    command(&a.addr, &ben, theirs, "unlock");
    command(&a.addr, &ana_on_a, mine, "unlock");
    live.until("the command sent", |e| is_command(e, mine, "sent"));
    live.until("the lock's unlocked state", |e| {
        e.event == "door" && e.data["door_id"] == mine && e.data["state"] == "unlocked"
    });
    let confirmed = live.until("the confirmation", |e| is_command(e, mine, "confirmed"));
    assert_eq!(confirmed.data["action"], "unlock");
    assert!(
        live.seen.iter().all(|e| e.data["door_id"] != theirs),
        "another unit's door reached Ana's stream: {:?}",
        live.seen
    );
    let last = live.seen.last().unwrap().id.unwrap();
    let before: Vec<i64> = live.seen.iter().filter_map(|e| e.id).collect();
    assert!(before.windows(2).all(|w| w[0] < w[1]), "{before:?}");
    drop(live);

    // Disconnected: the door is locked meanwhile. Resuming sends exactly what was missed.
    command(&a.addr, &ana_on_a, mine, "lock");
    let mut resumed = Stream::open(streams, &ana, Some(last));
    resumed.until("the missed confirmation", |e| {
        is_command(e, mine, "confirmed")
    });
    let ids: Vec<i64> = resumed.seen.iter().filter_map(|e| e.id).collect();
    assert!(
        ids.iter().all(|id| *id > last),
        "nothing already seen: {ids:?} after {last}"
    );
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in order, once: {ids:?}"
    );
    let kinds: Vec<String> = resumed
        .seen
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e.event,
                e.data["status"]
                    .as_str()
                    .or(e.data["state"].as_str())
                    .unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        kinds,
        ["command:sent", "door:locked", "command:confirmed"],
        "the lock command's whole progress, nothing else: {:?}",
        resumed.seen
    );
    // An id the server never gave starts over, and says so.
    let mut unknown = Stream::open(streams, &ana, Some(last + 1_000_000));
    let reset = unknown.next().unwrap();
    assert_eq!(reset.event, "reset");
    assert_eq!(reset.data["reason"], "unknown");
    drop(unknown);

    // The manager's stream carries the shared lobby but neither household's comings and
    // goings (docs/ARCHITECTURE.md, decision 40): the lobby's command comes after every household's, so
    // by its confirmation every event of theirs went past the manager's filter.
    command(&a.addr, &manager, lobby, "unlock");
    staff.until("the lobby's confirmation", |e| {
        is_command(e, lobby, "confirmed")
    });
    assert!(
        staff
            .seen
            .iter()
            // A lock confirming a code slot is a property record staff follow (decision 73).
            .all(
                |e| e.event == "slot" || (e.data["door_id"] != mine && e.data["door_id"] != theirs)
            ),
        "a unit's openings reached the manager's stream: {:?}",
        staff.seen
    );
    drop(staff);

    // Signing out (here, through the other process) ends the stream.
    let (status, body) = request(&a.addr, "POST", "/api/v1/auth/logout", Some(&ana), "");
    assert_eq!(status, 204, "{body}");
    let end = resumed.until("the end", |e| e.event == "end");
    assert_eq!(end.data["reason"], "revoked");
    assert!(resumed.next().is_none(), "nothing after the end");
    let (status, _) = request(streams, "GET", "/api/v1/stream", Some(&ana), "");
    assert_eq!(status, 401, "a revoked session cannot reconnect");

    drop(b);
    drop(a);
    for d in [Some(dir_a), dir_b].into_iter().flatten() {
        let _ = std::fs::remove_file(d.with_extension("log"));
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn a_residents_stream_carries_her_doors_resumes_without_loss_and_ends_when_signed_out() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for db in rt.block_on(latchkey_testkit::backends("stream_journey")) {
        eprintln!("on {:?}", db.backend);
        journey(&db);
        rt.block_on(db.remove());
    }
}
