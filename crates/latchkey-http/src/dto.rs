//! Response bodies. They mirror the store's records field by field but carry the OpenAPI
//! schema; the records themselves know nothing of HTTP. Instants are RFC 3339 strings;
//! schedules and policies are the JSON documented in the API guide.

use jiff::Timestamp;
use latchkey_app::store::auth::Grant;
use latchkey_app::store::records::{
    Credential, Door, DoorGroup, Event, Membership, Person, Property, Sensor, Unit,
};
use latchkey_core::model::{
    CredentialKind, CredentialStatus, DoorKind, DoorMode, Policy, Role, SensorKind,
};
use latchkey_core::schedule::Schedule;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct PropertyDto {
    pub id: i64,
    pub name: String,
    pub address: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: String,
    #[schema(value_type = Object)]
    pub policy: Policy,
    /// `{"type":"always"}` or `{"type":"weekly","windows":[{"days":["mon"],"start":"09:00","end":"17:00"}]}`.
    #[schema(value_type = Object)]
    pub office_hours: Schedule,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// What staff read (the same at every property; not a setting).
    pub staff_see: StaffSeeDto,
}

/// What the staff of a property read of its event log (docs/OPERATIONS.md, "Privacy").
#[derive(Serialize, ToSchema)]
pub struct StaffSeeDto {
    /// Classes staff read without a reason: `security` (alarms, jams, offline, compromised
    /// doors), `shared_doors` (doors of no unit), `property_records` (everything not personal).
    pub without_reason: Vec<String>,
    /// Event kinds that on a unit's doors are the household's: staff read them only with a
    /// reason (`GET /api/v1/events?reason=case:42`), and the household sees that they did.
    pub with_reason: Vec<String>,
    /// The reasons staff may name: `case`, `incident`, `alarm`, `entry_notice`.
    pub reasons: Vec<String>,
}

impl StaffSeeDto {
    fn stated() -> StaffSeeDto {
        let owned = |xs: &[&str]| xs.iter().map(|x| (*x).to_owned()).collect();
        let s = latchkey_app::events::STAFF_SEE;
        StaffSeeDto {
            without_reason: owned(s.without_reason),
            with_reason: owned(s.with_reason),
            reasons: owned(s.reasons),
        }
    }
}

impl From<Property> for PropertyDto {
    fn from(p: Property) -> Self {
        PropertyDto {
            id: p.id.0,
            name: p.name,
            address: p.address,
            timezone: p.timezone,
            policy: p.policy,
            office_hours: p.office_hours,
            created_at: p.created_at,
            staff_see: StaffSeeDto::stated(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UnitDto {
    pub id: i64,
    pub property_id: i64,
    pub label: String,
    pub floor: i64,
    pub door_group_id: Option<i64>,
}

impl From<Unit> for UnitDto {
    fn from(u: Unit) -> Self {
        UnitDto {
            id: u.id.0,
            property_id: u.property_id.0,
            label: u.label,
            floor: u.floor,
            door_group_id: u.door_group_id.map(|g| g.0),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DoorGroupDto {
    pub id: i64,
    pub property_id: i64,
    pub name: String,
    pub doors: Vec<i64>,
}

impl From<DoorGroup> for DoorGroupDto {
    fn from(g: DoorGroup) -> Self {
        DoorGroupDto {
            id: g.id.0,
            property_id: g.property_id.0,
            name: g.name,
            doors: g.doors.into_iter().map(|d| d.0).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DoorDto {
    pub id: i64,
    pub property_id: i64,
    pub unit_id: Option<i64>,
    pub name: String,
    #[schema(value_type = String, example = "unit_entry")]
    pub kind: DoorKind,
    #[schema(value_type = String, example = "normal")]
    pub mode: DoorMode,
    /// Zigbee2MQTT friendly name of the paired lock.
    pub lock_name: Option<String>,
    pub pin_slots: i64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub keypad_disabled_until: Option<Timestamp>,
}

impl From<Door> for DoorDto {
    fn from(d: Door) -> Self {
        DoorDto {
            id: d.id.0,
            property_id: d.property_id.0,
            unit_id: d.unit_id.map(|u| u.0),
            name: d.name,
            kind: d.kind,
            mode: d.mode,
            lock_name: d.lock_name,
            pin_slots: d.pin_slots,
            keypad_disabled_until: d.keypad_disabled_until,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SensorDto {
    pub id: i64,
    pub property_id: i64,
    pub unit_id: Option<i64>,
    pub door_id: Option<i64>,
    pub name: String,
    #[schema(value_type = String, example = "window")]
    pub kind: SensorKind,
    pub floor: i64,
    pub device_name: Option<String>,
}

impl From<Sensor> for SensorDto {
    fn from(s: Sensor) -> Self {
        SensorDto {
            id: s.id.0,
            property_id: s.property_id.0,
            unit_id: s.unit_id.map(|u| u.0),
            door_id: s.door_id.map(|d| d.0),
            name: s.name,
            kind: s.kind,
            floor: s.floor,
            device_name: s.device_name,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PersonDto {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub is_admin: bool,
    pub can_sign_in: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<Person> for PersonDto {
    fn from(p: Person) -> Self {
        PersonDto {
            id: p.id.0,
            name: p.name,
            email: p.email,
            phone: p.phone,
            is_admin: p.is_admin,
            can_sign_in: p.has_password,
            created_at: p.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MembershipDto {
    pub id: i64,
    pub person_id: i64,
    pub property_id: i64,
    pub unit_id: Option<i64>,
    #[schema(value_type = String, example = "resident")]
    pub role: Role,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_from: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_until: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<Membership> for MembershipDto {
    fn from(m: Membership) -> Self {
        MembershipDto {
            id: m.id.0,
            person_id: m.person_id.0,
            property_id: m.property_id.0,
            unit_id: m.unit_id.map(|u| u.0),
            role: m.role,
            valid_from: m.valid_from,
            valid_until: m.valid_until,
            created_at: m.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PersonCreatedDto {
    pub person: PersonDto,
    pub membership: MembershipDto,
}

#[derive(Serialize, ToSchema)]
pub struct CredentialDto {
    pub id: i64,
    pub property_id: i64,
    pub person_id: i64,
    pub unit_id: Option<i64>,
    #[schema(value_type = String, example = "pin")]
    pub kind: CredentialKind,
    pub label: String,
    #[schema(value_type = String, example = "active")]
    pub status: CredentialStatus,
    #[schema(value_type = Object)]
    pub schedule: Schedule,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub duress: bool,
    /// For PINs: whether a person chose the code (only ever for a home's own doors; PINs from
    /// before schema 12 count as chosen) rather than latchkey generating it.
    pub pin_chosen: bool,
    pub card_uid: Option<String>,
    pub doors: Vec<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
}

impl From<Credential> for CredentialDto {
    fn from(c: Credential) -> Self {
        CredentialDto {
            id: c.id.0,
            property_id: c.property_id.0,
            person_id: c.person_id.0,
            unit_id: c.unit_id.map(|u| u.0),
            kind: c.kind,
            label: c.label,
            status: c.status,
            schedule: c.schedule,
            max_uses: c.max_uses,
            uses: c.uses,
            duress: c.duress,
            pin_chosen: c.pin_chosen,
            card_uid: c.card_uid,
            doors: c.doors.into_iter().map(|d| d.0).collect(),
            created_at: c.created_at,
            revoked_at: c.revoked_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CredentialCreatedDto {
    pub credential: CredentialDto,
    /// The PIN, present only this once and only when the caller is its holder or a resident
    /// handing it to someone of their unit. Staff never see it; the holder reveals it once.
    pub pin: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PinDto {
    pub pin: String,
}

#[derive(Serialize, ToSchema)]
pub struct EventDto {
    pub seq: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub property_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub kind: String,
    pub subject: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<Event> for EventDto {
    fn from(e: Event) -> Self {
        EventDto {
            seq: e.seq,
            at: e.at,
            property_id: e.property_id.map(|p| p.0),
            actor_id: e.actor_id.map(|p| p.0),
            kind: e.kind,
            subject: e.subject,
            data: e.data,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventPageDto {
    pub events: Vec<EventDto>,
    /// Pass as `before` to get the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct GrantDto {
    pub id: i64,
    /// The token's name, or the session's source address.
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
}

impl From<Grant> for GrantDto {
    fn from(g: Grant) -> Self {
        GrantDto {
            id: g.id,
            name: g.name,
            created_at: g.created_at,
            expires_at: g.expires_at,
            revoked_at: g.revoked_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TokenCreatedDto {
    /// Shown once; send it as `Authorization: Bearer …`.
    pub token: String,
    pub grant: GrantDto,
}

#[derive(Serialize, ToSchema)]
pub struct MeDto {
    pub person: PersonDto,
    pub memberships: Vec<MembershipDto>,
}

#[derive(Serialize, ToSchema)]
pub struct CredentialCheckDto {
    pub credential_id: i64,
    #[schema(value_type = String)]
    pub kind: CredentialKind,
    pub granted: bool,
    /// The denial reason, e.g. `outside_schedule`; absent when granted.
    pub reason: Option<String>,
    pub duress: bool,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccessAnswerDto {
    pub granted: bool,
    pub door_id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub checks: Vec<CredentialCheckDto>,
}

#[derive(Serialize, ToSchema)]
pub struct DeviceDto {
    pub friendly_name: String,
    pub ieee_address: Option<String>,
    pub model: Option<String>,
    pub vendor: Option<String>,
    pub is_lock: bool,
    pub has_pin: bool,
    /// online | offline | unknown
    pub availability: String,
    /// locked | unlocked | not_fully_locked | unknown
    pub lock_state: String,
    pub door_state: String,
    pub battery: Option<i64>,
    pub linkquality: Option<i64>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_seen: Option<Timestamp>,
    /// The door this lock is paired with; absent for unassigned devices.
    pub door_id: Option<i64>,
    pub sensor_id: Option<i64>,
    /// For a paired lock: the settings it should hold (from the property's policy and the
    /// door's mode; auto-relock is 0 in passage mode) and the ones it last reported.
    pub settings: Option<LockSettingsDto>,
}

/// A paired lock's settings, desired and as reported.
#[derive(Serialize, ToSchema)]
pub struct LockSettingsDto {
    pub desired: LockSettingValuesDto,
    /// A value the lock has not reported yet is null.
    pub reported: LockSettingValuesDto,
    /// Whether the lock reported every desired value.
    pub in_step: bool,
}

/// Auto-relock time, wrong-code limit and keypad disable time of a lock.
#[derive(Serialize, ToSchema)]
pub struct LockSettingValuesDto {
    /// Seconds after which the lock relocks itself (0 = never).
    pub auto_relock_seconds: Option<i64>,
    /// Wrong codes in a row before the lock disables its keypad.
    pub wrong_code_limit: Option<i64>,
    /// Seconds the keypad stays disabled after the limit (at most 255 on the lock).
    pub keypad_disable_seconds: Option<i64>,
}

impl From<latchkey_app::store::devices::LockSettings> for LockSettingValuesDto {
    fn from(s: latchkey_app::store::devices::LockSettings) -> Self {
        LockSettingValuesDto {
            auto_relock_seconds: s.auto_relock_seconds,
            wrong_code_limit: s.wrong_code_limit,
            keypad_disable_seconds: s.keypad_disable_seconds,
        }
    }
}

impl From<latchkey_app::devices::DeviceView> for DeviceDto {
    fn from(v: latchkey_app::devices::DeviceView) -> Self {
        let d = v.device;
        DeviceDto {
            friendly_name: d.friendly_name,
            ieee_address: d.ieee_address,
            model: d.model,
            vendor: d.vendor,
            is_lock: d.is_lock,
            has_pin: d.has_pin,
            availability: d.availability,
            lock_state: d.lock_state,
            door_state: d.door_state,
            battery: d.battery,
            linkquality: d.linkquality,
            last_seen: d.last_seen,
            door_id: v.door_id.map(|x| x.0),
            sensor_id: v.sensor_id.map(|x| x.0),
            settings: v.settings.map(|s| LockSettingsDto {
                in_step: s.in_step(),
                desired: s.desired.into(),
                reported: s.reported.into(),
            }),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CommandDto {
    pub id: i64,
    pub door_id: i64,
    /// lock | unlock
    pub action: String,
    pub requested_by: Option<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub requested_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub deadline_at: Timestamp,
    /// `sent` (in flight: the lock has not answered yet), `confirmed` (the lock reported the
    /// position asked for), `failed` (the lock reported a failure such as a jam, or the command
    /// could not be delivered; `detail` gives the lock's reason) or `unconfirmed` (no answer by
    /// the deadline; a later report still confirms it while no newer command was sent to the
    /// door).
    pub status: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub completed_at: Option<Timestamp>,
    pub detail: Option<String>,
}

impl CommandDto {
    /// The HTTP status that answers a request that sent this command: 200 once the lock
    /// confirmed it, 409 once the lock reported a failure (the door is not as asked), 202 while
    /// the outcome is not known.
    pub fn http_status(&self) -> axum::http::StatusCode {
        match self.status.as_str() {
            "confirmed" => axum::http::StatusCode::OK,
            "failed" => axum::http::StatusCode::CONFLICT,
            _ => axum::http::StatusCode::ACCEPTED,
        }
    }
}

impl From<latchkey_app::store::devices::LockCommand> for CommandDto {
    fn from(c: latchkey_app::store::devices::LockCommand) -> Self {
        CommandDto {
            id: c.id,
            door_id: c.door_id.0,
            action: c.action,
            requested_by: c.requested_by.map(|p| p.0),
            requested_at: c.requested_at,
            deadline_at: c.deadline_at,
            status: c.status,
            completed_at: c.completed_at,
            detail: c.detail,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LockStatusDto {
    pub door_id: i64,
    pub lock: Option<String>,
    /// pending | set (the lock showed it holds the code) | assumed (the lock took the code but
    /// cannot show which code a slot holds; never reported as set) | failed | removing | removed |
    /// probing | unmanaged | no_lock | not_on_locks
    pub status: String,
    pub slot: Option<i64>,
    pub reason: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<Timestamp>,
}

impl From<latchkey_app::devices::LockStatus> for LockStatusDto {
    fn from(s: latchkey_app::devices::LockStatus) -> Self {
        LockStatusDto {
            door_id: s.door_id.0,
            lock: s.lock,
            status: s.status,
            slot: s.slot,
            reason: s.reason,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SlotDto {
    pub slot: i64,
    pub credential_id: Option<i64>,
    /// enabled | disabled | non_access | empty
    pub desired: String,
    /// pending | set | assumed (taken by a lock that cannot show its codes) | failed | removing |
    /// removed | probing (read before a write) | unmanaged (a code latchkey does not know)
    pub status: String,
    pub reason: Option<String>,
    pub attempts: i64,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<latchkey_app::store::devices::Slot> for SlotDto {
    fn from(s: latchkey_app::store::devices::Slot) -> Self {
        SlotDto {
            slot: s.slot,
            credential_id: s.credential_id.map(|c| c.0),
            desired: s.desired.as_str().to_owned(),
            status: s.status.as_str().to_owned(),
            reason: s.reason,
            attempts: s.attempts,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RemovalDto {
    pub credential_id: i64,
    pub door_id: i64,
    pub slot: Option<i64>,
    /// removed (the lock confirmed it) | removing | failed | pending | not_on_locks
    pub status: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub confirmed_at: Option<Timestamp>,
}

impl From<latchkey_app::devices::Removal> for RemovalDto {
    fn from(r: latchkey_app::devices::Removal) -> Self {
        RemovalDto {
            credential_id: r.credential_id.0,
            door_id: r.door_id.0,
            slot: r.slot,
            status: r.status,
            confirmed_at: r.confirmed_at,
        }
    }
}

/// A new invitation link: shown once, to the staff member who made it.
#[derive(Serialize, ToSchema)]
pub struct InvitationDto {
    pub id: i64,
    pub person_id: i64,
    /// Open it in a browser to set a first password; single use. The only copy: latchkey
    /// stores a digest of its token.
    pub link: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}
