//! Who may issue, change, freeze and reveal credentials.

use latchkey_core::model::{CredentialStatus, Role};
use latchkey_core::{PersonId, PropertyId, UnitId};
use latchkey_store::records::Credential;

use super::Principal;
use crate::{AppError, Result};

impl Principal {
    /// Proof that the caller may issue credentials at `property` for `unit` (`None`: a
    /// property-wide credential). A unit's residents issue for the people of their unit; staff
    /// for anyone at the property.
    ///
    /// # Errors
    /// As [`Principal::unit_admin`] for a unit, [`Principal::staff`] without one.
    pub fn credential_issuer(
        &self,
        property: PropertyId,
        unit: Option<UnitId>,
    ) -> Result<CredentialIssuer<'_>> {
        let staff = match unit {
            Some(u) => self.unit_admin(property, u)?.is_staff(),
            None => {
                self.staff(property)?;
                true
            }
        };
        Ok(CredentialIssuer {
            principal: self,
            property,
            unit,
            staff,
        })
    }

    /// Whether the caller may see credential `c`: staff, its holder, its unit's residents.
    pub fn sees_credential(&self, c: &Credential) -> bool {
        let Ok(m) = self.member(c.property_id) else {
            return false;
        };
        m.is_staff()
            || c.person_id == self.id()
            || c.unit_id
                .is_some_and(|u| self.resident_units(c.property_id).contains(&u))
    }

    /// Whether the caller manages credential `c` (its unit's residents, or staff).
    fn manages(&self, c: &Credential) -> bool {
        match c.unit_id {
            Some(u) => self.unit_admin(c.property_id, u).is_ok(),
            None => self.staff(c.property_id).is_ok(),
        }
    }

    /// Proof that the caller may move loaded credential `c` to status `to`.
    ///
    /// Revoke: its holder, its unit's residents, staff. Freeze (a lost phone or card,
    /// docs/LOCKOUT.md §5): its holder, anyone who lives in its unit, an active spare-key
    /// holder of its unit (`holds_spare_key`, read by the app), staff: freezing never blocks
    /// recovery, so the circle is wider than who may see it. Unfreeze: its unit's residents,
    /// staff.
    ///
    /// # Errors
    /// `NotFound` for whoever may not see it (or, to freeze, is outside the circle);
    /// `Forbidden` for someone who sees it but may not make this change.
    pub fn credential_change(
        &self,
        c: Credential,
        to: CredentialStatus,
        holds_spare_key: bool,
    ) -> Result<CredentialChange<'_>> {
        let holder = c.person_id == self.id();
        if to == CredentialStatus::Frozen {
            let m = self
                .member(c.property_id)
                .map_err(|_| AppError::not_found("credential"))?;
            let lives_there = c.unit_id.is_some_and(|u| {
                self.active().any(|mm| {
                    mm.property_id == c.property_id
                        && mm.unit_id == Some(u)
                        && matches!(mm.role, Role::Resident | Role::Household)
                })
            });
            if !(m.is_staff() || holder || lives_there || holds_spare_key) {
                return Err(AppError::not_found("credential"));
            }
        } else {
            if !self.sees_credential(&c) {
                return Err(AppError::not_found("credential"));
            }
            let allowed = match to {
                CredentialStatus::Revoked => holder || self.manages(&c),
                _ => self.manages(&c),
            };
            if !allowed {
                return Err(AppError::forbidden("you may not change this credential"));
            }
        }
        Ok(CredentialChange {
            principal: self,
            credential: c,
            to,
        })
    }

    /// Proof that the caller may change loaded credential `c`'s label, schedule or use limit:
    /// its unit's residents and staff.
    ///
    /// # Errors
    /// `NotFound` for whoever may not see it; `Forbidden` for others who do.
    pub fn credential_edit(&self, c: Credential) -> Result<CredentialEdit<'_>> {
        if !self.sees_credential(&c) {
            return Err(AppError::not_found("credential"));
        }
        if !self.manages(&c) {
            return Err(AppError::forbidden(
                "only the unit's residents and staff may change this credential",
            ));
        }
        Ok(CredentialEdit {
            principal: self,
            credential: c,
        })
    }

    /// Proof that the caller may see loaded credential `c`'s PIN: its holder alone, never
    /// staff or the household.
    ///
    /// # Errors
    /// `NotFound` for whoever may not see the credential; `Forbidden` for anyone but the holder.
    pub fn pin_reveal(&self, c: Credential) -> Result<PinReveal<'_>> {
        if !self.sees_credential(&c) {
            return Err(AppError::not_found("credential"));
        }
        if c.person_id != self.id() {
            return Err(AppError::forbidden("only the holder of a PIN may see it"));
        }
        Ok(PinReveal {
            principal: self,
            credential: c,
        })
    }
}

/// Proof that the caller may issue credentials at a property, for one unit or property-wide.
pub struct CredentialIssuer<'a> {
    principal: &'a Principal,
    property: PropertyId,
    unit: Option<UnitId>,
    staff: bool,
}

impl CredentialIssuer<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn property(&self) -> PropertyId {
        self.property
    }
    /// The unit the credentials belong to (`None`: property-wide).
    pub fn unit(&self) -> Option<UnitId> {
        self.unit
    }
    /// Staff issue for anyone on any door of the property; residents for their unit's doors.
    pub fn is_staff(&self) -> bool {
        self.staff
    }

    /// Whether this issuer was checked for credentials of `unit`.
    ///
    /// # Errors
    /// `Forbidden` when it was minted for another unit.
    pub fn covers(&self, unit: Option<UnitId>) -> Result<()> {
        if unit == self.unit {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "this permission was checked for credentials of another unit",
            ))
        }
    }

    /// Whether this issuer may choose the code of `holder`'s PIN rather than have latchkey
    /// generate it. Staff issue PINs to others only as generated codes, which only the holder
    /// can reveal; a property-wide PIN opens doors shared by every household, where codes are
    /// generated. (Whether the doors are this household's alone is checked when they are
    /// known, under the doors' lock.)
    ///
    /// # Errors
    /// `Invalid` on `pin`, saying to leave it out.
    pub fn may_choose_pin(&self, holder: PersonId) -> Result<()> {
        if self.staff && self.principal.id() != holder {
            return Err(AppError::invalid(
                "pin",
                "staff issue PINs to others only as generated codes, which only the holder can \
                 reveal: leave out `pin`",
            ));
        }
        if self.unit.is_none() {
            return Err(AppError::invalid(
                "pin",
                "a property-wide PIN opens doors shared with every household, and PINs on such \
                 doors are generated by latchkey: leave out `pin`",
            ));
        }
        Ok(())
    }

    /// Whether a new PIN is handed to this issuer at creation: to its holder, or to a resident
    /// handing a code to a member of their unit — never to staff acting for someone else.
    pub fn sees_new_pin(&self, holder: PersonId, holder_role: Option<Role>) -> bool {
        self.principal.id() == holder
            || (!self.staff
                && matches!(
                    holder_role,
                    Some(Role::Household | Role::Guest | Role::TrustedContact)
                ))
    }
}

/// Proof that the caller may move one credential to one status.
pub struct CredentialChange<'a> {
    principal: &'a Principal,
    credential: Credential,
    to: CredentialStatus,
}

impl CredentialChange<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    /// The credential as it was loaded for the check.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }
    pub fn to(&self) -> CredentialStatus {
        self.to
    }
}

/// Proof that the caller may change one credential's label, schedule or use limit.
pub struct CredentialEdit<'a> {
    principal: &'a Principal,
    credential: Credential,
}

impl CredentialEdit<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn credential(&self) -> &Credential {
        &self.credential
    }
}

/// Proof that the caller holds one PIN and may see its code.
pub struct PinReveal<'a> {
    principal: &'a Principal,
    credential: Credential,
}

impl PinReveal<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn credential(&self) -> &Credential {
        &self.credential
    }
}
