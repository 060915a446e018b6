//! The outbox worker: route, claim, send, record (the steps in `outbox/mod.rs`). It wakes when
//! the change feed says notifications were queued (`Change::Outbox`, written in the queueing
//! transaction), and at least every `safety_poll` for retries that have come due.

use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use latchkey_store::outbox::{self as repo, Delivery, NewDelivery};
use latchkey_store::push as push_store;
use latchkey_store::{feed, people};

use super::prefs::{Channel, Preferences, is_security_notice};
use super::{Channels, OutboxConfig, PushError, SendError, backoff, jitter_unit, render};
use crate::{App, Result};

/// Notifications routed per transaction.
const ROUTE_BATCH: i64 = 200;
/// Claim rounds per pass, so that one pass ends even under a steady stream.
const ROUNDS: usize = 64;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub routed: usize,
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
}

/// Delivers the outbox of one process.
pub struct OutboxWorker {
    app: App,
    config: OutboxConfig,
    channels: Channels,
    host: String,
}

impl App {
    /// A worker for this process's configured `channels`.
    pub fn outbox_worker(&self, config: OutboxConfig, channels: Channels) -> OutboxWorker {
        let host = url::Url::parse(&config.web_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "latchkey.invalid".to_owned());
        OutboxWorker {
            app: self.clone(),
            config,
            channels,
            host,
        }
    }
}

pub(super) fn later(t: Timestamp, d: std::time::Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(t)
}

impl OutboxWorker {
    pub(super) fn app(&self) -> &App {
        &self.app
    }
    pub(super) fn config(&self) -> &OutboxConfig {
        &self.config
    }
    pub(super) fn channels(&self) -> &Channels {
        &self.channels
    }

    /// Runs until the future is dropped: a pass at start, then one whenever notifications are
    /// queued (any process) or `safety_poll` has passed.
    ///
    /// # Errors
    /// The change feed cannot be opened; once running, failures are logged and retried.
    pub async fn run(self) -> Result<()> {
        let store = self.app.store().clone();
        let mut waker = store.feed_waker().await?;
        let mut last = {
            let mut conn = store.read().await?;
            feed::last_seq(&mut conn).await?
        };
        loop {
            match self.pass().await {
                Ok(p) if p != Pass::default() => tracing::debug!(?p, "outbox pass"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "delivering notifications failed; retrying"),
            }
            let polled = Instant::now();
            loop {
                waker.wait().await;
                if polled.elapsed() >= self.config.safety_poll {
                    break;
                }
                let newer = async {
                    let mut conn = store.read().await?;
                    feed::outbox_after(&mut conn, last).await
                }
                .await;
                match newer {
                    Ok(Some(seq)) => {
                        last = seq;
                        break;
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "reading the change feed failed"),
                }
                if self.events_waiting().await.unwrap_or(false) {
                    break;
                }
            }
        }
    }

    /// Routes what was queued, then sends what is due, until nothing is left or a bound is
    /// reached.
    ///
    /// # Errors
    /// The database failed; a channel's failure is recorded on its delivery instead.
    pub async fn pass(&self) -> Result<Pass> {
        let mut pass = Pass::default();
        // Alarm digests due now become notifications, routed below (decision 62).
        if let Err(e) = self.app.compose_alarm_digests().await {
            tracing::warn!(error = %e, "composing alarm digests failed; retrying");
        }
        // Without a person's channel, notifications stay unrouted until one is configured.
        while self.channels.email.is_some() || self.channels.push.is_some() {
            let routed = self.route().await?;
            pass.routed += routed;
            if routed < ROUTE_BATCH as usize {
                break;
            }
        }
        for _ in 0..ROUNDS {
            let claimed = self.claim().await?;
            if claimed.is_empty() {
                break;
            }
            for d in claimed {
                match self.deliver(&d).await? {
                    Outcome::Sent => pass.sent += 1,
                    Outcome::Retry => pass.retried += 1,
                    Outcome::Dead => pass.dead += 1,
                    Outcome::Lost => {}
                }
            }
        }
        self.webhook_pass(&mut pass).await?;
        Ok(pass)
    }

    fn configured(&self, c: Channel) -> bool {
        match c {
            Channel::Email => self.channels.email.is_some(),
            Channel::Push => self.channels.push.is_some(),
        }
    }

    async fn route(&self) -> Result<usize> {
        let now = self.app.now();
        let oldest = now.checked_sub(self.config.horizon).unwrap_or(now);
        let mut tx = self.app.store().write().await?;
        let backend = tx.backend();
        let todo = repo::unrouted(tx.conn(), backend, ROUTE_BATCH).await?;
        let mut deliveries = Vec::new();
        for n in &todo {
            if n.created_at < oldest {
                continue;
            }
            let prefs = self.app.preferences_of(tx.conn(), n.person_id).await?;
            let person = people::get_person(tx.conn(), n.person_id).await?;
            let before = deliveries.len();
            let chosen = prefs.channels_for(&n.kind);
            let mut channels = chosen.clone();
            if is_security_notice(&n.kind) && !chosen.contains(&Channel::Email) {
                // A security notice always goes out: by e-mail when the chosen channels reach
                // nobody (push chosen, no browser subscribed).
                channels.push(Channel::Email);
            }
            for c in channels {
                if !self.configured(c) || (!chosen.contains(&c) && deliveries.len() > before) {
                    continue;
                }
                let targets: Vec<String> = match c {
                    Channel::Email => person
                        .as_ref()
                        .filter(|p| p.email.is_some())
                        .map(|_| String::new())
                        .into_iter()
                        .collect(),
                    Channel::Push => push_store::of_person(tx.conn(), n.person_id)
                        .await?
                        .into_iter()
                        .map(|s| s.id.to_string())
                        .collect(),
                };
                if targets.is_empty() {
                    tracing::debug!(
                        person = n.person_id.0,
                        channel = c.as_str(),
                        "not reachable"
                    );
                    continue;
                }
                for target in targets {
                    deliveries.push(NewDelivery {
                        notification_id: n.id,
                        channel: c.as_str().to_owned(),
                        target,
                        first_attempt: prefs.first_attempt(&n.kind, now),
                    });
                }
            }
        }
        let ids: Vec<i64> = todo.iter().map(|n| n.id).collect();
        repo::route(tx.conn(), backend, &ids, &deliveries, now).await?;
        tx.commit().await?;
        Ok(todo.len())
    }

    async fn claim(&self) -> Result<Vec<Delivery>> {
        let now = self.app.now();
        let mut tx = self.app.store().write().await?;
        let backend = tx.backend();
        let claimed = repo::claim(
            tx.conn(),
            backend,
            &self.config.worker,
            now,
            later(now, self.config.lease),
            i64::from(self.config.batch),
        )
        .await?;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn attempt(&self, d: &Delivery) -> Result<std::result::Result<(), SendError>> {
        let Some(channel) = Channel::parse(&d.channel) else {
            return Ok(Err(SendError::Permanent(format!(
                "channel `{}` is not known to this version",
                d.channel
            ))));
        };
        match channel {
            Channel::Email => {
                let Some(mailer) = &self.channels.email else {
                    return Ok(Err(SendError::Transient(
                        "e-mail is not configured on this server".into(),
                    )));
                };
                let person = {
                    let mut conn = self.app.store().read().await?;
                    people::get_person(&mut conn, d.person_id).await?
                };
                let Some(person) = person.filter(|p| p.email.is_some()) else {
                    return Ok(Err(SendError::Permanent(
                        "the person has no e-mail address".into(),
                    )));
                };
                let email = render::email(
                    d,
                    &person,
                    self.app.keys(),
                    &self.config.web_url,
                    &self.host,
                );
                Ok(mailer.send(&email).await)
            }
            Channel::Push => self.attempt_push(d).await,
        }
    }

    /// One Web Push attempt: the subscription named by the delivery's target, as it is now.
    async fn attempt_push(&self, d: &Delivery) -> Result<std::result::Result<(), SendError>> {
        let Some(pusher) = &self.channels.push else {
            return Ok(Err(SendError::Transient(
                "Web Push is not configured on this server".into(),
            )));
        };
        let sub = match d.target.parse::<i64>() {
            Ok(id) => {
                let mut conn = self.app.store().read().await?;
                push_store::get(&mut conn, id).await?
            }
            Err(_) => None,
        };
        let Some(sub) = sub.filter(|s| s.person_id == d.person_id) else {
            return Ok(Err(SendError::Permanent(
                "the device's subscription was removed (notifications were turned off there)"
                    .into(),
            )));
        };
        match pusher.push(&super::push::message(d, &sub)).await {
            Ok(()) => {
                let mut tx = self.app.store().write().await?;
                push_store::mark_sent(tx.conn(), sub.id, self.app.now()).await?;
                tx.commit().await?;
                Ok(Ok(()))
            }
            Err(PushError::Gone(status)) => {
                self.app.push_subscription_gone(&sub, &status).await?;
                Ok(Err(SendError::Permanent(format!(
                    "the push service no longer knows this device ({status}); its subscription \
                     was removed"
                ))))
            }
            Err(PushError::Send(e)) => Ok(Err(e)),
        }
    }

    async fn deliver(&self, d: &Delivery) -> Result<Outcome> {
        let result = self.attempt(d).await?;
        let now = self.app.now();
        let worker = &self.config.worker;
        let mut tx = self.app.store().write().await?;
        let outcome = match result {
            Ok(()) => {
                if repo::mark_sent(tx.conn(), d.id, worker, now).await? {
                    Outcome::Sent
                } else {
                    Outcome::Lost
                }
            }
            Err(e) => {
                self.app.counters().delivery_failed(&d.channel);
                let failures = u32::try_from(d.attempts + 1).unwrap_or(u32::MAX);
                let wait = backoff(
                    failures,
                    self.config.first_backoff,
                    self.config.max_backoff,
                    jitter_unit(),
                );
                let next = later(now, wait);
                let give_up = d
                    .retry_from
                    .checked_add(self.config.horizon)
                    .is_ok_and(|end| next > end);
                let retry_at = match &e {
                    SendError::Transient(_) if !give_up => Some(next),
                    _ => None,
                };
                tracing::info!(
                    delivery = d.id,
                    channel = %d.channel,
                    attempt = failures,
                    error = %e,
                    retry = retry_at.is_some(),
                    "a delivery failed"
                );
                let error = e.to_string();
                if !repo::mark_failed(tx.conn(), d.id, worker, now, retry_at, &error).await? {
                    Outcome::Lost
                } else if retry_at.is_some() {
                    Outcome::Retry
                } else {
                    Outcome::Dead
                }
            }
        };
        tx.commit().await?;
        if outcome == Outcome::Lost {
            tracing::warn!(
                delivery = d.id,
                "another worker took this delivery while it was being sent (its lease ended)"
            );
        }
        Ok(outcome)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Sent,
    Retry,
    Dead,
    /// The claim lapsed and another worker holds the delivery now.
    Lost,
}

impl App {
    /// A person's preferences, or the defaults.
    pub(crate) async fn preferences_of(
        &self,
        conn: &mut latchkey_store::Conn,
        person: latchkey_core::PersonId,
    ) -> Result<Preferences> {
        match repo::preferences(conn, person).await? {
            None => Ok(Preferences::default()),
            Some(v) => serde_json::from_value(v).map_err(|e| {
                crate::AppError::Store(latchkey_store::StoreError::Corrupt(format!(
                    "notification preferences: {e}"
                )))
            }),
        }
    }
}
