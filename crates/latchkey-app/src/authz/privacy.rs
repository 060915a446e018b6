//! Who may read a household's comings and goings (docs/ARCHITECTURE.md, "Authorization",
//! decision 40).
//!
//! The rule, in order:
//!
//! 1. An event is *personal* when its kind is one of [`PERSONAL_KINDS`] (someone opened, closed,
//!    locked or unlocked a door, typed a code, or sent a remote command) and it is about a door
//!    of a unit or a sensor on one. Shared doors (no unit) are never personal; security events
//!    (alarms, jams, forced entry, wrong-code limits, tamper, offline, battery) are other kinds
//!    and so never personal either.
//! 2. The household (residents, household members, guests of the unit) reads its own doors'
//!    personal events; so does the person who did it.
//! 3. Staff read every other event of their properties, but a personal event only through an
//!    [`ActivityRead`]: a reason tied to an open lockout case, incident, alarm or entry notice
//!    of that unit. The app records each such read as a `privacy.activity_viewed` event about
//!    the unit, which the household reads.
//!
//! Everything here is pure: the app loads the reason's record, this module decides.

use jiff::{SignedDuration, Timestamp};
use latchkey_core::{PropertyId, UnitId};
use latchkey_store::entry::EntryNotice;
use latchkey_store::lockout::LockoutCase;
use latchkey_store::records::{Door, Event, Membership, Person};
use latchkey_store::resolution::Incident;

use super::Principal;
use crate::{AppError, Result};

/// Kinds that record a person's movement at a door. On a unit's door they are the household's.
pub const PERSONAL_KINDS: &[&str] = &[
    "access.checked",
    "access.denied",
    "access.granted",
    "access.presence_code",
    "door.closed",
    "door.opened",
    "lock.command",
    "lock.command_confirmed",
    "lock.command_refused",
    "lock.command_unconfirmed",
    "lock.locked",
    "lock.operated",
    "lock.unlocked",
    "sensor.closed",
    "sensor.opened",
];

/// How long after a lock alarm staff may read the unit's door activity for it.
pub const ALARM_REASON: SignedDuration = SignedDuration::from_hours(24);

/// How long after an entry notice's window ends staff may still read the door activity for it
/// (to answer "did anyone come in while we were there").
pub const NOTICE_REASON: SignedDuration = SignedDuration::from_hours(24);

/// The kind of a personal event that records a reasoned read by staff.
pub const VIEWED_KIND: &str = "privacy.activity_viewed";

/// Whether `kind` records a person's movement (rule 1, before asking which door).
pub fn is_personal_kind(kind: &str) -> bool {
    PERSONAL_KINDS.contains(&kind)
}

/// Whether `e` is personal: a personal kind about one of `private` (the subjects, `door:N` or
/// `sensor:N`, of units' doors and their sensors).
pub fn is_personal(e: &Event, private: &std::collections::BTreeSet<String>) -> bool {
    is_personal_kind(&e.kind) && private.contains(&e.subject)
}

/// A loaded record that staff name as the reason to read a unit's door activity.
pub enum Reason<'a> {
    Case(&'a LockoutCase),
    Incident {
        incident: &'a Incident,
        /// The incident's door, as loaded.
        door: &'a Door,
    },
    /// A `lock.alarm` event and its door.
    Alarm {
        event: &'a Event,
        door: &'a Door,
    },
    Notice(&'a EntryNotice),
}

impl Reason<'_> {
    /// How the reason is named to the household: `case 42`, `incident 7`, `alarm 1234`,
    /// `entry notice 3`.
    fn name(&self) -> (&'static str, i64) {
        match self {
            Reason::Case(c) => ("case", c.id.0),
            Reason::Incident { incident, .. } => ("incident", incident.id),
            Reason::Alarm { event, .. } => ("alarm", event.seq),
            Reason::Notice(n) => ("entry_notice", n.id),
        }
    }

    fn property_and_unit(&self) -> (Option<PropertyId>, Option<UnitId>) {
        match self {
            Reason::Case(c) => (c.property_id, c.unit_id),
            Reason::Incident { door, .. } | Reason::Alarm { door, .. } => {
                (Some(door.property_id), door.unit_id)
            }
            Reason::Notice(n) => (Some(n.property_id), Some(n.unit_id)),
        }
    }

    /// Why the reason no longer holds at `at`, `None` while it is open.
    fn closed(&self, at: Timestamp) -> Option<String> {
        let (kind, id) = self.name();
        match self {
            Reason::Case(c) if !matches!(c.state.as_str(), "open" | "proven") => Some(format!(
                "{kind} {id} is {}: only an open case is a reason to read a unit's door activity",
                c.state
            )),
            Reason::Incident { incident, .. } if incident.closed_at.is_some() => Some(format!(
                "{kind} {id} is closed: only an open incident is a reason to read a unit's door activity"
            )),
            Reason::Alarm { event, .. } if event.kind != "lock.alarm" => {
                Some(format!("event {id} is not a lock alarm"))
            }
            Reason::Alarm { event, .. } if at.duration_since(event.at) > ALARM_REASON => {
                Some(format!(
                    "alarm {id} is older than {} hours: it is no longer a reason to read the unit's door activity",
                    ALARM_REASON.as_hours()
                ))
            }
            Reason::Notice(n) if n.cancelled_at.is_some() => Some(format!(
                "{kind} {id} was cancelled: it is no reason to read the unit's door activity"
            )),
            Reason::Notice(n) if at.duration_since(n.window_until) > NOTICE_REASON => {
                Some(format!(
                    "{kind} {id} ended more than {} hours ago: it is no longer a reason to read the unit's door activity",
                    NOTICE_REASON.as_hours()
                ))
            }
            _ => None,
        }
    }
}

impl Principal {
    /// Proof that staff may read the personal door activity of one unit, for `reason`: staff of
    /// the reason's property, and the reason open and about a unit.
    ///
    /// # Errors
    /// As [`Principal::staff`] (`NotFound` for outsiders, `Forbidden` for residents);
    /// `Invalid("reason")` when the reason is closed, too old, or not about a unit.
    pub fn activity_reader<'a>(&'a self, reason: &Reason<'_>) -> Result<ActivityRead<'a>> {
        let (property, unit) = reason.property_and_unit();
        let Some(property) = property else {
            return Err(AppError::not_found("reason"));
        };
        self.staff(property)?;
        let (kind, id) = reason.name();
        if let Reason::Alarm { event, door } = reason
            && event.subject != format!("door:{}", door.id)
        {
            return Err(AppError::invalid(
                "reason",
                format!("alarm {id} is not about a door"),
            ));
        }
        if let Reason::Incident { incident, door } = reason
            && incident.door_id != door.id
        {
            return Err(AppError::invalid(
                "reason",
                format!("incident {id} is about another door"),
            ));
        }
        if let Some(why) = reason.closed(self.at()) {
            return Err(AppError::invalid("reason", why));
        }
        let Some(unit) = unit else {
            return Err(AppError::invalid(
                "reason",
                format!("{kind} {id} is not about a unit, so it opens no unit's door activity"),
            ));
        };
        Ok(ActivityRead {
            principal: self,
            property,
            unit,
            reason: kind,
            reason_id: id,
        })
    }
}

/// Proof that the caller, staff of the unit's property, has an open reason to read the unit's
/// personal door activity. Reading with it is recorded for the household to see.
pub struct ActivityRead<'a> {
    principal: &'a Principal,
    property: PropertyId,
    unit: UnitId,
    reason: &'static str,
    reason_id: i64,
}

impl ActivityRead<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    pub fn property(&self) -> PropertyId {
        self.property
    }
    pub fn unit(&self) -> UnitId {
        self.unit
    }
    /// `case`, `incident`, `alarm` or `entry_notice`.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
    pub fn reason_id(&self) -> i64 {
        self.reason_id
    }
}

impl Principal {
    /// Proof that the caller may erase `person`, who moved out: staff of every property the
    /// person belonged to (an admin for someone who never belonged anywhere), every membership
    /// ended, and neither an admin nor the caller.
    ///
    /// # Errors
    /// As [`Principal::staff`] at each of the person's properties; `Forbidden` for an admin or
    /// oneself; `Conflict` while a membership is in force or still to come.
    pub fn person_eraser(
        &self,
        person: Person,
        memberships: &[Membership],
    ) -> Result<PersonEraser<'_>> {
        if memberships.is_empty() {
            self.admin()?;
        }
        for m in memberships {
            self.staff(m.property_id)?;
        }
        if person.is_admin {
            return Err(AppError::forbidden(
                "an admin cannot be erased; take away their admin rights first",
            ));
        }
        if person.id == self.id() {
            return Err(AppError::forbidden("you cannot erase yourself"));
        }
        if let Some(m) = memberships
            .iter()
            .find(|m| m.valid_until.is_none_or(|u| u > self.at()))
        {
            return Err(AppError::Conflict(format!(
                "{} has not moved out: membership {} is in force or still to come; end it first",
                person.name, m.id
            )));
        }
        Ok(PersonEraser {
            principal: self,
            person,
        })
    }
}

/// Proof that the caller may erase one person who moved out; it carries that person.
pub struct PersonEraser<'a> {
    principal: &'a Principal,
    person: Person,
}

impl PersonEraser<'_> {
    pub fn principal(&self) -> &Principal {
        self.principal
    }
    /// The person as loaded for the check.
    pub fn person(&self) -> &Person {
        &self.person
    }
}
