//! Applying what devices report. A batch of parsed messages is applied in one transaction with
//! its audit events; a message whose identity was seen before (a redelivery) is skipped, so
//! each is applied once even when several replicas share the subscription.
//!
//! The messages are latchkey's own ([`DeviceMessage`]): the device bridge translates each
//! protocol's into them. Truth versus events: the lock's position and door are its state; an
//! operation is a one-shot event (a keypad opening by slot N is attributed to the credential in
//! slot N).

use std::collections::HashMap;

use jiff::Timestamp;
use latchkey_core::lock::{Availability, DeviceMessage, LockProfile, LockReport};
use latchkey_core::model::Policy;
use latchkey_core::{DoorId, PropertyId};
use latchkey_store::audit::NewEvent;
use latchkey_store::devices::{self as repo, DeviceState, LockSettings, Slot};
use latchkey_store::{Conn, property};
use serde_json::json;

use super::{LockDoor, Snapshot};
use crate::{App, Result};

mod lock;
mod said;
mod slots;
mod unexpected;

use said::Said;

/// One device message, with the identity used to skip redeliveries (`None`: always apply).
pub struct IngestItem {
    pub identity: Option<[u8; 32]>,
    pub message: DeviceMessage,
}

/// What a batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestStats {
    pub applied: usize,
    pub duplicates: usize,
    pub unknown_devices: usize,
}

/// Battery percentage at or below which a low-battery alarm is raised.
pub(crate) const LOW_BATTERY: i64 = 20;

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

/// Work for after the commit: waiters to wake, used-up codes to take off their locks, forced
/// doors to mark compromised, presence challenges typed at a door.
#[derive(Default)]
struct After {
    /// Commands answered by this batch, to tell their waiters.
    answered: Vec<(DoorId, i64, super::Answered)>,
    used_up: Vec<(latchkey_core::CredentialId, DoorId)>,
    forced: Vec<DoorId>,
    presence: Vec<latchkey_core::CredentialId>,
    /// Doors whose lock came back after being offline: their unfinished slot work is made due
    /// now (in the batch's transaction) and the reconciler is told.
    returned: Vec<DoorId>,
    /// Doors whose lock was heard online for the first time (paired before it first
    /// connected): what was sent to it before it listened is lost, so the reconciler sends its
    /// settings and slots again now rather than at the next sweep.
    first_heard: Vec<DoorId>,
}

struct Batch<'a> {
    app: &'a App,
    now: Timestamp,
    events: Vec<NewEvent>,
    after: After,
    policies: HashMap<PropertyId, Policy>,
    /// Slots read or written in this batch (`None`: known not to exist).
    slots: HashMap<(DoorId, i64), Option<Slot>>,
    /// Slots written in this batch, saved together before the commit.
    dirty: Vec<Slot>,
    /// Locks asked for their state after an outage that have not answered yet, by name.
    asked: HashMap<String, repo::Asked>,
    /// The commands each door's reports in this batch may answer, read once for the batch
    /// (`prefetch_commands`); those answered meanwhile are in `after.answered`.
    open: HashMap<DoorId, Vec<repo::LockCommand>>,
    /// What changed of each device's live state, written together before the commit.
    states: HashMap<String, DeviceState>,
    /// Each device's live state as this batch leaves it, put in the process's cache only
    /// once the batch is committed: a batch that fails and is retried starts again from what
    /// the database holds.
    snapshots: HashMap<String, Snapshot>,
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
        if items.is_empty() {
            return Ok(stats);
        }
        let mut tx = self.store().write().await?;
        let mut batch = Batch {
            app: self,
            now,
            events: Vec::new(),
            after: After::default(),
            policies: HashMap::new(),
            slots: HashMap::new(),
            dirty: Vec::new(),
            asked: HashMap::new(),
            open: HashMap::new(),
            states: HashMap::new(),
            snapshots: HashMap::new(),
        };
        let identities: Vec<[u8; 32]> = items.iter().filter_map(|i| i.identity).collect();
        let mut fresh = repo::first_sightings(tx.conn(), &identities, now)
            .await?
            .into_iter();
        let mut todo = Vec::with_capacity(items.len());
        for item in items {
            if item.identity.is_some() && !fresh.next().unwrap_or(false) {
                stats.duplicates += 1;
            } else {
                todo.push(item.message);
            }
        }
        batch.prefetch_slots(tx.conn(), &todo).await?;
        batch.prefetch_commands(tx.conn(), &todo).await?;
        batch.asked = repo::outstanding_asks(tx.conn())
            .await?
            .into_iter()
            .map(|a| (a.name.clone(), a))
            .collect();
        for message in todo {
            if batch.apply(tx.conn(), message).await? {
                stats.applied += 1;
            } else {
                stats.unknown_devices += 1;
            }
        }
        let Batch {
            events,
            after,
            dirty,
            states,
            snapshots,
            ..
        } = batch;
        repo::save_slots(tx.conn(), &dirty).await?;
        let mut states: Vec<(String, DeviceState)> = states.into_iter().collect();
        states.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        repo::update_states(tx.conn(), &states, now).await?;
        end_commands(tx.conn(), &after.answered, now).await?;
        // Staff hear of the batch's alarms from notices written with them (decision 61).
        self.queue_alarm_notices(tx.conn(), &events, now).await?;
        let mut returned = after.returned.clone();
        returned.sort_unstable();
        returned.dedup();
        for door in &returned {
            // In the database, not in memory: the replica that sends commands may be another.
            let due = repo::expedite_door(tx.conn(), *door, now).await?;
            self.cancel_offline_notices(tx.conn(), *door, now).await?;
            tracing::debug!(%door, slots = due, "a lock is back; its slot work is due now");
        }
        self.commit_at(tx, events, now).await?;
        self.bridge()
            .snapshots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(snapshots);
        for door in &after.first_heard {
            self.devices().desired_state_changed(*door);
        }
        for door in returned {
            self.devices().desired_state_changed(door);
            self.passage_returned(door).await;
        }
        self.wake(after.answered);
        for (credential, door) in after.used_up {
            self.devices().credential_changed(credential, &[door]);
            self.case_code_used(credential, door).await;
        }
        // Rotating every PIN of a forced door can be long (a lobby's hundreds of codes): off the
        // ingestion path.
        for door in after.forced {
            let app = self.clone();
            tokio::spawn(async move { app.lock_reported_forced_entry(door).await });
        }
        for credential in after.presence {
            self.presence_reported(credential).await;
        }
        Ok(stats)
    }

    /// Tells callers waiting for commands how the lock answered them.
    fn wake(&self, answered: Vec<(DoorId, i64, super::Answered)>) {
        if answered.is_empty() {
            return;
        }
        let mut map = self
            .bridge()
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for (door, command, answer) in answered {
            if let Some(list) = map.get_mut(&door)
                && let Some(i) = list.iter().position(|w| w.command == command)
            {
                let w = list.swap_remove(i);
                let _ = w.tx.send(answer);
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
                reported: d.reported,
            },
            None => Snapshot {
                availability: "unknown".into(),
                lock_state: "unknown".into(),
                door_state: "unknown".into(),
                battery: None,
                linkquality: None,
                reported: LockSettings::default(),
            },
        })
    }
}

/// Ends, in the batch's transaction, the commands the batch answered: one statement per
/// outcome, not one per command.
async fn end_commands(
    conn: &mut Conn,
    answered: &[(DoorId, i64, super::Answered)],
    now: Timestamp,
) -> Result<()> {
    let mut outcomes: Vec<(&str, Option<&str>, Vec<i64>)> = Vec::new();
    for (_, id, a) in answered {
        let detail = a.detail.as_deref();
        match outcomes
            .iter_mut()
            .find(|(s, d, _)| *s == a.status && *d == detail)
        {
            Some((_, _, ids)) => ids.push(*id),
            None => outcomes.push((a.status, detail, vec![*id])),
        }
    }
    for (status, detail, ids) in outcomes {
        repo::set_commands_status(conn, &ids, status, Some(now), detail).await?;
    }
    Ok(())
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
    /// Reads, in one statement, every slot the batch's lock reports name (keypad and
    /// programming events, slot reads), so that applying them reads none one by one.
    async fn prefetch_slots(&mut self, conn: &mut Conn, messages: &[DeviceMessage]) -> Result<()> {
        let mut keys = Vec::new();
        for m in messages {
            let DeviceMessage::Reports {
                device,
                profile,
                reports,
            } = m
            else {
                continue;
            };
            let said = Said::of(*profile, reports);
            if said.slots_named().next().is_none() {
                continue;
            }
            if let Target::Lock(ld) = self.app.target(conn, device).await? {
                keys.extend(said.slots_named().map(|n| (ld.door, i64::from(n))));
            }
        }
        keys.sort_unstable();
        keys.dedup();
        for key in &keys {
            self.slots.insert(*key, None);
        }
        for s in repo::get_slots(conn, &keys).await? {
            self.slots.insert((s.door_id, s.slot), Some(s));
        }
        Ok(())
    }

    /// Reads, in one statement, the commands that the batch's lock messages may answer, so
    /// that answering them reads none door by door.
    async fn prefetch_commands(
        &mut self,
        conn: &mut Conn,
        messages: &[DeviceMessage],
    ) -> Result<()> {
        let mut doors = Vec::new();
        for m in messages {
            let device = match m {
                DeviceMessage::Reports { device, .. }
                | DeviceMessage::Undelivered { device, .. } => device,
                _ => continue,
            };
            // Only locks this process already knows: looking a name up costs statements, and a
            // door not read here is read when a report of it needs it (`answerable`).
            if let Some(Some(ld)) = self
                .app
                .bridge()
                .lock_doors
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(device.as_str())
            {
                doors.push(ld.door);
            }
        }
        doors.sort_unstable();
        doors.dedup();
        if doors.is_empty() {
            return Ok(());
        }
        let since = self.now.checked_sub(lock::LATE_ANSWER).unwrap_or(self.now);
        for d in &doors {
            self.open.insert(*d, Vec::new());
        }
        for c in repo::answerable_commands_of(conn, &doors, self.now, since).await? {
            self.open.entry(c.door_id).or_default().push(c);
        }
        Ok(())
    }

    /// Keeps what changed of a device's live state for the batch's write before the commit,
    /// and the state itself for the rest of the batch and, once committed, the process.
    fn stage_snapshot(&mut self, name: &str, before: &Snapshot, after: Snapshot) {
        if *before != after {
            let s = self.states.entry(name.to_owned()).or_default();
            let changed = |b: &str, a: &str| (b != a).then(|| a.to_owned());
            if let Some(v) = changed(&before.availability, &after.availability) {
                s.availability = Some(v);
            }
            if let Some(v) = changed(&before.lock_state, &after.lock_state) {
                s.lock_state = Some(v);
            }
            if let Some(v) = changed(&before.door_state, &after.door_state) {
                s.door_state = Some(v);
            }
            if let Some(v) = after.battery.filter(|_| before.battery != after.battery) {
                s.battery = Some(v);
            }
            if let Some(v) = after
                .linkquality
                .filter(|_| before.linkquality != after.linkquality)
            {
                s.linkquality = Some(v);
            }
            let (b, a) = (&before.reported, &after.reported);
            if let Some(v) = a
                .auto_relock_seconds
                .filter(|_| b.auto_relock_seconds != a.auto_relock_seconds)
            {
                s.reported.auto_relock_seconds = Some(v);
            }
            if let Some(v) = a
                .wrong_code_limit
                .filter(|_| b.wrong_code_limit != a.wrong_code_limit)
            {
                s.reported.wrong_code_limit = Some(v);
            }
            if let Some(v) = a
                .keypad_disable_seconds
                .filter(|_| b.keypad_disable_seconds != a.keypad_disable_seconds)
            {
                s.reported.keypad_disable_seconds = Some(v);
            }
        }
        self.snapshots.insert(name.to_owned(), after);
    }

    /// A device's live state as this batch sees it (its own changes included).
    async fn snapshot(&self, conn: &mut Conn, name: &str) -> Result<Snapshot> {
        match self.snapshots.get(name) {
            Some(s) => Ok(s.clone()),
            None => self.app.snapshot(conn, name).await,
        }
    }

    /// Slot `n` of `door` as this batch sees it (its own writes included).
    async fn slot(&mut self, conn: &mut Conn, door: DoorId, n: i64) -> Result<Option<Slot>> {
        if let Some(s) = self.slots.get(&(door, n)) {
            return Ok(s.clone());
        }
        let s = repo::get_slot(conn, door, n).await?;
        self.slots.insert((door, n), s.clone());
        Ok(s)
    }

    /// Writes a slot at the end of the batch (in the same transaction).
    fn put_slot(&mut self, s: Slot) {
        self.slots.insert((s.door_id, s.slot), Some(s.clone()));
        self.dirty.push(s);
    }

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
    async fn apply(&mut self, conn: &mut Conn, message: DeviceMessage) -> Result<bool> {
        match message {
            DeviceMessage::Reports {
                device,
                profile,
                reports,
            } => self.device_state(conn, &device, profile, &reports).await,
            DeviceMessage::Availability {
                device,
                availability,
            } => self.availability(conn, &device, availability).await,
            DeviceMessage::Devices(list) => {
                for d in list {
                    let a = repo::Announced {
                        friendly_name: d.name,
                        ieee_address: d.hardware_id,
                        model: d.model,
                        vendor: d.vendor,
                        is_lock: d.is_lock,
                        has_pin: d.has_keypad,
                    };
                    repo::upsert_announced(conn, &a, self.now).await?;
                }
                Ok(true)
            }
            DeviceMessage::Left { device } => {
                let s = DeviceState {
                    left_network: Some(true),
                    ..DeviceState::default()
                };
                repo::update_state(conn, &device, &s, self.now).await?;
                Ok(true)
            }
            DeviceMessage::Undelivered {
                device,
                what,
                error,
                position,
            } => {
                if let Target::Lock(ld) = self.app.target(conn, &device).await? {
                    self.events.push(
                        NewEvent::new("lock.command_rejected", format!("door:{}", ld.door))
                            .property(ld.property)
                            .data(json!({ "attribute": what, "error": error })),
                    );
                    // A lock or unlock that the gateway could not deliver has its answer.
                    if position {
                        let reason = format!("the lock did not take the command: {error}");
                        self.fail_commands(conn, ld, &reason).await?;
                    }
                }
                Ok(true)
            }
            DeviceMessage::Gateway => Ok(true),
        }
    }

    async fn availability(&mut self, conn: &mut Conn, name: &str, a: Availability) -> Result<bool> {
        let target = self.app.target(conn, name).await?;
        let before = self.snapshot(conn, name).await?;
        let mut after = before.clone();
        after.availability = match a {
            // A sleeping lock is there; commands wait for its wake-up.
            Availability::Online | Availability::Asleep => "online",
            Availability::Offline => "offline",
            Availability::Unknown => "unknown",
        }
        .into();
        if let Target::Lock(ld) = target
            && before.availability != after.availability
        {
            match a {
                Availability::Offline => {
                    self.app
                        .bridge()
                        .caught_up
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&ld.door);
                    self.events.push(alarm(
                        "offline",
                        "warning",
                        ld.door,
                        ld.property,
                        json!({ "lock": name }),
                    ));
                }
                Availability::Online | Availability::Asleep if before.availability == "unknown" => {
                    self.after.first_heard.push(ld.door);
                }
                Availability::Online | Availability::Asleep if before.availability == "offline" => {
                    self.app
                        .bridge()
                        .caught_up
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(ld.door);
                    self.after.returned.push(ld.door);
                    self.events.push(
                        NewEvent::new("lock.online", format!("door:{}", ld.door))
                            .property(ld.property)
                            .data(json!({ "lock": name })),
                    );
                }
                _ => {}
            }
        }
        self.stage_snapshot(name, &before, after);
        Ok(!matches!(target, Target::Unknown))
    }

    async fn device_state(
        &mut self,
        conn: &mut Conn,
        name: &str,
        profile: LockProfile,
        reports: &[LockReport],
    ) -> Result<bool> {
        let r = Said::of(profile, reports);
        let target = self.app.target(conn, name).await?;
        let before = self.snapshot(conn, name).await?;
        let mut after = before.clone();
        if let Some(p) = r.position {
            after.lock_state = said::position_word(p).into();
        }
        if let Some(d) = r.door {
            after.door_state = said::door_word(d).into();
        }
        if let Some(b) = r.battery {
            after.battery = Some(i64::from(b));
        }
        if let Some(l) = r.link_quality {
            after.linkquality = Some(i64::from(l));
        }
        if let Some(t) = r.auto_relock_seconds {
            after.reported.auto_relock_seconds = Some(i64::from(t));
        }
        if let Some(n) = r.wrong_code_limit {
            after.reported.wrong_code_limit = Some(i64::from(n));
        }
        if let Some(n) = r.keypad_disable_seconds {
            after.reported.keypad_disable_seconds = Some(i64::from(n));
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
                if before.availability == "offline"
                    && self
                        .app
                        .bridge()
                        .caught_up
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(ld.door)
                {
                    // A lock that talks after silence is back, whatever its availability says.
                    self.after.returned.push(ld.door);
                }
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
        self.stage_snapshot(name, &before, after);
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
            let snap = self.snapshot(conn, &lock).await?;
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
}
