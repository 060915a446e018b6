//! Pruning the outbox, run with retention (docs/OPERATIONS.md, "Notifications"): a sent
//! delivery is kept [`SENT_RETENTION_DAYS`] after it was sent, and a routed notification with no
//! delivery left as long after it was routed; a dead letter stays for staff to see and
//! redeliver until the longest personal-data retention of any property has passed since it
//! was given up on. Alarm notices that no worker ever told go after the same time.

use jiff::{SignedDuration, Timestamp};
use latchkey_store::{alarms, pruning};

use crate::{App, Result};

/// Days a sent delivery is kept.
pub const SENT_RETENTION_DAYS: i64 = 30;
/// Rows deleted per transaction.
const BATCH: i64 = 1_000;

/// What one pruning did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub sent: u64,
    pub dead: u64,
    pub notifications: u64,
    pub alarm_notices: u64,
}

fn days_before(now: Timestamp, days: i64) -> Timestamp {
    now.checked_sub(SignedDuration::from_hours(days * 24))
        .unwrap_or(now)
}

impl App {
    /// Prunes the outbox at `now`; dead letters given up on more than `dead_days` ago go too.
    ///
    /// # Errors
    /// `Store` when the database fails; what was committed before stays done.
    pub async fn prune_outbox(&self, now: Timestamp, dead_days: u32) -> Result<Pruned> {
        let sent_before = days_before(now, SENT_RETENTION_DAYS);
        let dead_before = days_before(now, i64::from(dead_days));
        let mut out = Pruned::default();
        loop {
            let mut tx = self.store().write().await?;
            let sent = pruning::sent_deliveries(tx.conn(), sent_before, BATCH).await?;
            let dead = pruning::dead_deliveries(tx.conn(), dead_before, BATCH).await?;
            let notes = pruning::routed_notifications(tx.conn(), sent_before, BATCH).await?;
            let notices = alarms::prune(tx.conn(), dead_before).await?;
            tx.commit().await?;
            out.sent += sent;
            out.dead += dead;
            out.notifications += notes;
            out.alarm_notices += notices;
            if sent < BATCH as u64 && dead < BATCH as u64 && notes < BATCH as u64 {
                return Ok(out);
            }
        }
    }
}
