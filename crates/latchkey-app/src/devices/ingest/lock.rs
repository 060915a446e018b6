//! Lock reports: position, alarms, one-shot operations, duress and left-open tracking.

use latchkey_core::lock::{
    Alarm, CodeChangeKind, DoorContact, Method, Operation, Position, ReportedCode,
    SlotStatus as Reported,
};
use latchkey_core::model::Policy;
use latchkey_core::{DoorId, PropertyId};
use latchkey_store::audit::NewEvent;
use latchkey_store::devices::{self as repo};
use latchkey_store::{Conn, credentials, property};
use serde_json::json;

use super::{Batch, LOW_BATTERY, Said, alarm};
use crate::Result;
use crate::devices::{Answered, LockDoor, Snapshot};

/// How late a report may come and still answer a command: a lock acts within seconds; a report
/// ten minutes on is about something else.
pub(super) const LATE_ANSWER: jiff::SignedDuration = jiff::SignedDuration::from_secs(600);

/// What in a report says the bolt is jammed, if anything.
fn jam_signal(r: &Said<'_>) -> Option<&'static str> {
    if r.position == Some(Position::NotFullyLocked) {
        Some("not_fully_locked")
    } else if r.door == Some(DoorContact::Jammed) {
        Some("error_jammed")
    } else if r.alarms.iter().any(|a| matches!(a, Alarm::Jam)) {
        Some("deadbolt_jammed")
    } else {
        None
    }
}

fn jam_reason(signal: &str) -> String {
    match signal {
        "not_fully_locked" => {
            "the lock is jammed: the bolt did not move fully (lock_state not_fully_locked)".into()
        }
        other => format!("the lock is jammed ({other})"),
    }
}

impl Batch<'_> {
    pub(super) async fn lock_report(
        &mut self,
        conn: &mut Conn,
        name: &str,
        ld: LockDoor,
        before: &Snapshot,
        after: &Snapshot,
        r: &Said<'_>,
    ) -> Result<()> {
        let (door, prop) = (ld.door, ld.property);
        self.track_open(door, prop, after);
        let reports_position = r.position.is_some();
        // The first report with a position after an ask answers it (`ask.rs`).
        let asked = if reports_position {
            self.asked.remove(name)
        } else {
            None
        };
        if let Some(a) = &asked {
            repo::clear_asked(conn, name).await?;
            self.changed_while_away(ld, name, a, before, after);
        }
        if before.lock_state != after.lock_state
            && asked.is_none()
            && let "locked" | "unlocked" = after.lock_state.as_str()
        {
            let locked = after.lock_state == "locked";
            self.events.push(
                NewEvent::new(
                    if locked {
                        "lock.locked"
                    } else {
                        "lock.unlocked"
                    },
                    format!("door:{door}"),
                )
                .property(prop)
                .data(json!({ "lock": name, "from": before.lock_state })),
            );
        }
        // Which command this report answers, and how (docs/DEVICES.md, "Which command a report
        // answers"). A jam fails a command when the lock newly reports it, or reports it with a
        // failed operation; a jam already known, repeated in the cached fields of every later
        // message, answers nothing. A failed operation from a remote source is the lock's answer
        // to a command, never a person at the keypad.
        let jam = jam_signal(r);
        let was_jammed =
            before.lock_state == "not_fully_locked" || before.door_state == "error_jammed";
        let refused = r
            .operations
            .iter()
            .copied()
            .find(|o| o.refused.is_some() && o.method == Method::Remote);
        let failure = match (jam, refused) {
            (Some(signal), _) if !was_jammed || refused.is_some() => Some(jam_reason(signal)),
            (_, Some(o)) => Some(format!(
                "the lock refused the command ({}: {})",
                o.motion.as_str(),
                o.refused.map_or("refused", |why| why.as_str())
            )),
            _ => None,
        };
        let failed = match &failure {
            Some(reason) => self.fail_commands(conn, ld, reason).await?,
            None => Vec::new(),
        };
        if let Some(signal) = jam
            && (!was_jammed || !failed.is_empty())
        {
            // A jam is its own event: never an access denial, never a wrong code.
            self.events.push(
                NewEvent::new("lock.jammed", format!("door:{door}"))
                    .property(prop)
                    .data(json!({
                        "lock": name, "signal": signal, "alarm": "jammed", "severity": "critical",
                        "commands": failed,
                    })),
            );
        } else if was_jammed
            && jam.is_none()
            && matches!(after.lock_state.as_str(), "locked" | "unlocked")
            && after.door_state != "error_jammed"
        {
            // The bolt moved fully again. Staff follow a jam on every door, the units' own
            // included, so they are told it cleared, without which way the bolt went.
            self.events.push(
                NewEvent::new("lock.jam_cleared", format!("door:{door}"))
                    .property(prop)
                    .data(json!({ "lock": name })),
            );
        } else if let Some(o) = refused
            && failed.is_empty()
        {
            // A refusal no command of latchkey's was waiting for (another controller's).
            self.events.push(
                NewEvent::new("lock.event", format!("door:{door}"))
                    .property(prop)
                    .data(json!({
                        "action": o.motion.as_str(), "method": "remote", "slot": o.slot,
                        "refused": o.refused.map(|why| why.as_str()),
                    })),
            );
        }
        // A command is confirmed by a report of the position it asked for, whether or not the
        // position changed (locking a locked door is confirmed by the lock saying "locked").
        if failure.is_none()
            && reports_position
            && matches!(after.lock_state.as_str(), "locked" | "unlocked")
        {
            self.confirm_commands(conn, ld, after.lock_state == "locked")
                .await?;
        }
        let mut forced_now = false;
        if before.door_state != after.door_state {
            match r.door {
                Some(DoorContact::ForcedOpen) => {
                    forced_now = true;
                    self.after.forced.push(door);
                    self.events.push(alarm(
                        "forced_entry",
                        "critical",
                        door,
                        prop,
                        json!({ "lock": name }),
                    ));
                }
                Some(DoorContact::Open)
                    if before.lock_state == "locked" && r.position != Some(Position::Unlocked) =>
                {
                    // Inferred from the contact and the last bolt report, which can arrive out
                    // of order: an alarm for staff to look at, not an automatic incident.
                    self.events.push(alarm(
                        "forced_entry",
                        "critical",
                        door,
                        prop,
                        json!({ "lock": name, "door_state": "open" }),
                    ));
                }
                Some(DoorContact::Open) | Some(DoorContact::Closed) => self.events.push(
                    NewEvent::new(
                        format!(
                            "door.{}",
                            if r.door == Some(DoorContact::Open) {
                                "opened"
                            } else {
                                "closed"
                            }
                        ),
                        format!("door:{door}"),
                    )
                    .property(prop),
                ),
                _ => {}
            }
        }
        if let Some(b) = after.battery {
            let was = before.battery.unwrap_or(100);
            if b <= LOW_BATTERY && was > LOW_BATTERY {
                self.events.push(alarm(
                    "low_battery",
                    "warning",
                    door,
                    prop,
                    json!({ "battery": b }),
                ));
            }
        }
        if r.battery_low
            && before.battery.is_none_or(|b| b > LOW_BATTERY)
            && after.battery.is_none()
        {
            self.events
                .push(alarm("low_battery", "warning", door, prop, json!({})));
        }
        for a in &r.alarms {
            match a {
                Alarm::KeypadDisabled => {
                    let policy = self.policy(conn, prop).await?;
                    self.keypad_disabled(conn, door, &policy).await?;
                    self.events.push(alarm(
                        "wrong_code_limit",
                        "critical",
                        door,
                        prop,
                        json!({ "lock": name }),
                    ));
                }
                Alarm::Duress { slot } => self.duress(conn, door, prop, *slot).await?,
                // Recorded above as `lock.jammed`.
                Alarm::Jam => {}
                Alarm::ForcedEntry if !forced_now => {
                    forced_now = true;
                    self.after.forced.push(door);
                    self.events.push(alarm(
                        "forced_entry",
                        "critical",
                        door,
                        prop,
                        json!({ "lock": name }),
                    ));
                }
                Alarm::ForcedEntry => {}
                Alarm::Tamper => self.events.push(alarm(
                    "tamper",
                    "critical",
                    door,
                    prop,
                    json!({ "lock": name }),
                )),
                Alarm::LowBattery => self.events.push(alarm(
                    "low_battery",
                    "warning",
                    door,
                    prop,
                    json!({ "lock": name }),
                )),
                Alarm::Other(other) => {
                    self.events
                        .push(alarm(other, "warning", door, prop, json!({ "lock": name })))
                }
            }
        }
        for o in &r.operations {
            self.operation(conn, ld, o, jam.is_some()).await?;
        }
        for c in &r.code_changes {
            let Some(n) = c.slot else { continue };
            match c.kind {
                CodeChangeKind::Added | CodeChangeKind::Changed => {
                    self.programmed(conn, ld, i64::from(n), c.at_keypad, &r.profile)
                        .await?;
                }
                CodeChangeKind::Deleted => {
                    self.slot_read(conn, ld, i64::from(n), Reported::Empty, &r.profile, false)
                        .await?;
                }
                CodeChangeKind::Duplicate => self.events.push(
                    NewEvent::new("lock.event", format!("door:{door}"))
                        .property(prop)
                        .data(json!({ "action": "code_duplicate", "slot": n })),
                ),
            }
        }
        for slot in &r.presence {
            self.presence_code(conn, ld, *slot).await?;
        }
        for (event, method, slot) in &r.others {
            self.events.push(
                NewEvent::new("lock.event", format!("door:{door}"))
                    .property(prop)
                    .data(json!({ "action": event, "method": method.as_str(), "slot": slot })),
            );
        }
        // Only the lock's answer to a read says what a slot holds; what a gateway publishes on
        // its own may be its echo of a write the lock never took (decision 86).
        for reading in r.slots.iter().filter(|r| r.read_back) {
            let masked = reading.code == ReportedCode::Masked;
            self.slot_read(
                conn,
                ld,
                i64::from(reading.slot),
                reading.status,
                &r.profile,
                masked,
            )
            .await?;
        }
        Ok(())
    }

    /// Remembers since when the door is unlocked or open, for the left-open alarms.
    fn track_open(&self, door: DoorId, property: PropertyId, s: &Snapshot) {
        let mut map = self
            .app
            .bridge()
            .open_since
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let e = map.entry(door).or_insert(crate::devices::OpenSince {
            property,
            unlocked: None,
            open: None,
            alarmed_unlocked: false,
            alarmed_open: false,
        });
        if s.lock_state == "unlocked" {
            e.unlocked.get_or_insert(self.now);
        } else {
            e.unlocked = None;
            e.alarmed_unlocked = false;
        }
        if s.door_state == "open" {
            e.open.get_or_insert(self.now);
        } else {
            e.open = None;
            e.alarmed_open = false;
        }
    }

    async fn keypad_disabled(
        &mut self,
        conn: &mut Conn,
        door: DoorId,
        policy: &Policy,
    ) -> Result<()> {
        if let Some(mut d) = property::get_door(conn, door).await? {
            let until = self
                .now
                .checked_add(jiff::SignedDuration::from_secs(i64::from(
                    policy.keypad_disable_seconds,
                )))
                .ok();
            d.keypad_disabled_until = until;
            property::update_door(conn, &d).await?;
        }
        Ok(())
    }

    /// Confirms the commands this report of a position answers.
    async fn confirm_commands(
        &mut self,
        conn: &mut Conn,
        ld: LockDoor,
        locked: bool,
    ) -> Result<()> {
        let want = if locked { "lock" } else { "unlock" };
        for c in self.answerable(conn, ld.door).await? {
            if c.action == want {
                self.events.push(
                    NewEvent::new("lock.command_confirmed", format!("door:{}", ld.door))
                        .property(ld.property)
                        .actor(c.requested_by)
                        .data(json!({ "command": c.id, "action": c.action })),
                );
                self.after.answered.push((
                    ld.door,
                    c.id,
                    Answered {
                        status: "confirmed",
                        at: self.now,
                        detail: None,
                    },
                ));
            }
        }
        Ok(())
    }

    /// Fails, with the lock's reason, every command this report answers; returns their ids.
    pub(super) async fn fail_commands(
        &mut self,
        conn: &mut Conn,
        ld: LockDoor,
        reason: &str,
    ) -> Result<Vec<i64>> {
        let mut ids = Vec::new();
        for c in self.answerable(conn, ld.door).await? {
            self.events.push(
                NewEvent::new("lock.command_failed", format!("door:{}", ld.door))
                    .property(ld.property)
                    .actor(c.requested_by)
                    .data(json!({ "command": c.id, "action": c.action, "detail": reason })),
            );
            self.after.answered.push((
                ld.door,
                c.id,
                Answered {
                    status: "failed",
                    at: self.now,
                    detail: Some(reason.to_owned()),
                },
            ));
            ids.push(c.id);
        }
        Ok(ids)
    }

    /// The door's commands a report received now can answer; see
    /// [`repo::answerable_commands`]. A report later than [`LATE_ANSWER`] after a command is
    /// not its answer.
    async fn answerable(
        &mut self,
        conn: &mut Conn,
        door: DoorId,
    ) -> Result<Vec<repo::LockCommand>> {
        let mut open = match self.open.get(&door) {
            Some(open) => open.clone(),
            None => {
                let since = self.now.checked_sub(LATE_ANSWER).unwrap_or(self.now);
                let open = repo::answerable_commands(conn, door, self.now, since).await?;
                self.open.insert(door, open.clone());
                open
            }
        };
        // Answered earlier in this batch: ended in the database only at the batch's end
        // (`end_commands`), so not yet as such in what was read.
        open.retain(|c| {
            !self
                .after
                .answered
                .iter()
                .any(|(d, id, _)| *d == door && *id == c.id)
        });
        Ok(open)
    }

    /// Records that the answer to an ask after an outage shows a change made while latchkey
    /// was away, with the gap's bounds.
    fn changed_while_away(
        &mut self,
        ld: LockDoor,
        name: &str,
        asked: &repo::Asked,
        before: &Snapshot,
        after: &Snapshot,
    ) {
        let known = |s: &str| s != "unknown";
        let lock_changed = known(&before.lock_state) && before.lock_state != after.lock_state;
        let door_changed = known(&before.door_state)
            && known(&after.door_state)
            && before.door_state != after.door_state;
        if !lock_changed && !door_changed {
            return;
        }
        tracing::warn!(
            lock = %name, from = %before.lock_state, to = %after.lock_state,
            door_from = %before.door_state, door_to = %after.door_state,
            last_heard = ?asked.last_seen, answered = %self.now,
            "the lock changed while latchkey was away; recorded as lock.changed_while_away"
        );
        self.events.push(
            NewEvent::new("lock.changed_while_away", format!("door:{}", ld.door))
                .property(ld.property)
                .data(json!({
                    "lock": name,
                    "from": before.lock_state, "to": after.lock_state,
                    "door_from": before.door_state, "door_to": after.door_state,
                    "gap_from": asked.last_seen, "gap_to": self.now,
                    "asked_at": asked.asked_at, "why": asked.why,
                })),
        );
    }

    async fn credential_in(
        &mut self,
        conn: &mut Conn,
        door: DoorId,
        slot: Option<u16>,
    ) -> Result<Option<(i64, Option<latchkey_store::records::Credential>)>> {
        let Some(n) = slot else { return Ok(None) };
        let n = i64::from(n);
        let cred = match self
            .slot(conn, door, n)
            .await?
            .and_then(|s| s.credential_id)
        {
            Some(id) => credentials::get_credential(conn, id).await?,
            None => None,
        };
        Ok(Some((n, cred)))
    }

    async fn duress(
        &mut self,
        conn: &mut Conn,
        door: DoorId,
        prop: PropertyId,
        user: Option<u16>,
    ) -> Result<()> {
        let found = self.credential_in(conn, door, user).await?;
        let (slot, cred) = found.map_or((None, None), |(n, c)| (Some(n), c));
        self.events.push(alarm(
            "duress",
            "critical",
            door,
            prop,
            json!({ "slot": slot, "credential_id": cred.as_ref().map(|c| c.id), "person_id": cred.as_ref().map(|c| c.person_id) }),
        ));
        Ok(())
    }

    /// A code typed that opens nothing (a presence or check-in code).
    async fn presence_code(
        &mut self,
        conn: &mut Conn,
        ld: LockDoor,
        slot: Option<u16>,
    ) -> Result<()> {
        let found = self.credential_in(conn, ld.door, slot).await?;
        let (slot, cred) = found.map_or((None, None), |(n, c)| (Some(n), c));
        if let Some(c) = cred.as_ref().filter(|c| c.non_access) {
            self.after.presence.push(c.id);
        }
        self.events.push(
            NewEvent::new("access.presence_code", format!("door:{}", ld.door))
                .property(ld.property)
                .data(json!({ "slot": slot, "credential_id": cred.as_ref().map(|c| c.id) })),
        );
        Ok(())
    }

    async fn operation(
        &mut self,
        conn: &mut Conn,
        ld: LockDoor,
        o: &Operation,
        jammed: bool,
    ) -> Result<()> {
        let (door, prop) = (ld.door, ld.property);
        let method = o.method.as_str();
        let unlock = o.motion == latchkey_core::lock::Motion::Unlock;
        if let Some(why) = o.refused {
            // From a remote source it is the lock's answer to a command (`lock_report`);
            // from someone who holds a code, on a jammed lock, it is the jam.
            if o.method == Method::Remote || (jammed && o.slot.is_some()) {
                return Ok(());
            }
            *self
                .app
                .bridge()
                .wrong_codes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(door)
                .or_default() += 1;
            self.events.push(
                NewEvent::new("access.denied", format!("door:{door}"))
                    .property(prop)
                    .data(json!({ "method": method, "reason": why.as_str(), "by": "lock" })),
            );
            return Ok(());
        }
        if !o.method.is_credential() {
            self.events.push(
                NewEvent::new("lock.operated", format!("door:{door}"))
                    .property(prop)
                    .data(json!({ "action": o.motion.as_str(), "method": method })),
            );
            return Ok(());
        }
        let found = self.credential_in(conn, door, o.slot).await?;
        let (slot, cred) = found.map_or((None, None), |(n, c)| (Some(n), c));
        self.app
            .bridge()
            .wrong_codes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&door);
        let unexpected = if unlock {
            self.unexpected_opening(conn, ld, slot, cred.as_ref())
                .await?
        } else {
            None
        };
        if let Some(why) = unexpected {
            self.raise_unexpected_opening(conn, ld, why, slot, cred.as_ref(), method)
                .await?;
            if let Some(c) = &cred {
                credentials::add_use(conn, c.id).await?;
            }
        } else if unlock {
            let mut used_up = false;
            if let Some(c) = &cred {
                credentials::add_use(conn, c.id).await?;
                // A code with a use limit leaves the lock as soon as it is used up.
                if c.max_uses.is_some_and(|m| c.uses + 1 >= m) {
                    self.after.used_up.push((c.id, door));
                    used_up = true;
                }
            }
            let mut data = json!({ "method": method, "slot": slot, "credential_id": cred.as_ref().map(|c| c.id), "by": "lock" });
            // Said in the event, so whatever follows the log (the heat map's cache) knows a
            // credential stopped working without reading it.
            if used_up {
                data["used_up"] = json!(true);
            }
            self.events.push(
                NewEvent::new("access.granted", format!("door:{door}"))
                    .property(prop)
                    .actor(cred.as_ref().map(|c| c.person_id))
                    .data(data),
            );
            if cred.as_ref().is_some_and(|c| c.duress) {
                self.duress(conn, door, prop, o.slot).await?;
            }
        } else {
            self.events.push(
                NewEvent::new("lock.operated", format!("door:{door}"))
                    .property(prop)
                    .data(json!({ "action": "lock", "method": method, "slot": slot })),
            );
        }
        Ok(())
    }
}
