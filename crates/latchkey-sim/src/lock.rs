//! `VirtualLock`: a standard ZCL keypad deadbolt as seen through Zigbee2MQTT, as a pure state machine.
//!
//! No I/O and no clock of its own: every input takes `now: std::time::Instant`, and every input returns
//! the messages Zigbee2MQTT would publish because of it ([`Message`]). Time only moves when the caller
//! says so, through [`VirtualLock::tick`] (actuation completion, auto-relock, keypad re-enable).
//!
//! Behaviour follows docs/DEVICES.md: no optimistic state (a
//! command's new position is published when the actuation completes), operation and programming events
//! carrying the cached fields, a `users` map that never shows a PIN (`expose_pin` off), Z2M's
//! `.toString()` of numeric PINs, range errors on `bridge/logging`, and the failure modes people meet.

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::{Map, Value, json};

use crate::message::Message;

/// `action_user` when no user is involved (remote, manual, wrong code).
pub const NO_USER: u16 = 0xFFFF;

const SOURCE_KEYPAD: u8 = 0;
const SOURCE_RF: u8 = 1;
const SOURCE_MANUAL: u8 = 2;
/// ZCL "indeterminate" source. Z2M has no name for it, so such events carry no `action_source_name`.
const SOURCE_INDETERMINATE: u8 = 0xFF;

/// Battery percentage under which `battery_low` is reported.
const BATTERY_LOW_BELOW: f64 = 15.0;
/// The keypad disable time doubles per consecutive lockout, up to this many doublings.
const MAX_LOCKOUT_DOUBLINGS: u32 = 8;

pub use types::{
    Bolt, DoorState, KeypadOutcome, LockConfig, LockSnapshot, LockStatus, Pin, PinWriteMode,
    RefusalReason, Slot, SlotStatus, SoundVolume, UserType,
};

#[derive(Clone, Copy, Debug)]
struct Actuation {
    target: Bolt,
    due: Instant,
    /// Started by a remote command (`/set`): a jam is then answered with a failed operation
    /// event from the `rf` source, as locks that report their operations do.
    remote: bool,
}

/// One simulated Zigbee keypad lock. See the module docs.
#[derive(Debug)]
pub struct VirtualLock {
    name: String,
    cfg: LockConfig,
    slots: Vec<Slot>,
    duress: BTreeSet<u16>,
    bolt: Bolt,
    door_open: bool,
    door_error: Option<DoorState>,
    battery: f64,
    online: bool,
    auto_relock_time: u32,
    sound_volume: SoundVolume,
    wrong_code_limit: u8,
    disable_time_s: u8,
    wrong_codes: u8,
    lockouts_in_row: u32,
    keypad_disabled_until: Option<Instant>,
    actuation: Option<Actuation>,
    relock_at: Option<Instant>,
    relock_when_closed: bool,
    jam: bool,
    pin_writes: PinWriteMode,
    report_manual: bool,
    persist_version: u64,
    floods: u64,
    /// The next PIN write is lost on the way (a Zigbee frame the mesh dropped): no answer, no
    /// event, the slot unchanged.
    drop_next_pin_write: bool,
}

impl VirtualLock {
    /// A locked lock with a closed door, a full battery, empty slots, online.
    pub fn new(name: impl Into<String>, cfg: LockConfig) -> Self {
        let capacity = usize::from(cfg.capacity);
        Self {
            name: name.into(),
            cfg,
            slots: vec![Slot::default(); capacity],
            duress: BTreeSet::new(),
            bolt: Bolt::Locked,
            door_open: false,
            door_error: None,
            battery: 100.0,
            online: true,
            auto_relock_time: 0,
            sound_volume: SoundVolume::default(),
            wrong_code_limit: 5,
            disable_time_s: 60,
            wrong_codes: 0,
            lockouts_in_row: 0,
            keypad_disabled_until: None,
            actuation: None,
            relock_at: None,
            relock_when_closed: false,
            jam: false,
            pin_writes: PinWriteMode::Apply,
            report_manual: true,
            persist_version: 0,
            floods: 0,
            drop_next_pin_write: false,
        }
    }

    /// The friendly name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of PIN slots.
    pub fn capacity(&self) -> u16 {
        self.cfg.capacity
    }

    /// The slot table, index = ZCL user id.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Physical state for tests and the in-process handle.
    pub fn status(&self, now: Instant) -> LockStatus {
        LockStatus {
            bolt: self.bolt,
            door_state: self.door_state(),
            battery: self.battery_pct(),
            online: self.online,
            keypad_disabled: self.keypad_disabled(now),
            actuating: self.actuation.is_some(),
        }
    }

    /// Bumped on every change that `--state-file` must save (slots, duress set, settings).
    pub fn persist_version(&self) -> u64 {
        self.persist_version
    }

    /// How many `{"pin_code":""}` "read every slot" requests this lock has answered.
    pub fn floods(&self) -> u64 {
        self.floods
    }

    /// The earliest instant at which [`tick`](Self::tick) has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.actuation.map(|a| a.due),
            self.relock_at,
            self.keypad_disabled_until,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ----- persistence -----

    /// What `--state-file` keeps.
    pub fn snapshot(&self) -> LockSnapshot {
        LockSnapshot {
            slots: self
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.status != SlotStatus::Available)
                .filter_map(|(i, s)| Some((u16::try_from(i).ok()?, s.clone())))
                .collect(),
            duress: self.duress.iter().copied().collect(),
            auto_relock_time: self.auto_relock_time,
            sound_volume: self.sound_volume,
            wrong_code_limit: self.wrong_code_limit,
            user_code_temporary_disable_time: self.disable_time_s,
        }
    }

    /// Restores a snapshot; slots beyond this lock's capacity are dropped.
    pub fn restore(&mut self, snap: &LockSnapshot) {
        self.slots = vec![Slot::default(); usize::from(self.cfg.capacity)];
        for (i, slot) in &snap.slots {
            if let Some(s) = self.slots.get_mut(usize::from(*i)) {
                *s = slot.clone();
            }
        }
        self.duress = snap
            .duress
            .iter()
            .copied()
            .filter(|d| *d < self.cfg.capacity)
            .collect();
        self.auto_relock_time = snap.auto_relock_time;
        self.sound_volume = snap.sound_volume;
        self.wrong_code_limit = snap.wrong_code_limit;
        self.disable_time_s = snap.user_code_temporary_disable_time;
    }

    // ----- Zigbee2MQTT commands -----

    /// A message on `<base>/<name>/set`. A bare string (`"LOCK"`) counts as `{"state": …}`.
    pub fn handle_set(&mut self, msg: &Value, now: Instant) -> Vec<Message> {
        let Some(obj) = as_command_object(msg) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if !self.reachable() {
            // Zigbee2MQTT is up but the device does not answer.
            for key in obj.keys() {
                out.push(Message::publish_failed(
                    "set",
                    key,
                    &self.name,
                    "Delivery failed",
                ));
            }
            return out;
        }
        for (key, value) in &obj {
            match key.as_str() {
                "state" => self.set_state(value, now, &mut out),
                "pin_code" if self.drop_next_pin_write => self.drop_next_pin_write = false,
                "pin_code" => self.set_pin_code(value, &mut out),
                "user_status" => self.set_user_status(value, &mut out),
                "auto_relock_time" => self.set_auto_relock_time(value, &mut out),
                "sound_volume" => self.set_sound_volume(value, &mut out),
                "write" => self.generic_write(value, &mut out),
                "read" => self.generic_read("set", value, &mut out),
                _ => out.push(Message::no_converter(key, &self.name, value)),
            }
        }
        out
    }

    /// A message on `<base>/<name>/get`, e.g. `{"state":""}` or `{"pin_code":{"user":3}}`.
    pub fn handle_get(&mut self, msg: &Value, _now: Instant) -> Vec<Message> {
        let Some(obj) = msg.as_object() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if !self.reachable() {
            for key in obj.keys() {
                out.push(Message::publish_failed(
                    "get",
                    key,
                    &self.name,
                    "Delivery failed",
                ));
            }
            return out;
        }
        for (key, value) in obj {
            match key.as_str() {
                "state" | "lock_state" | "door_state" | "auto_relock_time" | "sound_volume"
                | "battery" | "voltage" => out.push(Message::state(self.cached())),
                "pin_code" | "user_status" => self.get_users(value, &mut out),
                "read" => self.generic_read("get", value, &mut out),
                _ => out.push(Message::no_converter(key, &self.name, value)),
            }
        }
        out
    }

    // ----- internals -----

    /// ZHC's `isInRange(0, pinCodeCount - 1, user)`, with JS's coercion of numeric strings.
    fn user_in_range(&self, user: Option<&Value>) -> Option<u16> {
        let n = match user? {
            Value::Number(n) => n.as_f64()?,
            Value::String(s) => s.trim().parse::<f64>().ok()?,
            _ => return None,
        };
        let ok = n.fract() == 0.0 && n >= 0.0 && n < f64::from(self.cfg.capacity);
        // The range check makes the cast exact.
        ok.then_some(n as u16)
    }

    fn keypad_disabled(&self, now: Instant) -> bool {
        self.keypad_disabled_until.is_some_and(|t| now < t)
    }

    fn battery_dead(&self) -> bool {
        self.battery <= 0.0
    }

    fn reachable(&self) -> bool {
        self.online && !self.battery_dead()
    }

    /// Reports reach Zigbee2MQTT only from a lock that is online and powered.
    fn deliver(&self, out: Vec<Message>) -> Vec<Message> {
        if self.reachable() { out } else { Vec::new() }
    }

    fn battery_pct(&self) -> u8 {
        // Clamped to 0..=100 first, so the cast is exact.
        self.battery.clamp(0.0, 100.0).round() as u8
    }

    fn door_state(&self) -> DoorState {
        self.door_error.unwrap_or(if self.door_open {
            DoorState::Open
        } else {
            DoorState::Closed
        })
    }

    /// The fields Zigbee2MQTT caches and repeats in every message of this device.
    fn cached(&self) -> Map<String, Value> {
        let pct = self.battery_pct();
        let mut m = Map::new();
        m.insert("state".into(), json!(self.bolt.state()));
        m.insert("lock_state".into(), json!(self.bolt.lock_state()));
        m.insert("door_state".into(), json!(self.door_state().as_str()));
        m.insert("battery".into(), json!(pct));
        // 4 × AA: 4.4 V flat … 6.0 V full.
        m.insert("voltage".into(), json!(4400 + 16 * u32::from(pct)));
        m.insert(
            "battery_low".into(),
            json!(self.battery < BATTERY_LOW_BELOW),
        );
        m.insert("linkquality".into(), json!(self.cfg.linkquality));
        m.insert("auto_relock_time".into(), json!(self.auto_relock_time));
        m.insert("sound_volume".into(), json!(self.sound_volume.as_str()));
        m
    }

    /// An operation or programming event: the cached fields plus the one-shot `action*` fields.
    fn event(&self, action: &str, source: u8, user: u16) -> Message {
        let mut m = self.cached();
        m.insert("action".into(), json!(action));
        m.insert("action_source".into(), json!(source));
        let name = match source {
            SOURCE_KEYPAD => Some("keypad"),
            SOURCE_RF => Some("rf"),
            SOURCE_MANUAL => Some("manual"),
            _ => None,
        };
        if let Some(name) = name {
            m.insert("action_source_name".into(), json!(name));
        }
        m.insert("action_user".into(), json!(user));
        Message::state(m)
    }
}

/// Z2M's `parseMessage`: an object as is; a bare `LOCK`/`UNLOCK`/`TOGGLE` as `{"state": …}`.
fn as_command_object(msg: &Value) -> Option<Map<String, Value>> {
    match msg {
        Value::Object(o) => Some(o.clone()),
        Value::String(s) if ["LOCK", "UNLOCK", "TOGGLE"].contains(&s.to_uppercase().as_str()) => {
            let mut m = Map::new();
            m.insert("state".into(), Value::String(s.clone()));
            Some(m)
        }
        _ => None,
    }
}

/// JavaScript's `Number.prototype.toString` for the values JSON can carry.
fn js_number_string(n: &serde_json::Number) -> String {
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) => i.to_string(),
        (_, Some(u), _) => u.to_string(),
        // 1234.0 is 1234 in JavaScript; Rust's Display already drops a zero fraction.
        (_, _, Some(f)) => f.to_string(),
        _ => n.to_string(),
    }
}

/// JavaScript truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

mod converters;
mod keypad;
mod physical;
mod types;

#[cfg(test)]
mod tests;
