//! A person's Web Push subscriptions: each person adds subscriptions for themself only (the
//! use case takes [`super::OwnAccount`] and writes the caller's id), and lists and removes
//! only their own. Nobody else, not an admin either, manages them: a subscription is the
//! address of one person's device, and its endpoint lets whoever knows it send to that device.

use latchkey_store::push::Subscription;

use super::Principal;
use crate::{AppError, Result};

/// Proof that a loaded push subscription is the caller's; it carries the subscription.
pub struct PushSubscriptionOwner<'a> {
    principal: &'a Principal,
    subscription: Subscription,
}

impl PushSubscriptionOwner<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    /// The subscription as it was loaded for the check.
    pub fn subscription(&self) -> &Subscription {
        &self.subscription
    }
}

impl Principal {
    /// Proof that loaded `subscription` is the caller's.
    ///
    /// # Errors
    /// `NotFound` when it is someone else's (they may not learn it exists).
    pub fn push_subscription_owner(
        &self,
        subscription: Subscription,
    ) -> Result<PushSubscriptionOwner<'_>> {
        if subscription.person_id != self.id() {
            return Err(AppError::not_found("push subscription"));
        }
        Ok(PushSubscriptionOwner {
            principal: self,
            subscription,
        })
    }
}
