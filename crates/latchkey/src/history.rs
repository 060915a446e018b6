//! How far the database's history went, recorded outside the database: `serve` keeps a signed
//! copy of the audit head in `DATA_DIR/history.marker` (beside the database file, not in it),
//! rewritten a few seconds after the log grows and at shutdown. At start, that marker and the
//! last line of the audit anchor file (when one is configured) are compared with the log: a log
//! that does not hold them is a restored (or replaced) database, and latchkey enters the
//! restored state (docs/OPERATIONS.md, "After a restore"; `latchkey_app::devices::HistoryCheck`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use latchkey_app::App;
use latchkey_app::devices::HistoryCheck;

use crate::config::Config;
use crate::wiring::app_err;

/// The marker's file name in the data directory.
pub const FILE: &str = "history.marker";
/// How often the head is looked at while serving (a crash loses at most this much of the
/// record, which only matters if a backup older than it is then restored).
const EVERY: Duration = Duration::from_secs(2);

/// The marker file of a data directory.
pub fn marker_path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// The recorded heads: the marker's line and the anchor file's last line.
fn recorded(config: &Config) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut files = vec![marker_path(&config.data_dir)];
    files.extend(config.audit_anchor_file.clone());
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                if let Some(last) = text.lines().rev().find(|l| !l.trim().is_empty()) {
                    lines.push(last.to_owned());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", file.display()));
            }
        }
    }
    Ok(lines)
}

/// Compares the recorded heads with the log (entering the restored state when it does not hold
/// them), then records the log's head. Runs before anything else writes at start.
///
/// # Errors
/// A recorded head cannot be read, the log cannot be read, or the marker cannot be written.
pub async fn check(app: &App, config: &Config) -> Result<HistoryCheck> {
    let mut outcome = HistoryCheck::NoMarker;
    for line in recorded(config)? {
        outcome = app.check_history(Some(&line)).await.map_err(app_err)?;
        if matches!(outcome, HistoryCheck::Restored { .. }) {
            break;
        }
    }
    if !matches!(outcome, HistoryCheck::Restored { .. })
        && app.restored_state().await.map_err(app_err)?.is_some()
    {
        tracing::warn!(
            "latchkey is still in the restored state: no code is cleared and no slot overwritten \
             until an admin ends it (`latchkey restore status`)"
        );
    }
    write(app, &marker_path(&config.data_dir)).await?;
    Ok(outcome)
}

/// Writes the current head to `path`, replacing it whole (a crash leaves the old or the new).
///
/// # Errors
/// The head cannot be read, or the file cannot be written.
pub async fn write(app: &App, path: &Path) -> Result<()> {
    let line = app.history_marker().await.map_err(app_err)?;
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || replace(&path, &format!("{line}\n")))
        .await
        .context("the history marker writer stopped")?
}

fn replace(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("marker.tmp");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_data())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}

/// Keeps the marker up to date until `stop` resolves, then writes it once more.
pub async fn run(app: App, path: PathBuf, stop: impl Future<Output = ()>) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    let mut last = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let head = app.history_marker().await.ok().and_then(|l| l.split_whitespace().find(|w| w.starts_with("seq=")).map(str::to_owned));
                if head.is_some() && head == last {
                    continue;
                }
                match write(&app, &path).await {
                    Ok(()) => last = head,
                    Err(e) => tracing::error!("history marker not written: {e:#}"),
                }
            }
            () = &mut stop => break,
        }
    }
    if let Err(e) = write(&app, &path).await {
        tracing::error!("history marker at shutdown not written: {e:#}");
    }
}
