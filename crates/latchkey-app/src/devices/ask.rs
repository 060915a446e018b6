//! After an outage, ask. Reports a lock sent while latchkey was stopped or cut off from the
//! broker may be lost (QoS 0 publishing, or no persistent session: docs/DEVICES.md, "What
//! survives an outage"), so on start and after every reconnect latchkey asks each paired lock
//! for its state: one Zigbee2MQTT `get {"state":""}` per lock, spaced out so that a building's
//! locks are not asked at once. The ask is stored with the lock (`devices.asked_at`), so the
//! answer is recognised on whichever replica receives it, and a lock asked moments ago by
//! another replica is not asked again. Ingestion (`ingest/lock.rs`) takes the lock's next report
//! with a position as the answer and records a difference from the stored state as
//! `lock.changed_while_away`, with the gap's bounds.

use std::time::Duration;

use latchkey_core::lock::LockCommand;
use latchkey_store::devices as repo;
use latchkey_store::property;

use crate::{App, Result};

/// At start, a lock asked less than this long ago (by another replica starting too) is not
/// asked again. After a reconnect only asks made since the reconnect count: an earlier round,
/// cut off by the disconnect, may have recorded asks it never sent.
const STARTED_TOGETHER: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// Why latchkey asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AskWhy {
    /// The server started.
    Start,
    /// The MQTT session came back after losing the broker.
    Reconnect,
    /// This replica took over the device lease: what the locks said while no replica listened
    /// to them may be lost.
    Takeover,
}

impl AskWhy {
    pub fn as_str(self) -> &'static str {
        match self {
            AskWhy::Start => "start",
            AskWhy::Reconnect => "reconnect",
            AskWhy::Takeover => "takeover",
        }
    }
}

/// What one round of asking did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AskStats {
    /// Locks sent a `get`.
    pub asked: usize,
    /// Locks another replica asked moments ago, left alone.
    pub skipped: usize,
    /// Locks whose `get` could not be sent (the broker went away again); their next report
    /// still counts as the answer.
    pub unsent: usize,
}

impl App {
    /// Asks every paired lock for its state, one `get` each, `spacing` apart.
    ///
    /// # Errors
    /// `Store` when the paired locks cannot be read or an ask cannot be recorded; the locks not
    /// yet asked then wait for the next round (the next reconnect or start).
    pub async fn ask_locks(&self, why: AskWhy, spacing: Duration) -> Result<AskStats> {
        self.ask_locks_where(why, spacing, |_| true).await
    }

    /// As [`App::ask_locks`], for the paired locks whose name `keep` accepts (a device link asks
    /// its own locks).
    ///
    /// # Errors
    /// As [`App::ask_locks`].
    pub async fn ask_locks_where(
        &self,
        why: AskWhy,
        spacing: Duration,
        keep: impl Fn(&str) -> bool,
    ) -> Result<AskStats> {
        let mut conn = self.store().read().await?;
        let locks: Vec<String> = property::paired_doors(&mut conn)
            .await?
            .into_iter()
            .filter_map(|d| d.lock_name)
            .filter(|name| keep(name))
            .collect();
        drop(conn);
        let round = self.now();
        let not_before = match why {
            AskWhy::Start => round.checked_sub(STARTED_TOGETHER).unwrap_or(round),
            AskWhy::Reconnect | AskWhy::Takeover => round,
        };
        let mut stats = AskStats::default();
        if locks.is_empty() {
            return Ok(stats);
        }
        tracing::info!(
            locks = locks.len(),
            why = why.as_str(),
            spacing_ms = spacing.as_millis(),
            "asking every paired lock for its state: what changed while latchkey was away is recorded as lock.changed_while_away"
        );
        // Every ask is recorded first, in one transaction, and only then are the `get`s sent,
        // spaced out: a lock's first report with a position after this point is taken as its
        // answer, whether it answers the `get` or comes first for another reason (a reply to
        // the reconciler, a person at the door), so what changed while latchkey was away is
        // never recorded as an ordinary change just because its lock's turn had not come.
        let now = self.now();
        let mut tx = self.store().write().await?;
        let mut to_ask = Vec::with_capacity(locks.len());
        for name in &locks {
            if repo::mark_asked(tx.conn(), name, why.as_str(), now, not_before).await? {
                to_ask.push(name);
            } else {
                stats.skipped += 1;
            }
        }
        tx.commit().await?;
        for (i, name) in to_ask.into_iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(spacing).await;
            }
            let sent = self.port().send(name, &LockCommand::ReadState);
            match sent {
                Ok(()) => stats.asked += 1,
                Err(e) => {
                    stats.unsent += 1;
                    tracing::debug!(lock = %name, error = %e, "could not ask the lock for its state");
                }
            }
        }
        tracing::info!(
            asked = stats.asked,
            skipped = stats.skipped,
            unsent = stats.unsent,
            why = why.as_str(),
            "asked the paired locks for their state"
        );
        Ok(stats)
    }
}
