//! The virtual Z-Wave JS UI gateway as a pure state machine: every input takes the instant and
//! the gateway's wall-clock milliseconds and returns what the gateway would publish.
//!
//! Written from the reference as docs/DEVICES.md ("Z-Wave JS UI") summarises it, sharing no code
//! with latchkey's codec. The gateway keeps a cache of every value (what it publishes and lists
//! in `getNodes`) apart from each lock's own state, because that is where the real one misleads:
//! - an unsupervised `writeValue` updates the cache and publishes the written value at once,
//!   keeping the value's old `time` (the echo), answers `{"status":254}`, and only after the
//!   answer delay does the lock take the write and the verification read publish what the lock
//!   holds, with a new `time`;
//! - a lock with `drop_first_write` never takes its first code write, so that read shows the old
//!   slot;
//! - masked locks report `*` for every stored code;
//! - a sleeping node's calls wait for its wake-up;
//! - a dead node fails every transmission: `writeValue` answers `{"status":2}`, `pollValue`
//!   fails, `pingNode` answers false, and its status turns `Dead`.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::node::{ZwaveLock, ZwaveLockConfig};

mod api;

const DOOR_LOCK: u64 = 98;
const USER_CODE: u64 = 99;
const NOTIFICATION: u64 = 113;
const BATTERY: u64 = 128;

/// One message the gateway publishes.
#[derive(Clone, Debug, PartialEq)]
pub struct Publish {
    pub topic: String,
    pub payload: Value,
    pub retain: bool,
}

/// The gateway's settings that shape the wire (ValueId topics, numeric node ids, no location,
/// JSON time-value payloads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewaySettings {
    /// `mqtt.prefix`.
    pub prefix: String,
    /// `mqtt.name`.
    pub name: String,
    /// `mqtt.retain` for value and status topics.
    pub retain: bool,
    /// `gateway.sendEvents`.
    pub send_events: bool,
    /// From a write to the lock's answer (zwave-js' verification read comes about 1 s later).
    pub answer_delay: std::time::Duration,
    /// From a Door Lock command to the bolt's report.
    pub actuation: std::time::Duration,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            prefix: "zwave".into(),
            name: "zwave-js-ui".into(),
            retain: true,
            send_events: true,
            answer_delay: std::time::Duration::from_millis(300),
            actuation: std::time::Duration::from_millis(200),
        }
    }
}

#[derive(Clone, Debug)]
enum Change {
    Code {
        slot: u16,
        code: String,
    },
    /// A code with its status in one Set (`sendCommand set`).
    CodeAs {
        slot: u16,
        status: u8,
        code: String,
    },
    Status {
        slot: u16,
        status: u8,
    },
    Mode(u8),
    AutoRelock(u16),
}

#[derive(Clone, Debug)]
enum Pending {
    /// The lock receives a write; then the verification read.
    Apply { node: u16, change: Change },
    /// Auto-relock.
    Relock { node: u16 },
    /// A sleeping node woke up: run the call now.
    Deferred { api: String, body: Value },
}

/// The virtual gateway. See the module docs.
#[derive(Debug)]
pub struct Gateway {
    settings: GatewaySettings,
    client: String,
    locks: Vec<ZwaveLock>,
    /// The gateway's cache: value topic → (value, time).
    cache: HashMap<String, (Value, u64)>,
    pending: Vec<(Instant, Pending)>,
}

/// Why a value write or read cannot be done, as zwave-js says it.
enum Refusal {
    /// `{"status":5,"message":…}`.
    Invalid(&'static str),
    /// `{"status":2}`.
    Fail,
}

impl Gateway {
    /// A gateway with these locks (node ids must be distinct).
    pub fn new(settings: GatewaySettings, locks: Vec<ZwaveLockConfig>) -> Self {
        let client = format!("ZWAVE_GATEWAY-{}", sanitize(&settings.name));
        let mut g = Gateway {
            settings,
            client,
            locks: locks.into_iter().map(ZwaveLock::new).collect(),
            cache: HashMap::new(),
            pending: Vec::new(),
        };
        for i in 0..g.locks.len() {
            g.seed_cache(i);
        }
        g
    }

    /// The gateway's MQTT client id.
    pub fn client_id(&self) -> &str {
        &self.client
    }

    /// The settings.
    pub fn settings(&self) -> &GatewaySettings {
        &self.settings
    }

    /// `<prefix>/_CLIENTS/<client>/status`: the gateway's online flag (and last will).
    pub fn status_topic(&self) -> String {
        format!("{}/_CLIENTS/{}/status", self.settings.prefix, self.client)
    }

    /// What the gateway subscribes to: API calls and the simulator's control topics.
    pub fn subscriptions(&self) -> Vec<String> {
        vec![
            format!(
                "{}/_CLIENTS/{}/api/+/set",
                self.settings.prefix, self.client
            ),
            format!("latchkey-sim/{}/+/+", self.settings.prefix),
        ]
    }

    /// The lock's own slot (1-based), for tests.
    pub fn slot(&self, node: u16, slot: u16) -> Option<super::ZwaveSlot> {
        self.lock(node)?.slot(slot).cloned()
    }

    /// The lock's Door Lock mode (255 secured, 0 unsecured), for tests.
    pub fn mode(&self, node: u16) -> Option<u8> {
        self.lock(node).map(|l| l.mode)
    }

    /// When [`Gateway::tick`] next has work.
    pub fn next_due(&self) -> Option<Instant> {
        self.pending.iter().map(|(due, _)| *due).min()
    }

    fn lock(&self, node: u16) -> Option<&ZwaveLock> {
        self.locks.iter().find(|l| l.cfg.id == node)
    }

    fn index(&self, node: u16) -> Option<usize> {
        self.locks.iter().position(|l| l.cfg.id == node)
    }

    fn topic(&self, node: u16, cc: u64, property: &str, key: Option<u16>) -> String {
        match key {
            Some(k) => format!("{}/{node}/{cc}/0/{property}/{k}", self.settings.prefix),
            None => format!("{}/{node}/{cc}/0/{property}", self.settings.prefix),
        }
    }

    fn seed_cache(&mut self, i: usize) {
        let l = &self.locks[i];
        let id = l.cfg.id;
        let mut seeds = vec![
            (
                self.topic(id, DOOR_LOCK, "currentMode", None),
                json!(l.mode),
            ),
            (self.topic(id, DOOR_LOCK, "targetMode", None), json!(l.mode)),
            (
                self.topic(id, DOOR_LOCK, "autoRelockTime", None),
                json!(l.auto_relock),
            ),
            (self.topic(id, BATTERY, "level", None), json!(l.battery)),
            (self.topic(id, BATTERY, "isLow", None), json!(false)),
        ];
        // zwave-js does not read codes at the interview: the slots exist, their codes are
        // unknown until read (published as `{"time":…}` with no value). Status is known as
        // Available here so `getNodes` counts the slots.
        for n in 1..=l.cfg.capacity {
            seeds.push((self.topic(id, USER_CODE, "userIdStatus", Some(n)), json!(0)));
            seeds.push((self.topic(id, USER_CODE, "userCode", Some(n)), Value::Null));
        }
        for (topic, value) in seeds {
            self.cache.insert(topic, (value, 1));
        }
    }

    /// Publishes a value through the cache. `fresh`: the lock said so (a new `time`);
    /// otherwise the old `time` stays (the echo of a write).
    fn value(&mut self, topic: String, value: Value, fresh: bool, now_ms: u64) -> Publish {
        let old = self.cache.get(&topic).map_or(0, |(_, t)| *t);
        let time = if fresh {
            now_ms.max(old + 1)
        } else {
            old.max(1)
        };
        self.cache.insert(topic.clone(), (value.clone(), time));
        Publish {
            topic,
            payload: time_value(time, &value),
            retain: self.settings.retain,
        }
    }

    fn node_status(&self, node: u16, status: &str, now_ms: u64) -> Publish {
        Publish {
            topic: format!("{}/{node}/status", self.settings.prefix),
            payload: json!({"time": now_ms, "value": status != "Dead", "status": status, "nodeId": node}),
            retain: self.settings.retain,
        }
    }

    fn idle_status(&self, i: usize) -> &'static str {
        let l = &self.locks[i];
        if l.dead {
            "Dead"
        } else if l.cfg.quirks.sleeping.is_some() {
            "Asleep"
        } else {
            "Alive"
        }
    }

    /// What the gateway publishes on (re)connecting: its status, the driver's, every node's
    /// status and every cached value.
    pub fn announce(&mut self, now_ms: u64) -> Vec<Publish> {
        let retain = self.settings.retain;
        let mut out = vec![
            Publish {
                topic: self.status_topic(),
                payload: json!({"value": true, "time": now_ms}),
                retain,
            },
            Publish {
                topic: format!("{}/driver/status", self.settings.prefix),
                payload: json!(true),
                retain,
            },
        ];
        for i in 0..self.locks.len() {
            out.push(self.node_status(self.locks[i].cfg.id, self.idle_status(i), now_ms));
        }
        let mut cached: Vec<_> = self.cache.iter().collect();
        cached.sort_by(|a, b| a.0.cmp(b.0));
        for (topic, (value, time)) in cached {
            out.push(Publish {
                topic: topic.clone(),
                payload: time_value(*time, value),
                retain,
            });
        }
        out
    }

    /// Handles one inbound message.
    pub fn on_message(
        &mut self,
        topic: &str,
        payload: &[u8],
        now: Instant,
        now_ms: u64,
    ) -> Vec<Publish> {
        let prefix = self.settings.prefix.clone();
        if let Some(rest) = topic.strip_prefix(&format!("latchkey-sim/{prefix}/")) {
            let Some((node, op)) = rest.split_once('/') else {
                return Vec::new();
            };
            let text = String::from_utf8_lossy(payload);
            return match node.parse() {
                Ok(node) => self.control(node, op, text.trim(), now, now_ms),
                Err(_) => Vec::new(),
            };
        }
        let api_prefix = format!("{prefix}/_CLIENTS/{}/api/", self.client);
        let Some(api) = topic
            .strip_prefix(&api_prefix)
            .and_then(|r| r.strip_suffix("/set"))
        else {
            return Vec::new();
        };
        // The gateway parses the body as JSON; anything else becomes `{}` and fails on args.
        let body: Value = serde_json::from_slice(payload).unwrap_or_else(|_| json!({}));
        self.api(api, body, now, now_ms)
    }

    fn answer(&self, api: &str, body: &Value, result: Result<Option<Value>, String>) -> Publish {
        let args = body.get("args").cloned().unwrap_or(Value::Null);
        let mut m = Map::new();
        match result {
            Ok(r) => {
                m.insert("success".into(), json!(true));
                m.insert("message".into(), json!("Success zwave api call"));
                if let Some(r) = r {
                    m.insert("result".into(), r);
                }
            }
            Err(message) => {
                m.insert("success".into(), json!(false));
                m.insert("message".into(), json!(message));
            }
        }
        m.insert("args".into(), args);
        m.insert("origin".into(), body.clone());
        Publish {
            topic: format!(
                "{}/_CLIENTS/{}/api/{api}",
                self.settings.prefix, self.client
            ),
            payload: Value::Object(m),
            retain: false,
        }
    }

    /// The node an API call is about, when it is about one.
    fn call_node(api: &str, args: &[Value]) -> Option<u16> {
        let first = args.first()?;
        let id = match api {
            "writeValue" | "pollValue" => first.get("nodeId")?,
            _ => first,
        };
        id.as_u64().and_then(|n| u16::try_from(n).ok())
    }

    fn api(&mut self, api: &str, body: Value, now: Instant, now_ms: u64) -> Vec<Publish> {
        let Some(args) = body.get("args").and_then(Value::as_array).cloned() else {
            return vec![self.answer(api, &body, Err("Args must be an array".into()))];
        };
        if let Some(i) = Self::call_node(api, &args).and_then(|n| self.index(n))
            && let Some(wake) = self.locks[i].cfg.quirks.sleeping
        {
            self.pending.push((
                now + wake,
                Pending::Deferred {
                    api: api.to_owned(),
                    body,
                },
            ));
            return Vec::new();
        }
        self.run_api(api, &body, &args, now, now_ms)
    }

    /// The verification read of one slot: both values, fresh, from the lock.
    fn report_slot(&mut self, i: usize, n: u16, now_ms: u64) -> Vec<Publish> {
        let node = self.locks[i].cfg.id;
        let status = self.locks[i].slot(n).map_or(0, |s| s.status);
        let code = self.locks[i].reported_code(n);
        vec![
            self.value(
                self.topic(node, USER_CODE, "userIdStatus", Some(n)),
                json!(status),
                true,
                now_ms,
            ),
            self.value(
                self.topic(node, USER_CODE, "userCode", Some(n)),
                json!(code),
                true,
                now_ms,
            ),
        ]
    }

    /// The lock takes a write (or, the first time with `drop_first_write`, does not), then the
    /// verification read or the bolt's report.
    fn apply(&mut self, i: usize, change: Change, now: Instant, now_ms: u64) -> Vec<Publish> {
        let node = self.locks[i].cfg.id;
        let is_code = matches!(
            change,
            Change::Code { .. } | Change::CodeAs { .. } | Change::Status { .. }
        );
        let dropped =
            is_code && self.locks[i].cfg.quirks.drop_first_write && !self.locks[i].dropped_once;
        if dropped {
            self.locks[i].dropped_once = true;
        }
        match change {
            Change::Code { slot, code } => {
                let mut out = Vec::new();
                if !dropped && let Some(s) = self.locks[i].slot_mut(slot) {
                    // The Set carries the slot's status: kept when Disabled/Messaging, else Enabled.
                    s.status = if matches!(s.status, 2 | 3) {
                        s.status
                    } else {
                        1
                    };
                    s.code = code;
                    // The lock announces the code as it would one typed in with the master code.
                    out.extend(self.code_notice(i, true, slot, now_ms));
                }
                out.extend(self.report_slot(i, slot, now_ms));
                out
            }
            Change::CodeAs { slot, status, code } => {
                let mut out = Vec::new();
                if !dropped && let Some(s) = self.locks[i].slot_mut(slot) {
                    s.status = status;
                    s.code = code;
                    out.extend(self.code_notice(i, true, slot, now_ms));
                }
                out.extend(self.report_slot(i, slot, now_ms));
                out
            }
            Change::Status { slot, status } => {
                let mut out = Vec::new();
                if !dropped && let Some(s) = self.locks[i].slot_mut(slot) {
                    s.status = status;
                    if status == 0 {
                        s.code.clear();
                        out.extend(self.code_notice(i, false, slot, now_ms));
                    }
                }
                out.extend(self.report_slot(i, slot, now_ms));
                out
            }
            Change::AutoRelock(s) => {
                self.locks[i].auto_relock = s;
                vec![self.value(
                    self.topic(node, DOOR_LOCK, "autoRelockTime", None),
                    json!(s),
                    true,
                    now_ms,
                )]
            }
            Change::Mode(mode) => {
                if self.locks[i].jammed {
                    return vec![self.notification(node, "Lock_state", json!(11), true, now_ms)];
                }
                self.locks[i].mode = if mode == 255 { 255 } else { 0 };
                let label = if mode == 255 {
                    "RF_lock_operation"
                } else {
                    "RF_unlock_operation"
                };
                let mut out = vec![self.notification(node, label, Value::Null, false, now_ms)];
                if self.settings.send_events {
                    out.push(self.event(node, if mode == 255 { 3 } else { 4 }, None));
                }
                out.extend(self.moved(i, now, now_ms));
                out
            }
        }
    }

    /// `currentMode` after the bolt moved, and the auto-relock it arms.
    fn moved(&mut self, i: usize, now: Instant, now_ms: u64) -> Vec<Publish> {
        let node = self.locks[i].cfg.id;
        let mode = self.locks[i].mode;
        if mode == 0 && self.locks[i].auto_relock > 0 {
            let after = std::time::Duration::from_secs(u64::from(self.locks[i].auto_relock));
            self.pending.push((now + after, Pending::Relock { node }));
        }
        vec![
            self.value(
                self.topic(node, DOOR_LOCK, "currentMode", None),
                json!(mode),
                true,
                now_ms,
            ),
            self.value(
                self.topic(node, DOOR_LOCK, "targetMode", None),
                json!(mode),
                true,
                now_ms,
            ),
        ]
    }

    /// A Notification CC Access Control topic. Events (`stateful` false) are never retained.
    fn notification(
        &mut self,
        node: u16,
        key: &str,
        value: Value,
        stateful: bool,
        now_ms: u64,
    ) -> Publish {
        let topic = format!(
            "{}/{node}/{NOTIFICATION}/0/Access_Control/{key}",
            self.settings.prefix
        );
        if stateful {
            return self.value(topic, value, true, now_ms);
        }
        let payload = if value.is_null() {
            json!({"time": now_ms})
        } else {
            json!({"time": now_ms, "value": value})
        };
        Publish {
            topic,
            payload,
            retain: false,
        }
    }

    /// An Access Control code-change event about user id `slot`: the same whoever changed the
    /// code, a controller or a hand at the keypad.
    fn code_notice(&mut self, i: usize, added: bool, slot: u16, now_ms: u64) -> Vec<Publish> {
        let node = self.locks[i].cfg.id;
        if self.locks[i].cfg.quirks.legacy_only {
            // A lock without Notification events: the legacy pair, 112 added or 33 deleted.
            let kind = if added { 112 } else { 33 };
            let level = u8::try_from(slot).unwrap_or(0);
            return vec![
                self.value(
                    self.topic(node, NOTIFICATION, "alarmType", None),
                    json!(kind),
                    true,
                    now_ms,
                ),
                self.value(
                    self.topic(node, NOTIFICATION, "alarmLevel", None),
                    json!(level),
                    true,
                    now_ms,
                ),
            ];
        }
        let key = if added {
            "New_user_code_added"
        } else {
            "Single_user_code_deleted"
        };
        vec![self.notification(node, key, json!({"userId": slot}), false, now_ms)]
    }

    /// `node_notification` on `_EVENTS`, with the numeric Access Control event.
    fn event(&self, node: u16, event: u8, user: Option<u16>) -> Publish {
        let mut n = json!({"type": 6, "event": event, "label": "Access Control"});
        if let Some(u) = user {
            n["parameters"] = json!({"userId": u});
        }
        Publish {
            topic: format!(
                "{}/_EVENTS/{}/node/node_notification",
                self.settings.prefix, self.client
            ),
            payload: json!({"data": [{"id": node, "status": 4, "ready": true}, NOTIFICATION, n]}),
            retain: false,
        }
    }

    /// The user id a code typed at `node`'s keypad would open by, when it opens the lock (an
    /// enabled slot holds it and the bolt is free).
    pub fn opens(&self, node: u16, pin: &str) -> Option<u16> {
        let lock = &self.locks[self.index(node)?];
        lock.slot_for(pin).filter(|_| !lock.jammed)
    }

    /// Runs a control (the module's control topics) and returns what the gateway publishes.
    pub fn control(
        &mut self,
        node: u16,
        op: &str,
        arg: &str,
        now: Instant,
        now_ms: u64,
    ) -> Vec<Publish> {
        let Some(i) = self.index(node) else {
            return Vec::new();
        };
        match op {
            "keypad" => self.keypad(i, arg, now, now_ms),
            "dead" => {
                // `marked`: the controller has already found it dead (a flat battery noticed on
                // the last transmission) and says so; otherwise it goes silent.
                self.locks[i].dead = arg != "off";
                if arg == "marked" {
                    vec![self.node_status(node, "Dead", now_ms)]
                } else {
                    Vec::new()
                }
            }
            "manual" => {
                // A hand on the thumb turn: `lock` or `unlock`.
                let locking = arg == "lock";
                self.locks[i].mode = if locking { 255 } else { 0 };
                let label = if locking {
                    "Manual_lock_operation"
                } else {
                    "Manual_unlock_operation"
                };
                let mut out = vec![self.notification(node, label, Value::Null, false, now_ms)];
                out.extend(self.moved(i, now, now_ms));
                out
            }
            "alive" => {
                self.locks[i].dead = false;
                vec![self.node_status(node, "Alive", now_ms)]
            }
            "jam" => {
                // `on`/`off`: the bolt jams (or is freed) and the lock says so; `motor`: it
                // will jam at its next move and says nothing until then.
                self.locks[i].jammed = arg != "off";
                if arg == "motor" {
                    return Vec::new();
                }
                let state = if self.locks[i].jammed { 11 } else { 0 };
                vec![self.notification(node, "Lock_state", json!(state), true, now_ms)]
            }
            "battery" => {
                let level = arg.parse::<u8>().unwrap_or(0).min(100);
                self.locks[i].battery = level;
                vec![
                    self.value(
                        self.topic(node, BATTERY, "level", None),
                        json!(level),
                        true,
                        now_ms,
                    ),
                    self.value(
                        self.topic(node, BATTERY, "isLow", None),
                        json!(level < 20),
                        true,
                        now_ms,
                    ),
                ]
            }
            "drop" => {
                // The next code write is lost on its way (the `drop_first_write` quirk, armed
                // again).
                self.locks[i].cfg.quirks.drop_first_write = true;
                self.locks[i].dropped_once = false;
                Vec::new()
            }
            "program" => {
                // `<user id>:<code>`: a code typed in at the keypad with the master code.
                let Some((slot, code)) = arg
                    .split_once(':')
                    .and_then(|(n, c)| Some((n.parse::<u16>().ok()?, c)))
                else {
                    return Vec::new();
                };
                let Some(s) = self.locks[i].slot_mut(slot) else {
                    return Vec::new();
                };
                s.status = 1;
                code.clone_into(&mut s.code);
                self.code_notice(i, true, slot, now_ms)
            }
            "door" => {
                self.locks[i].door_open = arg == "open";
                let state = if self.locks[i].door_open { 22 } else { 23 };
                vec![self.notification(node, "Door_state", json!(state), true, now_ms)]
            }
            _ => Vec::new(),
        }
    }

    /// A code typed at the keypad: an enabled slot holding it unlocks, attributed to the slot by
    /// the Notification event (and the legacy pair when the lock sends it).
    fn keypad(&mut self, i: usize, pin: &str, now: Instant, now_ms: u64) -> Vec<Publish> {
        let node = self.locks[i].cfg.id;
        if let Some(slot) = self.locks[i].messaging_slot_for(pin) {
            // A messaging code opens nothing: the lock only tells.
            return vec![self.notification(
                node,
                "Messaging_User_Code_entered_via_keypad",
                json!({"user ID": slot}),
                false,
                now_ms,
            )];
        }
        let Some(slot) = self.locks[i].slot_for(pin) else {
            return Vec::new();
        };
        if self.locks[i].jammed {
            return Vec::new();
        }
        let quirks = &self.locks[i].cfg.quirks;
        let (legacy, notify) = (
            quirks.legacy_alarms || quirks.legacy_only,
            !quirks.legacy_only,
        );
        let mut out = Vec::new();
        if notify {
            out.push(self.notification(
                node,
                "Keypad_unlock_operation",
                json!({"userId": slot}),
                false,
                now_ms,
            ));
        }
        if notify && self.settings.send_events {
            out.push(self.event(node, 6, Some(slot)));
        }
        if legacy {
            let level = u8::try_from(slot).unwrap_or(0);
            out.push(self.value(
                self.topic(node, NOTIFICATION, "alarmType", None),
                json!(19),
                true,
                now_ms,
            ));
            out.push(self.value(
                self.topic(node, NOTIFICATION, "alarmLevel", None),
                json!(level),
                true,
                now_ms,
            ));
        }
        self.locks[i].mode = 0;
        out.extend(self.moved(i, now, now_ms));
        out
    }

    /// Runs what is due.
    pub fn tick(&mut self, now: Instant, now_ms: u64) -> Vec<Publish> {
        let mut out = Vec::new();
        while let Some(pos) = self.pending.iter().position(|(due, _)| *due <= now) {
            let (_, item) = self.pending.remove(pos);
            match item {
                Pending::Apply { node, change } => {
                    if let Some(i) = self.index(node) {
                        out.extend(self.apply(i, change, now, now_ms));
                    }
                }
                Pending::Relock { node } => {
                    if let Some(i) = self.index(node)
                        && self.locks[i].mode == 0
                        && !self.locks[i].jammed
                    {
                        self.locks[i].mode = 255;
                        out.push(self.notification(
                            node,
                            "Auto_lock_locked_operation",
                            Value::Null,
                            false,
                            now_ms,
                        ));
                        out.extend(self.moved(i, now, now_ms));
                    }
                }
                Pending::Deferred { api, body } => {
                    let args = body
                        .get("args")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let node = Self::call_node(&api, &args);
                    if let Some(n) = node {
                        out.push(self.node_status(n, "Awake", now_ms));
                    }
                    out.extend(self.run_api(&api, &body, &args, now, now_ms));
                    if let Some(n) = node {
                        out.push(self.node_status(n, "Asleep", now_ms));
                    }
                }
            }
        }
        out
    }
}

/// A JSON time-value payload; an undefined value is left out, as JSON serialisation does.
fn time_value(time: u64, value: &Value) -> Value {
    if value.is_null() {
        json!({ "time": time })
    } else {
        json!({ "time": time, "value": value })
    }
}

/// A level as the gateway sanitises it (whitespace to `_`, other punctuation dropped).
fn sanitize(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some('_')
            } else if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                Some(c)
            } else {
                None
            }
        })
        .collect()
}
