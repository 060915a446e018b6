//! Composing a person's alarm digest (steps 2–4 of `alarms/mod.rs`): when one is due, and
//! what it says. A digest names doors, properties, kinds of alarm, counts and times; never a
//! person, a credential or anything an alarm's event carries about them.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use latchkey_core::{DoorId, PersonId, PropertyId};
use latchkey_store::Conn;
use latchkey_store::alarms::{self as repo, AlarmNotice, Waiting};
use latchkey_store::lockout::{self as notes, Notification};
use latchkey_store::property;
use serde_json::json;

use crate::{App, Result};

/// Doors named per kind of alarm; the rest are counted.
pub const DOORS_NAMED: usize = 3;
/// People looked at per pass.
const PEOPLE: i64 = 500;

/// Whether `w`'s digest is due at `now` (steps 2 and 3): never within a window of their last
/// one; at once for a security alarm; otherwise once the first due notice has waited a window.
pub fn digest_due(w: &Waiting, now: Timestamp, window: SignedDuration) -> bool {
    let after = |t: Timestamp| t.checked_add(window).unwrap_or(t);
    if w.last_digest.is_some_and(|l| now < after(l)) {
        return false;
    }
    w.security || now >= after(w.first_due)
}

/// The notices of one kind at one property.
struct Group {
    property: PropertyId,
    alarm: String,
    security: bool,
    count: usize,
    first: Timestamp,
    last: Timestamp,
    doors: Vec<DoorId>,
}

fn groups(notices: &[AlarmNotice]) -> Vec<Group> {
    let mut by: BTreeMap<(PropertyId, String), Group> = BTreeMap::new();
    for n in notices {
        let g = by
            .entry((n.property_id, n.alarm.clone()))
            .or_insert_with(|| Group {
                property: n.property_id,
                alarm: n.alarm.clone(),
                security: n.security,
                count: 0,
                first: n.at,
                last: n.at,
                doors: Vec::new(),
            });
        g.count += 1;
        g.first = g.first.min(n.at);
        g.last = g.last.max(n.at);
        if let Some(d) = n.door_id
            && g.doors.len() < DOORS_NAMED
            && !g.doors.contains(&d)
        {
            g.doors.push(d);
        }
    }
    let mut out: Vec<Group> = by.into_values().collect();
    out.sort_by(|a, b| {
        b.security
            .cmp(&a.security)
            .then(b.count.cmp(&a.count))
            .then(a.first.cmp(&b.first))
    });
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// What happened, counted: "312 locks went offline".
pub fn phrase(alarm: &str, n: usize) -> String {
    match alarm {
        "offline" => plural(n, "lock went offline", "locks went offline"),
        "forced_entry" => plural(n, "door was forced", "doors were forced"),
        "jammed" => plural(n, "lock jammed", "locks jammed"),
        "wrong_code_limit" => plural(
            n,
            "keypad reached its wrong-code limit",
            "keypads reached their wrong-code limit",
        ),
        "low_battery" => plural(n, "lock has a low battery", "locks have a low battery"),
        "door_ajar" => plural(n, "door was left open", "doors were left open"),
        "left_unlocked" => plural(n, "door was left unlocked", "doors were left unlocked"),
        "duress" => plural(n, "duress code was entered", "duress codes were entered"),
        "unexpected_opening" => plural(n, "door opened unexpectedly", "doors opened unexpectedly"),
        "unmanaged_code" => plural(
            n,
            "unknown code was found on a lock",
            "unknown codes were found on locks",
        ),
        a if a.starts_with("tamper") => {
            plural(n, "lock reported tampering", "locks reported tampering")
        }
        other => {
            let name: String = other.chars().take(40).collect();
            plural(n, &format!("`{name}` alarm"), &format!("`{name}` alarms"))
        }
    }
}

/// A short label for the subject: "312 offline".
fn label(alarm: &str, n: usize) -> String {
    let what = match alarm {
        "offline" => "offline",
        "forced_entry" => "forced",
        "jammed" => "jammed",
        "wrong_code_limit" => "wrong-code limit",
        "low_battery" => "low battery",
        "door_ajar" => "left open",
        "left_unlocked" => "left unlocked",
        "duress" => "duress",
        "unexpected_opening" => "opened unexpectedly",
        "unmanaged_code" => "unknown code",
        a if a.starts_with("tamper") => "tamper",
        _ => "other",
    };
    format!("{n} {what}")
}

fn clock(t: Timestamp, tz: &TimeZone) -> String {
    let time = t.to_zoned_datetime(tz.clone()).time();
    format!("{:02}:{:02}", time.hour(), time.minute())
}

/// Where a property is, as a digest names it.
struct Place {
    name: String,
    tz: TimeZone,
}

impl App {
    /// Composes every digest that is due at the clock's now (steps 2–4) and queues each as one
    /// notification. Returns how many were queued. Safe to run on any number of replicas at
    /// once: a person's window is taken in the database, and a notice is told once.
    ///
    /// # Errors
    /// `Store` when the database fails; what was committed before stays done.
    pub async fn compose_alarm_digests(&self) -> Result<usize> {
        let now = self.now();
        let window = self.config().alarms.window;
        let waiting = {
            let mut conn = self.store().read().await?;
            repo::waiting(&mut conn, now, PEOPLE).await?
        };
        let mut queued = 0;
        for w in waiting {
            if !digest_due(&w, now, window) {
                continue;
            }
            let closed_before = now.checked_sub(window).unwrap_or(now);
            let mut tx = self.store().write().await?;
            if !repo::take_window(tx.conn(), w.person_id, now, closed_before).await? {
                continue;
            }
            let notices = repo::take_due(tx.conn(), w.person_id, now).await?;
            if notices.is_empty() {
                continue;
            }
            let note = self
                .digest_of(tx.conn(), w.person_id, &notices, now)
                .await?;
            notes::queue(tx.conn(), &[note]).await?;
            tx.commit().await?;
            queued += 1;
        }
        Ok(queued)
    }

    /// The notification that tells `person` of `notices`.
    async fn digest_of(
        &self,
        conn: &mut Conn,
        person: PersonId,
        notices: &[AlarmNotice],
        now: Timestamp,
    ) -> Result<Notification> {
        let groups = groups(notices);
        let mut places: BTreeMap<PropertyId, Place> = BTreeMap::new();
        for g in &groups {
            if places.contains_key(&g.property) {
                continue;
            }
            let p = property::get_property(conn, g.property).await?;
            let place = Place {
                name: p
                    .as_ref()
                    .map_or_else(|| format!("property {}", g.property), |p| p.name.clone()),
                tz: p
                    .and_then(|p| TimeZone::get(&p.timezone).ok())
                    .unwrap_or(TimeZone::UTC),
            };
            places.insert(g.property, place);
        }
        let mut lines = Vec::new();
        let mut parts = Vec::new();
        for g in &groups {
            let place = &places[&g.property];
            let mut doors = Vec::new();
            for d in &g.doors {
                if let Some(door) = property::get_door(conn, *d).await? {
                    doors.push(door.name);
                }
            }
            let (from, until) = (clock(g.first, &place.tz), clock(g.last, &place.tz));
            let when = if from == until {
                format!("at {from}")
            } else {
                format!("between {from} and {until}")
            };
            let mut line = format!("{} in {} {when}", phrase(&g.alarm, g.count), place.name);
            if !doors.is_empty() {
                let more = g.count.saturating_sub(doors.len());
                line.push_str(&format!(": {}", doors.join(", ")));
                if more > 0 {
                    line.push_str(&format!(" and {more} more"));
                }
            }
            line.push('.');
            lines.push(line);
            parts.push(json!({
                "property_id": g.property, "property": place.name, "alarm": g.alarm,
                "security": g.security, "count": g.count, "first_at": g.first,
                "last_at": g.last, "doors": doors,
            }));
        }
        let security = groups.iter().any(|g| g.security);
        let names: Vec<&str> = places.values().map(|p| p.name.as_str()).collect();
        let labels: Vec<String> = groups
            .iter()
            .take(4)
            .map(|g| label(&g.alarm, g.count))
            .collect();
        let subject = format!(
            "{} at {}: {}",
            if security { "Security alarm" } else { "Alarms" },
            names.join(", "),
            labels.join(", ")
        );
        let single = (places.len() == 1)
            .then(|| places.keys().next().copied())
            .flatten();
        Ok(Notification {
            property_id: single,
            person_id: person,
            kind: if security {
                "alarm.security"
            } else {
                "alarm.digest"
            }
            .to_owned(),
            case_id: None,
            body: json!({
                "subject": subject,
                "text": lines.join("\n"),
                "alarms": notices.len(),
                "from": notices.iter().map(|n| n.at).min(),
                "until": notices.iter().map(|n| n.at).max(),
                "groups": parts,
            }),
            created_at: now,
            sent_at: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap_or_default()
    }

    fn waiting(first_due: i64, security: bool, last: Option<i64>) -> Waiting {
        Waiting {
            person_id: PersonId(1),
            first_due: at(first_due),
            security,
            last_digest: last.map(at),
        }
    }

    #[test]
    fn alarms_are_held_a_window_and_security_alarms_are_not() {
        let win = SignedDuration::from_secs(30);
        assert!(!digest_due(&waiting(0, false, None), at(29), win));
        assert!(digest_due(&waiting(0, false, None), at(30), win));
        assert!(digest_due(&waiting(0, true, None), at(0), win));
    }

    #[test]
    fn no_second_digest_within_a_window_even_for_a_security_alarm() {
        let win = SignedDuration::from_secs(30);
        assert!(!digest_due(&waiting(0, true, Some(-10)), at(0), win));
        assert!(digest_due(&waiting(0, true, Some(-30)), at(0), win));
        assert!(!digest_due(&waiting(-100, false, Some(-5)), at(0), win));
    }

    #[test]
    fn a_storm_is_counted_per_kind_with_security_first_and_three_doors_named() {
        let mut notices: Vec<AlarmNotice> = (0..312)
            .map(|i| AlarmNotice {
                person_id: PersonId(1),
                property_id: PropertyId(1),
                door_id: Some(DoorId(i)),
                alarm: "offline".into(),
                security: false,
                at: at(i),
                due_at: at(i + 60),
            })
            .collect();
        notices.push(AlarmNotice {
            alarm: "forced_entry".into(),
            security: true,
            door_id: Some(DoorId(7)),
            ..notices[0].clone()
        });
        let g = groups(&notices);
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].alarm.as_str(), g[0].count), ("forced_entry", 1));
        assert_eq!((g[1].alarm.as_str(), g[1].count), ("offline", 312));
        assert_eq!(g[1].doors, vec![DoorId(0), DoorId(1), DoorId(2)]);
        assert_eq!(phrase("offline", 312), "312 locks went offline");
        assert_eq!(phrase("forced_entry", 1), "1 door was forced");
    }
}
