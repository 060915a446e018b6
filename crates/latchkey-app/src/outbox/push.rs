//! The Web Push channel's port and its message: what a notification says on a phone's lock
//! screen (a title, one sentence, the path of the page to open), for one subscription.
//!
//! The payload follows the e-mail's rule (docs/ARCHITECTURE.md, decisions 49 and 56) and is
//! stricter: nothing sealed, no token, no PIN, and no link that carries one — a guardian's
//! request says the link is in their e-mail. It stays far below the 4 KB a push service
//! takes (see [`MAX_PAYLOAD`]).

use std::time::Duration;

use latchkey_store::outbox::Delivery;
use latchkey_store::push::Subscription;
use serde::Serialize;

use super::SendError;
use super::prefs::is_security_notice;
use super::render;

/// The largest payload sent, in bytes: RFC 8291 leaves 3,993 bytes of a 4,096-byte record for
/// the text; this leaves room to spare.
pub const MAX_PAYLOAD: usize = 3000;

/// How urgently the push service should wake the device (RFC 8030, section 5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Urgency {
    Normal,
    /// Security notices: delivered at once even to a phone saving its battery.
    High,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Normal => "normal",
            Urgency::High => "high",
        }
    }
}

/// One message to one browser, not yet encrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushMessage {
    /// The delivery it carries: the same on every attempt.
    pub delivery_id: i64,
    pub endpoint: String,
    /// The browser's P-256 public key, uncompressed (65 bytes).
    pub p256dh: Vec<u8>,
    /// The browser's authentication secret (16 bytes).
    pub auth: Vec<u8>,
    /// The JSON the service worker shows ([`Payload`]).
    pub payload: Vec<u8>,
    /// How long the push service keeps it for a device that is offline.
    pub ttl: Duration,
    pub urgency: Urgency,
}

/// How a push failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The push service no longer knows the subscription (404, 410): it is removed and the
    /// delivery ends.
    #[error("the push service says the subscription is gone ({0})")]
    Gone(String),
    /// Anything else, retried or not as for every channel.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// The future a push port returns.
pub type Pushing<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), PushError>> + Send + 'a>>;

/// The Web Push channel: encrypts a message for one subscription and hands it to its push
/// service. Implemented outside this crate (`latchkey-push`).
pub trait Pusher: Send + Sync {
    fn push<'a>(&'a self, message: &'a PushMessage) -> Pushing<'a>;
}

/// What the service worker is given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Payload {
    pub title: String,
    pub body: String,
    /// A path of this site (`/codes`), opened when the notification is tapped.
    pub path: String,
    /// The delivery's id: a repeat of the same message replaces it on the device.
    pub tag: String,
}

/// The page a notice of `kind` opens.
fn path(kind: &str) -> &'static str {
    match kind {
        k if k.starts_with("credential.") => "/codes",
        "lockout.guardian_request" => "/",
        k if k.starts_with("door.") || k.starts_with("lock.") || k.starts_with("entry_notice.") => {
            "/activity"
        }
        _ => "/",
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// The message for delivery `d` to subscription `s`.
pub fn message(d: &Delivery, s: &Subscription) -> PushMessage {
    let title = render::subject(&d.kind);
    let body = match d.kind.as_str() {
        // The guardian's link travels by e-mail only (decision 49): a lock screen is no place
        // for it.
        "lockout.guardian_request" => {
            "Someone is locked out of your home and says they live there. \
             The link to answer is in your e-mail."
                .to_owned()
        }
        "credential.rotated" => {
            "Sign in to see your new PIN: it is shown once, to you only.".to_owned()
        }
        _ => clip(render::sentence(&d.body).unwrap_or(title), 200),
    };
    let payload = Payload {
        title: title.to_owned(),
        body,
        path: path(&d.kind).to_owned(),
        tag: format!("delivery-{}", d.id),
    };
    // A fixed title and a sentence of at most 200 characters: far below MAX_PAYLOAD.
    let bytes = serde_json::to_vec(&payload).unwrap_or_default();
    let urgency = if is_security_notice(&d.kind) {
        Urgency::High
    } else {
        Urgency::Normal
    };
    PushMessage {
        delivery_id: d.id,
        endpoint: s.endpoint.clone(),
        p256dh: s.p256dh.clone(),
        auth: s.auth.clone(),
        payload: bytes,
        ttl: Duration::from_secs(24 * 3600),
        urgency,
    }
}
