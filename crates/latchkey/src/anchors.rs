//! Anchors of the audit chain's head outside the database: while `serve` runs, a signed copy of
//! the head goes to the log and, when configured, is appended to the anchor file — at start,
//! every minute in which the log grew, and at shutdown. `latchkey audit verify --anchor FILE`
//! checks the log against them (docs/OPERATIONS.md, "Anchors").

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use latchkey_app::App;
use latchkey_core::chain::Hash;

use crate::wiring::app_err;

/// How often the head is looked at while serving.
pub const EVERY: Duration = Duration::from_secs(60);

/// Writes anchors for one running server.
pub struct AnchorWriter {
    app: App,
    file: Option<PathBuf>,
    last: Option<(i64, Hash)>,
}

impl AnchorWriter {
    pub fn new(app: App, file: Option<PathBuf>) -> AnchorWriter {
        AnchorWriter {
            app,
            file,
            last: None,
        }
    }

    /// Signs the current head and writes it to the log and the anchor file, unless it is the
    /// head this writer anchored last and `always` is false.
    ///
    /// # Errors
    /// The head cannot be read, or the anchor file cannot be written.
    pub async fn write(&mut self, always: bool) -> Result<()> {
        let anchor = self.app.audit_anchor().await.map_err(app_err)?;
        if !always && self.last == Some((anchor.seq, anchor.hash)) {
            return Ok(());
        }
        let line = anchor.to_line();
        tracing::info!(
            seq = anchor.seq,
            hash = %hex::encode(anchor.hash),
            anchor = %line,
            "audit anchor"
        );
        if let Some(file) = &self.file {
            let (file, text) = (file.clone(), format!("{line}\n"));
            tokio::task::spawn_blocking(move || append_line(&file, &text))
                .await
                .context("the anchor writer stopped")??;
        }
        self.app.note_anchor(&anchor);
        self.last = Some((anchor.seq, anchor.hash));
        Ok(())
    }
}

/// Appends one line and waits until it is on disk.
fn append_line(file: &Path, text: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .with_context(|| format!("cannot open the audit anchor file {}", file.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_data())
        .with_context(|| format!("cannot write the audit anchor file {}", file.display()))
}

/// Writes an anchor every [`EVERY`] in which the log grew, until `stop` resolves, then one more.
/// A failed write is logged and tried again at the next tick: the server keeps serving.
pub async fn run(mut writer: AnchorWriter, stop: impl Future<Output = ()>) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = writer.write(false).await {
                    tracing::error!("audit anchor not written: {e:#}");
                }
            }
            () = &mut stop => break,
        }
    }
    if let Err(e) = writer.write(true).await {
        tracing::error!("audit anchor at shutdown not written: {e:#}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::chain::anchor::{Anchor, AnchorKey};

    #[test]
    fn anchors_are_appended_one_line_each() {
        let dir = std::env::temp_dir().join(format!("latchkey-anchor-w-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("anchors");
        let a = Anchor::sign(
            &AnchorKey::new(&[1; 32]),
            3,
            [2; 32],
            jiff::Timestamp::UNIX_EPOCH,
        );
        append_line(&file, &format!("{}\n", a.to_line())).expect("first");
        append_line(&file, &format!("{}\n", a.to_line())).expect("second");
        let text = std::fs::read_to_string(&file).expect("read");
        assert_eq!(text.lines().count(), 2);
        assert_eq!(Anchor::parse(text.lines().next().expect("a line")), Ok(a));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
