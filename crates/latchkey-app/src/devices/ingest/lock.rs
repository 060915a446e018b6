//! Lock reports: position, alarms, one-shot `action` events, duress and left-open tracking.

use latchkey_core::model::Policy;
use latchkey_core::{DoorId, PropertyId};
use latchkey_store::audit::NewEvent;
use latchkey_store::devices::{self as repo};
use latchkey_store::{Conn, credentials, property};
use latchkey_z2m::{
    Action, ActionSource, BoltState, DoorState, LockReport, SlotStatus as Reported,
};
use serde_json::json;

use super::{Batch, LOW_BATTERY, alarm};
use crate::Result;
use crate::devices::{LockDoor, Snapshot};

impl Batch<'_> {
    pub(super) async fn lock_report(
        &mut self,
        conn: &mut Conn,
        name: &str,
        ld: LockDoor,
        before: &Snapshot,
        after: &Snapshot,
        r: &LockReport,
    ) -> Result<()> {
        let (door, prop) = (ld.door, ld.property);
        self.track_open(door, prop, after);
        if before.lock_state != after.lock_state {
            match after.lock_state.as_str() {
                "locked" | "unlocked" => {
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
                "not_fully_locked" => self.events.push(alarm(
                    "jammed",
                    "critical",
                    door,
                    prop,
                    json!({ "lock": name }),
                )),
                _ => {}
            }
        }
        // A command is confirmed by a report of the position it asked for, whether or not the
        // position changed (locking a locked door is confirmed by the lock saying "locked").
        let reports_position = r.lock_state.is_some() || r.state.is_some();
        if reports_position && matches!(after.lock_state.as_str(), "locked" | "unlocked") {
            self.confirm_commands(conn, door, prop, after.lock_state == "locked")
                .await?;
        }
        if before.door_state != after.door_state {
            match r.door_state {
                Some(DoorState::ErrorJammed) => self.events.push(alarm(
                    "jammed",
                    "critical",
                    door,
                    prop,
                    json!({ "lock": name }),
                )),
                Some(DoorState::ErrorForcedOpen) => {
                    self.after.forced.push(door);
                    self.events.push(alarm(
                        "forced_entry",
                        "critical",
                        door,
                        prop,
                        json!({ "lock": name }),
                    ));
                }
                Some(DoorState::Open)
                    if before.lock_state == "locked"
                        && r.lock_state != Some(BoltState::Unlocked) =>
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
                Some(DoorState::Open) | Some(DoorState::Closed) => self.events.push(
                    NewEvent::new(
                        format!(
                            "door.{}",
                            if r.door_state == Some(DoorState::Open) {
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
        if r.battery_low == Some(true)
            && before.battery.is_none_or(|b| b > LOW_BATTERY)
            && after.battery.is_none()
        {
            self.events
                .push(alarm("low_battery", "warning", door, prop, json!({})));
        }
        if let Some(a) = &r.alarm {
            match a.as_str() {
                "tamper_alarm_keypad_attempts" => {
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
                "duress" => self.duress(conn, door, prop, r.action_user).await?,
                "deadbolt_jammed" => self.events.push(alarm(
                    "jammed",
                    "critical",
                    door,
                    prop,
                    json!({ "lock": name }),
                )),
                other => {
                    self.events
                        .push(alarm(other, "warning", door, prop, json!({ "lock": name })))
                }
            }
        }
        if let Some(action) = &r.action {
            self.action(conn, ld, action, r.action_source, r.action_user)
                .await?;
        }
        for (n, rep) in &r.users {
            self.slot_read(conn, ld, i64::from(*n), rep.status).await?;
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

    async fn confirm_commands(
        &mut self,
        conn: &mut Conn,
        door: DoorId,
        prop: PropertyId,
        locked: bool,
    ) -> Result<()> {
        let want = if locked { "lock" } else { "unlock" };
        for c in repo::open_commands(conn, door).await? {
            if c.action == want {
                repo::set_command_status(conn, c.id, "confirmed", Some(self.now), None).await?;
                self.events.push(
                    NewEvent::new("lock.command_confirmed", format!("door:{door}"))
                        .property(prop)
                        .actor(c.requested_by)
                        .data(json!({ "command": c.id, "action": c.action })),
                );
            }
        }
        self.after.positions.push((door, locked));
        Ok(())
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

    async fn action(
        &mut self,
        conn: &mut Conn,
        ld: LockDoor,
        action: &Action,
        source: Option<ActionSource>,
        user: Option<u16>,
    ) -> Result<()> {
        let (door, prop) = (ld.door, ld.property);
        let method = match source {
            Some(ActionSource::Keypad) => "keypad",
            Some(ActionSource::Rfid) => "rfid",
            Some(ActionSource::Fingerprint) => "fingerprint",
            Some(ActionSource::Rf) => "remote",
            Some(ActionSource::Manual) => "manual",
            None => "unknown",
        };
        match action {
            Action::Unlock | Action::Lock
                if matches!(
                    source,
                    Some(ActionSource::Keypad | ActionSource::Rfid | ActionSource::Fingerprint)
                ) =>
            {
                let found = self.credential_in(conn, door, user).await?;
                let (slot, cred) = found.map_or((None, None), |(n, c)| (Some(n), c));
                self.app
                    .bridge()
                    .wrong_codes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&door);
                if *action == Action::Unlock {
                    if let Some(c) = &cred {
                        credentials::add_use(conn, c.id).await?;
                        // A code with a use limit leaves the lock as soon as it is used up.
                        if c.max_uses.is_some_and(|m| c.uses + 1 >= m) {
                            self.after.used_up.push((c.id, door));
                        }
                    }
                    self.events.push(
                        NewEvent::new("access.granted", format!("door:{door}"))
                            .property(prop)
                            .actor(cred.as_ref().map(|c| c.person_id))
                            .data(json!({ "method": method, "slot": slot, "credential_id": cred.as_ref().map(|c| c.id), "by": "lock" })),
                    );
                    if cred.as_ref().is_some_and(|c| c.duress) {
                        self.duress(conn, door, prop, user).await?;
                    }
                } else {
                    self.events.push(
                        NewEvent::new("lock.operated", format!("door:{door}"))
                            .property(prop)
                            .data(json!({ "action": "lock", "method": method, "slot": slot })),
                    );
                }
            }
            Action::Unlock
            | Action::Lock
            | Action::KeyLock
            | Action::KeyUnlock
            | Action::ManualLock
            | Action::ManualUnlock
            | Action::OneTouchLock => {
                self.events.push(
                    NewEvent::new("lock.operated", format!("door:{door}"))
                        .property(prop)
                        .data(json!({ "action": action.as_str(), "method": method })),
                );
            }
            Action::AutoLock | Action::ScheduleLock | Action::ScheduleUnlock => {
                self.events.push(
                    NewEvent::new("lock.operated", format!("door:{door}"))
                        .property(prop)
                        .data(json!({ "action": action.as_str(), "method": "lock" })),
                );
            }
            Action::UnlockFailureInvalidPinOrId
            | Action::LockFailureInvalidPinOrId
            | Action::UnlockFailureInvalidSchedule
            | Action::LockFailureInvalidSchedule => {
                let reason = if matches!(
                    action,
                    Action::UnlockFailureInvalidSchedule | Action::LockFailureInvalidSchedule
                ) {
                    "outside_schedule"
                } else {
                    "wrong_code"
                };
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
                        .data(json!({ "method": method, "reason": reason, "by": "lock" })),
                );
            }
            Action::NonAccessUserOperationalEvent => {
                let found = self.credential_in(conn, door, user).await?;
                let (slot, cred) = found.map_or((None, None), |(n, c)| (Some(n), c));
                if let Some(c) = cred.as_ref().filter(|c| c.non_access) {
                    self.after.presence.push(c.id);
                }
                self.events.push(
                    NewEvent::new("access.presence_code", format!("door:{door}"))
                        .property(prop)
                        .data(
                            json!({ "slot": slot, "credential_id": cred.as_ref().map(|c| c.id) }),
                        ),
                );
            }
            Action::PinCodeAdded | Action::PinCodeChanged => {
                if let Some(n) = user {
                    self.programmed(conn, ld, i64::from(n), source).await?;
                }
            }
            Action::PinCodeDeleted => {
                if let Some(n) = user {
                    self.slot_read(conn, ld, i64::from(n), Reported::Available)
                        .await?;
                }
            }
            Action::MasterCodeChanged
            | Action::RfidCodeAdded
            | Action::RfidCodeDeleted
            | Action::Unknown
            | Action::Other(_) => {
                self.events.push(
                    NewEvent::new("lock.event", format!("door:{door}"))
                        .property(prop)
                        .data(json!({ "action": action.as_str(), "method": method, "slot": user })),
                );
            }
        }
        Ok(())
    }
}
