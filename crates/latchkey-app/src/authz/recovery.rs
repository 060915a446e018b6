//! Who may see and give back spare keys, and who manages locksmiths and incidents.

use latchkey_store::recovery::{Locksmith, SpareKey};
use latchkey_store::resolution::Incident;

use super::{Principal, StaffOn};
use crate::{AppError, Result};

impl Principal {
    /// Proof that the caller may print a new recovery card for their own account: anyone with
    /// a membership somewhere (a card is a lockout proof, and a lockout is about a unit). The
    /// card is theirs; nobody prints one for someone else.
    ///
    /// # Errors
    /// `Forbidden` for a person with no active membership.
    pub fn card_holder(&self) -> Result<CardHolder<'_>> {
        if self.active().next().is_none() {
            return Err(AppError::forbidden(
                "a recovery card is for people who live or work at a property",
            ));
        }
        Ok(CardHolder { principal: self })
    }

    /// Whether the caller may see spare key `key`: staff, its holder, the people who live in
    /// its unit (not its guests or trusted contacts).
    pub fn sees_spare_key(&self, key: &SpareKey) -> bool {
        let Ok(member) = self.member(key.property_id) else {
            return false;
        };
        member.is_staff()
            || key.holder_id == self.id()
            || self.household_units(key.property_id).contains(&key.unit_id)
    }

    /// Proof that the caller may revoke loaded spare key `key`: the unit's residents, staff,
    /// or its holder giving it back.
    ///
    /// # Errors
    /// `NotFound` when the caller may not see the key; then as [`Principal::unit_admin`].
    pub fn spare_key_revoker(&self, key: SpareKey) -> Result<SpareKeyRevoker<'_>> {
        if !self.sees_spare_key(&key) {
            return Err(AppError::not_found("spare key"));
        }
        if key.holder_id != self.id() {
            self.unit_admin(key.property_id, key.unit_id)?;
        }
        Ok(SpareKeyRevoker {
            principal: self,
            key,
        })
    }

    /// Proof that the caller is staff where loaded locksmith `l` is registered.
    ///
    /// # Errors
    /// `NotFound` for outsiders; `Forbidden` for members who are not staff.
    pub fn locksmith_admin(&self, l: Locksmith) -> Result<StaffOn<'_, Locksmith>> {
        self.staff(l.property_id).map_err(|e| {
            if matches!(e, AppError::NotFound(_)) {
                AppError::not_found("locksmith")
            } else {
                e
            }
        })?;
        self.staff_on(l)
    }

    /// Proof that the caller may close loaded incident `i`: staff of its property; anyone
    /// else is told it is not found.
    ///
    /// # Errors
    /// `NotFound` for anyone but staff.
    pub fn incident_closer(&self, i: Incident) -> Result<StaffOn<'_, Incident>> {
        self.staff_on(i)
            .map_err(|_| AppError::not_found("incident"))
    }
}

/// Proof that the caller may revoke one spare key.
pub struct SpareKeyRevoker<'a> {
    principal: &'a Principal,
    key: SpareKey,
}

impl SpareKeyRevoker<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    /// The key as it was loaded for the check.
    pub fn key(&self) -> &SpareKey {
        &self.key
    }
}

/// Proof that the caller prints a recovery card for their own account.
pub struct CardHolder<'a> {
    principal: &'a Principal,
}

impl CardHolder<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
}
