//! Fault tests of the real binary: the server killed with `kill -9` while it ingests a stream of
//! lock events from an external broker loses none that the broker acknowledged to the lock,
//! applies none twice, and leaves the audit chain intact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use latchkey_mqtt::{ConnState, MqttUrl, QoS, Session, SessionOptions};
use latchkey_testkit::mosquitto::Mosquitto;

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("latchkey-fault-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn latchkey(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir")
        .arg(dir)
        .env_remove("LATCHKEY_DATABASE_URL")
        .env_remove("LATCHKEY_MASTER_KEY")
        .env_remove("LATCHKEY_MQTT_URL")
        .env_remove("LATCHKEY_MQTT_LISTEN")
        .env(
            "LATCHKEY_REPLICA_ID",
            format!("fault-{}", std::process::id()),
        )
        .env("LATCHKEY_ADMIN_PASSWORD", "fault-password-1");
    c
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = latchkey(dir).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "latchkey {args:?} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn serve(dir: &Path, broker: &str) -> Child {
    let mut child = latchkey(dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--mqtt-url", broker])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("latchkey listening on"), "{first}");
    // Keep reading its output so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    child
}

/// Keypad openings recorded: the test's code sits in a slot latchkey does not manage, so each
/// is an `unexpected_opening` alarm (docs/DEVICES.md); a granted one would count too.
fn granted(dir: &Path) -> usize {
    ok(dir, &["export", "--format", "jsonl"])
        .lines()
        .filter(|l| l.contains("\"access.granted\"") || l.contains("\"unexpected_opening\""))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_ingestion_loses_no_acknowledged_event_and_keeps_its_chain() {
    let Some(mosquitto) = Mosquitto::start() else {
        return;
    };
    let broker = format!("mqtt://127.0.0.1:{}", mosquitto.port);
    let dir = temp_dir("kill9");
    ok(
        &dir,
        &[
            "admin",
            "create",
            "--name",
            "Ada",
            "--email",
            "ada@example.org",
        ],
    );
    ok(
        &dir,
        &[
            "property",
            "create",
            "--name",
            "Fault House",
            "--timezone",
            "Europe/Berlin",
        ],
    );
    ok(
        &dir,
        &[
            "door",
            "create",
            "--property",
            "1",
            "--name",
            "Front",
            "--kind",
            "building_entrance",
        ],
    );
    ok(
        &dir,
        &["device", "pair", "--door", "1", "--device", "front-lock"],
    );

    let mut server = serve(&dir, &broker);
    // The server's persistent session must exist before the lock speaks.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut opts = SessionOptions::new(MqttUrl::tcp(mosquitto.addr()), "front-lock-z2m");
    opts.subscriptions = vec![];
    let (lock, _rx) = Session::start(opts).unwrap();
    let mut state = lock.state();
    tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| *s == ConnState::Connected),
    )
    .await
    .unwrap()
    .unwrap();
    drop(state);
    const EVENTS: usize = 1_500;
    let publisher = tokio::spawn(async move {
        for i in 0..EVENTS {
            // Zigbee2MQTT with `last_seen` on: every message is unique.
            let payload = format!(
                r#"{{"action":"unlock","action_source":0,"action_source_name":"keypad","action_user":3,"state":"LOCK","last_seen":"2026-11-26T12:00:00.{i:06}Z"}}"#
            );
            // QoS 1: `publish` returns once queued; the broker's PUBACK is the acknowledgement.
            lock.publish(
                "zigbee2mqtt/front-lock",
                payload.into_bytes(),
                QoS::AtLeastOnce,
                false,
            )
            .await
            .unwrap();
            if i % 100 == 99 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        lock
    });
    // Kill the server while the stream is still coming in.
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    let lock = publisher.await.unwrap();
    // Everything published has been acknowledged by the broker once the session is idle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    lock.close().await;

    let seen_before_restart = granted(&dir);
    assert!(
        seen_before_restart < EVENTS,
        "the kill came too late to test anything ({seen_before_restart})"
    );
    let mut server = serve(&dir, &broker);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut n = granted(&dir);
    while n < EVENTS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        n = granted(&dir);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let n = granted(&dir);
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(
        n, EVENTS,
        "every acknowledged event applied exactly once ({seen_before_restart} before the restart)"
    );
    let verify = ok(&dir, &["audit", "verify"]);
    assert!(verify.contains("intact"), "{verify}");
    let _ = std::fs::remove_dir_all(&dir);
}
