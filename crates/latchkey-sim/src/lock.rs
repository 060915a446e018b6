//! `VirtualLock`: a standard ZCL keypad deadbolt as seen through Zigbee2MQTT, as a pure state machine.
//!
//! No I/O and no clock of its own: every input takes `now: std::time::Instant`, and every input returns
//! the messages Zigbee2MQTT would publish because of it ([`Message`]). Time only moves when the caller
//! says so, through [`VirtualLock::tick`] (actuation completion, auto-relock, keypad re-enable).
//!
//! Behaviour follows `ZIGBEE2MQTT-LOCK.md` ("What latchkey does with this"): no optimistic state (a
//! command's new position is published when the actuation completes), operation and programming events
//! carrying the cached fields, a `users` map that never shows a PIN (`expose_pin` off), Z2M's
//! `.toString()` of numeric PINs, range errors on `bridge/logging`, and the failure modes people meet.

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
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

/// A slot's ZCL user status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotStatus {
    /// Empty (ZCL 0).
    #[default]
    Available,
    /// Occupied and enabled (ZCL 1).
    Enabled,
    /// Occupied and disabled (ZCL 3).
    Disabled,
}

impl SlotStatus {
    /// The string Z2M uses in the `users` map.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }
}

/// A slot's ZCL user type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserType {
    /// ZCL 0, the default.
    #[default]
    Unrestricted,
    /// ZCL 1. The simulated lock holds no schedules, so it admits such a user like an unrestricted one.
    YearDaySchedule,
    /// ZCL 2. Same as above.
    WeekDaySchedule,
    /// ZCL 3.
    Master,
    /// ZCL 4: the code is recognised (and reported) but never opens.
    NonAccess,
}

impl UserType {
    const NAMES: [(&'static str, Self); 5] = [
        ("unrestricted", Self::Unrestricted),
        ("year_day_schedule", Self::YearDaySchedule),
        ("week_day_schedule", Self::WeekDaySchedule),
        ("master", Self::Master),
        ("non_access", Self::NonAccess),
    ];

    /// Parses the Z2M name, case-insensitively as ZHC's `getFromLookup` does.
    pub fn parse(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, t)| *t)
    }
}

/// A PIN as the lock stores it. `Debug` never shows the digits.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pin(String);

impl Pin {
    /// Wraps a PIN.
    pub fn new(pin: impl Into<String>) -> Self {
        Self(pin.into())
    }

    /// The digits. Named loudly so that call sites show where a secret is read.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// One entry of the slot table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// ZCL user status.
    pub status: SlotStatus,
    /// The code; empty when the slot is available.
    pub pin: Pin,
    /// ZCL user type.
    pub user_type: UserType,
}

/// The bolt's position (`lock_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bolt {
    /// ZCL 0: the bolt failed to throw (a jam).
    NotFullyLocked,
    /// ZCL 1.
    Locked,
    /// ZCL 2.
    Unlocked,
}

impl Bolt {
    fn lock_state(self) -> &'static str {
        match self {
            Self::NotFullyLocked => "not_fully_locked",
            Self::Locked => "locked",
            Self::Unlocked => "unlocked",
        }
    }

    /// `state` is `LOCK` only for ZCL lockState 1; everything else is `UNLOCK` (as `fz.lock` does).
    fn state(self) -> &'static str {
        if self == Self::Locked {
            "LOCK"
        } else {
            "UNLOCK"
        }
    }

    fn zcl(self) -> u8 {
        match self {
            Self::NotFullyLocked => 0,
            Self::Locked => 1,
            Self::Unlocked => 2,
        }
    }
}

/// The reported `door_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DoorState {
    /// ZCL 0.
    Open,
    /// ZCL 1.
    Closed,
    /// ZCL 2: the bolt jammed.
    ErrorJammed,
    /// ZCL 3: the door was opened while the bolt was thrown.
    ErrorForcedOpen,
}

impl DoorState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::ErrorJammed => "error_jammed",
            Self::ErrorForcedOpen => "error_forced_open",
        }
    }

    fn zcl(self) -> u8 {
        match self {
            Self::Open => 0,
            Self::Closed => 1,
            Self::ErrorJammed => 2,
            Self::ErrorForcedOpen => 3,
        }
    }
}

/// ZCL `soundVolume`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoundVolume {
    /// `silent_mode` (0).
    SilentMode,
    /// `low_volume` (1).
    #[default]
    LowVolume,
    /// `high_volume` (2).
    HighVolume,
}

impl SoundVolume {
    const ALL: [Self; 3] = [Self::SilentMode, Self::LowVolume, Self::HighVolume];

    fn as_str(self) -> &'static str {
        match self {
            Self::SilentMode => "silent_mode",
            Self::LowVolume => "low_volume",
            Self::HighVolume => "high_volume",
        }
    }

    fn zcl(self) -> u8 {
        match self {
            Self::SilentMode => 0,
            Self::LowVolume => 1,
            Self::HighVolume => 2,
        }
    }
}

/// What the keypad did with a code. Decided locally, with or without a broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeypadOutcome {
    /// An enabled slot matched and the bolt was told to open.
    Opened {
        /// The matching slot.
        slot: u16,
    },
    /// The code did not open the door.
    Refused {
        /// Why.
        reason: RefusalReason,
    },
    /// A `non_access` slot matched: reported, never opens.
    NonAccess {
        /// The matching slot.
        slot: u16,
    },
    /// The keypad is disabled after too many wrong codes; every code is refused until it re-enables.
    Disabled,
}

/// Why the keypad refused a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalReason {
    /// No occupied slot holds this code.
    UnknownPin,
    /// The matching slot is disabled.
    SlotDisabled,
    /// The battery is flat: the lock does nothing.
    BatteryDead,
}

/// How the lock treats PIN writes, to reproduce the failures people meet (reference §6.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PinWriteMode {
    /// Writes are applied and confirmed with a programming event.
    #[default]
    Apply,
    /// Writes are accepted by Z2M but silently not applied: no event, no log line.
    SilentlyIgnore,
    /// Writes fail in delivery: nothing applied, an error line on `bridge/logging`.
    DeliveryFailed,
}

/// Static parameters of one virtual lock.
#[derive(Clone, Debug)]
pub struct LockConfig {
    /// Number of PIN slots (`numOfPinUsersSupported`, Z2M's `pinCodeCount`).
    pub capacity: u16,
    /// Time between a command and the new position's report. Zero completes within the same call.
    pub actuation: Duration,
    /// Battery percentage used by each actuation.
    pub battery_drain_per_actuation: f64,
    /// Reported `linkquality`.
    pub linkquality: u8,
    /// ZCL `minPinLen`; shorter codes are rejected by the lock (silently, as real locks do).
    pub min_pin_len: usize,
    /// ZCL `maxPinLen`.
    pub max_pin_len: usize,
}

impl Default for LockConfig {
    fn default() -> Self {
        Self {
            capacity: 30,
            actuation: Duration::from_secs(2),
            battery_drain_per_actuation: 0.0,
            linkquality: 120,
            min_pin_len: 4,
            max_pin_len: 8,
        }
    }
}

/// A read-only view of a lock's physical state.
#[derive(Clone, Debug, PartialEq)]
pub struct LockStatus {
    /// Bolt position.
    pub bolt: Bolt,
    /// Reported door state.
    pub door_state: DoorState,
    /// Battery percentage (rounded).
    pub battery: u8,
    /// False while the lock is set offline.
    pub online: bool,
    /// True while the keypad refuses every code after the wrong-code limit.
    pub keypad_disabled: bool,
    /// A command is still moving the bolt.
    pub actuating: bool,
}

/// What survives a restart of the fleet (`--state-file`): the slot table and the settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LockSnapshot {
    /// Occupied slots only, by index.
    pub slots: Vec<(u16, Slot)>,
    /// Slots marked as duress codes.
    pub duress: Vec<u16>,
    /// `auto_relock_time` in seconds.
    pub auto_relock_time: u32,
    /// `sound_volume`.
    pub sound_volume: SoundVolume,
    /// ZCL `wrongCodeEntryLimit`.
    pub wrong_code_limit: u8,
    /// ZCL `userCodeTemporaryDisableTime`, seconds.
    pub user_code_temporary_disable_time: u8,
}

#[derive(Clone, Copy, Debug)]
struct Actuation {
    target: Bolt,
    due: Instant,
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

    // ----- physical inputs -----

    /// Someone types `pin` on the keypad.
    pub fn keypad(&mut self, pin: &str, now: Instant) -> (KeypadOutcome, Vec<Message>) {
        if self.battery_dead() {
            return (
                KeypadOutcome::Refused {
                    reason: RefusalReason::BatteryDead,
                },
                Vec::new(),
            );
        }
        let mut out = Vec::new();
        if self.keypad_disabled(now) {
            out.push(self.event("unlock_failure_invalid_pin_or_id", SOURCE_KEYPAD, NO_USER));
            return (KeypadOutcome::Disabled, self.deliver(out));
        }
        let outcome = match self.find_slot(pin) {
            Some(i) if self.opens(i) => {
                self.wrong_codes = 0;
                self.lockouts_in_row = 0;
                out.push(self.event("unlock", SOURCE_KEYPAD, i));
                if self.duress.contains(&i) {
                    let mut alarm = self.cached();
                    alarm.insert("alarm".into(), json!("duress"));
                    alarm.insert("action_user".into(), json!(i));
                    out.push(Message::state(alarm));
                }
                self.start_actuation(Bolt::Unlocked, now, &mut out);
                KeypadOutcome::Opened { slot: i }
            }
            Some(i) if self.slots[usize::from(i)].status == SlotStatus::Enabled => {
                // Enabled but not opening: a non_access user.
                out.push(self.event("non_access_user_operational_event", SOURCE_KEYPAD, i));
                KeypadOutcome::NonAccess { slot: i }
            }
            found => {
                out.push(self.event("unlock_failure_invalid_pin_or_id", SOURCE_KEYPAD, NO_USER));
                self.count_wrong_code(now, &mut out);
                KeypadOutcome::Refused {
                    reason: if found.is_some() {
                        RefusalReason::SlotDisabled
                    } else {
                        RefusalReason::UnknownPin
                    },
                }
            }
        };
        (outcome, self.deliver(out))
    }

    fn count_wrong_code(&mut self, now: Instant, out: &mut Vec<Message>) {
        self.wrong_codes = self.wrong_codes.saturating_add(1);
        if self.wrong_code_limit == 0 || self.wrong_codes < self.wrong_code_limit {
            return;
        }
        let doublings = self.lockouts_in_row.min(MAX_LOCKOUT_DOUBLINGS);
        let secs = u64::from(self.disable_time_s) << doublings;
        self.keypad_disabled_until = Some(now + Duration::from_secs(secs));
        self.lockouts_in_row += 1;
        self.wrong_codes = 0;
        let mut alarm = self.cached();
        alarm.insert("alarm".into(), json!("tamper_alarm_keypad_attempts"));
        out.push(Message::state(alarm));
    }

    /// Someone turns the thumb-turn or key: the bolt toggles at once, reported as a manual event.
    pub fn manual_turn(&mut self, now: Instant) -> Vec<Message> {
        let lock = self.bolt != Bolt::Locked;
        self.manual_set(lock, now)
    }

    /// Someone turns the bolt by hand to `locked` (true) or unlocked (false).
    pub fn manual_set(&mut self, locked: bool, now: Instant) -> Vec<Message> {
        let target = if locked { Bolt::Locked } else { Bolt::Unlocked };
        self.actuation = None;
        self.bolt = target;
        if self.door_error == Some(DoorState::ErrorJammed) {
            self.door_error = None;
        }
        self.after_bolt_moved(now);
        let mut out = vec![self.event(
            if locked {
                "manual_lock"
            } else {
                "manual_unlock"
            },
            SOURCE_MANUAL,
            NO_USER,
        )];
        if self.report_manual {
            out.push(Message::state(self.cached()));
        }
        self.deliver(out)
    }

    /// The door opens. Opening it while the bolt is thrown is forced entry.
    pub fn open_door(&mut self, _now: Instant) -> Vec<Message> {
        self.door_open = true;
        if self.bolt == Bolt::Locked {
            self.door_error = Some(DoorState::ErrorForcedOpen);
        }
        self.deliver(vec![Message::state(self.cached())])
    }

    /// The door is forced open whatever the bolt says.
    pub fn force_door(&mut self, _now: Instant) -> Vec<Message> {
        self.door_open = true;
        self.door_error = Some(DoorState::ErrorForcedOpen);
        self.deliver(vec![Message::state(self.cached())])
    }

    /// The door closes; a deferred auto-relock starts counting again.
    pub fn close_door(&mut self, now: Instant) -> Vec<Message> {
        self.door_open = false;
        if self.door_error == Some(DoorState::ErrorForcedOpen) {
            self.door_error = None;
        }
        if self.relock_when_closed && self.auto_relock_time > 0 && self.bolt == Bolt::Unlocked {
            self.relock_when_closed = false;
            self.relock_at = Some(now + Duration::from_secs(u64::from(self.auto_relock_time)));
        }
        self.deliver(vec![Message::state(self.cached())])
    }

    /// Lets time pass: completes a due actuation, fires auto-relock, re-enables the keypad.
    pub fn tick(&mut self, now: Instant) -> Vec<Message> {
        if self.keypad_disabled_until.is_some_and(|t| t <= now) {
            self.keypad_disabled_until = None;
        }
        if self.battery_dead() {
            return Vec::new();
        }
        let mut out = Vec::new();
        if let Some(a) = self.actuation
            && a.due <= now
        {
            self.complete_actuation(a.target, a.due, &mut out);
        }
        if let Some(at) = self.relock_at
            && at <= now
        {
            self.relock_at = None;
            if self.bolt == Bolt::Unlocked && self.actuation.is_none() {
                if self.door_open {
                    self.relock_when_closed = true;
                } else {
                    out.push(self.event("auto_lock", SOURCE_INDETERMINATE, NO_USER));
                    self.start_actuation(Bolt::Locked, now, &mut out);
                }
            }
        }
        self.deliver(out)
    }

    // ----- test and demo knobs -----

    /// Jam mode: while on, every actuation ends `not_fully_locked` with `door_state: error_jammed`.
    pub fn set_jam(&mut self, on: bool) {
        self.jam = on;
    }

    /// Takes the lock off the network (true) or back. Offline: availability `offline`, commands are
    /// answered by Z2M's `Delivery failed`, reports are lost; the keypad keeps working locally.
    pub fn set_offline(&mut self, offline: bool) -> Vec<Message> {
        if self.online != offline {
            return Vec::new();
        }
        self.online = !offline;
        if offline {
            vec![Message::availability(false)]
        } else {
            let mut out = vec![Message::availability(true)];
            if !self.battery_dead() {
                out.push(Message::state(self.cached()));
            }
            out
        }
    }

    /// Sets the battery percentage (0 = flat: the lock stops acting and reporting).
    pub fn set_battery(&mut self, percent: u8) -> Vec<Message> {
        self.battery = f64::from(percent.min(100));
        if self.battery_dead() {
            self.actuation = None;
            self.relock_at = None;
            return Vec::new();
        }
        self.deliver(vec![Message::state(self.cached())])
    }

    /// Marks (or unmarks) a slot as a duress code: it opens normally and raises `"alarm":"duress"`.
    pub fn set_duress(&mut self, slot: u16, on: bool) -> bool {
        if slot >= self.cfg.capacity {
            return false;
        }
        let changed = if on {
            self.duress.insert(slot)
        } else {
            self.duress.remove(&slot)
        };
        if changed {
            self.persist_version += 1;
        }
        true
    }

    /// How PIN writes are treated (failure modes).
    pub fn set_pin_write_mode(&mut self, mode: PinWriteMode) {
        self.pin_writes = mode;
    }

    /// When false, a manual turn sends its event but no state report: the stale-state failure.
    pub fn set_report_manual_state(&mut self, on: bool) {
        self.report_manual = on;
    }

    /// Every cached field as one state message, as `/get {"state":""}` gives.
    pub fn state_message(&self) -> Message {
        Message::state(self.cached())
    }

    // ----- internals -----

    fn start_actuation(&mut self, target: Bolt, now: Instant, out: &mut Vec<Message>) {
        if self.cfg.actuation.is_zero() {
            self.actuation = None;
            self.complete_actuation(target, now, out);
        } else {
            self.actuation = Some(Actuation {
                target,
                due: now + self.cfg.actuation,
            });
        }
    }

    fn complete_actuation(&mut self, target: Bolt, at: Instant, out: &mut Vec<Message>) {
        self.actuation = None;
        self.battery = (self.battery - self.cfg.battery_drain_per_actuation).max(0.0);
        if self.jam {
            self.bolt = Bolt::NotFullyLocked;
            self.door_error = Some(DoorState::ErrorJammed);
            self.relock_at = None;
        } else {
            self.bolt = target;
            if self.door_error == Some(DoorState::ErrorJammed) {
                self.door_error = None;
            }
            self.after_bolt_moved(at);
        }
        out.push(Message::state(self.cached()));
    }

    fn after_bolt_moved(&mut self, at: Instant) {
        self.relock_when_closed = false;
        self.relock_at = (self.bolt == Bolt::Unlocked && self.auto_relock_time > 0)
            .then(|| at + Duration::from_secs(u64::from(self.auto_relock_time)));
    }

    fn find_slot(&self, pin: &str) -> Option<u16> {
        if pin.is_empty() {
            return None;
        }
        self.slots
            .iter()
            .position(|s| s.status != SlotStatus::Available && s.pin.expose_secret() == pin)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// An occupied, enabled slot of a type that admits (schedules are not simulated).
    fn opens(&self, slot: u16) -> bool {
        let s = &self.slots[usize::from(slot)];
        s.status == SlotStatus::Enabled && s.user_type != UserType::NonAccess && !s.pin.is_empty()
    }

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

#[cfg(test)]
mod tests;
