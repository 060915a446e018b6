//! Webhook endpoints of a property: create, list, change, rotate the secret, delete
//! (docs/OPERATIONS.md, "Webhooks"; docs/ARCHITECTURE.md, decisions 53–54). Sending is the
//! outbox's (`outbox/webhook.rs`).
//!
//! An endpoint's secret is shown once, on create and on rotation, and stored sealed with the
//! master key, bound to the endpoint's id. A rotation keeps the previous secret valid for
//! [`ROTATION_OVERLAP`]; meanwhile every request carries both signatures.

pub mod sign;

use jiff::{SignedDuration, Timestamp};
use latchkey_core::{PersonId, PropertyId};
use latchkey_store::audit::NewEvent;
use latchkey_store::webhooks::{self as repo, Endpoint, NewEndpoint};
use serde_json::json;

pub use sign::{SigningKey, signature_header};

use crate::authz::{Principal, WebhookChange, WebhookManager, webhook_kind_allowed};
use crate::secrets::Keys;
use crate::{App, AppError, Result};

/// How long the previous secret stays valid after a rotation.
pub const ROTATION_OVERLAP: SignedDuration = SignedDuration::from_hours(24);
/// Kinds one endpoint may name at most.
const MAX_KINDS: usize = 100;
/// Characters of a description at most.
const MAX_DESCRIPTION: usize = 200;
/// Characters of a URL at most.
const MAX_URL: usize = 2000;

/// An endpoint as its managers see it (never its secret).
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookEndpoint {
    pub id: i64,
    pub property_id: PropertyId,
    pub created_by: PersonId,
    pub url: String,
    pub description: String,
    pub kinds: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Until when the secret before the last rotation is still accepted.
    pub previous_secret_until: Option<Timestamp>,
    /// Since when every attempt has failed (`None` while it works).
    pub failing_since: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<Endpoint> for WebhookEndpoint {
    fn from(e: Endpoint) -> Self {
        WebhookEndpoint {
            id: e.id,
            property_id: e.property_id,
            created_by: e.created_by,
            url: e.url,
            description: e.description,
            kinds: e.kinds,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            previous_secret_until: e.previous_until,
            failing_since: e.failing_since,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// A new endpoint, as asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointInput {
    pub url: String,
    pub description: String,
    pub kinds: Vec<String>,
}

/// What an owner changes; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointChange {
    pub kinds: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// An endpoint and its secret, shown this once.
#[derive(Clone, Debug, PartialEq)]
pub struct WithSecret {
    pub endpoint: WebhookEndpoint,
    /// `whsec_…`
    pub secret: String,
}

/// Checks an endpoint's URL: `http` or `https`, a host, no user name or password (it would be
/// stored and shown in the clear), no fragment.
///
/// # Errors
/// `Invalid("url")` saying what is wrong.
pub fn check_url(url: &str) -> Result<url::Url> {
    let bad = |why: &str| AppError::invalid("url", why.to_owned());
    if url.len() > MAX_URL {
        return Err(bad("at most 2000 characters"));
    }
    let u = url::Url::parse(url).map_err(|e| {
        bad(&format!(
            "not an absolute URL ({e}), e.g. https://example.org/hook"
        ))
    })?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(bad("the URL needs a host"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad(
            "no user name or password in the URL: the signature authenticates each request",
        ));
    }
    if u.fragment().is_some() {
        return Err(bad("no #fragment: it is never sent"));
    }
    Ok(u)
}

/// Checks the kinds (at least one, each one an endpoint may carry) and returns them sorted,
/// without repeats.
///
/// # Errors
/// `Invalid("kinds")` naming the first kind refused.
pub fn check_kinds(kinds: &[String]) -> Result<Vec<String>> {
    if kinds.is_empty() {
        return Err(AppError::invalid(
            "kinds",
            "name at least one event kind, e.g. lock.jammed",
        ));
    }
    if kinds.len() > MAX_KINDS {
        return Err(AppError::invalid("kinds", "at most 100 kinds"));
    }
    for k in kinds {
        if !webhook_kind_allowed(k) {
            return Err(AppError::invalid(
                "kinds",
                format!(
                    "`{k}` is not a kind a webhook can carry: residents' comings and goings are \
                     never sent, and only known door, lock and sensor kinds are \
                     (docs/OPERATIONS.md, \"Webhooks\")"
                ),
            ));
        }
    }
    let mut out = kinds.to_vec();
    out.sort();
    out.dedup();
    Ok(out)
}

fn check_description(d: &str) -> Result<String> {
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(AppError::invalid("description", "at most 200 characters"));
    }
    if d.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "description",
            "no control characters (line breaks, tabs)",
        ));
    }
    Ok(d.trim().to_owned())
}

fn aad(endpoint: i64) -> Vec<u8> {
    format!("latchkey webhook secret v1:{endpoint}").into_bytes()
}

/// The keys an endpoint signs with at `at`: its secret, and the previous one during the overlap.
///
/// # Errors
/// `Internal` when a sealed secret does not open with this master key.
pub(crate) fn signing_keys(keys: &Keys, e: &Endpoint, at: Timestamp) -> Result<Vec<SigningKey>> {
    let mut out = vec![SigningKey::from_bytes(
        keys.open_bytes(&aad(e.id), &e.secret)?,
    )];
    if let (Some(prev), Some(until)) = (&e.previous_secret, e.previous_until)
        && at < until
    {
        out.push(SigningKey::from_bytes(keys.open_bytes(&aad(e.id), prev)?));
    }
    Ok(out)
}

impl App {
    /// Creates an endpoint at the manager's property and shows its secret once; audited
    /// (`webhook.created`, without the secret).
    ///
    /// # Errors
    /// `Invalid` naming the field (`url`, `kinds`, `description`); nothing is written then.
    pub async fn create_webhook(
        &self,
        cap: WebhookManager<'_>,
        input: EndpointInput,
    ) -> Result<WithSecret> {
        let url = check_url(input.url.trim())?;
        let kinds = check_kinds(&input.kinds)?;
        let description = check_description(&input.description)?;
        let key = SigningKey::random()?;
        let now = self.now();
        let mut tx = self.store().write().await?;
        // An admin's standing covers every property, even one that does not exist.
        latchkey_store::property::get_property(tx.conn(), cap.property())
            .await?
            .ok_or_else(|| AppError::not_found("property"))?;
        let e = repo::create(
            tx.conn(),
            &NewEndpoint {
                property_id: cap.property(),
                created_by: cap.principal().id(),
                url: url.to_string(),
                description,
                kinds,
            },
            now,
        )
        .await?;
        let sealed = self.keys().seal_bytes(&aad(e.id), key.bytes())?;
        let e = repo::set_secret(tx.conn(), e.id, &sealed, None, now)
            .await?
            .ok_or_else(|| AppError::not_found("webhook endpoint"))?;
        let ev = NewEvent::new("webhook.created", format!("webhook:{}", e.id))
            .property(cap.property())
            .actor(Some(cap.principal().id()))
            .data(json!({ "url": e.url, "kinds": e.kinds, "description": e.description }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(WithSecret {
            endpoint: e.into(),
            secret: key.shown(),
        })
    }

    /// The property's endpoints, by id.
    ///
    /// # Errors
    /// Storage failed.
    pub async fn webhooks(&self, cap: WebhookManager<'_>) -> Result<Vec<WebhookEndpoint>> {
        let mut conn = self.store().read().await?;
        Ok(repo::of_property(&mut conn, cap.property())
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Loads endpoint `id` and checks that the caller may change it
    /// ([`Principal::webhook_change`]).
    ///
    /// # Errors
    /// `NotFound` for an unknown endpoint or one the caller may not know of; `Forbidden`.
    pub async fn may_change_webhook<'a>(
        &self,
        who: &'a Principal,
        id: i64,
    ) -> Result<WebhookChange<'a>> {
        let mut conn = self.store().read().await?;
        let e = repo::get(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("webhook endpoint"))?;
        who.webhook_change(e)
    }

    /// Changes an endpoint's kinds, description or state; audited. Enabling it again ends its
    /// failure run; what it had pending is sent again from the oldest.
    ///
    /// # Errors
    /// `Invalid` naming the field; nothing is written then.
    pub async fn update_webhook(
        &self,
        cap: WebhookChange<'_>,
        change: EndpointChange,
    ) -> Result<WebhookEndpoint> {
        let e = cap.endpoint();
        let kinds = match &change.kinds {
            Some(k) => check_kinds(k)?,
            None => e.kinds.clone(),
        };
        let description = match &change.description {
            Some(d) => check_description(d)?,
            None => e.description.clone(),
        };
        let enabled = change.enabled.unwrap_or(e.enabled);
        let now = self.now();
        let mut tx = self.store().write().await?;
        let fresh = repo::update(tx.conn(), e.id, &kinds, &description, enabled, now)
            .await?
            .ok_or_else(|| AppError::not_found("webhook endpoint"))?;
        let ev = NewEvent::new("webhook.updated", format!("webhook:{}", e.id))
            .property(e.property_id)
            .actor(Some(cap.principal().id()))
            .data(json!({ "kinds": fresh.kinds, "enabled": fresh.enabled,
                "description": fresh.description }));
        self.commit_with(tx, vec![ev]).await?;
        if fresh.enabled {
            self.outbox_wake();
        }
        Ok(fresh.into())
    }

    /// Gives the endpoint a new secret, shown once; the previous one stays valid for
    /// [`ROTATION_OVERLAP`]. Audited (`webhook.secret_rotated`).
    ///
    /// # Errors
    /// `Internal` when the current secret does not open with this master key.
    pub async fn rotate_webhook_secret(&self, cap: WebhookChange<'_>) -> Result<WithSecret> {
        let e = cap.endpoint();
        let key = SigningKey::random()?;
        let now = self.now();
        let until = now
            .checked_add(ROTATION_OVERLAP)
            .map_err(|e| AppError::Internal(format!("rotation window: {e}")))?;
        let sealed = self.keys().seal_bytes(&aad(e.id), key.bytes())?;
        let mut tx = self.store().write().await?;
        // Read again in the transaction: a rotation racing another keeps the secret the
        // other one wrote as the previous one.
        let current = repo::get(tx.conn(), e.id)
            .await?
            .ok_or_else(|| AppError::not_found("webhook endpoint"))?;
        let fresh = repo::set_secret(
            tx.conn(),
            e.id,
            &sealed,
            Some((&current.secret, until)),
            now,
        )
        .await?
        .ok_or_else(|| AppError::not_found("webhook endpoint"))?;
        let ev = NewEvent::new("webhook.secret_rotated", format!("webhook:{}", e.id))
            .property(e.property_id)
            .actor(Some(cap.principal().id()))
            .data(json!({ "previous_valid_until": until.to_string() }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(WithSecret {
            endpoint: fresh.into(),
            secret: key.shown(),
        })
    }

    /// Deletes an endpoint and what it had not been sent; audited.
    ///
    /// # Errors
    /// Storage failed.
    pub async fn delete_webhook(&self, cap: WebhookChange<'_>) -> Result<()> {
        let e = cap.endpoint();
        let mut tx = self.store().write().await?;
        if !repo::delete(tx.conn(), e.id).await? {
            return Err(AppError::not_found("webhook endpoint"));
        }
        let ev = NewEvent::new("webhook.deleted", format!("webhook:{}", e.id))
            .property(e.property_id)
            .actor(Some(cap.principal().id()))
            .data(json!({ "url": e.url }));
        self.commit_with(tx, vec![ev]).await
    }
}
