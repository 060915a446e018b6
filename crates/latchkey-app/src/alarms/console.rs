//! The alarms staff see on the console (docs/ARCHITECTURE.md, decisions 65 and 66): each alarm
//! is recorded in the transaction of the event that raised it, with its severity, and joins
//! the storm of its kind at its property when there is one; staff of the property list them
//! and acknowledge a group at a time, with a note.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use latchkey_core::{DoorId, PropertyId};
use latchkey_store::Conn;
use latchkey_store::alarm_records::{self as repo, NewAlarm};
use latchkey_store::audit::NewEvent;
use latchkey_store::records::Property;
use serde_json::json;

use super::{alarm_of, is_security_alarm};
use crate::authz::{AtProperty, Principal, Staff, StaffOn};
use crate::directory::load_property;
use crate::{App, AppError, Result};

pub use latchkey_store::alarm_records::Alarm;

/// An alarm joins the group of the newest open alarm of its kind at its property raised at
/// most this long before it (decision 66).
pub const STORM_WINDOW: SignedDuration = SignedDuration::from_secs(60);
/// Groups listed at most.
pub const GROUPS_SHOWN: i64 = 200;
/// The longest note an acknowledgement takes, in characters.
pub const NOTE_MAX: usize = 500;

/// How urgent an alarm is (decision 65).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The severity of an alarm of `kind`: someone at the door who should not be is
    /// critical; a door that cannot be used or reached, or someone trying codes, is high; a
    /// door left open or unlocked is medium; a battery to replace is low.
    pub fn of(kind: &str) -> Severity {
        match kind {
            k if is_security_alarm(k) => Severity::Critical,
            "door_ajar" | "left_unlocked" => Severity::Medium,
            "low_battery" => Severity::Low,
            _ => Severity::High,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Severity {
        match s {
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "critical" => Severity::Critical,
            _ => Severity::High,
        }
    }
}

/// Which alarms a list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlarmFilter {
    /// Groups with an alarm nobody acknowledged yet and that has not cleared.
    Open,
    /// Every group, newest first.
    All,
}

/// One item of the feed: a lone alarm, or a storm of alarms of one kind at one property.
#[derive(Clone, Debug)]
pub struct AlarmGroup {
    /// The id of its first alarm.
    pub id: i64,
    pub kind: String,
    pub severity: Severity,
    /// Oldest first.
    pub alarms: Vec<Alarm>,
    pub first_at: Timestamp,
    pub last_at: Timestamp,
    pub open: usize,
    pub acknowledged: usize,
    pub cleared: usize,
}

/// The property's alarms as the console lists them.
#[derive(Clone, Debug)]
pub struct AlarmsView {
    pub property: Property,
    /// Newest first.
    pub groups: Vec<AlarmGroup>,
    /// When an alarm not shown yet (an offline lock in its grace) is due.
    pub next_due: Option<Timestamp>,
}

impl AtProperty for Alarm {
    fn property_id(&self) -> PropertyId {
        self.property_id
    }
}

fn group(alarms: Vec<Alarm>) -> Option<AlarmGroup> {
    let first = alarms.first()?;
    let count = |s: &str| alarms.iter().filter(|a| a.state == s).count();
    Some(AlarmGroup {
        id: first.group_id,
        kind: first.kind.clone(),
        severity: Severity::parse(&first.severity),
        first_at: alarms.iter().map(|a| a.at).min().unwrap_or(first.at),
        last_at: alarms.iter().map(|a| a.at).max().unwrap_or(first.at),
        open: count("open"),
        acknowledged: count("acknowledged"),
        cleared: count("cleared"),
        alarms,
    })
}

/// The note of an acknowledgement: trimmed, at most [`NOTE_MAX`] characters, no control
/// characters but line breaks and tabs; empty is none.
///
/// # Errors
/// `Invalid` (field `note`) otherwise.
pub fn check_note(note: Option<&str>) -> Result<Option<&str>> {
    let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if note.chars().count() > NOTE_MAX {
        return Err(AppError::invalid(
            "note",
            format!("a note has at most {NOTE_MAX} characters"),
        ));
    }
    if note
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::invalid(
            "note",
            "a note cannot hold control characters",
        ));
    }
    Ok(Some(note))
}

impl App {
    /// Records, inside the caller's transaction, each alarm among `events` (decision 65), in
    /// the storm of its kind at its property when one is open (decision 66).
    ///
    /// # Errors
    /// `Store` when the database fails; the caller's transaction must then not commit.
    pub(crate) async fn record_alarms(
        &self,
        conn: &mut Conn,
        events: &[NewEvent],
        at: Timestamp,
    ) -> Result<()> {
        let grace = self.config().alarms.offline_grace;
        let mut storms: HashMap<(PropertyId, String), i64> = HashMap::new();
        for ev in events {
            let Some((kind, door, property)) = alarm_of(ev) else {
                continue;
            };
            let key = (property, kind.clone());
            let storm = match storms.get(&key) {
                Some(g) => Some(*g),
                None => {
                    let since = at.checked_sub(STORM_WINDOW).unwrap_or(at);
                    repo::storm_of(conn, property, &kind, since).await?
                }
            };
            let due_at = if kind == "offline" {
                at.checked_add(grace).unwrap_or(at)
            } else {
                at
            };
            let alarm = NewAlarm {
                property_id: property,
                door_id: door,
                severity: Severity::of(&kind).as_str().to_owned(),
                kind,
                at,
                due_at,
            };
            let g = repo::insert(conn, &alarm, storm).await?;
            storms.insert(key, g);
        }
        Ok(())
    }

    /// A lock was heard again, inside the caller's transaction: its offline alarms in their
    /// grace are deleted, the others are cleared ("back online").
    ///
    /// # Errors
    /// `Store` when the database fails.
    pub(crate) async fn clear_offline_alarms(
        &self,
        conn: &mut Conn,
        door: DoorId,
        now: Timestamp,
    ) -> Result<()> {
        let (gone, cleared) = repo::back_online(conn, door, now).await?;
        if gone + cleared > 0 {
            tracing::debug!(%door, gone, cleared, "a lock is back online");
        }
        Ok(())
    }

    /// The property's alarms, newest group first (at most [`GROUPS_SHOWN`]): staff only.
    ///
    /// # Errors
    /// Only storage failures (the capability is the check).
    pub async fn alarms(&self, staff: Staff<'_>, filter: AlarmFilter) -> Result<AlarmsView> {
        let p = staff.property();
        let now = self.now();
        let mut conn = self.store().read().await?;
        let property = load_property(&mut conn, p).await?;
        let rows = repo::list(&mut conn, p, filter == AlarmFilter::Open, now, GROUPS_SHOWN).await?;
        let next_due = repo::next_due(&mut conn, p, now).await?;
        let mut by: HashMap<i64, Vec<Alarm>> = HashMap::new();
        for a in rows {
            by.entry(a.group_id).or_default().push(a);
        }
        let mut groups: Vec<AlarmGroup> = by.into_values().filter_map(group).collect();
        groups.sort_by(|a, b| b.last_at.cmp(&a.last_at).then(b.id.cmp(&a.id)));
        Ok(AlarmsView {
            property,
            groups,
            next_due,
        })
    }

    /// Loads alarm group `group` (the id of its first alarm) and checks that the caller is
    /// staff of its property.
    ///
    /// # Errors
    /// `NotFound` for a group that does not exist (or is not shown yet) and for a caller of
    /// no standing at its property; `Forbidden` for its residents and guests.
    pub async fn may_acknowledge_alarms<'a>(
        &self,
        who: &'a Principal,
        group: i64,
    ) -> Result<StaffOn<'a, Alarm>> {
        let mut conn = self.store().read().await?;
        let alarm = repo::group_sample(&mut conn, group, self.now())
            .await?
            .ok_or_else(|| AppError::not_found("alarm"))?;
        who.staff_on(alarm)
    }

    /// Acknowledges every open alarm of the group the capability carries, with who, when and
    /// the note, audited as `alarm.acknowledged`. Returns how many alarms it acknowledged.
    ///
    /// # Errors
    /// `Invalid` for a bad note (see [`check_note`]); `Conflict` when none of the group's
    /// alarms is open (acknowledged already, or cleared). Nothing changes then.
    pub async fn acknowledge_alarms(
        &self,
        staff: StaffOn<'_, Alarm>,
        note: Option<&str>,
    ) -> Result<u64> {
        let note = check_note(note)?;
        let who = staff.principal();
        let a = staff.record();
        let now = self.now();
        let mut tx = self.store().write().await?;
        let n = repo::acknowledge(tx.conn(), a.group_id, who.id(), now, note).await?;
        if n == 0 {
            return Err(AppError::Conflict(
                "these alarms were already acknowledged or have cleared".into(),
            ));
        }
        let ev = NewEvent::new("alarm.acknowledged", format!("alarm:{}", a.group_id))
            .property(a.property_id)
            .actor(Some(who.id()))
            .data(json!({ "alarm": a.kind, "alarms": n, "note": note }));
        self.commit_at(tx, vec![ev], now).await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_alarms_are_critical_jams_and_offline_high_doors_medium_batteries_low() {
        assert_eq!(Severity::of("forced_entry"), Severity::Critical);
        assert_eq!(
            Severity::of("tamper_alarm_front_escutcheon"),
            Severity::Critical
        );
        assert_eq!(Severity::of("duress"), Severity::Critical);
        assert_eq!(Severity::of("jammed"), Severity::High);
        assert_eq!(Severity::of("offline"), Severity::High);
        assert_eq!(Severity::of("wrong_code_limit"), Severity::High);
        assert_eq!(Severity::of("door_ajar"), Severity::Medium);
        assert_eq!(Severity::of("left_unlocked"), Severity::Medium);
        assert_eq!(Severity::of("low_battery"), Severity::Low);
        for s in [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ] {
            assert_eq!(Severity::parse(s.as_str()), s);
        }
    }

    #[test]
    fn a_note_is_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(check_note(None).ok(), Some(None));
        assert_eq!(check_note(Some("  ")).ok(), Some(None));
        assert_eq!(
            check_note(Some(" Called the locksmith\n")).ok(),
            Some(Some("Called the locksmith"))
        );
        assert!(check_note(Some(&"x".repeat(NOTE_MAX))).is_ok());
        assert!(check_note(Some(&"x".repeat(NOTE_MAX + 1))).is_err());
        assert!(check_note(Some("bell\u{7}")).is_err());
    }
}
