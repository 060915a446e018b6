//! Retention of personal data (docs/OPERATIONS.md, "Privacy"; decision 41): personal access
//! events older than their property's `personal_event_retention_days` are redacted, and people
//! who moved out longer ago than that are erased. Run by `serve` every hour and by
//! `latchkey privacy retention`.

use jiff::SignedDuration;
use latchkey_store::audit::{self, NewEvent, Redaction};
use latchkey_store::privacy as repo;
use latchkey_store::property;

use crate::authz::PERSONAL_KINDS;
use crate::{App, AppError, Result};

/// Events redacted per transaction, so a first run over a long log does not hold the writer for
/// long.
const BATCH: i64 = 1_000;

/// The kind of the event that records a redaction.
pub const REDACTED_KIND: &str = "audit.redacted";

/// What one run of the retention job did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Personal events redacted.
    pub redacted: u64,
    /// People erased after moving out.
    pub erased: u64,
    /// What was pruned of the outbox.
    pub outbox: crate::outbox::prune::Pruned,
}

impl App {
    /// Applies every property's retention now (see the module documentation). Each batch of
    /// redactions is recorded, in its own transaction, by an `audit.redacted` event naming the
    /// property, the cut-off and the events' numbers.
    ///
    /// # Errors
    /// `Store` when the database fails; what was committed before stays done.
    pub async fn apply_retention(&self) -> Result<RetentionReport> {
        let now = self.now();
        let mut report = RetentionReport::default();
        let properties = {
            let mut conn = self.store().read().await?;
            property::list_properties(&mut conn).await?
        };
        let mut longest = 0;
        for p in &properties {
            let days = p.policy.personal_event_retention_days;
            longest = longest.max(days);
            let before = now - SignedDuration::from_hours(i64::from(days) * 24);
            loop {
                let mut tx = self.store().write().await?;
                // Taking the chain head first serialises concurrent runs: a second one sees
                // this one's redactions instead of redacting (and recording) them again.
                audit::append(&mut tx, self.keys().chain_key(), now, &[]).await?;
                let seqs = audit::redact(
                    &mut tx,
                    self.keys().chain_key(),
                    &Redaction {
                        property: Some(p.id),
                        before: Some(before),
                        kinds: PERSONAL_KINDS,
                        ..Redaction::default()
                    },
                    BATCH,
                )
                .await?;
                let (Some(first), Some(last)) = (seqs.first(), seqs.last()) else {
                    break;
                };
                let event = NewEvent::new(REDACTED_KIND, format!("property:{}", p.id))
                    .property(p.id)
                    .data(serde_json::json!({
                        "reason": "retention",
                        "before": before,
                        "retention_days": days,
                        "events": seqs.len(),
                        "first_seq": first,
                        "last_seq": last,
                    }));
                self.commit_with(tx, vec![event]).await?;
                report.redacted += seqs.len() as u64;
                if (seqs.len() as i64) < BATCH {
                    break;
                }
            }
        }
        // A dead letter names a person: it goes when personal data of any property would.
        let dead_days = if longest > 0 {
            longest
        } else {
            latchkey_core::model::Policy::default().personal_event_retention_days
        };
        report.outbox = self.prune_outbox(now, dead_days).await?;
        if longest > 0 {
            let before = now - SignedDuration::from_hours(i64::from(longest) * 24);
            let gone = {
                let mut conn = self.store().read().await?;
                repo::moved_out_before(&mut conn, before).await?
            };
            for id in gone {
                match self.erase(id, None, "retention").await {
                    Ok(_) => report.erased += 1,
                    // A credential left on the locks after move-out: staff must revoke it; the
                    // next run erases the person then.
                    Err(AppError::Conflict(why)) => {
                        tracing::warn!(person = %id, "not erased after moving out: {why}");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(report)
    }
}
