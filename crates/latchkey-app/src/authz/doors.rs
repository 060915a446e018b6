//! Who may change a door, and how.

use latchkey_core::model::DoorMode;
use latchkey_store::records::Door;

use super::Principal;
use crate::{AppError, Result};

impl Principal {
    /// Proof that the caller may change loaded door `door`: staff may change anything; a
    /// unit's residents may only switch their own unit's door between normal, privacy and
    /// vacation (`settings` is whether anything but the mode changes).
    ///
    /// # Errors
    /// `NotFound` for outsiders; `Forbidden` for anything else a resident asks.
    pub fn door_changer(
        &self,
        door: Door,
        settings: bool,
        mode: Option<DoorMode>,
    ) -> Result<DoorChanger<'_>> {
        self.member(door.property_id)?;
        if self.staff(door.property_id).is_ok() {
            return Ok(DoorChanger {
                principal: self,
                door,
                settings: true,
                mode: None,
            });
        }
        let own = door
            .unit_id
            .is_some_and(|u| self.resident_units(door.property_id).contains(&u));
        let resident_mode = matches!(
            mode,
            Some(DoorMode::Normal | DoorMode::Privacy | DoorMode::Vacation)
        );
        if own && !settings && resident_mode {
            Ok(DoorChanger {
                principal: self,
                door,
                settings: false,
                mode,
            })
        } else {
            Err(AppError::forbidden(
                "residents may only switch their own unit's door between normal, privacy and vacation",
            ))
        }
    }
}

/// Proof that the caller may change one door: everything (staff) or its mode only, to one
/// mode (residents).
pub struct DoorChanger<'a> {
    principal: &'a Principal,
    door: Door,
    settings: bool,
    mode: Option<DoorMode>,
}

impl DoorChanger<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    /// The door as it was loaded for the check.
    pub fn door(&self) -> &Door {
        &self.door
    }
    /// Whether the change is staff's (anything) rather than a resident's (the mode).
    pub fn is_staff(&self) -> bool {
        self.settings
    }
    /// Whether the check allows this change: staff anything; a resident only the mode it
    /// was minted for, and no setting.
    ///
    /// # Errors
    /// `Forbidden` as [`Principal::door_changer`] for a change it was not minted for.
    pub fn covers(&self, settings: bool, mode: Option<DoorMode>) -> Result<()> {
        if self.settings || (!settings && mode == self.mode) {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "residents may only switch their own unit's door between normal, privacy and vacation",
            ))
        }
    }
}
