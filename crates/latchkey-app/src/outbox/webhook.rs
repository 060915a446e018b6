//! The webhook channel of the outbox (docs/ARCHITECTURE.md, decisions 53–54):
//!
//! 1. **Route events**: the audit events after the webhook cursor become one notification and
//!    one delivery per enabled endpoint of their property that names their kind and whose
//!    owner is still staff there; the cursor moves in the same transaction, so an event is
//!    routed once, and none is lost to a crash.
//! 2. **Claim in order**: per endpoint, the oldest pending delivery and those after it, only
//!    when the oldest is due (`latchkey_store::webhooks::claim_in_order`).
//! 3. **Send**: each endpoint's run in id order, one request at a time, signed
//!    ([`crate::webhooks::sign`]); endpoints concurrently. The run stops at the first failure.
//! 4. **Record**, one transaction per endpoint: 2xx sent; anything else a failed attempt
//!    retried with backoff (the rest of the run waits behind it); a 410, or 24 hours of
//!    failures in a row, disables the endpoint and tells its owner and the property's staff.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use jiff::Timestamp;
use latchkey_core::{PersonId, PropertyId};
use latchkey_store::audit::NewEvent;
use latchkey_store::lockout::{self as notices, Notification};
use latchkey_store::outbox::{self as repo, Delivery};
use latchkey_store::webhooks::{self as hooks, Endpoint, LoggedEvent, Queued};
use serde_json::{Value, json};

use super::worker::{OutboxWorker, later};
use super::{Pass, backoff, jitter_unit};
use crate::Result;
use crate::authz::Via;
use crate::webhooks::{signature_header, signing_keys};

/// Events routed per transaction.
const EVENT_BATCH: i64 = 500;
/// Deliveries claimed per endpoint at a time.
const RUN: i64 = 64;
/// Claim rounds per pass.
const ROUNDS: usize = 64;

/// One signed request, ready for the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRequest {
    pub url: String,
    /// `webhook-id`: the delivery's id, the same on every attempt.
    pub id: String,
    /// `webhook-timestamp`, unix seconds.
    pub timestamp: i64,
    /// `webhook-signature`.
    pub signature: String,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// The future a sender returns: the HTTP status, or why no status came (refused connection,
/// timeout, a forbidden address).
pub type Posting<'a> = Pin<Box<dyn Future<Output = std::result::Result<u16, String>> + Send + 'a>>;

/// The webhook channel: POSTs one request and reports the status. Implemented outside this
/// crate (`latchkey-webhook`); it never follows redirects and bounds each request's time.
pub trait WebhookSender: Send + Sync {
    fn post<'a>(&'a self, request: &'a WebhookRequest) -> Posting<'a>;
}

/// Keys whose values never leave in a payload, whatever an event's data holds.
const SECRET_WORDS: &[&str] = &["pin", "token", "secret", "sealed", "password", "code"];

fn scrub(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| {
                let k = k.to_ascii_lowercase();
                !SECRET_WORDS.iter().any(|w| k.contains(w))
            });
            map.values_mut().for_each(scrub);
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// The body sent for `e`: `type`, `timestamp` and `data` (the event's number, subject, actor
/// and data, with anything named like a secret removed).
pub fn payload(e: &LoggedEvent) -> Value {
    let mut data = e.data.clone();
    scrub(&mut data);
    json!({
        "type": e.kind,
        "timestamp": e.at.to_string(),
        "data": {
            "seq": e.seq,
            "property_id": e.property_id.map(|p| p.0),
            "subject": e.subject,
            "actor_id": e.actor_id.map(|p| p.0),
            "event": data,
        },
    })
}

/// How one endpoint's run went.
struct RunOutcome {
    sent: Vec<i64>,
    failed: Option<(Delivery, Option<u16>, String)>,
    rest: Vec<i64>,
}

impl OutboxWorker {
    /// Routes new events to endpoints, then sends what is due, in order per endpoint.
    pub(super) async fn webhook_pass(&self, pass: &mut Pass) -> Result<()> {
        if self.channels().webhook.is_none() {
            return Ok(());
        }
        loop {
            let (read, routed) = self.route_events().await?;
            pass.routed += routed;
            if read < EVENT_BATCH as usize {
                break;
            }
        }
        for _ in 0..ROUNDS {
            let runs = self.claim_runs().await?;
            if runs.is_empty() {
                break;
            }
            let done = futures_util::future::join_all(
                runs.into_iter()
                    .map(|(e, run)| self.send_and_record(e, run)),
            )
            .await;
            for d in done {
                let (sent, retried, dead) = d?;
                pass.sent += sent;
                pass.retried += retried;
                pass.dead += dead;
            }
        }
        Ok(())
    }

    /// Whether the audit log has events the webhook router has not read.
    pub(super) async fn events_waiting(&self) -> Result<bool> {
        if self.channels().webhook.is_none() {
            return Ok(false);
        }
        let mut conn = self.app().store().read().await?;
        Ok(hooks::events_waiting(&mut conn).await?)
    }

    /// Routes one batch of events; returns how many were read and how many deliveries written.
    async fn route_events(&self) -> Result<(usize, usize)> {
        let app = self.app();
        let now = app.now();
        let mut tx = app.store().write().await?;
        let backend = tx.backend();
        let cursor = hooks::cursor(tx.conn(), backend).await?;
        let events = hooks::events_after(tx.conn(), cursor, EVENT_BATCH).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok((0, 0));
        };
        let endpoints = hooks::enabled(tx.conn()).await?;
        let mut queued = Vec::new();
        if !endpoints.is_empty() {
            let mut standing: BTreeMap<(PersonId, PropertyId), bool> = BTreeMap::new();
            for e in &events {
                let Some(property) = e.property_id else {
                    continue;
                };
                for ep in endpoints
                    .iter()
                    .filter(|ep| ep.property_id == property && ep.kinds.contains(&e.kind))
                {
                    let key = (ep.created_by, property);
                    let ok = match standing.get(&key) {
                        Some(ok) => *ok,
                        None => {
                            let ok = match app
                                .principal_with(tx.conn(), ep.created_by, Via::Terminal)
                                .await
                            {
                                Ok(p) => p.may_receive_webhooks(property),
                                Err(_) => false,
                            };
                            standing.insert(key, ok);
                            ok
                        }
                    };
                    if !ok {
                        continue;
                    }
                    queued.push(Queued {
                        endpoint: ep.id,
                        property_id: property,
                        owner: ep.created_by,
                        kind: e.kind.clone(),
                        body: payload(e),
                    });
                }
            }
            for ((owner, property), ok) in &standing {
                if !ok {
                    for ep in endpoints
                        .iter()
                        .filter(|ep| ep.created_by == *owner && ep.property_id == *property)
                    {
                        tracing::warn!(
                            endpoint = ep.id,
                            "a webhook's owner is no longer staff of its property: disabling it"
                        );
                        hooks::disable(
                            tx.conn(),
                            ep.id,
                            "its owner is no longer a manager or installer of the property",
                            now,
                        )
                        .await?;
                    }
                }
            }
        }
        hooks::queue(tx.conn(), &queued, now).await?;
        hooks::set_cursor(tx.conn(), last).await?;
        tx.commit().await?;
        Ok((events.len(), queued.len()))
    }

    async fn claim_runs(&self) -> Result<Vec<(Endpoint, Vec<Delivery>)>> {
        let app = self.app();
        let now = app.now();
        let mut tx = app.store().write().await?;
        let backend = tx.backend();
        let endpoints = hooks::enabled(tx.conn()).await?;
        let ids: Vec<i64> = endpoints.iter().map(|e| e.id).collect();
        let runs = hooks::claim_in_order(
            tx.conn(),
            backend,
            &ids,
            &self.config().worker,
            now,
            later(now, self.config().lease),
            RUN.min(i64::from(self.config().batch).max(1) * 4),
        )
        .await?;
        tx.commit().await?;
        let mut by_id: BTreeMap<i64, Endpoint> = endpoints.into_iter().map(|e| (e.id, e)).collect();
        Ok(runs
            .into_iter()
            .filter_map(|(id, run)| by_id.remove(&id).map(|e| (e, run)))
            .collect())
    }

    async fn send_run(&self, e: &Endpoint, run: Vec<Delivery>) -> RunOutcome {
        let mut out = RunOutcome {
            sent: Vec::new(),
            failed: None,
            rest: Vec::new(),
        };
        let Some(sender) = &self.channels().webhook else {
            out.rest = run.iter().map(|d| d.id).collect();
            return out;
        };
        let keys = match signing_keys(self.app().keys(), e, self.app().now()) {
            Ok(k) => k,
            Err(err) => {
                tracing::error!(endpoint = e.id, error = %err, "a webhook secret does not open");
                let mut it = run.into_iter();
                if let Some(first) = it.next() {
                    out.failed = Some((first, None, "the endpoint's secret does not open".into()));
                }
                out.rest = it.map(|d| d.id).collect();
                return out;
            }
        };
        let mut it = run.into_iter();
        for d in it.by_ref() {
            let body = d.body.to_string().into_bytes();
            let id = d.id.to_string();
            let timestamp = self.app().now().as_second();
            let request = super::webhook::WebhookRequest {
                url: e.url.clone(),
                signature: signature_header(&keys, &id, timestamp, &body),
                id,
                timestamp,
                body,
            };
            match sender.post(&request).await {
                Ok(status) if (200..300).contains(&status) => out.sent.push(d.id),
                Ok(status) => {
                    out.failed = Some((d, Some(status), format!("the receiver answered {status}")));
                    break;
                }
                Err(why) => {
                    out.failed = Some((d, None, why));
                    break;
                }
            }
        }
        out.rest = it.map(|d| d.id).collect();
        out
    }

    async fn send_and_record(
        &self,
        e: Endpoint,
        run: Vec<Delivery>,
    ) -> Result<(usize, usize, usize)> {
        let outcome = self.send_run(&e, run).await;
        let app = self.app();
        let now = app.now();
        let worker = &self.config().worker;
        let mut tx = app.store().write().await?;
        let backend = tx.backend();
        let sent = hooks::mark_sent(tx.conn(), backend, &outcome.sent, worker, now).await?;
        let (mut retried, mut dead) = (0, 0);
        let mut events = Vec::new();
        if let Some((d, status, error)) = &outcome.failed {
            let failures = u32::try_from(d.attempts + 1).unwrap_or(u32::MAX);
            let wait = backoff(
                failures,
                self.config().first_backoff,
                self.config().max_backoff,
                jitter_unit(),
            );
            let next = later(now, wait);
            let give_up = d
                .retry_from
                .checked_add(self.config().horizon)
                .is_ok_and(|end| next > end);
            let retry_at = (!give_up).then_some(next);
            tracing::info!(delivery = d.id, endpoint = e.id, attempt = failures, %error,
                retry = retry_at.is_some(), "a webhook delivery failed");
            if repo::mark_failed(tx.conn(), d.id, worker, now, retry_at, error).await? {
                if retry_at.is_some() {
                    retried += 1;
                } else {
                    dead += 1;
                }
            }
            let since = hooks::record_outcome(tx.conn(), e.id, false, now).await?;
            let reason = if *status == Some(410) {
                Some("the receiver answered 410 Gone".to_owned())
            } else {
                since
                    .filter(|s| now.duration_since(*s) >= self.config().horizon)
                    .map(|s| format!("every attempt has failed since {s} (the last: {error})"))
            };
            if let Some(reason) = reason
                && let Some(off) = hooks::disable(tx.conn(), e.id, &reason, now).await?
            {
                events.push(self.disabled_notices(tx.conn(), &off, &reason, now).await?);
            }
        } else if sent > 0 && e.failing_since.is_some() {
            hooks::record_outcome(tx.conn(), e.id, true, now).await?;
        }
        hooks::release(tx.conn(), backend, &outcome.rest, worker).await?;
        if events.is_empty() {
            tx.commit().await?;
        } else {
            app.commit_with(tx, events).await?;
            app.outbox_wake();
        }
        Ok((usize::try_from(sent).unwrap_or(0), retried, dead))
    }

    /// Queues the notices that endpoint `e` was disabled (to its owner and the property's
    /// managers and installers) and returns the audit event to write with them.
    async fn disabled_notices(
        &self,
        conn: &mut latchkey_store::Conn,
        e: &Endpoint,
        reason: &str,
        now: Timestamp,
    ) -> Result<NewEvent> {
        let mut people = hooks::staff_of(conn, e.property_id, now).await?;
        people.push(e.created_by);
        people.sort();
        people.dedup();
        let text = format!(
            "The webhook endpoint {} ({}) was disabled: {reason}. Nothing more is sent to it until \
             it is enabled again; what was waiting is sent then, in order.",
            e.id, e.url
        );
        let messages: Vec<Notification> = people
            .into_iter()
            .map(|p| Notification {
                property_id: Some(e.property_id),
                person_id: p,
                kind: "webhook.disabled".into(),
                case_id: None,
                body: json!({ "text": text, "endpoint": e.id, "url": e.url, "reason": reason }),
                created_at: now,
                sent_at: None,
            })
            .collect();
        notices::queue(conn, &messages).await?;
        Ok(
            NewEvent::new("webhook.disabled", format!("webhook:{}", e.id))
                .property(e.property_id)
                .data(json!({ "reason": reason, "url": e.url })),
        )
    }
}
