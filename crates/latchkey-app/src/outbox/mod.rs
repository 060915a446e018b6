//! Delivering notifications: the durable outbox (docs/ARCHITECTURE.md, decisions 48–50).
//!
//! Use cases queue notifications in the transaction of what they tell of; a worker started by
//! `serve` turns each into one delivery per channel the person wants ([`prefs`]), then sends
//! every due delivery through that channel's port, at least once, with a stable id:
//!
//! 1. **Route**: each notification not routed yet gets its deliveries (none for a channel
//!    that is not configured, or a person it cannot reach) and is marked routed, in one
//!    transaction. A notification older than the retry horizon is marked without deliveries.
//! 2. **Claim**: due deliveries are leased to this worker in the database (one worker per
//!    delivery, on any number of replicas; a dead worker's lease lapses).
//! 3. **Send**: the channel's port gets the rendered message ([`render`]) and its stable id.
//! 4. **Record**: sent; or failed and retried after an exponential backoff with jitter; or,
//!    past the horizon (or refused for good), dead-lettered for staff to see and redeliver.
//!
//! Channels are ports ([`Mailer`], [`Pusher`], [`WebhookSender`]), so this crate does no
//! network I/O of its own. Webhook deliveries carry a property's audit events and are sent in
//! order per endpoint (`outbox/webhook.rs`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub mod prefs;
pub mod prune;
pub mod push;
pub mod render;
mod troubles;
mod webhook;
mod worker;

pub use latchkey_store::outbox::{Delivery, DeliveryState, Trouble};
pub use prefs::{Channel, Preferences, QuietHours};
pub use push::{PushError, PushMessage, Pusher, Pushing, Urgency};
pub use render::Email;
pub use webhook::{Posting, WebhookRequest, WebhookSender, payload as webhook_payload};
pub use worker::{OutboxWorker, Pass};

/// How a channel's attempt failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth another try later (the relay is down, a 4xx SMTP reply, a timeout).
    #[error("{0}")]
    Transient(String),
    /// No retry will help (the relay refused the address for good, a 5xx reply).
    #[error("{0}")]
    Permanent(String),
}

/// The future a port returns.
pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// The e-mail channel: hands one message to a relay. Implemented outside this crate (SMTP in
/// `latchkey-mail`), and by tests.
pub trait Mailer: Send + Sync {
    fn send<'a>(&'a self, email: &'a Email) -> Sending<'a>;
}

/// The channels configured in this process. A channel left `None` gets no deliveries.
#[derive(Clone, Default)]
pub struct Channels {
    pub email: Option<Arc<dyn Mailer>>,
    pub push: Option<Arc<dyn Pusher>>,
    /// Webhooks of properties' endpoints ([`webhook`]); they carry audit events, not a
    /// person's notifications.
    pub webhook: Option<Arc<dyn WebhookSender>>,
}

/// Tunables of the outbox worker.
#[derive(Clone, Debug)]
pub struct OutboxConfig {
    /// How long a delivery is retried before it is dead-lettered (24 h).
    pub horizon: jiff::SignedDuration,
    /// The wait after the first failure (30 s); each further failure doubles it…
    pub first_backoff: Duration,
    /// …up to this (1 h).
    pub max_backoff: Duration,
    /// How long a claim holds (5 min): a worker killed mid-delivery delays it this long.
    pub lease: Duration,
    /// Deliveries claimed at a time.
    pub batch: u32,
    /// How often the worker looks for due retries when nothing wakes it (5 s).
    pub safety_poll: Duration,
    /// The web app's address, for the links in messages (`https://latchkey.example.org`).
    pub web_url: String,
    /// This worker's name in its claims; unique per process.
    pub worker: String,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        let mut bytes = [0u8; 6];
        // Without randomness the pid still tells the processes of one machine apart.
        let _ = getrandom::fill(&mut bytes);
        OutboxConfig {
            horizon: jiff::SignedDuration::from_hours(24),
            first_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
            lease: Duration::from_secs(300),
            batch: 16,
            safety_poll: Duration::from_secs(5),
            web_url: "http://localhost:8080".to_owned(),
            worker: format!("{}-{}", std::process::id(), hex::encode(bytes)),
        }
    }
}

/// The wait before the next attempt after `failures` failed ones (1 or more): `first`
/// doubled per failure, capped at `max`, then "equal jitter": half of it fixed, the other half
/// scaled by `unit` (uniform in `[0, 1)`), so that deliveries failing together spread out
/// instead of hammering a recovering relay at the same instant.
pub fn backoff(failures: u32, first: Duration, max: Duration, unit: f64) -> Duration {
    let exp = failures.saturating_sub(1).min(30);
    let full = first.saturating_mul(1u32 << exp).min(max);
    let half = full / 2;
    half + half.mul_f64(unit.clamp(0.0, 1.0))
}

/// A uniform number in `[0, 1)` from the system's randomness (0.5 without it).
pub(crate) fn jitter_unit() -> f64 {
    let mut b = [0u8; 4];
    match getrandom::fill(&mut b) {
        Ok(()) => f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitters_within_half() {
        let first = Duration::from_secs(30);
        let max = Duration::from_secs(3600);
        assert_eq!(backoff(1, first, max, 0.0), Duration::from_secs(15));
        assert_eq!(backoff(2, first, max, 0.0), Duration::from_secs(30));
        assert_eq!(backoff(3, first, max, 0.5), Duration::from_secs(90));
        assert_eq!(backoff(40, first, max, 0.0), Duration::from_secs(1800));
        assert_eq!(backoff(40, first, max, 1.0), Duration::from_secs(3600));
        for _ in 0..100 {
            let d = backoff(4, first, max, jitter_unit());
            assert!(d >= Duration::from_secs(120) && d < Duration::from_secs(240));
        }
    }
}
