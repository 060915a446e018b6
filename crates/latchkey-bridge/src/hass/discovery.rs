//! Home Assistant's MQTT discovery, as latchkey speaks it: the topics, the typed configuration
//! of each entity, and the state payloads. Pure: no I/O.
//!
//! Every door with a lock is one Home Assistant *device* with four entities, each announced by
//! a retained configuration on `<discovery>/<component>/<node>/<object>/config` (Home
//! Assistant's single-component discovery; an empty retained payload removes it):
//!
//! | entity | component | state topic (retained unless noted) |
//! |---|---|---|
//! | the lock | `lock` | `<prefix>/door/<id>/lock`: `LOCKED`, `UNLOCKED`, `JAMMED`, `LOCKING`, `UNLOCKING`; commands on `<prefix>/door/<id>/set`: `LOCK`, `UNLOCK` |
//! | the door contact | `binary_sensor`, class `door` | `<prefix>/door/<id>/contact`: `ON` open, `OFF` closed |
//! | the battery | `sensor`, class `battery`, `%` | `<prefix>/door/<id>/battery`: the percentage |
//! | alarms | `event` | `<prefix>/door/<id>/alarm` (not retained): `{"event_type": …, "severity": …}` |
//!
//! Each is available while both `<prefix>/status` (latchkey itself, with a last will of
//! `offline`) and `<prefix>/door/<id>/availability` (the lock) say `online`. Nothing here names a
//! person, a PIN, a code slot or a credential: the payloads carry a door's id and name, its
//! position and battery, and an alarm's kind and severity (docs/ARCHITECTURE.md, decision 57).

use latchkey_core::DoorId;
use serde::Serialize;

/// `payload_available` / `payload_not_available` of every availability topic.
pub const ONLINE: &str = "online";
pub const OFFLINE: &str = "offline";
/// The lock's command payloads.
pub const PAYLOAD_LOCK: &str = "LOCK";
pub const PAYLOAD_UNLOCK: &str = "UNLOCK";

/// The alarm kinds an event entity fires (its `event_types`). A duress code is never among
/// them: a dashboard in the home could show the person who forced the code that it was seen.
pub const EVENT_TYPES: &[&str] = &[
    "forced_entry",
    "jammed",
    "wrong_code_limit",
    "tamper",
    "unexpected_opening",
    "left_unlocked",
    "door_ajar",
    "low_battery",
    "other",
];

/// What a lock's `lock.alarm` event says, as an `event_type`; `None` for what Home Assistant
/// is never told (duress).
pub fn event_type(alarm: &str) -> Option<&'static str> {
    match alarm {
        "duress" => None,
        a if a.contains("tamper") || a.contains("escutcheon") => Some("tamper"),
        a => Some(
            EVENT_TYPES
                .iter()
                .copied()
                .find(|t| *t == a)
                .unwrap_or("other"),
        ),
    }
}

/// Why a prefix cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPrefix(pub String);

impl std::fmt::Display for BadPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadPrefix {}

fn check_prefix(what: &str, p: &str) -> Result<(), BadPrefix> {
    let plain = !p.is_empty()
        && !p.starts_with('/')
        && !p.ends_with('/')
        && !p.starts_with('$')
        && !p.contains("//")
        && !p.contains(['+', '#', '\0']);
    if plain {
        Ok(())
    } else {
        Err(BadPrefix(format!(
            "{what} `{p}` must be a plain MQTT topic: not empty, no `+`, `#` or leading `$`, no \
             empty level"
        )))
    }
}

/// The topics of one latchkey on one Home Assistant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HassTopics {
    discovery: String,
    prefix: String,
    /// The discovery topics' node id: the prefix with every character Home Assistant does
    /// not allow there (`[a-zA-Z0-9_-]` only) made `_`. Also the start of every unique id, so
    /// two latchkeys with different prefixes never share one.
    node: String,
}

impl Default for HassTopics {
    /// Home Assistant's default discovery prefix, `homeassistant`, and `latchkey`.
    fn default() -> Self {
        HassTopics {
            discovery: "homeassistant".to_owned(),
            prefix: "latchkey".to_owned(),
            node: "latchkey".to_owned(),
        }
    }
}

impl HassTopics {
    /// `discovery`: Home Assistant's discovery prefix (`homeassistant`); `prefix`: where
    /// latchkey's state and command topics live (`latchkey`).
    ///
    /// # Errors
    /// Either is not a plain topic, or one lies under the other (a state topic would then be
    /// read as a discovery message, or the reverse).
    pub fn new(discovery: &str, prefix: &str) -> Result<HassTopics, BadPrefix> {
        check_prefix("the discovery prefix", discovery)?;
        check_prefix("the state prefix", prefix)?;
        let nested = |a: &str, b: &str| a == b || a.starts_with(&format!("{b}/"));
        if nested(discovery, prefix) || nested(prefix, discovery) {
            return Err(BadPrefix(format!(
                "the state prefix `{prefix}` and the discovery prefix `{discovery}` must not \
                 lie under one another"
            )));
        }
        let node = prefix
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(HassTopics {
            discovery: discovery.to_owned(),
            prefix: prefix.to_owned(),
            node,
        })
    }

    pub fn discovery_prefix(&self) -> &str {
        &self.discovery
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// latchkey's own availability (retained `online`, last will `offline`).
    pub fn status(&self) -> String {
        format!("{}/status", self.prefix)
    }

    /// Home Assistant's birth and last-will topic: `online` after it starts.
    pub fn ha_status(&self) -> String {
        format!("{}/status", self.discovery)
    }

    /// A door's topic `leaf`: `availability`, `lock`, `set`, `contact`, `battery`, `alarm`.
    pub fn door(&self, door: DoorId, leaf: &str) -> String {
        format!("{}/door/{door}/{leaf}", self.prefix)
    }

    /// Every door's command topic.
    pub fn command_filter(&self) -> String {
        format!("{}/door/+/set", self.prefix)
    }

    /// Every discovery configuration of this latchkey (what an earlier run left retained).
    pub fn config_filter(&self) -> String {
        format!("{}/+/{}/+/config", self.discovery, self.node)
    }

    /// The door a command topic addresses.
    pub fn door_of_command(&self, topic: &str) -> Option<DoorId> {
        let rest = topic.strip_prefix(&self.prefix)?.strip_prefix("/door/")?;
        let id = rest.strip_suffix("/set")?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || id.len() > 18 {
            return None;
        }
        id.parse().ok().map(DoorId)
    }

    /// The unique id of a door's entity.
    pub fn unique_id(&self, entity: Entity, door: DoorId) -> String {
        format!("{}_door_{door}_{}", self.node, entity.suffix())
    }

    /// Where a door's entity is announced.
    pub fn config(&self, entity: Entity, door: DoorId) -> String {
        format!(
            "{}/{}/{}/door_{door}_{}/config",
            self.discovery,
            entity.component(),
            self.node,
            entity.suffix()
        )
    }
}

/// The entities of a door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    Lock,
    Contact,
    Battery,
    Alarm,
}

impl Entity {
    pub const ALL: [Entity; 4] = [
        Entity::Lock,
        Entity::Contact,
        Entity::Battery,
        Entity::Alarm,
    ];

    /// Home Assistant's component (platform) of the entity.
    pub fn component(self) -> &'static str {
        match self {
            Entity::Lock => "lock",
            Entity::Contact => "binary_sensor",
            Entity::Battery => "sensor",
            Entity::Alarm => "event",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Entity::Lock => "lock",
            Entity::Contact => "contact",
            Entity::Battery => "battery",
            Entity::Alarm => "alarm",
        }
    }

    /// The door topic leaf of the entity's state.
    pub fn state_leaf(self) -> &'static str {
        match self {
            Entity::Lock => "lock",
            Entity::Contact => "contact",
            Entity::Battery => "battery",
            Entity::Alarm => "alarm",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Entity::Lock => "Lock",
            Entity::Contact => "Door",
            Entity::Battery => "Battery",
            Entity::Alarm => "Alarm",
        }
    }
}

/// What Home Assistant is told about a door: its id and name, nothing about who lives there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorInfo {
    pub id: DoorId,
    pub name: String,
}

/// One availability topic of an entity.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Availability {
    pub topic: String,
    pub payload_available: &'static str,
    pub payload_not_available: &'static str,
}

/// The device an entity belongs to: one per door.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Device {
    pub identifiers: Vec<String>,
    pub name: String,
    pub manufacturer: &'static str,
    pub model: &'static str,
}

/// Who announced the entity (Home Assistant logs it).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Origin {
    pub name: &'static str,
    pub sw_version: &'static str,
}

/// One entity's discovery configuration. Fields a component does not take are left out.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EntityConfig {
    pub name: &'static str,
    pub unique_id: String,
    pub state_topic: String,
    pub availability: Vec<Availability>,
    /// `all`: available only while latchkey and the lock both are.
    pub availability_mode: &'static str,
    pub device: Device,
    pub origin: Origin,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_lock: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_unlock: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_locked: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_unlocked: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_jammed: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_locking: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_unlocking: Option<&'static str>,
    /// The lock waits for the state topic; it never assumes a command worked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimistic: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_class: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_on: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_off: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_of_measurement: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_class: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_category: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<&'static str>>,
}

impl HassTopics {
    /// The discovery configuration of one entity of one door.
    pub fn entity_config(&self, entity: Entity, door: &DoorInfo) -> EntityConfig {
        let mut c = EntityConfig {
            name: entity.name(),
            unique_id: self.unique_id(entity, door.id),
            state_topic: self.door(door.id, entity.state_leaf()),
            availability: vec![
                Availability {
                    topic: self.status(),
                    payload_available: ONLINE,
                    payload_not_available: OFFLINE,
                },
                Availability {
                    topic: self.door(door.id, "availability"),
                    payload_available: ONLINE,
                    payload_not_available: OFFLINE,
                },
            ],
            availability_mode: "all",
            device: Device {
                identifiers: vec![format!("{}_door_{}", self.node, door.id)],
                name: door.name.clone(),
                manufacturer: "latchkey",
                model: "Door",
            },
            origin: Origin {
                name: "latchkey",
                sw_version: env!("CARGO_PKG_VERSION"),
            },
            command_topic: None,
            payload_lock: None,
            payload_unlock: None,
            state_locked: None,
            state_unlocked: None,
            state_jammed: None,
            state_locking: None,
            state_unlocking: None,
            optimistic: None,
            device_class: None,
            payload_on: None,
            payload_off: None,
            unit_of_measurement: None,
            state_class: None,
            entity_category: None,
            event_types: None,
        };
        match entity {
            Entity::Lock => {
                c.command_topic = Some(self.door(door.id, "set"));
                c.payload_lock = Some(PAYLOAD_LOCK);
                c.payload_unlock = Some(PAYLOAD_UNLOCK);
                c.state_locked = Some(LockState::Locked.payload());
                c.state_unlocked = Some(LockState::Unlocked.payload());
                c.state_jammed = Some(LockState::Jammed.payload());
                c.state_locking = Some(LockState::Locking.payload());
                c.state_unlocking = Some(LockState::Unlocking.payload());
                c.optimistic = Some(false);
            }
            Entity::Contact => {
                c.device_class = Some("door");
                c.payload_on = Some("ON");
                c.payload_off = Some("OFF");
            }
            Entity::Battery => {
                c.device_class = Some("battery");
                c.unit_of_measurement = Some("%");
                c.state_class = Some("measurement");
                c.entity_category = Some("diagnostic");
            }
            Entity::Alarm => c.event_types = Some(EVENT_TYPES.to_vec()),
        }
        c
    }
}

/// The lock entity's states, as Home Assistant's MQTT lock expects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    Locked,
    Unlocked,
    Jammed,
    /// A lock command was authorised and sent; the lock has not confirmed it yet.
    Locking,
    Unlocking,
}

impl LockState {
    pub fn payload(self) -> &'static str {
        match self {
            LockState::Locked => "LOCKED",
            LockState::Unlocked => "UNLOCKED",
            LockState::Jammed => "JAMMED",
            LockState::Locking => "LOCKING",
            LockState::Unlocking => "UNLOCKING",
        }
    }
}

/// An event entity's message: the alarm's kind and severity, nothing else.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AlarmEvent {
    pub event_type: &'static str,
    pub severity: String,
}

#[cfg(test)]
#[path = "discovery_tests.rs"]
mod tests;
