//! The access decision (docs/ARCHITECTURE.md): one pure, deterministic function from a credential, a
//! door, an instant and the door's mode to granted or denied-with-a-reason.
//!
//! # Order of the rules
//!
//! The rules are checked in this order and the first one that fails is the reason, so a
//! reason never reveals more than the earlier rules allow (a revoked credential is reported as
//! revoked, not as "outside schedule"):
//!
//! 1. no credential → [`DenyReason::UnknownCredential`]
//! 2. status revoked → [`DenyReason::Revoked`]; frozen → [`DenyReason::Frozen`]
//! 3. a physical-key record → [`DenyReason::PhysicalKeyOnly`] (never decided electronically)
//! 4. the credential is presented the wrong way (a PIN over RFID…) → [`DenyReason::WrongMethod`]
//! 5. the door is not one of the credential's doors → [`DenyReason::NotForThisDoor`]; a unit's
//!    own door and a holder in a property-wide role (installer, manager, locksmith) →
//!    [`DenyReason::StaffOnUnitDoor`]: staff reach a unit only through an entry notice or an
//!    audited emergency, never with a credential, whatever the door's mode and even if an old
//!    credential still lists the door
//! 6. the holder's membership `[from, until)` → [`DenyReason::MembershipNotStarted`] /
//!    [`DenyReason::MembershipEnded`]
//! 7. the schedule → [`DenyReason::NotYetValid`] / [`DenyReason::Expired`] /
//!    [`DenyReason::OutsideSchedule`]
//! 8. `uses >= max_uses` → [`DenyReason::UsesExhausted`]
//! 9. the door's mode: privacy admits only an emergency override by staff (installer or
//!    manager) → [`DenyReason::PrivacyMode`]; vacation admits only the household (residents and
//!    household members): guests, trusted contacts and staff → [`DenyReason::VacationMode`];
//!    no-remote refuses remote requests except an emergency override by staff →
//!    [`DenyReason::RemoteDisabled`] (a remote *lock* is not refused: locking never lets
//!    anyone in); normal and passage add nothing
//! 10. a keypad request while the keypad is disabled after wrong codes →
//!     [`DenyReason::KeypadDisabled`]
//!
//! A grant carries the credential's `duress` flag so the caller raises the silent alarm.

use crate::ids::{CredentialId, DoorId};
use crate::model::{CredentialKind, CredentialStatus, DoorMode, Method, Role};
use crate::schedule::{CompiledSchedule, ScheduleCheck};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Everything about one credential that the decision needs, loaded once and kept in memory.
#[derive(Clone, Debug)]
pub struct CredentialRule {
    pub id: CredentialId,
    pub kind: CredentialKind,
    pub status: CredentialStatus,
    /// The holder's role for the unit or property of this credential.
    pub holder_role: Role,
    /// Membership validity `[from, until)`; `None` is unbounded on that side.
    pub holder_from: Option<Timestamp>,
    pub holder_until: Option<Timestamp>,
    /// Sorted and deduplicated: the decision binary-searches it.
    pub doors: Vec<DoorId>,
    pub schedule: CompiledSchedule,
    pub max_uses: Option<u32>,
    pub uses: u32,
    pub duress: bool,
}

/// The door being opened, as it is right now.
#[derive(Clone, Debug)]
pub struct DoorContext {
    pub id: DoorId,
    pub mode: DoorMode,
    /// A unit's own door (its entry), which no credential held in a property-wide role opens.
    pub unit_entry: bool,
    /// Set by the lock after too many wrong codes.
    pub keypad_disabled_until: Option<Timestamp>,
}

/// One attempt to open a door.
pub struct AccessRequest<'a> {
    /// `None` when the presented code, card or key matches no credential.
    pub credential: Option<&'a CredentialRule>,
    pub method: Method,
    pub door: &'a DoorContext,
    pub at: Timestamp,
    /// The property's time zone, the one the credential's schedule was compiled for.
    pub tz: &'a TimeZone,
    /// An audited emergency opening; only counts for staff (installer or manager).
    pub emergency_override: bool,
}

/// The outcome of [`decide`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Granted { duress: bool },
    Denied { reason: DenyReason },
}

impl Decision {
    pub fn is_granted(&self) -> bool {
        matches!(self, Decision::Granted { .. })
    }
}

/// Why access was denied. The names are stable: they are stored in the event log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    UnknownCredential,
    Revoked,
    Frozen,
    WrongMethod,
    PhysicalKeyOnly,
    NotForThisDoor,
    StaffOnUnitDoor,
    MembershipNotStarted,
    MembershipEnded,
    NotYetValid,
    Expired,
    OutsideSchedule,
    UsesExhausted,
    PrivacyMode,
    VacationMode,
    RemoteDisabled,
    KeypadDisabled,
}

impl DenyReason {
    /// Every reason, in the order the rules are checked.
    pub const ALL: &'static [DenyReason] = &[
        DenyReason::UnknownCredential,
        DenyReason::Revoked,
        DenyReason::Frozen,
        DenyReason::PhysicalKeyOnly,
        DenyReason::WrongMethod,
        DenyReason::NotForThisDoor,
        DenyReason::StaffOnUnitDoor,
        DenyReason::MembershipNotStarted,
        DenyReason::MembershipEnded,
        DenyReason::NotYetValid,
        DenyReason::Expired,
        DenyReason::OutsideSchedule,
        DenyReason::UsesExhausted,
        DenyReason::PrivacyMode,
        DenyReason::VacationMode,
        DenyReason::RemoteDisabled,
        DenyReason::KeypadDisabled,
    ];

    /// The stable snake_case name, as in JSON and the event log.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::UnknownCredential => "unknown_credential",
            DenyReason::Revoked => "revoked",
            DenyReason::Frozen => "frozen",
            DenyReason::WrongMethod => "wrong_method",
            DenyReason::PhysicalKeyOnly => "physical_key_only",
            DenyReason::NotForThisDoor => "not_for_this_door",
            DenyReason::StaffOnUnitDoor => "staff_on_unit_door",
            DenyReason::MembershipNotStarted => "membership_not_started",
            DenyReason::MembershipEnded => "membership_ended",
            DenyReason::NotYetValid => "not_yet_valid",
            DenyReason::Expired => "expired",
            DenyReason::OutsideSchedule => "outside_schedule",
            DenyReason::UsesExhausted => "uses_exhausted",
            DenyReason::PrivacyMode => "privacy_mode",
            DenyReason::VacationMode => "vacation_mode",
            DenyReason::RemoteDisabled => "remote_disabled",
            DenyReason::KeypadDisabled => "keypad_disabled",
        }
    }

    /// A sentence for the person at the door or reading the log.
    pub fn message(self) -> &'static str {
        match self {
            DenyReason::UnknownCredential => "this code, card or key is not known here",
            DenyReason::Revoked => "this credential has been revoked and no longer opens any door",
            DenyReason::Frozen => {
                "this credential is frozen (reported lost); ask a household member to unfreeze it"
            }
            DenyReason::WrongMethod => {
                "this credential cannot be used this way (for example a PIN presented as a card)"
            }
            DenyReason::PhysicalKeyOnly => {
                "a physical key record cannot open a door electronically; use the key itself"
            }
            DenyReason::NotForThisDoor => "this credential does not open this door",
            DenyReason::StaffOnUnitDoor => {
                "staff credentials do not open a unit's own door: staff enter under an entry notice told to the household in advance, or as an audited emergency"
            }
            DenyReason::MembershipNotStarted => {
                "the holder's access to this property has not started yet"
            }
            DenyReason::MembershipEnded => "the holder's access to this property has ended",
            DenyReason::NotYetValid => "this credential is not valid yet; it starts later",
            DenyReason::Expired => "this credential has expired",
            DenyReason::OutsideSchedule => {
                "this credential is not valid at this time of the week; try again within its schedule"
            }
            DenyReason::UsesExhausted => "this credential has been used as many times as allowed",
            DenyReason::PrivacyMode => {
                "the door is in privacy mode: someone inside asked not to be disturbed"
            }
            DenyReason::VacationMode => {
                "the door is in vacation mode: only the unit's household can open it"
            }
            DenyReason::RemoteDisabled => {
                "remote opening is turned off for this door; use a PIN, card or key"
            }
            DenyReason::KeypadDisabled => {
                "the keypad is disabled after too many wrong codes; try again later"
            }
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decides one access request. Pure and allocation-free; see the module documentation for
/// the order of the rules.
pub fn decide(req: &AccessRequest<'_>) -> Decision {
    match check(req) {
        Ok(duress) => Decision::Granted { duress },
        Err(reason) => Decision::Denied { reason },
    }
}

fn check(req: &AccessRequest<'_>) -> Result<bool, DenyReason> {
    let cred = req.credential.ok_or(DenyReason::UnknownCredential)?;
    match cred.status {
        CredentialStatus::Active => {}
        CredentialStatus::Revoked => return Err(DenyReason::Revoked),
        CredentialStatus::Frozen => return Err(DenyReason::Frozen),
    }
    if cred.kind == CredentialKind::PhysicalKey {
        return Err(DenyReason::PhysicalKeyOnly);
    }
    if cred.kind.method() != req.method {
        return Err(DenyReason::WrongMethod);
    }
    if cred.doors.binary_search(&req.door.id).is_err() {
        return Err(DenyReason::NotForThisDoor);
    }
    if req.door.unit_entry && cred.holder_role.is_property_wide() {
        return Err(DenyReason::StaffOnUnitDoor);
    }
    if cred.holder_from.is_some_and(|from| req.at < from) {
        return Err(DenyReason::MembershipNotStarted);
    }
    if cred.holder_until.is_some_and(|until| req.at >= until) {
        return Err(DenyReason::MembershipEnded);
    }
    match cred.schedule.check(req.at, req.tz) {
        ScheduleCheck::Inside => {}
        ScheduleCheck::NotYetValid => return Err(DenyReason::NotYetValid),
        ScheduleCheck::Expired => return Err(DenyReason::Expired),
        ScheduleCheck::OutsideWindow => return Err(DenyReason::OutsideSchedule),
    }
    if cred.max_uses.is_some_and(|max| cred.uses >= max) {
        return Err(DenyReason::UsesExhausted);
    }
    let staff_override = req.emergency_override && cred.holder_role.is_staff();
    match req.door.mode {
        DoorMode::Normal | DoorMode::Passage => {}
        DoorMode::Privacy => {
            if !staff_override {
                return Err(DenyReason::PrivacyMode);
            }
        }
        DoorMode::Vacation => {
            if !cred.holder_role.is_household() {
                return Err(DenyReason::VacationMode);
            }
        }
        DoorMode::NoRemote => {
            if req.method == Method::Remote && !staff_override {
                return Err(DenyReason::RemoteDisabled);
            }
        }
    }
    if req.method == Method::Keypad
        && req
            .door
            .keypad_disabled_until
            .is_some_and(|until| until > req.at)
    {
        return Err(DenyReason::KeypadDisabled);
    }
    Ok(cred.duress)
}

#[cfg(test)]
mod tests;
