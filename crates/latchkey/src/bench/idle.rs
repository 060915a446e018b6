//! `latchkey bench idle`: the resident memory of the server with N paired virtual locks, after
//! every PIN is programmed and the server has settled. The locks run in a child process so that
//! the figure is the server's alone.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use serde_json::json;

use super::rig;

fn rss_kib() -> Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("cannot read /proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS in /proc/self/status"))
}

/// # Errors
/// The bench's server or the simulator cannot be started.
pub async fn run(locks: usize, settle: Duration) -> Result<()> {
    println!("starting a server with {locks} paired virtual locks (the locks in a child process)…");
    let rig = rig::build("idle", locks, None, 30, false).await?;
    tokio::time::sleep(settle).await;
    let kib = rss_kib()?;
    let mb = kib as f64 / 1024.0;
    println!(
        "idle resident memory after {:.0} s: {mb:.1} MiB (target ≤ 150 MB)",
        settle.as_secs_f64()
    );
    println!(
        "{}",
        json!({ "bench": "idle", "locks": locks, "rss_mb": (mb * 10.0).round() / 10.0 })
    );
    rig.session.close().await;
    Ok(())
}
