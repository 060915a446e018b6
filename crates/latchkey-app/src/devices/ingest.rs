//! Applying what devices report. A batch of parsed messages is applied in one transaction with
//! its audit events; a message whose identity was seen before (a redelivery) is skipped, so
//! each is applied once even when several replicas share the subscription.
//!
//! Truth versus events, as the protocol reference says: the lock's position comes from
//! `state`/`lock_state`/`door_state`; `action` fields are one-shot events (a keypad opening by
//! slot N is attributed to the credential in slot N).

use std::collections::HashMap;

use jiff::Timestamp;
use latchkey_core::model::Policy;
use latchkey_core::{CredentialId, DoorId, PropertyId};
use latchkey_store::audit::NewEvent;
use latchkey_store::devices::{self as repo, Desired, DeviceState, Slot, SlotStatus};
use latchkey_store::{Conn, credentials, property};
use latchkey_z2m::{
    Action, ActionSource, Availability, BoltState, BridgeEvent, DoorState, Inbound, LockReport,
    LockState, SlotStatus as Reported,
};
use serde_json::json;

use super::{LockDoor, Snapshot};
use crate::{App, Result};

/// One parsed message, with the identity used to skip redeliveries (`None`: always apply).
pub struct IngestItem {
    pub identity: Option<[u8; 32]>,
    pub message: Inbound,
}

/// What a batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestStats {
    pub applied: usize,
    pub duplicates: usize,
    pub unknown_devices: usize,
}

/// Battery percentage at or below which a low-battery alarm is raised.
const LOW_BATTERY: i64 = 20;

/// What a device name stands for.
enum Target {
    Lock(LockDoor),
    Sensor {
        id: latchkey_core::SensorId,
        property: PropertyId,
        door: Option<DoorId>,
    },
    Unknown,
}

/// Work for after the commit: waiters to wake.
#[derive(Default)]
struct After {
    positions: Vec<(DoorId, bool)>,
}

struct Batch<'a> {
    app: &'a App,
    now: Timestamp,
    events: Vec<NewEvent>,
    after: After,
    policies: HashMap<PropertyId, Policy>,
}

impl App {
    /// Applies a batch of device messages in one transaction.
    ///
    /// # Errors
    /// `Store` when the database fails; nothing of the batch is applied then, and the caller
    /// must not acknowledge the messages (they will be redelivered).
    pub async fn ingest(&self, items: Vec<IngestItem>) -> Result<IngestStats> {
        let now = self.now();
        let mut stats = IngestStats::default();
        let mut tx = self.store().write().await?;
        let mut batch = Batch {
            app: self,
            now,
            events: Vec::new(),
            after: After::default(),
            policies: HashMap::new(),
        };
        for item in items {
            if let Some(id) = &item.identity
                && !repo::first_sighting(tx.conn(), id, now).await?
            {
                stats.duplicates += 1;
                continue;
            }
            if batch.apply(tx.conn(), item.message).await? {
                stats.applied += 1;
            } else {
                stats.unknown_devices += 1;
            }
        }
        let Batch { events, after, .. } = batch;
        self.commit_at(tx, events, now).await?;
        self.wake(after.positions, now);
        Ok(stats)
    }

    /// Wakes callers waiting for doors to reach a position.
    fn wake(&self, positions: Vec<(DoorId, bool)>, at: Timestamp) {
        if positions.is_empty() {
            return;
        }
        let mut map = self
            .bridge()
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for (door, locked) in positions {
            if let Some(list) = map.get_mut(&door) {
                let (done, keep): (Vec<_>, Vec<_>) =
                    list.drain(..).partition(|w| w.want_locked == locked);
                *list = keep;
                for w in done {
                    let _ = w.tx.send(at);
                }
            }
        }
    }

    async fn target(&self, conn: &mut Conn, name: &str) -> Result<Target> {
        if let Some(hit) = self
            .bridge()
            .lock_doors
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            if let Some(ld) = hit {
                return Ok(Target::Lock(*ld));
            }
        } else if let Some(d) = property::door_by_lock_name(conn, name).await? {
            let ld = LockDoor {
                door: d.id,
                property: d.property_id,
            };
            self.bridge()
                .lock_doors
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.to_owned(), Some(ld));
            return Ok(Target::Lock(ld));
        }
        match property::sensor_by_device_name(conn, name).await? {
            Some(s) => Ok(Target::Sensor {
                id: s.id,
                property: s.property_id,
                door: s.door_id,
            }),
            None => {
                self.bridge()
                    .lock_doors
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(name.to_owned(), None);
                Ok(Target::Unknown)
            }
        }
    }

    async fn snapshot(&self, conn: &mut Conn, name: &str) -> Result<Snapshot> {
        if let Some(s) = self
            .bridge()
            .snapshots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Ok(s.clone());
        }
        Ok(match repo::get_device(conn, name).await? {
            Some(d) => Snapshot {
                availability: d.availability,
                lock_state: d.lock_state,
                door_state: d.door_state,
                battery: d.battery,
                linkquality: d.linkquality,
            },
            None => Snapshot {
                availability: "unknown".into(),
                lock_state: "unknown".into(),
                door_state: "unknown".into(),
                battery: None,
                linkquality: None,
            },
        })
    }

    /// Stores what changed of a device's live state.
    async fn store_snapshot(
        &self,
        conn: &mut Conn,
        name: &str,
        before: &Snapshot,
        after: Snapshot,
        at: Timestamp,
    ) -> Result<()> {
        if *before != after {
            let s = DeviceState {
                availability: (before.availability != after.availability)
                    .then(|| after.availability.clone()),
                lock_state: (before.lock_state != after.lock_state)
                    .then(|| after.lock_state.clone()),
                door_state: (before.door_state != after.door_state)
                    .then(|| after.door_state.clone()),
                battery: after.battery.filter(|_| before.battery != after.battery),
                linkquality: after
                    .linkquality
                    .filter(|_| before.linkquality != after.linkquality),
                left_network: None,
            };
            repo::update_state(conn, name, &s, at).await?;
        }
        self.bridge()
            .snapshots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), after);
        Ok(())
    }
}

fn alarm(
    kind: &str,
    severity: &str,
    door: DoorId,
    property: PropertyId,
    data: serde_json::Value,
) -> NewEvent {
    let mut data = data;
    if let Some(map) = data.as_object_mut() {
        map.insert("alarm".into(), json!(kind));
        map.insert("severity".into(), json!(severity));
    }
    NewEvent::new("lock.alarm", format!("door:{door}"))
        .property(property)
        .data(data)
}

impl Batch<'_> {
    async fn policy(&mut self, conn: &mut Conn, property: PropertyId) -> Result<Policy> {
        if let Some(p) = self.policies.get(&property) {
            return Ok(p.clone());
        }
        let p = property::get_property(conn, property)
            .await?
            .map(|p| p.policy)
            .unwrap_or_default();
        self.policies.insert(property, p.clone());
        Ok(p)
    }

    /// Applies one message; false when it concerns a device latchkey does not know.
    async fn apply(&mut self, conn: &mut Conn, message: Inbound) -> Result<bool> {
        match message {
            Inbound::DeviceState { name, report } => self.device_state(conn, &name, report).await,
            Inbound::Availability { name, availability } => {
                self.availability(conn, &name, availability).await
            }
            Inbound::Devices(list) => {
                for d in list
                    .devices
                    .iter()
                    .filter(|d| d.device_type.as_deref() != Some("Coordinator"))
                {
                    let a = repo::Announced {
                        friendly_name: d.friendly_name.clone(),
                        ieee_address: Some(d.ieee_address.clone()),
                        model: d.model.clone(),
                        vendor: d.vendor.clone(),
                        is_lock: d.is_lock,
                        has_pin: d.has_pin_code,
                    };
                    repo::upsert_announced(conn, &a, self.now).await?;
                }
                Ok(true)
            }
            Inbound::Event(BridgeEvent::DeviceLeave {
                friendly_name: Some(name),
                ..
            }) => {
                let s = DeviceState {
                    left_network: Some(true),
                    ..DeviceState::default()
                };
                repo::update_state(conn, &name, &s, self.now).await?;
                Ok(true)
            }
            Inbound::Logging(log) => {
                if let Some(f) = log.publish_failure()
                    && let Target::Lock(ld) = self.app.target(conn, &f.device).await?
                {
                    self.events.push(
                        NewEvent::new("lock.command_rejected", format!("door:{}", ld.door))
                            .property(ld.property)
                            .data(json!({ "attribute": f.attribute, "error": f.error })),
                    );
                }
                Ok(true)
            }
            Inbound::BridgeState(_) | Inbound::Event(_) | Inbound::Response { .. } => Ok(true),
        }
    }

    async fn availability(&mut self, conn: &mut Conn, name: &str, a: Availability) -> Result<bool> {
        let target = self.app.target(conn, name).await?;
        let before = self.app.snapshot(conn, name).await?;
        let mut after = before.clone();
        after.availability = match a {
            Availability::Online => "online",
            Availability::Offline => "offline",
            Availability::Cleared => "unknown",
        }
        .into();
        if let Target::Lock(ld) = target
            && before.availability != after.availability
        {
            match a {
                Availability::Offline => self.events.push(alarm(
                    "offline",
                    "warning",
                    ld.door,
                    ld.property,
                    json!({ "lock": name }),
                )),
                Availability::Online if before.availability == "offline" => self.events.push(
                    NewEvent::new("lock.online", format!("door:{}", ld.door))
                        .property(ld.property)
                        .data(json!({ "lock": name })),
                ),
                _ => {}
            }
        }
        self.app
            .store_snapshot(conn, name, &before, after, self.now)
            .await?;
        Ok(!matches!(target, Target::Unknown))
    }

    async fn device_state(&mut self, conn: &mut Conn, name: &str, r: LockReport) -> Result<bool> {
        let target = self.app.target(conn, name).await?;
        let before = self.app.snapshot(conn, name).await?;
        let mut after = before.clone();
        if let Some(b) = r.lock_state {
            after.lock_state = b.as_str().into();
        } else if let Some(s) = r.state {
            after.lock_state = match s {
                LockState::Locked => "locked",
                LockState::Unlocked => "unlocked",
            }
            .into();
        }
        if let Some(d) = r.door_state {
            after.door_state = d.as_str().into();
        }
        if let Some(c) = r.contact {
            after.door_state = if c { "closed" } else { "open" }.into();
        }
        if let Some(b) = r.battery {
            after.battery = Some(i64::from(b));
        }
        if let Some(l) = r.linkquality {
            after.linkquality = Some(i64::from(l));
        }
        if after.availability == "unknown" || after.availability == "offline" {
            // A device that talks is reachable, whatever its last availability said.
            after.availability = if before.availability == "offline" {
                "offline".into()
            } else {
                "unknown".into()
            };
        }
        match target {
            Target::Lock(ld) => {
                self.lock_report(conn, name, ld, &before, &after, &r)
                    .await?
            }
            Target::Sensor { id, property, door } => {
                self.sensor_report(conn, id, property, door, &before, &after)
                    .await?
            }
            Target::Unknown => {}
        }
        let known = !matches!(target, Target::Unknown);
        self.app
            .store_snapshot(conn, name, &before, after, self.now)
            .await?;
        Ok(known)
    }

    async fn sensor_report(
        &mut self,
        conn: &mut Conn,
        id: latchkey_core::SensorId,
        property: PropertyId,
        door: Option<DoorId>,
        before: &Snapshot,
        after: &Snapshot,
    ) -> Result<()> {
        if before.door_state == after.door_state || after.door_state == "unknown" {
            return Ok(());
        }
        let opened = after.door_state == "open";
        self.events.push(
            NewEvent::new(
                if opened {
                    "sensor.opened"
                } else {
                    "sensor.closed"
                },
                format!("sensor:{id}"),
            )
            .property(property)
            .data(json!({ "door_id": door })),
        );
        // A door contact opening while the door's lock is locked is a forced entry.
        if let (true, Some(door_id)) = (opened, door)
            && let Some(d) = property::get_door(conn, door_id).await?
            && let Some(lock) = d.lock_name
        {
            let snap = self.app.snapshot(conn, &lock).await?;
            if snap.lock_state == "locked" {
                self.events.push(alarm(
                    "forced_entry",
                    "critical",
                    door_id,
                    property,
                    json!({ "sensor_id": id }),
                ));
            }
        }
        Ok(())
    }

    async fn lock_report(
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
        let e = map.entry(door).or_insert(super::OpenSince {
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
        let cred = match repo::get_slot(conn, door, n)
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

    /// A PIN was written to slot `n`: ours (confirming a write) or someone's at the keypad.
    async fn programmed(
        &mut self,
        conn: &mut Conn,
        ld: LockDoor,
        n: i64,
        source: Option<ActionSource>,
    ) -> Result<()> {
        let slot = repo::get_slot(conn, ld.door, n).await?;
        let ours = source != Some(ActionSource::Keypad)
            && slot
                .as_ref()
                .is_some_and(|s| s.credential_id.is_some() && s.desired != Desired::Empty);
        if ours {
            if let Some(s) = slot {
                self.confirm(conn, ld, s, SlotStatus::Set).await?;
            }
            return Ok(());
        }
        self.unmanaged(conn, ld, n).await
    }

    /// A slot reported by a read (or a deletion event).
    async fn slot_read(
        &mut self,
        conn: &mut Conn,
        ld: LockDoor,
        n: i64,
        status: Reported,
    ) -> Result<()> {
        let slot = repo::get_slot(conn, ld.door, n).await?;
        match (slot, status) {
            (Some(s), Reported::Enabled)
                if matches!(s.desired, Desired::Enabled | Desired::NonAccess) =>
            {
                self.confirm(conn, ld, s, SlotStatus::Set).await
            }
            (Some(s), Reported::Disabled) if s.desired == Desired::Disabled => {
                self.confirm(conn, ld, s, SlotStatus::Set).await
            }
            (Some(s), Reported::Available) if s.desired == Desired::Empty => {
                self.confirm(conn, ld, s, SlotStatus::Removed).await
            }
            (Some(mut s), Reported::Available) if s.status == SlotStatus::Set => {
                // The lock lost a code it had confirmed: write it again.
                s.status = SlotStatus::Pending;
                s.attempts = 0;
                s.next_attempt_at = Some(self.now);
                s.updated_at = self.now;
                repo::save_slots(conn, &[s.clone()]).await?;
                self.events.push(
                    NewEvent::new("lock.slot_lost", format!("door:{}", ld.door))
                        .property(ld.property)
                        .data(json!({ "severity": "warning", "slot": n, "credential_id": s.credential_id })),
                );
                Ok(())
            }
            (None, Reported::Enabled | Reported::Disabled) => self.unmanaged(conn, ld, n).await,
            (Some(s), Reported::Enabled | Reported::Disabled)
                if s.credential_id.is_none() && s.status == SlotStatus::Removed =>
            {
                self.unmanaged(conn, ld, n).await
            }
            _ => Ok(()),
        }
    }

    async fn confirm(
        &mut self,
        conn: &mut Conn,
        ld: LockDoor,
        mut s: Slot,
        to: SlotStatus,
    ) -> Result<()> {
        if s.status == to {
            return Ok(());
        }
        s.status = to;
        s.reason = None;
        s.next_attempt_at = None;
        s.updated_at = self.now;
        repo::save_slots(conn, &[s.clone()]).await?;
        let kind = if to == SlotStatus::Removed {
            "lock.slot_removed"
        } else {
            "lock.slot_set"
        };
        self.events.push(
            NewEvent::new(kind, format!("door:{}", ld.door))
                .property(ld.property)
                .data(json!({ "slot": s.slot, "credential_id": s.credential_id, "desired": s.desired })),
        );
        Ok(())
    }

    /// A code latchkey did not set: flag it at once and, by policy, clear it.
    async fn unmanaged(&mut self, conn: &mut Conn, ld: LockDoor, n: i64) -> Result<()> {
        let policy = self.policy(conn, ld.property).await?;
        self.events.push(alarm(
            "unmanaged_code",
            "critical",
            ld.door,
            ld.property,
            json!({ "slot": n, "clearing": policy.clear_unmanaged_codes }),
        ));
        if policy.clear_unmanaged_codes {
            let existing = repo::get_slot(conn, ld.door, n).await?;
            let credential_id: Option<CredentialId> = existing.and_then(|s| s.credential_id);
            repo::save_slots(
                conn,
                &[Slot {
                    door_id: ld.door,
                    slot: n,
                    credential_id,
                    desired: Desired::Empty,
                    status: SlotStatus::Removing,
                    reason: Some("a code latchkey did not set".into()),
                    attempts: 0,
                    next_attempt_at: Some(self.now),
                    updated_at: self.now,
                }],
            )
            .await?;
        }
        Ok(())
    }
}
