//! `latchkey bench idle`: the resident memory of a real `latchkey serve` process with N paired
//! virtual locks. The property (N doors, each paired with `lock-<i>`) is written to a fresh data
//! directory first; then `latchkey serve` runs on it as a child process with its embedded
//! broker, `latchkey sim run` connects N locks to that broker as a second child, and once every
//! lock has reported and the server has settled, the server's VmRSS is read from /proc.

use std::net::{SocketAddr, TcpListener};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, SystemClock};
use latchkey_store::{Store, devices};
use serde_json::json;
use tokio::process::{Child, Command};

use super::TempDir;

/// Writes the property with `locks` paired doors into `dir`'s database, as `serve` will find it.
async fn provision(dir: &TempDir, locks: usize) -> Result<Store> {
    let url = format!("sqlite://{}/latchkey.db", dir.0.display());
    let store = Store::open(&url)
        .await
        .with_context(|| format!("cannot open {url}"))?;
    // No PINs are written, so the key only has to be a key.
    let (notifier, _ignored) = latchkey_app::devices::reconcile::channel();
    let app = App::new(
        store.clone(),
        Keys::from_master(&[0x5a; 32]),
        Arc::new(SystemClock),
        Arc::new(notifier),
        AppConfig::default(),
    );
    super::rig::paired_building(&app, locks, super::rig::LockProtocol::Zigbee).await?;
    Ok(store)
}

/// A port that was free a moment ago.
fn free_port() -> Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(l.local_addr()?)
}

fn rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS in {path}"))
}

fn spawn(args: &[String]) -> Result<Child> {
    let exe = std::env::current_exe().context("cannot find this program")?;
    Command::new(exe)
        .args(args)
        .env("LATCHKEY_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start `latchkey {}`", args.join(" ")))
}

async fn wait_for<F, Fut>(what: &str, within: Duration, mut done: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let t = Instant::now();
    while !done().await? {
        if t.elapsed() > within {
            return Err(anyhow!("{what} did not happen within {within:?}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// # Errors
/// The server or the simulator cannot be started, or the locks do not all report.
pub async fn run(locks: usize, settle: Duration) -> Result<()> {
    println!("writing a property with {locks} paired doors…");
    let dir = TempDir::new("idle")?;
    let store = provision(&dir, locks).await?;
    let (http, mqtt) = (free_port()?, free_port()?);
    println!("starting `latchkey serve` (embedded broker on {mqtt}) and {locks} virtual locks…");
    let mut server = spawn(&[
        "serve".into(),
        "--data-dir".into(),
        dir.0.display().to_string(),
        "--listen".into(),
        http.to_string(),
        "--mqtt-listen".into(),
        mqtt.to_string(),
    ])?;
    let pid = server
        .id()
        .ok_or_else(|| anyhow!("the server exited at once"))?;
    wait_for("the server listening", Duration::from_secs(30), || async {
        Ok(tokio::net::TcpStream::connect(http).await.is_ok())
    })
    .await?;
    let _sim = spawn(&[
        "sim".into(),
        "run".into(),
        "--mqtt-url".into(),
        format!("mqtt://{mqtt}"),
        "--locks".into(),
        locks.to_string(),
        "--actuation-ms".into(),
        "0".into(),
    ])?;
    let started = Instant::now();
    let want = i64::try_from(locks).unwrap_or(i64::MAX);
    wait_for("every lock reporting", Duration::from_secs(180), || async {
        let mut conn = store.read().await?;
        Ok(devices::count_reporting(&mut conn).await? >= want)
    })
    .await?;
    println!(
        "all {locks} locks reported in {:.1} s; settling {:.0} s…",
        started.elapsed().as_secs_f64(),
        settle.as_secs_f64()
    );
    tokio::time::sleep(settle).await;
    if let Some(status) = server.try_wait()? {
        return Err(anyhow!("the server exited during the bench: {status}"));
    }
    let kib = rss_kib(pid)?;
    let (mib, mb) = (kib as f64 / 1024.0, kib as f64 * 1024.0 / 1e6);
    println!(
        "idle resident memory of `latchkey serve`: {mb:.1} MB ({mib:.1} MiB) (target ≤ 150 MB)"
    );
    println!(
        "{}",
        json!({ "bench": "idle", "locks": locks, "rss_mb": (mb * 10.0).round() / 10.0 })
    );
    store.close().await;
    Ok(())
}
