//! Authorization as types. A use case that changes a property asks for a capability ([`Staff`],
//! [`UnitAdmin`], [`Member`]); the only way to get one is from a [`Principal`] through the checks
//! below, so code that skipped a check has nothing to call.
//!
//! Someone with no standing at a property is told its resources are "not found" (they may not
//! learn that they exist); someone who can see a resource but not change it is "not allowed".

use jiff::Timestamp;
use latchkey_core::model::{DoorMode, Role};
use latchkey_core::{PersonId, PropertyId, UnitId};
use latchkey_store::records::{Membership, Person};

use crate::{AppError, Result};

/// How a request was authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Session(i64),
    ApiToken(i64),
    /// A person at the installer's terminal (the CLI has the data directory, so it is trusted).
    Terminal,
}

impl Via {
    /// How the audit log names it: `session`, `api_token` or `terminal`.
    pub fn name(self) -> &'static str {
        match self {
            Via::Session(_) => "session",
            Via::ApiToken(_) => "api_token",
            Via::Terminal => "terminal",
        }
    }
}

/// An authenticated person with their memberships as of the request's instant.
#[derive(Clone, Debug)]
pub struct Principal {
    person: Person,
    memberships: Vec<Membership>,
    via: Via,
    at: Timestamp,
}

impl Principal {
    pub(crate) fn new(
        person: Person,
        memberships: Vec<Membership>,
        via: Via,
        at: Timestamp,
    ) -> Self {
        Principal {
            person,
            memberships,
            via,
            at,
        }
    }

    pub fn person(&self) -> &Person {
        &self.person
    }

    pub fn id(&self) -> PersonId {
        self.person.id
    }

    pub fn via(&self) -> Via {
        self.via
    }

    pub fn is_admin(&self) -> bool {
        self.person.is_admin
    }

    /// Memberships in force at the request's instant.
    pub fn active(&self) -> impl Iterator<Item = &Membership> {
        self.memberships.iter().filter(|m| m.is_active_at(self.at))
    }

    /// Properties where this person has any standing (admins: `None`, meaning all).
    pub fn visible_properties(&self) -> Option<Vec<PropertyId>> {
        if self.is_admin() {
            return None;
        }
        let mut v: Vec<PropertyId> = self.active().map(|m| m.property_id).collect();
        v.sort_unstable();
        v.dedup();
        Some(v)
    }

    fn staff_role(&self, property: PropertyId) -> Option<Role> {
        if self.is_admin() {
            return Some(Role::Installer);
        }
        self.active()
            .filter(|m| m.property_id == property && m.role.is_staff())
            .map(|m| m.role)
            .min_by_key(|r| if *r == Role::Installer { 0 } else { 1 })
    }

    /// Units of `property` where this person is a resident.
    pub fn resident_units(&self, property: PropertyId) -> Vec<UnitId> {
        self.active()
            .filter(|m| m.property_id == property && m.role == Role::Resident)
            .filter_map(|m| m.unit_id)
            .collect()
    }

    /// Units of `property` this person lives in: as a resident or a household member (not as
    /// a guest or trusted contact, who are not told the household's arrangements).
    pub fn household_units(&self, property: PropertyId) -> Vec<UnitId> {
        self.active()
            .filter(|m| {
                m.property_id == property && matches!(m.role, Role::Resident | Role::Household)
            })
            .filter_map(|m| m.unit_id)
            .collect()
    }

    /// Units of `property` this person belongs to in any role.
    pub fn units(&self, property: PropertyId) -> Vec<UnitId> {
        self.active()
            .filter(|m| m.property_id == property)
            .filter_map(|m| m.unit_id)
            .collect()
    }

    /// Units of `property` where this person lives (resident or household member): the units
    /// whose entry notices they see.
    pub fn home_units(&self, property: PropertyId) -> Vec<UnitId> {
        self.active()
            .filter(|m| m.property_id == property)
            .filter(|m| matches!(m.role, Role::Resident | Role::Household))
            .filter_map(|m| m.unit_id)
            .collect()
    }

    /// Any standing at the property.
    ///
    /// # Errors
    /// `NotFound("property")` for someone with none.
    pub fn member(&self, property: PropertyId) -> Result<Member<'_>> {
        let staff = self.staff_role(property);
        if staff.is_none() && !self.active().any(|m| m.property_id == property) {
            return Err(AppError::not_found("property"));
        }
        Ok(Member {
            principal: self,
            property,
            staff: staff.is_some(),
        })
    }

    /// A building manager or installer of the property (or an admin).
    ///
    /// # Errors
    /// `NotFound` for outsiders, `Forbidden` for members who are not staff.
    pub fn staff(&self, property: PropertyId) -> Result<Staff<'_>> {
        self.member(property)?;
        match self.staff_role(property) {
            Some(role) => Ok(Staff {
                principal: self,
                property,
                role,
            }),
            None => Err(AppError::forbidden(
                "only the building's managers and installers may do this",
            )),
        }
    }

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

    /// An installer of the property or an admin (pairing, keys, policies).
    ///
    /// # Errors
    /// As [`Principal::staff`]; managers get `Forbidden`.
    pub fn installer(&self, property: PropertyId) -> Result<Staff<'_>> {
        let staff = self.staff(property)?;
        if staff.role != Role::Installer {
            return Err(AppError::forbidden(
                "only the property's installers may do this",
            ));
        }
        Ok(staff)
    }

    /// Someone who manages a unit's people and credentials: its residents, or staff.
    ///
    /// # Errors
    /// `NotFound` for outsiders, `Forbidden` for other members of the property.
    pub fn unit_admin(&self, property: PropertyId, unit: UnitId) -> Result<UnitAdmin<'_>> {
        let member = self.member(property)?;
        if member.staff {
            return Ok(UnitAdmin {
                principal: self,
                property,
                unit,
                staff: true,
            });
        }
        if self.resident_units(property).contains(&unit) {
            return Ok(UnitAdmin {
                principal: self,
                property,
                unit,
                staff: false,
            });
        }
        if self.units(property).contains(&unit) {
            Err(AppError::forbidden("only the unit's residents may do this"))
        } else {
            Err(AppError::not_found("unit"))
        }
    }
}

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
        let granter = match unit {
            Some(unit) => {
                if self.unit_admin(property, unit)?.is_staff() {
                    self.staff(property)?.role()
                } else {
                    Role::Resident
                }
            }
            None => self.staff(property)?.role(),
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
            role,
        })
    }

    /// Proof that the caller may change a door of `property` (belonging to `unit`, if any):
    /// staff may change anything; a unit's residents may only switch their own unit's door
    /// between normal, privacy and vacation (`settings` is whether anything but the mode
    /// changes).
    ///
    /// # Errors
    /// `NotFound` for outsiders; `Forbidden` for anything else a resident asks.
    pub fn door_changer(
        &self,
        property: PropertyId,
        unit: Option<UnitId>,
        settings: bool,
        mode: Option<DoorMode>,
    ) -> Result<DoorChanger<'_>> {
        self.member(property)?;
        if self.staff(property).is_ok() {
            return Ok(DoorChanger {
                principal: self,
                property,
                staff: true,
            });
        }
        let own = unit.is_some_and(|u| self.resident_units(property).contains(&u));
        let resident_mode = matches!(
            mode,
            Some(DoorMode::Normal | DoorMode::Privacy | DoorMode::Vacation)
        );
        if own && !settings && resident_mode {
            Ok(DoorChanger {
                principal: self,
                property,
                staff: false,
            })
        } else {
            Err(AppError::forbidden(
                "residents may only switch their own unit's door between normal, privacy and vacation",
            ))
        }
    }
}

/// Proof that the caller may grant (or end) one role at a property.
pub struct RoleGranter<'a> {
    principal: &'a Principal,
    property: PropertyId,
    role: Role,
}

impl RoleGranter<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn property(&self) -> PropertyId {
        self.property
    }
    pub fn role(&self) -> Role {
        self.role
    }
}

/// Proof that the caller may change a door: everything (staff) or its mode only (residents).
pub struct DoorChanger<'a> {
    principal: &'a Principal,
    property: PropertyId,
    staff: bool,
}

impl DoorChanger<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn property(&self) -> PropertyId {
        self.property
    }
    /// Whether the change is staff's (anything) rather than a resident's (the mode).
    pub fn is_staff(&self) -> bool {
        self.staff
    }
}

/// Proof of standing at a property.
pub struct Member<'a> {
    principal: &'a Principal,
    property: PropertyId,
    staff: bool,
}

impl Member<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn property(&self) -> PropertyId {
        self.property
    }
    /// Whether the member manages the building (sees everything in it, never a PIN).
    pub fn is_staff(&self) -> bool {
        self.staff
    }
}

/// Proof that the caller manages the building.
pub struct Staff<'a> {
    principal: &'a Principal,
    property: PropertyId,
    role: Role,
}

impl Staff<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn property(&self) -> PropertyId {
        self.property
    }
    pub fn role(&self) -> Role {
        self.role
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

/// Proof that the caller manages a unit's people and credentials.
pub struct UnitAdmin<'a> {
    principal: &'a Principal,
    property: PropertyId,
    unit: UnitId,
    staff: bool,
}

impl UnitAdmin<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn property(&self) -> PropertyId {
        self.property
    }
    pub fn unit(&self) -> UnitId {
        self.unit
    }
    /// Staff act for the building; residents for their own home, with fewer rights.
    pub fn is_staff(&self) -> bool {
        self.staff
    }
}
