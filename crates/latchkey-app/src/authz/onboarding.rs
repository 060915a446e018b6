//! Who may import a building file (docs/ARCHITECTURE.md, decision 70).

use latchkey_core::PropertyId;

use super::Principal;
use crate::Result;
use crate::onboarding::UNIT_ROLES;

impl Principal {
    /// Proof that the caller may import units, doors and residents into `property`: its staff
    /// (managers and installers) and admins, who may create each of those one by one. The check
    /// is the one-by-one checks' own: staff of the property, and a granter of every role a line
    /// may give.
    ///
    /// # Errors
    /// `NotFound` for outsiders (a manager of another property among them); `Forbidden` for
    /// residents, household members, guests and the property's other members.
    pub fn importer(&self, property: PropertyId) -> Result<Importer<'_>> {
        self.staff(property)?;
        for role in UNIT_ROLES {
            self.role_granter(property, None, role)?;
        }
        Ok(Importer {
            principal: self,
            property,
        })
    }
}

/// Proof that the caller may import a building file into one property.
pub struct Importer<'a> {
    principal: &'a Principal,
    property: PropertyId,
}

impl Importer<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn property(&self) -> PropertyId {
        self.property
    }
}
