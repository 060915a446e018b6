//! Rows as the rest of latchkey sees them. Instants are `jiff::Timestamp`; in the database they
//! are epoch microseconds.

use jiff::Timestamp;
use latchkey_core::model::{
    CredentialKind, CredentialStatus, DoorKind, DoorMode, Policy, Role, SensorKind,
};
use latchkey_core::schedule::Schedule;
use latchkey_core::{
    CredentialId, DoorGroupId, DoorId, MembershipId, PersonId, PropertyId, SensorId, UnitId,
};
use serde::Serialize;

use crate::{Result, StoreError};

/// Epoch microseconds of an instant, as stored.
pub fn to_micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// The instant of stored epoch microseconds.
///
/// # Errors
/// `Corrupt` when the number is outside the range of instants.
pub fn from_micros(us: i64) -> Result<Timestamp> {
    Timestamp::from_microsecond(us).map_err(|e| StoreError::Corrupt(format!("instant {us}: {e}")))
}

pub(crate) fn opt_from_micros(us: Option<i64>) -> Result<Option<Timestamp>> {
    us.map(from_micros).transpose()
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Property {
    pub id: PropertyId,
    pub name: String,
    pub address: String,
    /// IANA time zone name.
    pub timezone: String,
    pub policy: Policy,
    /// When the building office is open, in the property's local time.
    pub office_hours: Schedule,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unit {
    pub id: UnitId,
    pub property_id: PropertyId,
    pub label: String,
    pub floor: i64,
    pub door_group_id: Option<DoorGroupId>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DoorGroup {
    pub id: DoorGroupId,
    pub property_id: PropertyId,
    pub name: String,
    pub doors: Vec<DoorId>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Door {
    pub id: DoorId,
    pub property_id: PropertyId,
    pub unit_id: Option<UnitId>,
    pub name: String,
    pub kind: DoorKind,
    pub mode: DoorMode,
    /// The Zigbee2MQTT friendly name of the lock on this door, once paired.
    pub lock_name: Option<String>,
    pub pin_slots: i64,
    pub keypad_disabled_until: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sensor {
    pub id: SensorId,
    pub property_id: PropertyId,
    pub unit_id: Option<UnitId>,
    pub door_id: Option<DoorId>,
    pub name: String,
    pub kind: SensorKind,
    pub floor: i64,
    pub device_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Person {
    pub id: PersonId,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// An installer with rights over every property (the first admin).
    pub is_admin: bool,
    pub has_password: bool,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Membership {
    pub id: MembershipId,
    pub person_id: PersonId,
    pub property_id: PropertyId,
    pub unit_id: Option<UnitId>,
    pub role: Role,
    pub valid_from: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl Membership {
    /// Whether the membership is in force at `at` (validity is half-open: `[from, until)`).
    pub fn is_active_at(&self, at: Timestamp) -> bool {
        self.valid_from.is_none_or(|f| f <= at) && self.valid_until.is_none_or(|u| at < u)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Credential {
    pub id: CredentialId,
    pub property_id: PropertyId,
    pub person_id: PersonId,
    pub unit_id: Option<UnitId>,
    pub kind: CredentialKind,
    pub label: String,
    pub status: CredentialStatus,
    pub schedule: Schedule,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub duress: bool,
    /// A presence challenge (lockout recovery): on the lock as a `non_access` user.
    pub non_access: bool,
    /// For PINs: whether a person chose the code (only ever on doors no other household can
    /// open); `false` when latchkey generated it.
    pub pin_chosen: bool,
    /// For RFID cards: the card's UID. PINs are never part of this record.
    pub card_uid: Option<String>,
    pub doors: Vec<DoorId>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// One audit event as stored (without its chain links).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub seq: i64,
    pub at: Timestamp,
    pub property_id: Option<PropertyId>,
    pub actor_id: Option<PersonId>,
    pub kind: String,
    pub subject: String,
    pub data: serde_json::Value,
}
