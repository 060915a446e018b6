//! `serve` with the embedded broker beyond loopback, through the real binary: it creates the
//! gateway's login and prints Zigbee2MQTT's settings, refuses anonymous clients, and refuses
//! (and logs) wrong passwords until even the right one waits; a login rotated or revoked from
//! the terminal (another process) is cut off at once.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rumqttc::{AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet};

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");
/// `login_attempts`' default.
const ATTEMPTS: usize = 10;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("latchkey-broker-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn connect(port: u16, login: Option<(&str, &str)>) -> Result<(), ConnectReturnCode> {
    let mut opts = MqttOptions::new("probe", "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30));
    if let Some((u, p)) = login {
        opts.set_credentials(u, p);
    }
    let (_c, mut ev) = AsyncClient::new(opts, 8);
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ev.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(ConnectionError::ConnectionRefused(code)) => return Err(code),
                Err(e) => panic!("connection error: {e}"),
            }
        }
    })
    .await
    .expect("a CONNACK in time")
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_beyond_loopback_creates_the_gateway_login_and_refuses_everyone_else() {
    let dir = temp_dir("serve");
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--mqtt-listen",
            "0.0.0.0:0",
            "--data-dir",
        ])
        .arg(&dir)
        .env_remove("LATCHKEY_DATABASE_URL")
        .env_remove("LATCHKEY_MASTER_KEY")
        .env("LATCHKEY_LOG", "warn")
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
    let mut printed = String::new();
    while !printed.contains("client_id:") {
        let Some(Ok(line)) = lines.next() else {
            stop(child);
            panic!("serve ended before printing the settings: {printed}");
        };
        printed.push_str(&line);
        printed.push('\n');
    }
    assert!(
        printed.starts_with("latchkey listening on http://"),
        "{printed}"
    );
    let port: u16 = printed
        .split("mqtt broker on mqtt://0.0.0.0:")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no broker line: {printed}"));
    let field = |name: &str| {
        printed
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name}: {printed}"))
            .trim()
            .to_owned()
    };
    assert_eq!(field("user:"), "zigbee2mqtt");
    assert_eq!(field("client_id:"), "zigbee2mqtt");
    assert_eq!(field("server:"), format!("mqtt://THIS-HOST:{port}"));
    let password = field("password:");
    assert!(password.starts_with("lkm_"), "{password}");

    assert_eq!(
        connect(port, None).await.err(),
        Some(ConnectReturnCode::NotAuthorized),
        "anonymous clients are refused"
    );
    connect(port, Some(("zigbee2mqtt", &password)))
        .await
        .expect("the printed login connects");
    for _ in 0..ATTEMPTS {
        assert_eq!(
            connect(port, Some(("zigbee2mqtt", "lkm_guess")))
                .await
                .err(),
            Some(ConnectReturnCode::BadUserNamePassword)
        );
    }
    assert_eq!(
        connect(port, Some(("zigbee2mqtt", &password))).await.err(),
        Some(ConnectReturnCode::NotAuthorized),
        "past the limit even the right password waits"
    );
    stop(child);
    let log = log.join().unwrap();
    assert!(log.contains("refused an anonymous MQTT client"), "{log}");
    assert!(
        log.matches("wrong user name or password").count() >= ATTEMPTS,
        "{log}"
    );
    assert!(log.contains("too many wrong passwords"), "{log}");
    assert!(!log.contains("lkm_guess"), "passwords never reach the log");

    // The login is kept, and the terminal lists and rotates it.
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(&dir)
            .env_remove("LATCHKEY_DATABASE_URL")
            .env_remove("LATCHKEY_MASTER_KEY")
            .env("LATCHKEY_ADMIN_PASSWORD", "correct-horse-battery")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?}: {text}");
        text
    };
    run(&[
        "admin",
        "create",
        "--name",
        "Ada",
        "--email",
        "ada@example.org",
    ]);
    let listed = run(&["broker-login", "list"]);
    assert!(listed.starts_with("zigbee2mqtt\tgateway"), "{listed}");
    let rotated = run(&["broker-login", "rotate", "zigbee2mqtt"]);
    assert!(rotated.contains("password: lkm_"), "{rotated}");
    assert!(!rotated.contains(&password), "a new password");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A generous liveness bound for a cut: far below the 60 s periodic check, far above the
/// change feed's wake-up (a 50 ms poll on SQLite) even on a machine busy compiling.
const CUT_WITHIN: Duration = Duration::from_secs(20);

/// A client that stays connected; the flag turns true when the broker drops it.
async fn hold(port: u16, id: &str, user: &str, password: &str) -> Arc<AtomicBool> {
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_credentials(user, password);
    let (client, mut ev) = AsyncClient::new(opts, 8);
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ev.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return,
                Ok(_) => {}
                Err(e) => panic!("{user} cannot connect: {e}"),
            }
        }
    })
    .await
    .expect("a CONNACK in time");
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    tokio::spawn(async move {
        let _client = client;
        // Polls until the first error: the connection is gone (no reconnecting).
        while ev.poll().await.is_ok() {}
        flag.store(true, Ordering::SeqCst);
    });
    dropped
}

async fn dropped_within(flag: &AtomicBool, bound: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + bound;
    while tokio::time::Instant::now() < deadline {
        if flag.load(Ordering::SeqCst) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    flag.load(Ordering::SeqCst)
}

/// The value of `name` in printed settings.
fn setting(printed: &str, name: &str) -> String {
    printed
        .lines()
        .find_map(|l| l.trim().strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name}: {printed}"))
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_rotated_or_revoked_from_the_terminal_is_cut_off_at_once_and_cannot_return() {
    let dir = temp_dir("cut");
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--mqtt-listen",
            "0.0.0.0:0",
            "--data-dir",
        ])
        .arg(&dir)
        .env_remove("LATCHKEY_DATABASE_URL")
        .env_remove("LATCHKEY_MASTER_KEY")
        .env("LATCHKEY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    while !printed.contains("client_id:") {
        let Some(Ok(line)) = lines.next() else {
            stop(child);
            panic!("serve ended before printing the settings: {printed}");
        };
        printed.push_str(&line);
        printed.push('\n');
    }
    let port: u16 = printed
        .split("mqtt broker on mqtt://0.0.0.0:")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no broker line: {printed}"));
    let first = setting(&printed, "password:");

    // The terminal: another process on the same database.
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(&dir)
            .env_remove("LATCHKEY_DATABASE_URL")
            .env_remove("LATCHKEY_MASTER_KEY")
            .env("LATCHKEY_ADMIN_PASSWORD", "correct-horse-battery")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?}: {text}");
        text
    };
    run(&[
        "admin",
        "create",
        "--name",
        "Ada",
        "--email",
        "ada@example.org",
    ]);
    let observer = run(&["broker-login", "create", "dashboard", "--role", "observer"]);
    let observer = setting(&observer, "password:");

    let old_session = hold(port, "z2m", "zigbee2mqtt", &first).await;
    let rotated = run(&["broker-login", "rotate", "zigbee2mqtt"]);
    let second = setting(&rotated, "password:");
    assert_ne!(second, first);
    assert!(
        dropped_within(&old_session, CUT_WITHIN).await,
        "the session of the old password is dropped at once, not at the next periodic check"
    );
    assert_eq!(
        connect(port, Some(("zigbee2mqtt", &first))).await.err(),
        Some(ConnectReturnCode::BadUserNamePassword),
        "the old password cannot reconnect"
    );
    let new_session = hold(port, "z2m", "zigbee2mqtt", &second).await;

    // Revoking another login checks every connected login again: the dashboard goes, the
    // gateway with its current password stays.
    let dashboard = hold(port, "dash", "dashboard", &observer).await;
    run(&["broker-login", "revoke", "dashboard"]);
    assert!(
        dropped_within(&dashboard, CUT_WITHIN).await,
        "the revoked dashboard is dropped"
    );
    assert!(
        !dropped_within(&new_session, Duration::from_secs(1)).await,
        "the gateway's session with its current password is kept"
    );
    assert_eq!(
        connect(port, Some(("dashboard", &observer))).await.err(),
        Some(ConnectReturnCode::BadUserNamePassword),
        "a revoked login cannot reconnect"
    );

    run(&["broker-login", "revoke", "zigbee2mqtt"]);
    assert!(
        dropped_within(&new_session, CUT_WITHIN).await,
        "the revoked gateway is dropped"
    );
    assert_eq!(
        connect(port, Some(("zigbee2mqtt", &second))).await.err(),
        Some(ConnectReturnCode::BadUserNamePassword)
    );
    stop(child);
    let _ = std::fs::remove_dir_all(&dir);
}
