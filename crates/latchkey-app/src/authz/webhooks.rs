//! Who may configure a property's webhook endpoints, and what an endpoint may carry
//! (docs/ARCHITECTURE.md, decision 53).
//!
//! The rule, in order:
//!
//! 1. Only the property's managers and installers (and admins) create, list, change, rotate
//!    or delete its endpoints; others with standing are "not allowed", outsiders "not found".
//! 2. An endpoint carries only kinds its owner could read whoever is concerned:
//!    [`webhook_kinds`], the door, lock and sensor kinds minus a household's comings and goings
//!    ([`super::PERSONAL_KINDS`]) and minus the raw lock reports and remote-command outcomes
//!    that are as personal. Any other kind is refused.
//! 3. At send time the owner must still be staff of the property (or an admin): an endpoint
//!    whose owner lost that standing routes nothing more.

use latchkey_core::PropertyId;
use latchkey_store::webhooks::Endpoint;

use super::{Principal, is_personal_kind};
use crate::event_kinds::DEVICE_EVENT_KINDS;
use crate::{AppError, Result};

/// Kinds excluded beside the personal ones: a lock's raw report (it may name the keypad user)
/// and what became of a resident's remote command.
const ALSO_PERSONAL: &[&str] = &["lock.event", "lock.command_failed", "lock.command_rejected"];

/// Whether an endpoint may subscribe to `kind` (rule 2).
pub fn webhook_kind_allowed(kind: &str) -> bool {
    DEVICE_EVENT_KINDS.iter().any(|k| k.kind == kind)
        && !is_personal_kind(kind)
        && !ALSO_PERSONAL.contains(&kind)
}

/// Every kind an endpoint may subscribe to, sorted.
pub fn webhook_kinds() -> Vec<&'static str> {
    DEVICE_EVENT_KINDS
        .iter()
        .map(|k| k.kind)
        .filter(|k| webhook_kind_allowed(k))
        .collect()
}

/// Proof that the caller manages the webhook endpoints of a property.
pub struct WebhookManager<'a> {
    principal: &'a Principal,
    property: PropertyId,
}

impl WebhookManager<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn property(&self) -> PropertyId {
        self.property
    }
}

/// Proof that the caller may change one loaded endpoint; it carries the endpoint.
pub struct WebhookChange<'a> {
    principal: &'a Principal,
    endpoint: Endpoint,
}

impl WebhookChange<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl Principal {
    /// Proof that the caller manages `property`'s webhook endpoints (rule 1).
    ///
    /// # Errors
    /// As [`Principal::staff`].
    pub fn webhook_manager(&self, property: PropertyId) -> Result<WebhookManager<'_>> {
        self.staff(property)?;
        Ok(WebhookManager {
            principal: self,
            property,
        })
    }

    /// Proof that the caller may change loaded `endpoint` (rule 1 at its property).
    ///
    /// # Errors
    /// `NotFound("webhook endpoint")` for someone with no standing at its property;
    /// `Forbidden` for members who are not staff.
    pub fn webhook_change(&self, endpoint: Endpoint) -> Result<WebhookChange<'_>> {
        self.member(endpoint.property_id)
            .map_err(|_| AppError::not_found("webhook endpoint"))?;
        self.staff(endpoint.property_id)?;
        Ok(WebhookChange {
            principal: self,
            endpoint,
        })
    }

    /// Whether this person, as owner of an endpoint of `property`, may still have its events
    /// sent (rule 3).
    pub fn may_receive_webhooks(&self, property: PropertyId) -> bool {
        self.staff(property).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comings_and_goings_are_never_webhook_kinds() {
        for k in crate::authz::PERSONAL_KINDS {
            assert!(!webhook_kind_allowed(k), "{k}");
        }
        assert!(!webhook_kind_allowed("lock.event"));
        assert!(!webhook_kind_allowed("privacy.activity_viewed"));
        assert!(!webhook_kind_allowed("no.such_kind"));
        assert!(webhook_kind_allowed("lock.jammed"));
        assert!(webhook_kinds().contains(&"door.compromised"));
    }
}
