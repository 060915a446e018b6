//! Who may grant roles, end memberships and change a person.

use latchkey_core::model::Role;
use latchkey_core::{PersonId, PropertyId, UnitId};
use latchkey_store::records::{Membership, Person};

use super::Principal;
use crate::{AppError, Result};

impl Principal {
    /// Proof that the caller may give `role` — or take it back — at `property`, in `unit` when
    /// the role belongs to one. Installers grant any role; managers any but installer; a unit's
    /// residents grant household members, guests and trusted contacts of their own unit.
    ///
    /// # Errors
    /// `NotFound` for outsiders and other units' members; `Forbidden` for a role the caller may
    /// not grant.
    pub fn role_granter(
        &self,
        property: PropertyId,
        unit: Option<UnitId>,
        role: Role,
    ) -> Result<RoleGranter<'_>> {
        let (granter, staff) = match unit {
            Some(unit) => {
                if self.unit_admin(property, unit)?.is_staff() {
                    (self.staff(property)?.role(), true)
                } else {
                    (Role::Resident, false)
                }
            }
            None => (self.staff(property)?.role(), true),
        };
        let allowed = match granter {
            Role::Installer => true,
            Role::Manager => role != Role::Installer,
            Role::Resident => {
                matches!(role, Role::Household | Role::Guest | Role::TrustedContact)
            }
            _ => false,
        };
        if !allowed {
            return Err(AppError::forbidden(format!(
                "you may not grant the role `{role}`"
            )));
        }
        Ok(RoleGranter {
            principal: self,
            property,
            unit,
            role,
            staff,
        })
    }

    /// Proof that the caller may add a membership to someone who already exists: staff only
    /// (residents add new people), and only a role they may grant.
    ///
    /// # Errors
    /// As [`Principal::staff`], then as [`Principal::role_granter`].
    pub fn membership_adder(
        &self,
        property: PropertyId,
        unit: Option<UnitId>,
        role: Role,
    ) -> Result<MembershipAdder<'_>> {
        self.staff(property)?;
        Ok(MembershipAdder(self.role_granter(property, unit, role)?))
    }

    /// Proof that the caller may end loaded membership `m`: whoever may grant its role there.
    ///
    /// # Errors
    /// `Forbidden` for anyone else.
    pub fn membership_ender(&self, m: Membership) -> Result<MembershipEnder<'_>> {
        if self.role_granter(m.property_id, m.unit_id, m.role).is_err() {
            return Err(AppError::forbidden("you may not end this membership"));
        }
        Ok(MembershipEnder {
            principal: self,
            membership: m,
        })
    }

    /// Proof that the caller may change loaded person `p` (whose memberships are `theirs`):
    /// the person themself, an admin, staff where they hold a membership, or the residents of
    /// a unit where they are not a resident. Only the person themself, an admin or such staff
    /// may change the sign-in e-mail address: a resident manages a household member's name and
    /// phone, not their account.
    ///
    /// # Errors
    /// `Forbidden` for anyone else.
    pub fn person_editor(&self, p: Person, theirs: &[Membership]) -> Result<PersonEditor<'_>> {
        let account = self.id() == p.id
            || self.is_admin()
            || theirs.iter().any(|m| self.staff(m.property_id).is_ok());
        let household = theirs.iter().any(|m| match m.unit_id {
            Some(u) => self.unit_admin(m.property_id, u).is_ok() && m.role != Role::Resident,
            None => false,
        });
        if !account && !household {
            return Err(AppError::forbidden("you may not change this person"));
        }
        Ok(PersonEditor {
            principal: self,
            person: p,
            email: account,
        })
    }
}

/// Proof that the caller may grant (or end) one role at a property, in one unit or none.
pub struct RoleGranter<'a> {
    principal: &'a Principal,
    property: PropertyId,
    unit: Option<UnitId>,
    role: Role,
    staff: bool,
}

impl RoleGranter<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn property(&self) -> PropertyId {
        self.property
    }
    pub fn unit(&self) -> Option<UnitId> {
        self.unit
    }
    pub fn role(&self) -> Role {
        self.role
    }
    /// Whether staff granted it (rather than a unit's resident).
    pub fn is_staff(&self) -> bool {
        self.staff
    }
    /// Whether this grant covers `role` in `unit`.
    ///
    /// # Errors
    /// `Forbidden` when it was minted for another role or unit.
    pub fn covers(&self, unit: Option<UnitId>, role: Role) -> Result<()> {
        if unit == self.unit && role == self.role {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "you may not grant the role `{role}`"
            )))
        }
    }
}

/// Proof that the caller (staff) may add one role to an existing person.
pub struct MembershipAdder<'a>(RoleGranter<'a>);

impl<'a> MembershipAdder<'a> {
    pub fn granter(&self) -> &RoleGranter<'a> {
        &self.0
    }
}

/// Proof that the caller may end one membership.
pub struct MembershipEnder<'a> {
    principal: &'a Principal,
    membership: Membership,
}

impl MembershipEnder<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    /// The membership as it was loaded for the check.
    pub fn membership(&self) -> &Membership {
        &self.membership
    }
}

/// Proof that the caller may change one person: name and phone, and the sign-in e-mail
/// address when [`PersonEditor::may_change_email`].
pub struct PersonEditor<'a> {
    principal: &'a Principal,
    person: Person,
    email: bool,
}

impl PersonEditor<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    /// The person as they were loaded for the check.
    pub fn person(&self) -> &Person {
        &self.person
    }
    /// Whether the caller may change the sign-in e-mail address.
    ///
    /// # Errors
    /// `Forbidden` for a resident acting for a household member.
    pub fn may_change_email(&self) -> Result<()> {
        if self.email {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "only the person themself or the building's staff may change a sign-in e-mail address",
            ))
        }
    }
}

impl Principal {
    /// Someone who may hand `person` an invitation link to set their first password: an admin,
    /// or staff at a property where the person holds a membership (`theirs`). Anyone else is
    /// told the person is not found, as if they did not exist.
    ///
    /// # Errors
    /// `NotFound("person")`.
    pub fn inviter(&self, person: PersonId, theirs: &[Membership]) -> Result<Inviter<'_>> {
        let may = self.is_admin() || theirs.iter().any(|m| self.staff(m.property_id).is_ok());
        if may {
            Ok(Inviter {
                principal: self,
                person,
            })
        } else {
            Err(AppError::not_found("person"))
        }
    }
}

/// Proof that the caller may invite one person (create or revoke their invitation link).
pub struct Inviter<'a> {
    principal: &'a Principal,
    person: PersonId,
}

impl Inviter<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn person(&self) -> PersonId {
        self.person
    }
}
