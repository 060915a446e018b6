//! Limits that hold across replicas: attempt counters in the database (`rate_limits`), so two
//! processes on one database share the counts and a restart forgets nothing. Sign-in and every
//! lockout limit live here; the in-memory [`crate::ratelimit`] is kept where each replica may
//! count alone (see ARCHITECTURE.md, "Where limits live").
//!
//! A key is stored only as its SHA-256 digest, so no address or e-mail sits in the table. A hit
//! is one upsert of one row found through the primary key; expired rows are pruned a few at a
//! time by later hits, so neither cost grows with the number of keys.
//!
//! The limits stop the attacker, not the victim: a hard limit is keyed on what the attacker
//! controls (the source address, a case or job token they hold), never on the person they aim
//! at. What is keyed on the person is a signal that tells them or their household.

use std::time::Duration;

use jiff::Timestamp;
use latchkey_core::{PersonId, PropertyId};
use latchkey_store::WriteTx;
use latchkey_store::limits::{self as repo, Count};
use latchkey_store::lockout::{self as cases, Notification};
use serde_json::json;

use crate::secrets::token_digest;
use crate::{App, AppError, Result};

/// Expired counters removed by each hit: more than the one row a hit can add, so the table
/// never holds much more than the live keys.
const PRUNE_BATCH: i64 = 8;

/// The database-backed limits of an [`App`].
pub struct Limits<'a> {
    app: &'a App,
}

impl App {
    /// Limits shared by every replica on this database.
    pub(crate) fn limits(&self) -> Limits<'_> {
        Limits { app: self }
    }
}

fn refusal(count: Count, now: Timestamp) -> AppError {
    let left = count.resets_at.duration_since(now).as_secs();
    AppError::RateLimited {
        retry_after_secs: u64::try_from(left).unwrap_or(0).max(1),
    }
}

impl Limits<'_> {
    fn window_end(&self, now: Timestamp, window: Duration) -> Result<Timestamp> {
        now.checked_add(window)
            .map_err(|e| AppError::Internal(format!("limit window: {e}")))
    }

    /// Counts one attempt under `key` in its own short transaction, so that it stays counted
    /// whatever happens next; refuses the attempt that goes past `limit` in `window`.
    /// Call it while holding no write transaction (on SQLite a second one would wait for the
    /// first); inside one, use [`Limits::hit_in`].
    ///
    /// # Errors
    /// `RateLimited` with the seconds until the window ends; `Store` when it cannot count.
    pub async fn hit(&self, key: &str, limit: u32, window: Duration) -> Result<()> {
        let mut tx = self.app.store().write().await?;
        let outcome = self.count_in(&mut tx, key, window).await?;
        tx.commit().await?;
        let now = self.app.now();
        if outcome.hits > i64::from(limit) {
            return Err(refusal(outcome, now));
        }
        Ok(())
    }

    /// As [`Limits::hit`], inside the caller's transaction: the attempt is counted only if the
    /// transaction commits.
    ///
    /// # Errors
    /// As [`Limits::hit`].
    pub async fn hit_in(
        &self,
        tx: &mut WriteTx,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<()> {
        let outcome = self.count_in(tx, key, window).await?;
        if outcome.hits > i64::from(limit) {
            return Err(refusal(outcome, self.app.now()));
        }
        Ok(())
    }

    /// Counts one event under `key` without refusing anything, and returns how many there were
    /// in the window, this one included (for signals that tell someone rather than block).
    ///
    /// # Errors
    /// `Store` when it cannot count.
    pub async fn count_in(&self, tx: &mut WriteTx, key: &str, window: Duration) -> Result<Count> {
        let now = self.app.now();
        let end = self.window_end(now, window)?;
        let count = repo::hit(tx.conn(), &token_digest(key), now, end).await?;
        repo::prune(tx.conn(), now, PRUNE_BATCH).await?;
        Ok(count)
    }

    /// Takes back an attempt counted under `key` that turned out to succeed: counting before the
    /// check keeps a burst of parallel guesses under the limit, and taking successes back keeps
    /// a person's right answers from ever counting against them.
    ///
    /// # Errors
    /// `Store` when it cannot write.
    pub async fn forgive(&self, key: &str) -> Result<()> {
        let mut tx = self.app.store().write().await?;
        repo::forgive(tx.conn(), &token_digest(key), self.app.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The attempts counted under `key` in its current window.
    ///
    /// # Errors
    /// `Store` when it cannot read.
    pub async fn count(&self, key: &str) -> Result<u32> {
        let mut conn = self.app.store().read().await?;
        let found = repo::peek(&mut conn, &token_digest(key), self.app.now()).await?;
        Ok(found.map_or(0, |c| u32::try_from(c.hits).unwrap_or(u32::MAX)))
    }

    /// Counts one public lockout start for a unit label and, when the starts for it reach
    /// `threshold` in `window`, tells everyone who lives there, once per window. Never refuses:
    /// a flood of starts for a unit is the household's business to know, not a reason to turn
    /// its real resident away. Runs the same statements whether or not the unit exists.
    ///
    /// # Errors
    /// `Store` when it cannot count or queue.
    pub async fn unit_starts(
        &self,
        property: i64,
        unit: &str,
        threshold: u32,
        window: Duration,
    ) -> Result<()> {
        let now = self.app.now();
        let mut tx = self.app.store().write().await?;
        let key = format!("lockout:unit:{property}:{}", unit.to_lowercase());
        let count = self.count_in(&mut tx, &key, window).await?;
        if count.hits == i64::from(threshold) {
            let occupants = cases::occupants_by_label(tx.conn(), property, unit, now).await?;
            let notes: Vec<Notification> = occupants
                .iter()
                .map(|o| Notification {
                    property_id: Some(PropertyId(property)),
                    person_id: o.person_id,
                    kind: "lockout_starts_flood".into(),
                    case_id: None,
                    body: json!({
                        "starts": count.hits,
                        "window_secs": window.as_secs(),
                        "message": "Many lockout requests named your unit in the last hour. \
                                    Nobody gets in by asking: a case opens only with proof.",
                    }),
                    created_at: now,
                    sent_at: None,
                })
                .collect();
            cases::queue(tx.conn(), &notes).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Tells `person` once per window, in the caller's transaction, that `count` attempts of
    /// `what` failed against them (wrong passwords, refused proofs). The message is the whole
    /// effect: it never blocks the person's own right answer.
    ///
    /// # Errors
    /// `Store` when it cannot count or queue.
    pub async fn failures_against(
        &self,
        tx: &mut WriteTx,
        person: Option<PersonId>,
        key: &str,
        threshold: u32,
        window: Duration,
        what: &str,
    ) -> Result<()> {
        let count = self.count_in(tx, key, window).await?;
        if let Some(person) = person
            && count.hits == i64::from(threshold)
        {
            let note = Notification {
                property_id: None,
                person_id: person,
                kind: "failures_against_you".into(),
                case_id: None,
                body: json!({ "what": what, "failures": count.hits, "window_secs": window.as_secs() }),
                created_at: self.app.now(),
                sent_at: None,
            };
            cases::queue(tx.conn(), &[note]).await?;
        }
        Ok(())
    }
}
