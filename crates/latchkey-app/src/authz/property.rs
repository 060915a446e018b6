//! Capabilities at a whole property or one of its units, minted from the principal's
//! memberships alone.

use latchkey_core::model::Role;
use latchkey_core::{PropertyId, UnitId};

use super::Principal;
use crate::{AppError, Result};

impl Principal {
    /// An admin of the whole installation (creates properties).
    ///
    /// # Errors
    /// `Forbidden` for everyone else.
    pub fn admin(&self) -> Result<Admin<'_>> {
        if self.is_admin() {
            Ok(Admin { principal: self })
        } else {
            Err(AppError::forbidden(
                "only admins may do this (create properties, manage broker logins)",
            ))
        }
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

    /// An installer of the property or an admin (pairing, keys, policies).
    ///
    /// # Errors
    /// As [`Principal::staff`]; managers get `Forbidden`.
    pub fn installer(&self, property: PropertyId) -> Result<Installer<'_>> {
        let staff = self.staff(property)?;
        if staff.role != Role::Installer {
            return Err(AppError::forbidden(
                "only the property's installers may do this",
            ));
        }
        Ok(Installer {
            principal: self,
            property,
        })
    }

    /// Someone who may change a property: its policy and time zone need an installer
    /// (`settings`), the rest a manager.
    ///
    /// # Errors
    /// As [`Principal::installer`] or [`Principal::staff`].
    pub fn property_changer(
        &self,
        property: PropertyId,
        settings: bool,
    ) -> Result<PropertyChanger<'_>> {
        if settings {
            self.installer(property)?;
        } else {
            self.staff(property)?;
        }
        Ok(PropertyChanger {
            principal: self,
            property,
            settings,
        })
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

/// Proof that the caller administers the whole installation.
pub struct Admin<'a> {
    principal: &'a Principal,
}

impl Admin<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
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

/// Proof that the caller installs the property's devices (or is an admin).
pub struct Installer<'a> {
    principal: &'a Principal,
    property: PropertyId,
}

impl Installer<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn property(&self) -> PropertyId {
        self.property
    }
}

/// Proof that the caller may change a property: its settings (policy, time zone) too when
/// [`PropertyChanger::settings`].
pub struct PropertyChanger<'a> {
    principal: &'a Principal,
    property: PropertyId,
    settings: bool,
}

impl PropertyChanger<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn property(&self) -> PropertyId {
        self.property
    }
    /// Whether the check covered policy and time zone (an installer's).
    pub fn settings(&self) -> bool {
        self.settings
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
