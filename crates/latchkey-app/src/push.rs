//! Web Push (docs/ARCHITECTURE.md, decisions 55 and 56): the server's VAPID key, made once and
//! shared by every replica through the database, and each person's subscriptions — one per
//! browser or installed web app that turned notifications on.
//!
//! A subscription is checked before anything is written, in this order, each failure naming
//! its field: the endpoint is an `https` URL with a host and no user part (plain `http` only to
//! a loopback address, and only when [`PushPolicy::loopback_http`] allows it, for tests), at
//! most 2,048 bytes; `p256dh` is base64url of a 65-byte uncompressed point on P-256; `auth` is
//! base64url of 16 bytes; the name is 1–100 characters. An endpoint belongs to one person: the
//! same person sending it again refreshes its keys; anyone else is refused (409), and the page
//! then unsubscribes the browser and subscribes it afresh, which retires the old endpoint at
//! the push service.

use latchkey_store::audit::NewEvent;
use latchkey_store::push::{self as repo, NewSubscription, ServerKey};
use p256::elliptic_curve::sec1::ToSec1Point;
use serde_json::json;

use crate::authz::{OwnAccount, Principal, PushSubscriptionOwner};
use crate::{App, AppError, Result, secrets};

pub use latchkey_store::push::Subscription;

/// Subscriptions a person may have at once.
pub const MAX_SUBSCRIPTIONS: usize = 10;

/// Whether Web Push is on, and which endpoints are accepted.
#[derive(Clone, Debug)]
pub struct PushPolicy {
    /// Push is offered (the operator gave a VAPID subject).
    pub enabled: bool,
    /// Accept `http://` endpoints on a loopback address: for tests with a push service inside
    /// the test, never in production.
    pub loopback_http: bool,
}

impl Default for PushPolicy {
    fn default() -> Self {
        PushPolicy {
            enabled: true,
            loopback_http: false,
        }
    }
}

/// The server's VAPID key pair (RFC 8292). `Debug` prints the public half only.
#[derive(Clone)]
pub struct VapidKey {
    secret: [u8; 32],
    public: [u8; 65],
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VapidKey({})", self.public_base64())
    }
}

impl VapidKey {
    /// The private scalar, big-endian (for the channel that signs with it).
    pub fn secret_bytes(&self) -> &[u8; 32] {
        &self.secret
    }
    /// The public key, uncompressed.
    pub fn public_bytes(&self) -> &[u8; 65] {
        &self.public
    }
    /// The public key as browsers take it (`applicationServerKey`): base64url, no padding.
    pub fn public_base64(&self) -> String {
        data_encoding::BASE64URL_NOPAD.encode(&self.public)
    }
}

const VAPID: &str = "vapid";

fn vapid_aad() -> Vec<u8> {
    b"latchkey server key vapid v1".to_vec()
}

fn public_of(secret: &p256::SecretKey) -> [u8; 65] {
    let mut out = [0u8; 65];
    out.copy_from_slice(secret.public_key().to_sec1_point(false).as_bytes());
    out
}

fn new_secret() -> Result<p256::SecretKey> {
    // A random 32-byte string is a valid scalar except with probability ~2^-32.
    for _ in 0..8 {
        if let Ok(k) = p256::SecretKey::from_slice(&secrets::random_bytes::<32>()?) {
            return Ok(k);
        }
    }
    Err(AppError::Internal(
        "no valid P-256 key from the random source".into(),
    ))
}

/// What a browser's `PushSubscription` gives, plus the name the person sees it as.
#[derive(Clone, Debug)]
pub struct SubscriptionInput {
    pub endpoint: String,
    /// base64url of the browser's P-256 public key (`keys.p256dh`).
    pub p256dh: String,
    /// base64url of the browser's authentication secret (`keys.auth`).
    pub auth: String,
    pub name: String,
}

/// A checked subscription.
struct Checked {
    endpoint: String,
    p256dh: Vec<u8>,
    auth: Vec<u8>,
    name: String,
}

fn base64url(field: &str, text: &str, len: usize) -> Result<Vec<u8>> {
    let bad = || {
        AppError::invalid(
            field,
            format!("base64url (as the browser's PushSubscription gives it) of {len} bytes"),
        )
    };
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(text.trim_end_matches('=').as_bytes())
        .map_err(|_| bad())?;
    if bytes.len() != len {
        return Err(bad());
    }
    Ok(bytes)
}

fn check(input: &SubscriptionInput, policy: &PushPolicy) -> Result<Checked> {
    let field = "endpoint";
    if input.endpoint.len() > 2048 {
        return Err(AppError::invalid(field, "at most 2048 bytes"));
    }
    let url = url::Url::parse(&input.endpoint)
        .map_err(|_| AppError::invalid(field, "an https:// URL of a push service"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => return Err(AppError::invalid(field, "an https:// URL with a host")),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback && policy.loopback_http => {}
        _ => {
            return Err(AppError::invalid(
                field,
                "must be https://: push services are only reached over TLS",
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AppError::invalid(
            field,
            "may not carry a user name or password",
        ));
    }
    let p256dh = base64url("keys.p256dh", &input.p256dh, 65)?;
    if p256::PublicKey::from_sec1_bytes(&p256dh).is_err() || p256dh[0] != 4 {
        return Err(AppError::invalid(
            "keys.p256dh",
            "an uncompressed point on P-256 (65 bytes starting with 0x04)",
        ));
    }
    let auth = base64url("keys.auth", &input.auth, 16)?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name",
            "1 to 100 characters, no control characters",
        ));
    }
    Ok(Checked {
        endpoint: input.endpoint.clone(),
        p256dh,
        auth,
        name: name.to_owned(),
    })
}

impl App {
    /// The server's VAPID key, made on first use (the first replica to store one wins) and
    /// kept sealed with the master key.
    ///
    /// # Errors
    /// Storage failed; `Internal` when the stored key does not open with this master key.
    pub async fn vapid_key(&self) -> Result<VapidKey> {
        let stored = {
            let mut conn = self.store().read().await?;
            repo::server_key(&mut conn, VAPID).await?
        };
        let stored = match stored {
            Some(k) => k,
            None => {
                let secret = new_secret()?;
                let offer = ServerKey {
                    sealed: self.keys().seal_bytes(&vapid_aad(), &secret.to_bytes())?,
                    public_key: public_of(&secret).to_vec(),
                };
                let mut tx = self.store().write().await?;
                repo::offer_server_key(tx.conn(), VAPID, &offer, self.now()).await?;
                let won = repo::server_key(tx.conn(), VAPID).await?;
                tx.commit().await?;
                won.ok_or_else(|| AppError::Internal("the VAPID key was not stored".into()))?
            }
        };
        let opened = self.keys().open_bytes(&vapid_aad(), &stored.sealed)?;
        let secret = p256::SecretKey::from_slice(&opened)
            .map_err(|_| AppError::Internal("the stored VAPID key is not a P-256 key".into()))?;
        let public = public_of(&secret);
        if public.as_slice() != stored.public_key.as_slice() {
            return Err(AppError::Internal(
                "the stored VAPID public key does not match its private key".into(),
            ));
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(&opened);
        Ok(VapidKey {
            secret: out,
            public,
        })
    }

    /// The VAPID public key browsers subscribe with (base64url).
    ///
    /// # Errors
    /// `Unavailable` when push is off on this server; as [`App::vapid_key`].
    pub async fn push_public_key(&self) -> Result<String> {
        self.push_on()?;
        Ok(self.vapid_key().await?.public_base64())
    }

    fn push_on(&self) -> Result<()> {
        if self.config().push.enabled {
            Ok(())
        } else {
            Err(AppError::Unavailable(
                "notifications to devices are off on this server (no push subject is configured)"
                    .into(),
            ))
        }
    }

    /// Adds (or refreshes) a subscription of the caller's browser. Returns it and whether it
    /// is new.
    ///
    /// # Errors
    /// `Invalid` naming the field (see the module's list); `Conflict` when the endpoint is
    /// someone else's or the caller has [`MAX_SUBSCRIPTIONS`]; `Unavailable` when push is off.
    pub async fn add_push_subscription(
        &self,
        me: OwnAccount<'_>,
        input: SubscriptionInput,
    ) -> Result<(Subscription, bool)> {
        self.push_on()?;
        let c = check(&input, &self.config().push)?;
        let person = me.principal().id();
        let new = NewSubscription {
            person,
            endpoint: &c.endpoint,
            p256dh: &c.p256dh,
            auth: &c.auth,
            name: &c.name,
        };
        let mut tx = self.store().write().await?;
        if let Some(old) = repo::by_endpoint(tx.conn(), &c.endpoint).await? {
            if old.person_id != person {
                return Err(AppError::Conflict(
                    "this browser's subscription belongs to someone else who turned \
                     notifications on here: unsubscribe the browser and subscribe again"
                        .into(),
                ));
            }
            repo::refresh(tx.conn(), old.id, &new).await?;
            let fresh = repo::get(tx.conn(), old.id)
                .await?
                .ok_or_else(|| AppError::not_found("push subscription"))?;
            tx.commit().await?;
            return Ok((fresh, false));
        }
        if repo::of_person(tx.conn(), person).await?.len() >= MAX_SUBSCRIPTIONS {
            return Err(AppError::Conflict(format!(
                "you have notifications on {MAX_SUBSCRIPTIONS} devices already: turn one off first"
            )));
        }
        let s = repo::insert(tx.conn(), &new, self.now())
            .await
            .map_err(|e| AppError::conflict_or(e, "this endpoint was just subscribed"))?;
        let ev = NewEvent::new("person.push_subscribed", format!("person:{}", person.0))
            .actor(Some(person))
            .data(json!({ "subscription": s.id, "name": s.name }));
        self.commit_with(tx, vec![ev]).await?;
        Ok((s, true))
    }

    /// The caller's subscriptions, oldest first.
    ///
    /// # Errors
    /// Storage failed.
    pub async fn my_push_subscriptions(&self, me: OwnAccount<'_>) -> Result<Vec<Subscription>> {
        let mut conn = self.store().read().await?;
        Ok(repo::of_person(&mut conn, me.principal().id()).await?)
    }

    /// Loads subscription `id` and checks that it is the caller's.
    ///
    /// # Errors
    /// `NotFound` for an unknown subscription or someone else's.
    pub async fn may_manage_push_subscription<'a>(
        &self,
        who: &'a Principal,
        id: i64,
    ) -> Result<PushSubscriptionOwner<'a>> {
        let mut conn = self.store().read().await?;
        let s = repo::get(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("push subscription"))?;
        who.push_subscription_owner(s)
    }

    /// Removes one of the caller's subscriptions; audited.
    ///
    /// # Errors
    /// `NotFound` when it was removed meanwhile; storage failed.
    pub async fn remove_push_subscription(&self, cap: PushSubscriptionOwner<'_>) -> Result<()> {
        let s = cap.subscription();
        let mut tx = self.store().write().await?;
        if !repo::delete(tx.conn(), s.id).await? {
            return Err(AppError::not_found("push subscription"));
        }
        let ev = NewEvent::new(
            "person.push_unsubscribed",
            format!("person:{}", s.person_id.0),
        )
        .actor(Some(cap.principal().id()))
        .data(json!({ "subscription": s.id, "name": s.name, "by": "person" }));
        self.commit_with(tx, vec![ev]).await
    }

    /// The push service said subscription `s` is gone (404 or 410): it is removed; audited.
    pub(crate) async fn push_subscription_gone(
        &self,
        s: &Subscription,
        status: &str,
    ) -> Result<()> {
        let mut tx = self.store().write().await?;
        if !repo::delete(tx.conn(), s.id).await? {
            return Ok(());
        }
        let ev = NewEvent::new(
            "person.push_unsubscribed",
            format!("person:{}", s.person_id.0),
        )
        .data(
            json!({ "subscription": s.id, "name": s.name, "by": "push service", "status": status }),
        );
        self.commit_with(tx, vec![ev]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(endpoint: &str) -> SubscriptionInput {
        let key = new_secret().unwrap_or_else(|_| unreachable!());
        SubscriptionInput {
            endpoint: endpoint.into(),
            p256dh: data_encoding::BASE64URL_NOPAD.encode(&public_of(&key)),
            auth: data_encoding::BASE64URL_NOPAD.encode(&[9u8; 16]),
            name: "Firefox on Linux".into(),
        }
    }

    fn field(r: Result<Checked>) -> String {
        match r {
            Err(AppError::Invalid { field, .. }) => field,
            Err(e) => format!("other error: {e}"),
            Ok(_) => "accepted".into(),
        }
    }

    #[test]
    fn only_https_endpoints_pass_and_plain_http_only_to_loopback_when_allowed() {
        let strict = PushPolicy::default();
        let tests = PushPolicy {
            loopback_http: true,
            ..PushPolicy::default()
        };
        assert_eq!(
            field(check(&input("https://push.example.net/x"), &strict)),
            "accepted"
        );
        assert_eq!(
            field(check(&input("http://push.example.net/x"), &strict)),
            "endpoint"
        );
        assert_eq!(
            field(check(&input("http://127.0.0.1:9/x"), &strict)),
            "endpoint"
        );
        assert_eq!(
            field(check(&input("http://127.0.0.1:9/x"), &tests)),
            "accepted"
        );
        assert_eq!(
            field(check(&input("http://push.example.net/x"), &tests)),
            "endpoint"
        );
        assert_eq!(field(check(&input("not a url"), &strict)), "endpoint");
        assert_eq!(
            field(check(&input("https://u:p@push.example.net/"), &strict)),
            "endpoint"
        );
    }

    #[test]
    fn keys_of_the_wrong_length_or_off_the_curve_are_refused() {
        let p = PushPolicy::default();
        let mut i = input("https://push.example.net/x");
        i.auth = data_encoding::BASE64URL_NOPAD.encode(&[1u8; 15]);
        assert_eq!(field(check(&i, &p)), "keys.auth");
        let mut i = input("https://push.example.net/x");
        i.p256dh = data_encoding::BASE64URL_NOPAD.encode(&[4u8; 65]);
        assert_eq!(field(check(&i, &p)), "keys.p256dh");
        let mut i = input("https://push.example.net/x");
        i.p256dh = "***".into();
        assert_eq!(field(check(&i, &p)), "keys.p256dh");
    }
}
