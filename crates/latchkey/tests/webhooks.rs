//! Webhooks through the real binary on every backend: an endpoint created at the terminal,
//! `serve` killed with SIGKILL in the middle of delivering a run of events, started again:
//! every event reaches the receiver (at least once, each id handled once), in order.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use latchkey_testkit::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

/// Each request's `webhook-id`, in arrival order.
type Arrivals = Arc<Mutex<Vec<i64>>>;

/// A small HTTP/1.1 receiver (keep-alive): records each request's `webhook-id` and answers
/// 204 after `delay`, so that a run of deliveries takes a while.
fn receiver(delay: Duration) -> (u16, Arrivals) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got: Arrivals = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(sock) = sock else { return };
            let g = g.clone();
            std::thread::spawn(move || {
                let mut w = sock.try_clone().unwrap();
                let mut r = BufReader::new(sock);
                loop {
                    let mut id = None;
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = l.split_once(':') {
                            match k.to_ascii_lowercase().as_str() {
                                "webhook-id" => id = v.trim().parse().ok(),
                                "content-length" => len = v.trim().parse().unwrap_or(0),
                                _ => {}
                            }
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    std::thread::sleep(delay);
                    if let Some(id) = id {
                        g.lock().unwrap().push(id);
                    }
                    if w.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, got)
}

struct Site {
    dir: PathBuf,
    db: TestDb,
}

impl Site {
    fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--data-dir")
            .arg(&self.dir)
            .arg("--database-url")
            .arg(&self.db.url)
            .env_remove("LATCHKEY_DATABASE_URL")
            .env_remove("LATCHKEY_MASTER_KEY")
            .env("LATCHKEY_ADMIN_PASSWORD", "correct-horse-battery")
            .env("LATCHKEY_LOG", "warn");
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "latchkey {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn serve(&self) -> Child {
        let mut child = self
            .command()
            .args(["serve", "--listen", "127.0.0.1:0", "--no-mqtt"])
            // A killed server's claims lapse after a second, not five minutes.
            .env("LATCHKEY_OUTBOX_LEASE_SECS", "1")
            .env("LATCHKEY_REPLICA_ID", "webhook-test")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        assert!(first.starts_with("latchkey listening on"), "{first}");
        std::thread::spawn(move || lines.for_each(drop));
        child
    }
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let t = Instant::now();
    while !done() {
        assert!(
            t.elapsed() < within,
            "{what} did not happen within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn a_server_killed_mid_delivery_loses_nothing_after_a_restart() {
    const EVENTS: usize = 40;
    for db in latchkey_testkit::backends("webhook_kill").await {
        let dir = std::env::temp_dir().join(format!(
            "latchkey-webhook-kill-{:?}-{}",
            db.backend,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let site = Site { dir, db };
        let (port, got) = receiver(Duration::from_millis(25));
        site.ok(&[
            "admin",
            "create",
            "--name",
            "Ada Admin",
            "--email",
            "ada@example.org",
        ]);
        site.ok(&[
            "property",
            "create",
            "--name",
            "Linden House",
            "--timezone",
            "UTC",
        ]);
        let made = site.ok(&[
            "webhook",
            "create",
            "--property",
            "1",
            "--url",
            &format!("http://127.0.0.1:{port}/hook"),
            "--kind",
            "door.created",
        ]);
        assert!(made.contains("whsec_"), "{made}");
        // A household's comings and goings are refused as a kind, at the terminal too.
        let refused = site
            .command()
            .args([
                "webhook",
                "create",
                "--property",
                "1",
                "--url",
                "https://example.org/",
            ])
            .args(["--kind", "door.opened"])
            .output()
            .unwrap();
        assert!(!refused.status.success());
        for i in 0..EVENTS {
            site.ok(&[
                "door",
                "create",
                "--property",
                "1",
                "--name",
                &format!("Entrance {i}"),
                "--kind",
                "building_entrance",
            ]);
        }

        let mut first = site.serve();
        wait_until("the first deliveries", Duration::from_secs(30), || {
            got.lock().unwrap().len() >= 5
        });
        let _ = Command::new("kill")
            .args(["-KILL", &first.id().to_string()])
            .status();
        first.wait().unwrap();
        let at_kill = got.lock().unwrap().len();
        assert!(at_kill < EVENTS, "the kill came mid-delivery ({at_kill})");

        let mut second = site.serve();
        wait_until("every event delivered", Duration::from_secs(60), || {
            got.lock().unwrap().iter().collect::<BTreeSet<_>>().len() == EVENTS
        });
        let _ = Command::new("kill")
            .args(["-TERM", &second.id().to_string()])
            .status();
        second.wait().unwrap();

        let arrivals = got.lock().unwrap().clone();
        let mut handled = Vec::new();
        for id in &arrivals {
            if !handled.contains(id) {
                handled.push(*id);
            }
        }
        assert_eq!(handled.len(), EVENTS, "{arrivals:?}");
        assert!(
            handled.windows(2).all(|p| p[0] < p[1]),
            "first arrivals in order: {arrivals:?}"
        );
        // At least once: what the killed server had sent but not recorded comes again.
        assert!(arrivals.len() - EVENTS <= 64, "{arrivals:?}");
        let _ = std::fs::remove_dir_all(&site.dir);
        site.db.remove().await;
    }
}
