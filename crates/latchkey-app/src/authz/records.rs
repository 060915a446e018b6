//! The by-id capability most records need: staff of the property the loaded record belongs
//! to. A record type takes part by saying which property it belongs to ([`AtProperty`]).

use latchkey_core::PropertyId;
use latchkey_store::entry::EntryNotice;
use latchkey_store::records::{Door, DoorGroup, Sensor, Unit};
use latchkey_store::recovery::Locksmith;
use latchkey_store::resolution::Incident;

use super::Principal;
use crate::Result;

/// A record that belongs to one property.
pub trait AtProperty {
    fn property_id(&self) -> PropertyId;
}

impl AtProperty for Unit {
    fn property_id(&self) -> PropertyId {
        self.property_id
    }
}

impl AtProperty for DoorGroup {
    fn property_id(&self) -> PropertyId {
        self.property_id
    }
}

impl AtProperty for Door {
    fn property_id(&self) -> PropertyId {
        self.property_id
    }
}

impl AtProperty for Sensor {
    fn property_id(&self) -> PropertyId {
        self.property_id
    }
}

impl AtProperty for EntryNotice {
    fn property_id(&self) -> PropertyId {
        self.property_id
    }
}

impl AtProperty for Locksmith {
    fn property_id(&self) -> PropertyId {
        self.property_id
    }
}

impl AtProperty for Incident {
    fn property_id(&self) -> PropertyId {
        self.property_id
    }
}

impl Principal {
    /// Proof that the caller is staff of the property that loaded `record` belongs to.
    ///
    /// # Errors
    /// As [`Principal::staff`].
    pub fn staff_on<R: AtProperty>(&self, record: R) -> Result<StaffOn<'_, R>> {
        self.staff(record.property_id())?;
        Ok(StaffOn {
            principal: self,
            record,
        })
    }
}

impl Principal {
    /// Proof that the caller is an installer of the property that loaded `record` belongs to.
    ///
    /// # Errors
    /// As [`Principal::installer`].
    pub fn installer_on<R: AtProperty>(&self, record: R) -> Result<InstallerOn<'_, R>> {
        self.installer(record.property_id())?;
        Ok(InstallerOn {
            principal: self,
            record,
        })
    }
}

/// Proof that the caller installs the devices of the property one record belongs to; it
/// carries that record.
pub struct InstallerOn<'a, R> {
    principal: &'a Principal,
    record: R,
}

impl<R> InstallerOn<'_, R> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    /// The record as it was loaded for the check.
    pub fn record(&self) -> &R {
        &self.record
    }
}

/// Proof that the caller manages the building one record belongs to; it carries that record.
pub struct StaffOn<'a, R> {
    principal: &'a Principal,
    record: R,
}

impl<R> StaffOn<'_, R> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    /// The record as it was loaded for the check.
    pub fn record(&self) -> &R {
        &self.record
    }
}
