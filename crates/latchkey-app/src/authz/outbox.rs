//! Who may see failed deliveries and send them again: staff of the property a notification
//! belongs to, and admins (who alone see deliveries that belong to no property, and every
//! property at once).

use latchkey_core::PropertyId;
use latchkey_store::outbox::Delivery;

use super::Principal;
use crate::{AppError, Result};

/// Proof that the caller may read the troubled deliveries of `property` (or, for `None`, of
/// every property and of none: admins only).
pub struct OutboxReader<'a> {
    principal: &'a Principal,
    property: Option<PropertyId>,
}

impl OutboxReader<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    /// The property read, or `None` for all.
    pub fn property(&self) -> Option<PropertyId> {
        self.property
    }
}

/// Proof that the caller may send loaded delivery again; it carries the delivery.
pub struct Redeliverer<'a> {
    principal: &'a Principal,
    delivery: Delivery,
}

impl Redeliverer<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn delivery(&self) -> &Delivery {
        &self.delivery
    }
}

impl Principal {
    /// Proof that the caller may read the deliveries in trouble at `property`, or everywhere.
    ///
    /// # Errors
    /// As [`Principal::staff`] for a property; `Forbidden` for everywhere unless an admin.
    pub fn outbox_reader(&self, property: Option<PropertyId>) -> Result<OutboxReader<'_>> {
        match property {
            Some(p) => {
                self.staff(p)?;
            }
            None if self.is_admin() => {}
            None => {
                return Err(AppError::forbidden(
                    "only admins see every property's deliveries; name a property you manage",
                ));
            }
        }
        Ok(OutboxReader {
            principal: self,
            property,
        })
    }

    /// Proof that the caller may send loaded `delivery` again: staff of its property, or an
    /// admin.
    ///
    /// # Errors
    /// `NotFound` for someone with no standing at its property (or any, for a delivery of no
    /// property); `Forbidden` for a member who is not staff.
    pub fn redeliverer(&self, delivery: Delivery) -> Result<Redeliverer<'_>> {
        if !self.is_admin() {
            let Some(p) = delivery.property_id else {
                return Err(AppError::not_found("delivery"));
            };
            self.member(p)
                .map_err(|_| AppError::not_found("delivery"))?;
            self.staff(p)?;
        }
        Ok(Redeliverer {
            principal: self,
            delivery,
        })
    }
}
