//! Alarms told to the people who run the building (docs/ARCHITECTURE.md, decisions 61–62), and
//! recorded for the console's Alarms page ([`console`], decisions 65–66).
//!
//! Who is told: everyone whose membership at the alarm's property is a staff role (installer
//! or manager) in force at the alarm's instant. What: every `lock.alarm` (forced entry, tamper,
//! wrong-code limit, low battery, offline, door ajar, left unlocked, duress, unexpected opening,
//! unknown code) and every `lock.jammed`. How, step by step:
//!
//! 1. **Queue** ([`App::queue_alarm_notices`]): in the transaction of the event that raised the
//!    alarm, one notice per alarm and staff member. A notice is due at once, except that an
//!    `offline` one is due at the end of the grace ([`AlarmConfig::offline_grace`]); a lock heard
//!    again within the grace deletes its notice ([`App::cancel_offline_notices`]).
//! 2. **Hold** ([`digest_due`]): a person's due notices wait a window
//!    ([`AlarmConfig::window`]) from the first of them, so a storm arrives whole; a security
//!    alarm (forced entry, tamper, duress, unexpected opening) does not wait.
//! 3. **Bound**: a person gets at most one digest per window, whatever is pending; what comes
//!    later waits for the next window.
//! 4. **Compose** ([`digest`]): the outbox worker takes the person's window and deletes their
//!    due notices in one transaction, and queues one notification summarising them (a count per
//!    kind and property, the first few doors, the span of time). The outbox then makes one
//!    delivery per channel of it, so a person gets at most one message per channel and window.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use latchkey_core::{DoorId, PersonId, PropertyId};
use latchkey_store::Conn;
use latchkey_store::alarms::{self as repo, AlarmNotice};
use latchkey_store::audit::NewEvent;

use crate::{App, Result};

pub mod console;
pub mod digest;

pub use digest::digest_due;

/// Tunables of the alarm digests.
#[derive(Clone, Debug)]
pub struct AlarmConfig {
    /// How long a person's alarms are held to be told together, and the least time between
    /// two digests to one person (30 s).
    pub window: SignedDuration,
    /// How long a lock may be offline before staff are told (60 s): a blip is not an alarm.
    pub offline_grace: SignedDuration,
}

impl Default for AlarmConfig {
    fn default() -> Self {
        AlarmConfig {
            window: SignedDuration::from_secs(30),
            offline_grace: SignedDuration::from_secs(60),
        }
    }
}

/// Whether an alarm is told without a hold and always goes through (decision 50): someone is
/// at the door who should not be, or someone is forced to open it.
pub fn is_security_alarm(alarm: &str) -> bool {
    matches!(alarm, "forced_entry" | "duress" | "unexpected_opening") || alarm.starts_with("tamper")
}

/// The alarm an event raises for staff, with its door: `lock.alarm` names it, `lock.jammed`
/// is a jam. Other events raise none.
fn alarm_of(ev: &NewEvent) -> Option<(String, Option<DoorId>, PropertyId)> {
    let property = ev.property_id?;
    let alarm = match ev.kind.as_str() {
        "lock.alarm" => ev.data.get("alarm")?.as_str()?.to_owned(),
        "lock.jammed" => "jammed".to_owned(),
        _ => return None,
    };
    let door = ev
        .subject
        .strip_prefix("door:")
        .and_then(|d| d.parse().ok())
        .map(DoorId);
    Some((alarm, door, property))
}

impl App {
    /// Records each alarm among `events` for the console ([`App::record_alarms`]) and queues,
    /// inside the caller's transaction, a notice of it for every staff member of its property
    /// (step 1 of the module documentation).
    ///
    /// # Errors
    /// `Store` when the database fails; the caller's transaction must then not commit.
    pub(crate) async fn queue_alarm_notices(
        &self,
        conn: &mut Conn,
        events: &[NewEvent],
        at: Timestamp,
    ) -> Result<()> {
        self.record_alarms(conn, events, at).await?;
        let grace = self.config().alarms.offline_grace;
        let mut staff: HashMap<PropertyId, Vec<PersonId>> = HashMap::new();
        let mut notices = Vec::new();
        for ev in events {
            let Some((alarm, door, property)) = alarm_of(ev) else {
                continue;
            };
            if let std::collections::hash_map::Entry::Vacant(e) = staff.entry(property) {
                let people = latchkey_store::people::list_memberships(conn, property)
                    .await?
                    .into_iter()
                    .filter(|m| m.role.is_staff() && m.is_active_at(at))
                    .map(|m| m.person_id)
                    .collect::<std::collections::BTreeSet<_>>();
                e.insert(people.into_iter().collect());
            }
            let due_at = if alarm == "offline" {
                at.checked_add(grace).unwrap_or(at)
            } else {
                at
            };
            let security = is_security_alarm(&alarm);
            for person in staff.get(&property).into_iter().flatten() {
                notices.push(AlarmNotice {
                    person_id: *person,
                    property_id: property,
                    door_id: door,
                    alarm: alarm.clone(),
                    security,
                    at,
                    due_at,
                });
            }
        }
        repo::queue(conn, &notices).await?;
        Ok(())
    }

    /// Deletes, inside the caller's transaction, the offline notices of a door whose lock was
    /// heard again within the grace (step 1), and deletes or clears its offline alarms
    /// ([`App::clear_offline_alarms`]).
    ///
    /// # Errors
    /// `Store` when the database fails.
    pub(crate) async fn cancel_offline_notices(
        &self,
        conn: &mut Conn,
        door: DoorId,
        now: Timestamp,
    ) -> Result<()> {
        self.clear_offline_alarms(conn, door, now).await?;
        let gone = repo::cancel_offline(conn, door, now).await?;
        if gone > 0 {
            tracing::debug!(%door, notices = gone, "a lock came back within its grace");
        }
        Ok(())
    }

    /// Alarm notices waiting for `person`, told or not yet due (tests and the bench).
    ///
    /// # Errors
    /// `Store` when the database fails.
    pub async fn alarm_notices_waiting(&self, person: PersonId) -> Result<i64> {
        let mut conn = self.store().read().await?;
        Ok(repo::count_waiting(&mut conn, person).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forced_entry_tamper_and_duress_are_security_alarms_and_offline_is_not() {
        for a in [
            "forced_entry",
            "duress",
            "tamper_alarm_front_escutcheon",
            "unexpected_opening",
        ] {
            assert!(is_security_alarm(a), "{a}");
        }
        for a in [
            "offline",
            "low_battery",
            "jammed",
            "door_ajar",
            "wrong_code_limit",
        ] {
            assert!(!is_security_alarm(a), "{a}");
        }
    }

    #[test]
    fn only_alarms_and_jams_raise_notices_and_personal_data_is_not_taken() {
        let ev = NewEvent::new("lock.alarm", "door:7")
            .property(PropertyId(2))
            .data(json!({ "alarm": "duress", "person_id": 9, "credential_id": 4 }));
        assert_eq!(
            alarm_of(&ev),
            Some(("duress".to_owned(), Some(DoorId(7)), PropertyId(2)))
        );
        let jam = NewEvent::new("lock.jammed", "door:3").property(PropertyId(2));
        assert_eq!(alarm_of(&jam).map(|a| a.0), Some("jammed".to_owned()));
        let open = NewEvent::new("door.opened", "door:3").property(PropertyId(2));
        assert_eq!(alarm_of(&open), None);
    }
}
