//! Zigbee2MQTT's converters for a standard ZCL lock, as seen from the device side: what each
//! `/set` and `/get` key does to the lock and what Zigbee2MQTT publishes or logs because of it.

use std::time::Instant;

use serde_json::{Map, Value, json};

use super::{
    Bolt, NO_USER, Pin, PinWriteMode, SOURCE_RF, Slot, SlotStatus, SoundVolume, UserType,
    VirtualLock, js_number_string, truthy,
};
use crate::message::Message;

impl VirtualLock {
    pub(super) fn set_state(&mut self, value: &Value, now: Instant, out: &mut Vec<Message>) {
        // As ZHC's `tz.lock`: a string, or {"state":…, "code":…} where a non-string code becomes "".
        let (command, code) = match value {
            Value::String(s) => (Some(s.to_uppercase()), String::new()),
            Value::Object(o) => (
                o.get("state")
                    .and_then(Value::as_str)
                    .map(str::to_uppercase),
                o.get("code")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            ),
            _ => (None, String::new()),
        };
        let target = match command.as_deref() {
            Some("LOCK") => Bolt::Locked,
            Some("UNLOCK") => Bolt::Unlocked,
            Some("TOGGLE") if self.bolt == Bolt::Locked => Bolt::Unlocked,
            Some("TOGGLE") => Bolt::Locked,
            other => {
                let shown = other.map_or_else(|| value.to_string(), str::to_owned);
                out.push(Message::publish_failed(
                    "set",
                    "state",
                    &self.name,
                    &format!("'{shown}' not allowed, choose between: LOCK,UNLOCK,TOGGLE"),
                ));
                return;
            }
        };
        let (ok_action, fail_action) = if target == Bolt::Locked {
            ("lock", "lock_failure_invalid_pin_or_id")
        } else {
            ("unlock", "unlock_failure_invalid_pin_or_id")
        };
        // An empty code means "no code" (Z2M always sends one); a given code must match an enabled slot.
        let user = if code.is_empty() {
            NO_USER
        } else {
            match self.find_slot(&code) {
                Some(i) if self.opens(i) => i,
                _ => {
                    out.push(self.event(fail_action, SOURCE_RF, NO_USER));
                    return;
                }
            }
        };
        out.push(self.event(ok_action, SOURCE_RF, user));
        self.start_actuation(target, true, now, out);
    }

    pub(super) fn set_pin_code(&mut self, value: &Value, out: &mut Vec<Message>) {
        let Some(obj) = value.as_object() else {
            out.push(Message::publish_failed(
                "set",
                "pin_code",
                &self.name,
                &format!("The value of 'pin_code' should be an object, got {value}"),
            ));
            return;
        };
        let Some(user) = self.user_in_range(obj.get("user")) else {
            out.push(Message::publish_failed(
                "set",
                "pin_code",
                &self.name,
                "user must be in range for device",
            ));
            return;
        };
        let pin = match obj.get("pin_code") {
            None | Some(Value::Null) => None,
            // ZHC calls `.toString()`: a JSON number loses its leading zeros (0427 → "427").
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(js_number_string(n)),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(other) => {
                out.push(Message::publish_failed(
                    "set",
                    "pin_code",
                    &self.name,
                    &format!("pinCode must be a number, got {other}"),
                ));
                return;
            }
        };
        let Some(pin) = pin else {
            self.write_slot(user, Slot::default(), out);
            return;
        };
        let user_type = match obj.get("user_type") {
            None | Some(Value::Null) => UserType::Unrestricted,
            Some(Value::String(s)) if s.is_empty() => UserType::Unrestricted,
            Some(v) => match v.as_str().and_then(UserType::parse) {
                Some(t) => t,
                None => {
                    let shown = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    out.push(Message::publish_failed(
                        "set",
                        "pin_code",
                        &self.name,
                        &format!(
                            "Expected one of: unrestricted, year_day_schedule, week_day_schedule, master, non_access, got: '{shown}'"
                        ),
                    ));
                    return;
                }
            },
        };
        // ZHC: `user_enabled != null ? user_enabled : true`, then used for its truthiness.
        let enabled = match obj.get("user_enabled") {
            None | Some(Value::Null) => true,
            Some(v) => truthy(v),
        };
        let slot = Slot {
            status: if enabled {
                SlotStatus::Enabled
            } else {
                SlotStatus::Disabled
            },
            pin: Pin::new(pin),
            user_type,
        };
        self.write_slot(user, slot, out);
    }

    pub(super) fn set_user_status(&mut self, value: &Value, out: &mut Vec<Message>) {
        let Some(obj) = value.as_object() else {
            out.push(Message::publish_failed(
                "set",
                "user_status",
                &self.name,
                &format!("The value of 'user_status' should be an object, got {value}"),
            ));
            return;
        };
        let Some(user) = self.user_in_range(obj.get("user")) else {
            out.push(Message::publish_failed(
                "set",
                "user_status",
                &self.name,
                "user must be in range for device",
            ));
            return;
        };
        let status = match obj.get("status").and_then(Value::as_str) {
            Some(s) if s.eq_ignore_ascii_case("available") => SlotStatus::Available,
            Some(s) if s.eq_ignore_ascii_case("enabled") => SlotStatus::Enabled,
            Some(s) if s.eq_ignore_ascii_case("disabled") => SlotStatus::Disabled,
            _ => {
                let got = obj.get("status").cloned().unwrap_or(Value::Null);
                out.push(Message::publish_failed(
                    "set",
                    "user_status",
                    &self.name,
                    &format!("Expected one of: available, enabled, disabled, got: '{got}'"),
                ));
                return;
            }
        };
        let current = self.slots[usize::from(user)].clone();
        if status == SlotStatus::Available {
            self.write_slot(user, Slot::default(), out);
        } else if current.status == SlotStatus::Available {
            // ZCL setUserStatus on an empty slot fails at the lock; Z2M ignores a failure status.
        } else {
            self.write_slot(user, Slot { status, ..current }, out);
        }
    }

    /// Applies (or, in a failure mode, does not apply) a slot write and reports it.
    pub(super) fn write_slot(&mut self, user: u16, slot: Slot, out: &mut Vec<Message>) {
        match self.pin_writes {
            PinWriteMode::Apply => {}
            PinWriteMode::SilentlyIgnore => return,
            PinWriteMode::DeliveryFailed => {
                let key = "pin_code";
                out.push(Message::publish_failed(
                    "set",
                    key,
                    &self.name,
                    "Delivery failed",
                ));
                return;
            }
        }
        let index = usize::from(user);
        if slot.status != SlotStatus::Available && !self.lock_accepts_pin(index, &slot.pin) {
            // A ZCL failure / duplicate status from the lock: Z2M sends commands without status
            // checking, so nothing at all is reported. The caller must confirm by event or re-read.
            return;
        }
        let was_occupied = self.slots[index].status != SlotStatus::Available;
        let action = match (was_occupied, slot.status != SlotStatus::Available) {
            (_, false) => "pin_code_deleted",
            (false, true) => "pin_code_added",
            (true, true) => "pin_code_changed",
        };
        if slot.status == SlotStatus::Available {
            self.duress.remove(&user);
        }
        self.slots[index] = slot;
        self.persist_version += 1;
        out.push(self.event(action, SOURCE_RF, user));
    }

    /// The lock's own checks: length, digits only, no duplicate of another occupied slot.
    pub(super) fn lock_accepts_pin(&self, index: usize, pin: &Pin) -> bool {
        let p = pin.expose_secret();
        let len_ok = (self.cfg.min_pin_len..=self.cfg.max_pin_len).contains(&p.len());
        let digits = p.bytes().all(|b| b.is_ascii_digit());
        let duplicate = self
            .slots
            .iter()
            .enumerate()
            .any(|(i, s)| i != index && s.status != SlotStatus::Available && s.pin == *pin);
        len_ok && digits && !duplicate
    }

    pub(super) fn set_auto_relock_time(&mut self, value: &Value, out: &mut Vec<Message>) {
        match value.as_u64().and_then(|v| u32::try_from(v).ok()) {
            Some(secs) => {
                self.auto_relock_time = secs;
                if secs == 0 {
                    self.relock_at = None;
                }
                self.persist_version += 1;
                // The converter returns {state:{auto_relock_time}}, which Z2M publishes at once.
                out.push(Message::state(self.cached()));
            }
            None => out.push(Message::publish_failed(
                "set",
                "auto_relock_time",
                &self.name,
                &format!("'auto_relock_time' is not a number, got {value}"),
            )),
        }
    }

    pub(super) fn set_sound_volume(&mut self, value: &Value, out: &mut Vec<Message>) {
        match SoundVolume::ALL
            .into_iter()
            .find(|v| value.as_str() == Some(v.as_str()))
        {
            Some(v) => {
                self.sound_volume = v;
                self.persist_version += 1;
                out.push(Message::state(self.cached()));
            }
            None => out.push(Message::publish_failed(
                "set",
                "sound_volume",
                &self.name,
                &format!(
                    "'{}' not allowed, choose between: silent_mode,low_volume,high_volume",
                    value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned)
                ),
            )),
        }
    }

    /// The generic `write` converter, for `closuresDoorLock` attributes.
    pub(super) fn generic_write(&mut self, value: &Value, out: &mut Vec<Message>) {
        let cluster = value.get("cluster").and_then(Value::as_str);
        let payload = value.get("payload").and_then(Value::as_object);
        let (Some("closuresDoorLock"), Some(payload)) = (cluster, payload) else {
            out.push(Message::publish_failed(
                "set",
                "write",
                &self.name,
                &format!("Cannot write {value}: only closuresDoorLock attributes are simulated"),
            ));
            return;
        };
        let mut next = (
            self.wrong_code_limit,
            self.disable_time_s,
            self.auto_relock_time,
            self.sound_volume,
        );
        for (attr, v) in payload {
            let n = v.as_u64();
            let ok = match attr.as_str() {
                "wrongCodeEntryLimit" => n.and_then(|n| u8::try_from(n).ok()).map(|n| next.0 = n),
                "userCodeTemporaryDisableTime" => {
                    n.and_then(|n| u8::try_from(n).ok()).map(|n| next.1 = n)
                }
                "autoRelockTime" => n.and_then(|n| u32::try_from(n).ok()).map(|n| next.2 = n),
                "soundVolume" => n
                    .and_then(|n| SoundVolume::ALL.get(usize::try_from(n).ok()?).copied())
                    .map(|n| next.3 = n),
                _ => None,
            };
            if ok.is_none() {
                out.push(Message::publish_failed(
                    "set",
                    "write",
                    &self.name,
                    &format!("Cannot write '{attr}' = {v} to 'closuresDoorLock'"),
                ));
                return;
            }
        }
        (
            self.wrong_code_limit,
            self.disable_time_s,
            self.auto_relock_time,
            self.sound_volume,
        ) = next;
        self.persist_version += 1;
        out.push(Message::log(
            "info",
            format!(
                "Wrote '{}' to 'closuresDoorLock'",
                Value::Object(payload.clone())
            ),
        ));
    }

    /// The generic `read` converter: the result is logged, and published under `state_property`.
    pub(super) fn generic_read(&self, verb: &str, value: &Value, out: &mut Vec<Message>) {
        let cluster = value.get("cluster").and_then(Value::as_str);
        let attributes = value.get("attributes").and_then(Value::as_array);
        let (Some("closuresDoorLock"), Some(attributes)) = (cluster, attributes) else {
            out.push(Message::publish_failed(
                verb,
                "read",
                &self.name,
                &format!("Cannot read {value}: only closuresDoorLock attributes are simulated"),
            ));
            return;
        };
        let mut result = Map::new();
        for attr in attributes {
            let name = attr.as_str().unwrap_or_default();
            match self.read_attribute(name) {
                Some(v) => {
                    result.insert(name.to_owned(), v);
                }
                None => {
                    out.push(Message::publish_failed(
                        verb,
                        "read",
                        &self.name,
                        &format!("Cluster 'closuresDoorLock' has no attribute '{attr}'"),
                    ));
                    return;
                }
            }
        }
        let result = Value::Object(result);
        out.push(Message::log(
            "info",
            format!("Read result of 'closuresDoorLock': {result}"),
        ));
        if let Some(prop) = value.get("state_property").and_then(Value::as_str) {
            let mut state = self.cached();
            state.insert(prop.to_owned(), result);
            out.push(Message::state(state));
        }
    }

    pub(super) fn read_attribute(&self, name: &str) -> Option<Value> {
        Some(match name {
            "lockState" => json!(self.bolt.zcl()),
            "lockType" => json!(0),
            "actuatorEnabled" => json!(1),
            "doorState" => json!(self.door_state().zcl()),
            "numOfTotalUsersSupported" | "numOfPinUsersSupported" => json!(self.cfg.capacity),
            "numOfRfidUsersSupported" => json!(0),
            "numOfWeekDaySchedulesSupportedPerUser" | "numOfYearDaySchedulesSupportedPerUser" => {
                json!(0)
            }
            "maxPinLen" => json!(self.cfg.max_pin_len),
            "minPinLen" => json!(self.cfg.min_pin_len),
            "autoRelockTime" => json!(self.auto_relock_time),
            "soundVolume" => json!(self.sound_volume.zcl()),
            "operatingMode" => json!(0),
            "wrongCodeEntryLimit" => json!(self.wrong_code_limit),
            "userCodeTemporaryDisableTime" => json!(self.disable_time_s),
            _ => return None,
        })
    }

    pub(super) fn get_users(&mut self, value: &Value, out: &mut Vec<Message>) {
        // ZHC: `meta.message.pin_code ? meta.message.pin_code.user : undefined`; undefined reads every
        // slot, one ZCL getPinCode (and so one published message) per slot.
        let user = value
            .as_object()
            .and_then(|o| o.get("user"))
            .filter(|u| !u.is_null());
        match user {
            None => {
                self.floods += 1;
                for i in 0..self.cfg.capacity {
                    out.push(self.users_message(i));
                }
            }
            Some(u) => {
                // Out of range: the lock answers with a failure that Z2M drops; nothing is published.
                if let Some(i) = self.user_in_range(Some(u)) {
                    out.push(self.users_message(i));
                }
            }
        }
    }

    pub(super) fn users_message(&self, user: u16) -> Message {
        let status = self.slots[usize::from(user)].status;
        let mut state = self.cached();
        state.insert(
            "users".into(),
            json!({ user.to_string(): { "status": status.as_str() } }),
        );
        Message::state(state)
    }
}
