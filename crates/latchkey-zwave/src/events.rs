//! Notification command class: Access Control events (who opened, how), the state variables
//! that raise and clear alarms, Home Security and Power Management, and the legacy Alarm
//! `alarmType`/`alarmLevel` pair that older locks send instead.
//!
//! The same Access Control event reaches us two ways: as a value topic keyed by its English
//! label (`113/0/Access_Control/Keypad_unlock_operation`, payload `{"value":{"userId":3}}`) and,
//! with `gateway.sendEvents`, as `node_notification` with the numeric type and event. Both are
//! mapped through [`access_control`] by number; the label table below is the gateway's
//! sanitised spelling of zwave-js' labels.

use serde_json::{Map, Value};

use crate::limits::as_uint;
use crate::values::{Alarm, CodeChange, DoorPosition, Method, Motion, Operation, Report};

/// Notification type Access Control.
pub const TYPE_ACCESS_CONTROL: u64 = 6;
/// Notification type Home Security.
pub const TYPE_HOME_SECURITY: u64 = 7;
/// Notification type Power Management.
pub const TYPE_POWER_MANAGEMENT: u64 = 8;

/// Access Control event labels as topic keys, with their event numbers.
const ACCESS_CONTROL_LABELS: &[(&str, u8)] = &[
    ("Manual_lock_operation", 0x01),
    ("Manual_unlock_operation", 0x02),
    ("RF_lock_operation", 0x03),
    ("RF_unlock_operation", 0x04),
    ("Keypad_lock_operation", 0x05),
    ("Keypad_unlock_operation", 0x06),
    ("Manual_not_fully_locked_operation", 0x07),
    ("RF_not_fully_locked_operation", 0x08),
    ("Auto_lock_locked_operation", 0x09),
    ("Auto_lock_not_fully_locked_operation", 0x0A),
    ("All_user_codes_deleted", 0x0C),
    ("Single_user_code_deleted", 0x0D),
    ("New_user_code_added", 0x0E),
    ("New_user_code_not_added_due_to_duplicate_code", 0x0F),
    ("Manually_enter_user_access_code_exceeds_code_limit", 0x13),
    ("Messaging_User_Code_entered_via_keypad", 0x20),
    ("Lock_operation_with_User_Code", 0x21),
    ("Unlock_operation_with_User_Code", 0x22),
];

/// The report an Access Control event means, `None` for events latchkey does not use.
/// `user` is the event's user id parameter (0 is "no user").
pub fn access_control(event: u8, user: Option<u16>) -> Option<Report> {
    let slot = user.filter(|u| *u != 0);
    let op = |motion, method, slot| {
        Some(Report::Operation(Operation {
            motion,
            method,
            slot,
        }))
    };
    match event {
        0x01 => op(Motion::Locked, Method::Manual, None),
        0x02 => op(Motion::Unlocked, Method::Manual, None),
        0x03 => op(Motion::Locked, Method::Remote, None),
        0x04 => op(Motion::Unlocked, Method::Remote, None),
        0x05 | 0x21 => op(Motion::Locked, Method::Keypad, slot),
        0x06 | 0x22 => op(Motion::Unlocked, Method::Keypad, slot),
        0x07 | 0x08 | 0x0A | 0x0B => Some(Report::Alarm(Alarm::Jam)),
        0x09 => op(Motion::Locked, Method::Auto, None),
        0x0C => Some(Report::CodeChange(CodeChange::AllDeleted)),
        0x0D => Some(Report::CodeChange(CodeChange::Deleted { slot })),
        0x0E => Some(Report::CodeChange(CodeChange::Added { slot })),
        0x0F => Some(Report::CodeChange(CodeChange::Duplicate { slot })),
        0x10 | 0x13 => Some(Report::Alarm(Alarm::KeypadDisabled)),
        0x20 => Some(Report::MessagingCode { slot }),
        _ => None,
    }
}

/// The user id in an event's parameters: `{"userId":N}`, `{"user ID":N}` (events 0x20–0x22) or
/// a bare number; anything else is no user.
pub(crate) fn user_param(v: Option<&Value>) -> Option<u16> {
    let n = match v? {
        Value::Object(m) => m.get("userId").or_else(|| m.get("user ID"))?,
        n @ Value::Number(_) => n,
        _ => return None,
    };
    as_uint(n, u64::from(u16::MAX)).and_then(|n| u16::try_from(n).ok())
}

/// The report of a Notification value topic (`113/<ep>/<property>[/<key>]`).
pub(crate) fn notification_value(
    property: &str,
    key: Option<&str>,
    value: Option<&Value>,
) -> Option<Report> {
    let state = || value.and_then(|v| as_uint(v, u64::from(u16::MAX)));
    match (property, key) {
        ("alarmType", None) => {
            let n = state()?;
            u8::try_from(n).ok().map(Report::LegacyAlarmType)
        }
        ("alarmLevel", None) => {
            let n = state()?;
            u8::try_from(n).ok().map(Report::LegacyAlarmLevel)
        }
        ("Access_Control", Some("Lock_state")) => Some(match state()? {
            11 => Report::Alarm(Alarm::Jam),
            _ => Report::AlarmCleared(Alarm::Jam),
        }),
        ("Access_Control", Some("Keypad_state")) => Some(match state()? {
            16 => Report::Alarm(Alarm::KeypadDisabled),
            _ => Report::AlarmCleared(Alarm::KeypadDisabled),
        }),
        ("Access_Control", Some("Door_state" | "Door_state_simple")) => match state()? {
            22 | 5632 | 5633 => Some(Report::Door(DoorPosition::Open)),
            23 => Some(Report::Door(DoorPosition::Closed)),
            _ => None,
        },
        ("Access_Control", Some(label)) => {
            let event = ACCESS_CONTROL_LABELS
                .iter()
                .find(|(l, _)| *l == label)
                .map(|(_, e)| *e)?;
            access_control(event, user_param(value))
        }
        ("Home_Security", Some("Cover_status")) => Some(match state()? {
            3 => Report::Alarm(Alarm::Tamper),
            _ => Report::AlarmCleared(Alarm::Tamper),
        }),
        ("Home_Security", Some(label)) if label.starts_with("Tampering") => {
            Some(Report::Alarm(Alarm::Tamper))
        }
        ("Power_Management", Some("Battery_maintenance_status" | "Battery_level_status")) => {
            Some(match state()? {
                10 | 11 | 14 | 15 => Report::Alarm(Alarm::LowBattery),
                _ => Report::AlarmCleared(Alarm::LowBattery),
            })
        }
        _ => None,
    }
}

/// The report of a forwarded `node_notification` event's notification object
/// (`{"type":6,"event":6,"parameters":{"userId":3}}`), for the Notification CC only.
pub(crate) fn node_notification(n: &Map<String, Value>) -> Option<Report> {
    let kind = as_uint(n.get("type")?, 255)?;
    let event = u8::try_from(as_uint(n.get("event")?, 255)?).ok()?;
    match kind {
        TYPE_ACCESS_CONTROL => access_control(event, user_param(n.get("parameters"))),
        TYPE_HOME_SECURITY if matches!(event, 0x03 | 0x04 | 0x09) => {
            Some(Report::Alarm(Alarm::Tamper))
        }
        TYPE_POWER_MANAGEMENT if matches!(event, 0x0A | 0x0B | 0x0E | 0x0F) => {
            Some(Report::Alarm(Alarm::LowBattery))
        }
        _ => None,
    }
}

/// The report a legacy `alarmType`/`alarmLevel` pair means (Kwikset and Yale tables; for those
/// that name a user, `level` is the slot). `None` for pairs latchkey does not use.
pub fn legacy_alarm(alarm_type: u8, level: u8) -> Option<Report> {
    let slot = Some(u16::from(level)).filter(|s| *s != 0);
    let op = |motion, method, slot| {
        Some(Report::Operation(Operation {
            motion,
            method,
            slot,
        }))
    };
    match alarm_type {
        9 | 17 | 23 | 26 => Some(Report::Alarm(Alarm::Jam)),
        18 => op(Motion::Locked, Method::Keypad, slot),
        19 => op(Motion::Unlocked, Method::Keypad, slot),
        21 => op(Motion::Locked, Method::Manual, None),
        22 => op(Motion::Unlocked, Method::Manual, None),
        24 => op(Motion::Locked, Method::Remote, None),
        25 => op(Motion::Unlocked, Method::Remote, None),
        27 => op(Motion::Locked, Method::Auto, None),
        32 => Some(Report::CodeChange(CodeChange::AllDeleted)),
        33 => Some(Report::CodeChange(CodeChange::Deleted { slot })),
        112 => Some(Report::CodeChange(CodeChange::Added { slot })),
        113 => Some(Report::CodeChange(CodeChange::Duplicate { slot })),
        161 => Some(Report::Alarm(Alarm::KeypadDisabled)),
        167..=169 => Some(Report::Alarm(Alarm::LowBattery)),
        _ => None,
    }
}

/// Pairs the two halves of a legacy alarm, which arrive on two topics. A half waits for its
/// partner for at most [`LegacyAlarms::WINDOW_MS`] of gateway time; a newer half of the same
/// kind replaces it. Pure: the caller passes the update's `time`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LegacyAlarms {
    alarm_type: Option<(u8, u64)>,
    level: Option<(u8, u64)>,
}

impl LegacyAlarms {
    /// How far apart (ms of gateway time) the two halves of one report may be.
    pub const WINDOW_MS: u64 = 2_000;

    /// Takes one half (a [`Report::LegacyAlarmType`] or [`Report::LegacyAlarmLevel`]; anything
    /// else is ignored) and gives the pair's meaning once both halves are in.
    pub fn feed(&mut self, half: &Report, time: u64) -> Option<Report> {
        match half {
            Report::LegacyAlarmType(t) => self.alarm_type = Some((*t, time)),
            Report::LegacyAlarmLevel(l) => self.level = Some((*l, time)),
            _ => return None,
        }
        let ((t, t_time), (l, l_time)) = (self.alarm_type?, self.level?);
        if t_time.abs_diff(l_time) > Self::WINDOW_MS {
            return None;
        }
        *self = LegacyAlarms::default();
        legacy_alarm(t, l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_keypad_unlock_event_is_attributed_to_its_slot_by_label_and_by_number() {
        let expected = Some(Report::Operation(Operation {
            motion: Motion::Unlocked,
            method: Method::Keypad,
            slot: Some(3),
        }));
        assert_eq!(
            notification_value(
                "Access_Control",
                Some("Keypad_unlock_operation"),
                Some(&json!({"userId":3}))
            ),
            expected
        );
        let n = json!({"type":6,"event":6,"parameters":{"userId":3}});
        assert_eq!(node_notification(n.as_object().expect("object")), expected);
        let newer = json!({"type":6,"event":0x22,"parameters":{"user ID":3}});
        assert_eq!(
            node_notification(newer.as_object().expect("object")),
            expected
        );
    }

    #[test]
    fn slot_zero_and_missing_users_are_unknown_users() {
        let r = notification_value("Access_Control", Some("Keypad_unlock_operation"), None);
        assert_eq!(
            r,
            Some(Report::Operation(Operation {
                motion: Motion::Unlocked,
                method: Method::Keypad,
                slot: None
            }))
        );
        assert_eq!(
            access_control(6, Some(0)),
            Some(Report::Operation(Operation {
                motion: Motion::Unlocked,
                method: Method::Keypad,
                slot: None
            }))
        );
    }

    #[test]
    fn state_variables_raise_and_clear_alarms() {
        let v = |p, k, n: u64| notification_value(p, Some(k), Some(&json!(n)));
        assert_eq!(
            v("Access_Control", "Lock_state", 11),
            Some(Report::Alarm(Alarm::Jam))
        );
        assert_eq!(
            v("Access_Control", "Lock_state", 0),
            Some(Report::AlarmCleared(Alarm::Jam))
        );
        assert_eq!(
            v("Access_Control", "Keypad_state", 16),
            Some(Report::Alarm(Alarm::KeypadDisabled))
        );
        assert_eq!(
            v("Home_Security", "Cover_status", 3),
            Some(Report::Alarm(Alarm::Tamper))
        );
        assert_eq!(
            v("Power_Management", "Battery_maintenance_status", 11),
            Some(Report::Alarm(Alarm::LowBattery))
        );
        assert_eq!(
            v("Access_Control", "Door_state", 5633),
            Some(Report::Door(DoorPosition::Open))
        );
    }

    #[test]
    fn the_legacy_pair_is_decoded_once_both_halves_are_in() {
        let mut pair = LegacyAlarms::default();
        assert_eq!(pair.feed(&Report::LegacyAlarmType(19), 1_000), None);
        assert_eq!(
            pair.feed(&Report::LegacyAlarmLevel(3), 1_010),
            Some(Report::Operation(Operation {
                motion: Motion::Unlocked,
                method: Method::Keypad,
                slot: Some(3)
            }))
        );
        // A stale half does not pair with a new one.
        assert_eq!(pair.feed(&Report::LegacyAlarmLevel(4), 10_000), None);
        assert_eq!(pair.feed(&Report::LegacyAlarmType(9), 20_000), None);
        assert_eq!(
            pair.feed(&Report::LegacyAlarmLevel(1), 20_001),
            Some(Report::Alarm(Alarm::Jam))
        );
    }
}
