//! Device messages: the JSON state a lock publishes on `<base>/<name>` ([`LockReport`]) and its
//! availability on `<base>/<name>/availability` ([`Availability`]).
//!
//! A state message is a bag of optional properties, cached and re-sent by Zigbee2MQTT. A field
//! that is `null` counts as absent. A field with the wrong type or an unknown value is ignored
//! and noted in [`LockReport::warnings`] rather than failing the message, so one vendor quirk
//! does not hide the lock position sent alongside it. Warnings name the field and never quote
//! its value (it might be a PIN).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::action::{Action, ActionSource};
use crate::limits::{Limits, ParseError, Warnings, as_uint, check_text, parse_object};

/// The `state_property` under which [`crate::Command::ReadCapabilities`] asks Zigbee2MQTT to
/// publish its read result.
pub const LOCK_CAPS_PROPERTY: &str = "lock_caps";

/// The ZCL user id Zigbee2MQTT reports when no user is involved (remote or manual operation).
pub const NO_USER: u64 = 0xFFFF;

/// Longest PIN we accept from a device's `users` map, in digits.
pub const MAX_REPORTED_PIN_DIGITS: usize = 16;

/// The coarse lock position from `state`: `LOCK` only when ZCL lockState is 1; everything else
/// (including not-fully-locked) is `UNLOCK`. Also accepts the Yale Control4 `LOCKED`/`UNLOCKED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockState {
    Locked,
    Unlocked,
}

impl LockState {
    /// `LOCK`/`LOCKED` or `UNLOCK`/`UNLOCKED`, ASCII case-insensitively.
    pub fn from_wire(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("lock") || s.eq_ignore_ascii_case("locked") {
            Some(LockState::Locked)
        } else if s.eq_ignore_ascii_case("unlock") || s.eq_ignore_ascii_case("unlocked") {
            Some(LockState::Unlocked)
        } else {
            None
        }
    }
}

wire_enum!(
    /// The finer bolt position from `lock_state` (ZCL lockState 0/1/2).
    BoltState {
        NotFullyLocked => "not_fully_locked",
        Locked => "locked",
        Unlocked => "unlocked",
    }
);

wire_enum!(
    /// The door contact from `door_state` (ZCL doorState 0–4, 255).
    DoorState {
        Open => "open",
        Closed => "closed",
        ErrorJammed => "error_jammed",
        ErrorForcedOpen => "error_forced_open",
        ErrorUnspecified => "error_unspecified",
        Undefined => "undefined",
    }
);

wire_enum!(
    /// The keypad sound volume (`sound_volume`, ZCL soundVolume 0/1/2).
    SoundVolume {
        SilentMode => "silent_mode",
        LowVolume => "low_volume",
        HighVolume => "high_volume",
    }
);

/// The status of a PIN slot in a `users` read reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlotStatus {
    Available,
    Enabled,
    Disabled,
    /// `not_supported_<n>`: a ZCL user status Zigbee2MQTT has no name for.
    NotSupported(u8),
}

impl SlotStatus {
    /// Reads `available`, `enabled`, `disabled` or `not_supported_<n>`.
    pub fn from_wire(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("available") {
            Some(SlotStatus::Available)
        } else if s.eq_ignore_ascii_case("enabled") {
            Some(SlotStatus::Enabled)
        } else if s.eq_ignore_ascii_case("disabled") {
            Some(SlotStatus::Disabled)
        } else {
            let n = s.strip_prefix("not_supported_")?;
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            n.parse().ok().map(SlotStatus::NotSupported)
        }
    }
}

/// A PIN a device reported in its `users` map (only with `expose_pin: true`). Its `Debug`
/// prints `****`; read it with [`ReportedPin::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct ReportedPin(String);

impl ReportedPin {
    /// The digits, as the device reported them (leading zeros kept).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ReportedPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// One slot of a `users` read reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotReport {
    pub status: SlotStatus,
    /// The PIN, when the device exposes PINs and sent a digit string.
    pub pin_code: Option<ReportedPin>,
}

/// The capabilities read by [`crate::Command::ReadCapabilities`], published under
/// [`LOCK_CAPS_PROPERTY`]. Each is absent when the lock did not answer for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LockCaps {
    /// `numOfPinUsersSupported` (u16): the number of PIN slots.
    pub num_pin_users: Option<u16>,
    /// `minPinLen` (u8).
    pub min_pin_len: Option<u8>,
    /// `maxPinLen` (u8).
    pub max_pin_len: Option<u8>,
    /// `wrongCodeEntryLimit` (u8).
    pub wrong_code_entry_limit: Option<u8>,
    /// `userCodeTemporaryDisableTime` (u8, seconds).
    pub user_code_temporary_disable_time: Option<u8>,
}

/// What a lock's state message says. Every field is optional: Zigbee2MQTT sends whatever it has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockReport {
    /// `state`: the coarse position. Truth, together with `lock_state`.
    pub state: Option<LockState>,
    /// `lock_state`: the bolt position, including not-fully-locked (a jam).
    pub lock_state: Option<BoltState>,
    /// `door_state`: the door contact, when the lock has one.
    pub door_state: Option<DoorState>,
    /// `battery`, percent 0–100 (fractions, which occur when Zigbee2MQTT halves the ZCL
    /// value, are rounded to the nearest percent).
    pub battery: Option<u8>,
    /// `voltage`, millivolts.
    pub voltage: Option<u32>,
    /// `battery_low`.
    pub battery_low: Option<bool>,
    /// `linkquality`, 0–255.
    pub linkquality: Option<u8>,
    /// `action`: a one-shot audit event, not the lock position. An empty string is absent.
    pub action: Option<Action>,
    /// `action_source_name`, or failing that the raw `action_source` code 0–4.
    pub action_source: Option<ActionSource>,
    /// `action_user` (or Yale's `action_source_user`): the ZCL user id (slot) of the event;
    /// `None` when absent or 65535 (no user).
    pub action_user: Option<u16>,
    /// `users`: PIN slots from a read reply, by 0-based slot. Empty when absent.
    pub users: BTreeMap<u16, SlotReport>,
    /// `auto_relock_time`, seconds (0 = disabled).
    pub auto_relock_time: Option<u32>,
    /// `sound_volume`.
    pub sound_volume: Option<SoundVolume>,
    /// The result of [`crate::Command::ReadCapabilities`], under [`LOCK_CAPS_PROPERTY`].
    pub lock_caps: Option<LockCaps>,
    /// `alarm`: a lock alarm in the vocabulary of Yale's Control4 module (`deadbolt_jammed`,
    /// `tamper_alarm_keypad_attempts`, `tamper_alarm_front_escutcheon`, `low_battery`, …),
    /// lower-cased and bounded in length; other locks report alarms through `lock_state` and
    /// `door_state` instead.
    pub alarm: Option<String>,
    /// `contact` of a door or window sensor: true when closed (Zigbee2MQTT's convention).
    pub contact: Option<bool>,
    /// Fields that were present but ignored, as `field: reason`, bounded in number.
    pub warnings: Vec<String>,
}

impl LockReport {
    /// Parses a device state message (`<base>/<name>`).
    ///
    /// # Errors
    /// The payload is over `limits.max_payload_bytes`, not UTF-8, nested deeper than
    /// `limits.max_json_depth`, not JSON, or not a JSON object. Bad individual fields are not
    /// errors; they end up in [`LockReport::warnings`].
    pub fn parse(payload: &[u8], limits: &Limits) -> Result<LockReport, ParseError> {
        let map = parse_object(payload, limits.max_payload_bytes, limits.max_json_depth)?;
        Ok(LockReport::from_map(&map))
    }

    fn from_map(map: &Map<String, Value>) -> LockReport {
        let mut w = Warnings::default();
        let action_source_name =
            enum_field(map, "action_source_name", &mut w, ActionSource::from_wire);
        let action_source = action_source_name.or_else(|| {
            let raw = uint_field(map, "action_source", u64::from(u8::MAX), &mut w)?;
            let source = ActionSource::from_code(raw);
            if source.is_none() {
                w.push("action_source", "unknown source code");
            }
            source
        });
        let action_user = match present(map, "action_user") {
            Some(_) => user_field(map, "action_user", &mut w),
            None => user_field(map, "action_source_user", &mut w),
        };
        LockReport {
            state: enum_field(map, "state", &mut w, LockState::from_wire),
            lock_state: enum_field(map, "lock_state", &mut w, BoltState::from_wire),
            door_state: enum_field(map, "door_state", &mut w, DoorState::from_wire),
            battery: battery_field(map, &mut w),
            voltage: uint_field(map, "voltage", u64::from(u32::MAX), &mut w)
                .and_then(|v| u32::try_from(v).ok()),
            battery_low: bool_field(map, "battery_low", &mut w),
            linkquality: uint_field(map, "linkquality", u64::from(u8::MAX), &mut w)
                .and_then(|v| u8::try_from(v).ok()),
            action: action_field(map, &mut w),
            action_source,
            action_user,
            users: users_field(map, &mut w),
            auto_relock_time: uint_field(map, "auto_relock_time", u64::from(u32::MAX), &mut w)
                .and_then(|v| u32::try_from(v).ok()),
            sound_volume: enum_field(map, "sound_volume", &mut w, SoundVolume::from_wire),
            lock_caps: lock_caps_field(map, &mut w),
            alarm: alarm_field(map, &mut w),
            contact: bool_field(map, "contact", &mut w),
            warnings: w.finish(),
        }
    }
}

/// Online/offline, from `<base>/<name>/availability` or `<base>/bridge/state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Availability {
    Online,
    Offline,
    /// An empty (retained) payload: Zigbee2MQTT clears the old topic on rename. Says nothing
    /// about the device; the caller forgets what it knew under that name.
    Cleared,
}

impl Availability {
    /// Parses `{"state":"online"}` / `{"state":"offline"}` (2.x) or plain `online` / `offline`
    /// (1.x legacy), ASCII case-insensitively; an empty payload is [`Availability::Cleared`].
    /// Works for `bridge/state` too, which has the same two forms.
    ///
    /// # Errors
    /// Oversized, non-UTF-8 or too deep payloads, invalid JSON, and anything that is neither
    /// form ([`ParseError::Unrecognised`]).
    pub fn parse(payload: &[u8], limits: &Limits) -> Result<Availability, ParseError> {
        let text = check_text(payload, limits.max_payload_bytes)?;
        if text.is_empty() {
            return Ok(Availability::Cleared);
        }
        let unrecognised = ParseError::Unrecognised {
            what: "availability",
        };
        let trimmed = text.trim();
        if trimmed.starts_with('{') {
            let map = parse_object(payload, limits.max_payload_bytes, limits.max_json_depth)?;
            return match map.get("state") {
                Some(Value::String(s)) => Availability::from_word(s).ok_or(unrecognised),
                Some(_) => Err(ParseError::InvalidField {
                    field: "state",
                    reason: "expected a string",
                }),
                None => Err(ParseError::MissingField { field: "state" }),
            };
        }
        Availability::from_word(trimmed).ok_or(unrecognised)
    }

    fn from_word(s: &str) -> Option<Availability> {
        if s.eq_ignore_ascii_case("online") {
            Some(Availability::Online)
        } else if s.eq_ignore_ascii_case("offline") {
            Some(Availability::Offline)
        } else {
            None
        }
    }
}

/// The value of `key`, treating `null` as absent.
fn present<'m>(map: &'m Map<String, Value>, key: &str) -> Option<&'m Value> {
    map.get(key).filter(|v| !v.is_null())
}

fn enum_field<T>(
    map: &Map<String, Value>,
    key: &'static str,
    w: &mut Warnings,
    from_wire: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    match present(map, key)? {
        Value::String(s) => {
            let parsed = from_wire(s);
            if parsed.is_none() {
                w.push(key, "unknown value");
            }
            parsed
        }
        _ => {
            w.push(key, "expected a string");
            None
        }
    }
}

fn uint_field(
    map: &Map<String, Value>,
    key: &'static str,
    max: u64,
    w: &mut Warnings,
) -> Option<u64> {
    let v = present(map, key)?;
    let n = as_uint(v, max);
    if n.is_none() {
        w.push(key, "expected an integer in range");
    }
    n
}

fn bool_field(map: &Map<String, Value>, key: &'static str, w: &mut Warnings) -> Option<bool> {
    let v = present(map, key)?.as_bool();
    if v.is_none() {
        w.push(key, "expected a boolean");
    }
    v
}

fn battery_field(map: &Map<String, Value>, w: &mut Warnings) -> Option<u8> {
    let v = present(map, "battery")?;
    match v.as_f64() {
        Some(p) if (0.0..=100.0).contains(&p) => {
            // In 0..=100 after rounding, so the cast cannot truncate.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let percent = p.round() as u8;
            Some(percent)
        }
        Some(_) => {
            w.push("battery", "out of range 0–100");
            None
        }
        None => {
            w.push("battery", "expected a number");
            None
        }
    }
}

fn user_field(map: &Map<String, Value>, key: &'static str, w: &mut Warnings) -> Option<u16> {
    let n = uint_field(map, key, NO_USER, w)?;
    if n == NO_USER {
        return None;
    }
    u16::try_from(n).ok()
}

fn action_field(map: &Map<String, Value>, w: &mut Warnings) -> Option<Action> {
    match present(map, "action")? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(Action::from_wire(s)),
        _ => {
            w.push("action", "expected a string");
            None
        }
    }
}

/// A slot number from a `users` key: canonical decimal 0–65535.
fn slot_key(key: &str) -> Option<u16> {
    if key.is_empty() || key.len() > 5 || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse().ok()
}

/// Longest alarm name kept; longer ones are refused as hostile.
const MAX_ALARM_LEN: usize = 64;

fn alarm_field(map: &Map<String, Value>, w: &mut Warnings) -> Option<String> {
    match present(map, "alarm")? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s)
            if s.len() <= MAX_ALARM_LEN
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            Some(s.to_ascii_lowercase())
        }
        Value::String(_) => {
            w.push("alarm", "not a short alarm name");
            None
        }
        _ => {
            w.push("alarm", "not a string");
            None
        }
    }
}

fn users_field(map: &Map<String, Value>, w: &mut Warnings) -> BTreeMap<u16, SlotReport> {
    let mut users = BTreeMap::new();
    let Some(v) = present(map, "users") else {
        return users;
    };
    let Some(slots) = v.as_object() else {
        w.push("users", "expected an object");
        return users;
    };
    for (key, entry) in slots {
        let Some(slot) = slot_key(key) else {
            w.push("users", "slot key is not a number 0–65535");
            continue;
        };
        let Some(entry) = entry.as_object() else {
            w.push("users", "slot entry is not an object");
            continue;
        };
        let status = match entry.get("status") {
            Some(Value::String(s)) => SlotStatus::from_wire(s),
            _ => None,
        };
        let Some(status) = status else {
            w.push("users", "slot status missing or unknown");
            continue;
        };
        let pin_code = match entry.get("pin_code") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s))
                if s.len() <= MAX_REPORTED_PIN_DIGITS && s.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Some(ReportedPin(s.clone()))
            }
            Some(Value::String(_)) => {
                w.push("users.pin_code", "not a string of at most 16 digits");
                None
            }
            Some(Value::Number(_)) => {
                w.push(
                    "users.pin_code",
                    "numeric PIN is ambiguous (leading zeros lost)",
                );
                None
            }
            Some(_) => {
                w.push("users.pin_code", "expected a string");
                None
            }
        };
        users.insert(slot, SlotReport { status, pin_code });
    }
    users
}

fn lock_caps_field(map: &Map<String, Value>, w: &mut Warnings) -> Option<LockCaps> {
    let v = present(map, LOCK_CAPS_PROPERTY)?;
    let Some(caps) = v.as_object() else {
        w.push(LOCK_CAPS_PROPERTY, "expected an object");
        return None;
    };
    let u8_attr = |name: &'static str, w: &mut Warnings| {
        uint_field(caps, name, u64::from(u8::MAX), w).and_then(|n| u8::try_from(n).ok())
    };
    Some(LockCaps {
        num_pin_users: uint_field(caps, "numOfPinUsersSupported", u64::from(u16::MAX), w)
            .and_then(|n| u16::try_from(n).ok()),
        min_pin_len: u8_attr("minPinLen", w),
        max_pin_len: u8_attr("maxPinLen", w),
        wrong_code_entry_limit: u8_attr("wrongCodeEntryLimit", w),
        user_code_temporary_disable_time: u8_attr("userCodeTemporaryDisableTime", w),
    })
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
