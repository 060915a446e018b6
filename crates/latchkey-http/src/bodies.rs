//! The OpenAPI schemas of request bodies that the handlers read straight into the app's input
//! types (`latchkey-app` knows nothing of OpenAPI). Each struct here documents one input type
//! field by field — which fields are required, their types, enumerations and ranges — and is
//! never deserialised itself; `scripts/schemathesis.sh` holds the two together by sending the
//! server requests made from these schemas.
//!
//! Text that the app trims and checks (`check_text`) carries the pattern
//! `^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$`: something besides
//! spaces, and no control characters.

#![allow(dead_code)] // the fields exist for their schema only

use latchkey_core::model::{CredentialKind, DoorKind, DoorMode, Method, ProofKind, Role};
use latchkey_core::model::{Payer, SensorKind};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};

/// A string schema listing the variants' names.
fn names(all: impl IntoIterator<Item = &'static str>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(all))
}

/// The same, where `null` is read as "absent".
fn or_null(all: impl IntoIterator<Item = &'static str>) -> ObjectBuilder {
    let values = all
        .into_iter()
        .map(serde_json::Value::from)
        .chain([serde_json::Value::Null]);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(values))
}

fn role() -> ObjectBuilder {
    names(Role::ALL.iter().map(|r| r.as_str()))
}
fn door_kind() -> ObjectBuilder {
    names(DoorKind::ALL.iter().map(|r| r.as_str()))
}
fn door_mode() -> ObjectBuilder {
    names(DoorMode::ALL.iter().map(|r| r.as_str()))
}
fn door_mode_or_null() -> ObjectBuilder {
    or_null(DoorMode::ALL.iter().map(|r| r.as_str()))
}
fn credential_kind() -> ObjectBuilder {
    names(CredentialKind::ALL.iter().map(|r| r.as_str()))
}
fn sensor_kind() -> ObjectBuilder {
    names(SensorKind::ALL.iter().map(|r| r.as_str()))
}
fn method_or_null() -> ObjectBuilder {
    or_null(Method::ALL.iter().map(|r| r.as_str()))
}
fn recovery_proofs() -> ArrayBuilder {
    ArrayBuilder::new().min_items(Some(1)).items(names(
        ProofKind::ALL
            .iter()
            .filter(|p| **p != ProofKind::Presence)
            .map(|p| p.as_str()),
    ))
}
/// What a locksmith did.
pub fn work() -> ObjectBuilder {
    names(["code", "battery_jump", "picking", "drilling", "other"])
}
/// A locksmith's standing.
pub fn locksmith_status() -> ObjectBuilder {
    names(["verified", "suspended", "unverified"])
}
fn payer() -> ObjectBuilder {
    names(Payer::ALL.iter().map(|r| r.as_str()))
}

/// A day of the week.
#[derive(ToSchema)]
#[schema(as = Day)]
#[allow(non_camel_case_types)] // the names are the wire format
pub enum DayBody {
    mon,
    tue,
    wed,
    thu,
    fri,
    sat,
    sun,
}

/// A weekly window in the property's local time; an `end` earlier than `start` ends the next day.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WeeklyWindow)]
pub struct WeeklyWindowBody {
    #[schema(min_items = 1, max_items = 7)]
    pub days: Vec<DayBody>,
    /// Local time, `HH:MM`.
    #[schema(example = "09:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start: String,
    /// Local time, `HH:MM`.
    #[schema(example = "17:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub end: String,
}

/// When something applies, in the property's local wall-clock time. Date-times are local
/// (`2026-12-24T18:00`), without an offset.
#[derive(ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[schema(as = Schedule)]
pub enum ScheduleBody {
    Always,
    Weekly {
        #[schema(min_items = 1, max_items = 32)]
        windows: Vec<WeeklyWindowBody>,
    },
    DateRange {
        #[schema(
            example = "2026-12-24T18:00",
            pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]$"
        )]
        from: String,
        #[schema(
            example = "2026-12-24T18:00",
            pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]$"
        )]
        until: String,
    },
    OneTime {
        #[schema(
            example = "2026-12-24T18:00",
            pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]$"
        )]
        from: String,
        #[schema(
            example = "2026-12-24T18:00",
            pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]$"
        )]
        until: String,
    },
}

/// A property's policy; absent fields take their defaults.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Policy)]
pub struct PolicyBody {
    #[schema(minimum = 1, maximum = 20)]
    #[serde(default)]
    pub wrong_code_limit: u8,
    #[schema(minimum = 1, maximum = 86400)]
    #[serde(default)]
    pub keypad_disable_seconds: u32,
    #[schema(minimum = 0, maximum = 3600)]
    #[serde(default)]
    pub auto_relock_seconds: u32,
    #[schema(minimum = 1, maximum = 1440)]
    #[serde(default)]
    pub door_ajar_minutes: u32,
    #[serde(default)]
    pub clear_unmanaged_codes: bool,
    /// At least one of `passkey`, `totp`, `guardians`, `id_check` (not `presence`).
    #[schema(schema_with = recovery_proofs)]
    #[serde(default)]
    pub recovery_proofs: Vec<String>,
    #[schema(minimum = 1, maximum = 10)]
    #[serde(default)]
    pub guardians_required: u8,
    #[schema(minimum = 0, maximum = 1000000)]
    #[serde(default)]
    pub lockout_fee_office_cents: u32,
    #[schema(minimum = 0, maximum = 1000000)]
    #[serde(default)]
    pub lockout_fee_after_hours_cents: u32,
    #[schema(minimum = 0, maximum = 52)]
    #[serde(default)]
    pub free_lockouts_per_year: u8,
    #[schema(schema_with = payer)]
    #[serde(default)]
    pub locksmith_paid_by: String,
    #[schema(minimum = 1, maximum = 240)]
    #[serde(default)]
    pub one_time_pin_minutes: u16,
    #[serde(default)]
    pub require_presence: bool,
    #[schema(minimum = 0, maximum = 10080)]
    #[serde(default)]
    pub credential_change_delay_minutes: u32,
    /// Days a personal access event keeps who and how before it is redacted (default 90).
    #[schema(minimum = 1, maximum = 3650)]
    #[serde(default)]
    pub personal_event_retention_days: u32,
}

/// A new property (admins).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PropertyBody {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    #[serde(default)]
    pub address: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    #[schema(example = "Europe/Berlin")]
    pub timezone: String,
    #[serde(default)]
    pub policy: PolicyBody,
    /// Default: always.
    #[serde(default)]
    pub office_hours: ScheduleBody,
}

/// Changes to a property; absent fields stay as they are.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PropertyPatchBody {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    pub address: Option<String>,
    #[schema(example = "Europe/Berlin")]
    pub timezone: Option<String>,
    pub policy: Option<PolicyBody>,
    pub office_hours: Option<ScheduleBody>,
}

/// A new door.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoorBody {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    #[schema(schema_with = door_kind)]
    pub kind: String,
    /// The unit whose entry door this is.
    pub unit_id: Option<i64>,
    /// Default `normal`.
    #[serde(default)]
    #[schema(schema_with = door_mode)]
    pub mode: String,
    /// PIN slots the lock has, default 30.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 250)]
    pub pin_slots: i64,
}

/// Changes to a door.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoorPatchBody {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    #[schema(schema_with = door_mode_or_null)]
    pub mode: Option<String>,
    #[schema(minimum = 1, maximum = 250)]
    pub pin_slots: Option<i64>,
    /// Why the mode changes; only with `mode`. Required (at least 5 characters) when staff
    /// change the mode of a unit's own door: the household is told who changed it and why.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub reason: Option<String>,
}

/// A new door contact or window sensor.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SensorBody {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    #[schema(schema_with = sensor_kind)]
    pub kind: String,
    pub unit_id: Option<i64>,
    pub door_id: Option<i64>,
    #[serde(default)]
    pub floor: i64,
}

/// A role to hold, at a unit or at the whole property.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembershipBody {
    #[schema(schema_with = role)]
    pub role: String,
    /// Required for the roles of a unit; absent for installer, manager and locksmith.
    pub unit_id: Option<i64>,
    #[schema(format = DateTime)]
    pub valid_from: Option<String>,
    #[schema(format = DateTime)]
    pub valid_until: Option<String>,
}

/// A new person with their first membership.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonBody {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    #[schema(format = Email)]
    pub email: Option<String>,
    /// Digits, spaces and `+ - ( )`, 4–32 characters.
    #[schema(pattern = r"^[0-9+()-]([0-9 +()-]{2,30}[0-9+()-])$")]
    pub phone: Option<String>,
    /// Lets the person sign in; optional (a child may have only a PIN).
    pub password: Option<String>,
    pub membership: MembershipBody,
}

/// A membership for an existing person.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMembershipBody {
    pub person_id: i64,
    #[schema(schema_with = role)]
    pub role: String,
    pub unit_id: Option<i64>,
    #[schema(format = DateTime)]
    pub valid_from: Option<String>,
    #[schema(format = DateTime)]
    pub valid_until: Option<String>,
}

/// A new credential.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialBody {
    pub person_id: i64,
    #[schema(schema_with = credential_kind)]
    pub kind: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub label: Option<String>,
    /// The unit the credential belongs to; absent for a property-wide (staff) credential.
    pub unit_id: Option<i64>,
    /// Default: the unit's own doors and its door group.
    pub doors: Option<Vec<i64>>,
    /// Default: always.
    #[serde(default)]
    pub schedule: ScheduleBody,
    #[schema(minimum = 1)]
    pub max_uses: Option<i64>,
    #[serde(default)]
    pub duress: bool,
    /// For PINs: the code; a random one when absent.
    pub pin: Option<String>,
    /// For RFID cards: the card's UID in hex.
    pub card_uid: Option<String>,
}

/// Changes to a credential's label, schedule or use limit (`null` lifts the limit).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialPatchBody {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub label: Option<String>,
    pub schedule: Option<ScheduleBody>,
    #[schema(minimum = 1)]
    pub max_uses: Option<i64>,
}

/// "Would this open?": `door_id` and either `credential_id` or `person_id`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessCheckBody {
    pub credential_id: Option<i64>,
    pub person_id: Option<i64>,
    pub door_id: i64,
    /// Default: now.
    #[schema(format = DateTime)]
    pub at: Option<String>,
    /// Default: the way the credential's kind is presented.
    #[schema(schema_with = method_or_null)]
    pub method: Option<String>,
    #[serde(default)]
    pub emergency_override: bool,
}
