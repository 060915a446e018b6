//! The codec's lock vocabulary and the values it reads: User Code slots, Door Lock mode and
//! door, Battery. Notification events and alarms are in [`crate::events`].
//!
//! The vocabulary is close to what a device-neutral lock model needs (position, door, battery,
//! availability, slot status and contents, operations attributed to a slot and a method,
//! alarms) and says nothing Zigbee-specific; it is still this crate's own, so that the codec
//! can be read and tested on its own.

use std::fmt;

use serde_json::Value;

use crate::limits::{ParseError, as_uint};

/// Door Lock command class.
pub const CC_DOOR_LOCK: u16 = 98;
/// User Code command class.
pub const CC_USER_CODE: u16 = 99;
/// Notification command class (and the legacy Alarm pair).
pub const CC_NOTIFICATION: u16 = 113;
/// Battery command class.
pub const CC_BATTERY: u16 = 128;
/// Door Lock mode Secured.
pub const MODE_SECURED: u8 = 0xFF;
/// Door Lock mode Unsecured.
pub const MODE_UNSECURED: u8 = 0x00;
/// Door Lock mode Unknown.
pub const MODE_UNKNOWN: u8 = 0xFE;
/// Longest code string accepted in a report (the protocol allows 10; some locks pad).
pub const MAX_REPORTED_CODE_LEN: usize = 32;

/// A User Code slot's status (`userIdStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlotStatus {
    /// 0: empty.
    Available,
    /// 1: the code opens the lock.
    Enabled,
    /// 2: the code is stored but refused.
    Disabled,
    /// 3: the code only raises a notification.
    Messaging,
    /// 4: the code puts the lock into passage mode.
    PassageMode,
    /// 0xFE: the lock has no such slot.
    NotAvailable,
    /// Any other status byte.
    Other(u8),
}

impl SlotStatus {
    /// The status of this byte.
    pub fn from_code(code: u8) -> SlotStatus {
        match code {
            0 => SlotStatus::Available,
            1 => SlotStatus::Enabled,
            2 => SlotStatus::Disabled,
            3 => SlotStatus::Messaging,
            4 => SlotStatus::PassageMode,
            0xFE => SlotStatus::NotAvailable,
            n => SlotStatus::Other(n),
        }
    }

    /// The status byte.
    pub fn code(self) -> u8 {
        match self {
            SlotStatus::Available => 0,
            SlotStatus::Enabled => 1,
            SlotStatus::Disabled => 2,
            SlotStatus::Messaging => 3,
            SlotStatus::PassageMode => 4,
            SlotStatus::NotAvailable => 0xFE,
            SlotStatus::Other(n) => n,
        }
    }
}

/// A code string a lock reported. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretCode(String);

impl SecretCode {
    /// The code as reported (leading zeros kept).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// What a `userCode` value holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportedCode {
    /// `""`.
    Empty,
    /// A printable code. `"0000"` and other all-zero strings are codes here: they mean an
    /// empty slot only when the status says Available (see [`SlotContents::of`]).
    Code(SecretCode),
    /// All `*` (Schlage BE469, FE599): the lock hides its codes; only the status can be checked.
    Masked { len: usize },
    /// Bytes the gateway published as `0x…` hex: not a code latchkey can have set.
    Unreadable,
}

impl ReportedCode {
    fn parse(v: &Value) -> Result<ReportedCode, ParseError> {
        let Value::String(s) = v else {
            return Err(ParseError::InvalidField {
                field: "userCode",
                reason: "expected a string",
            });
        };
        if s.len() > MAX_REPORTED_CODE_LEN {
            return Err(ParseError::InvalidField {
                field: "userCode",
                reason: "too long",
            });
        }
        Ok(if s.is_empty() {
            ReportedCode::Empty
        } else if s.bytes().all(|b| b == b'*') {
            ReportedCode::Masked { len: s.len() }
        } else if is_hex_buffer(s) || !s.bytes().all(|b| b.is_ascii_graphic()) {
            ReportedCode::Unreadable
        } else {
            ReportedCode::Code(SecretCode(s.clone()))
        })
    }
}

fn is_hex_buffer(s: &str) -> bool {
    s.strip_prefix("0x").is_some_and(|h| {
        !h.is_empty() && h.len() % 2 == 0 && h.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// What one slot holds, from its status and code read together (the reference's
/// normalisation: with status Available, `""`, all-`0` and all-`*` all mean empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotContents {
    Empty,
    Occupied {
        status: SlotStatus,
        code: ReportedCode,
    },
}

impl SlotContents {
    /// The contents a status and a code describe.
    pub fn of(status: SlotStatus, code: ReportedCode) -> SlotContents {
        match status {
            SlotStatus::Available | SlotStatus::NotAvailable => SlotContents::Empty,
            status => SlotContents::Occupied { status, code },
        }
    }

    /// Whether this read-back shows `pin` in the slot, enabled.
    pub fn confirms(&self, pin: &str) -> Confirmation {
        self.confirms_as(pin, SlotStatus::Enabled)
    }

    /// Whether this read-back shows `pin` in the slot with the status `wanted` (Enabled,
    /// Disabled, Messaging).
    pub fn confirms_as(&self, pin: &str, wanted: SlotStatus) -> Confirmation {
        match self {
            SlotContents::Empty => Confirmation::Empty,
            SlotContents::Occupied { status, code } if *status == wanted => match code {
                ReportedCode::Code(c) if c.expose() == pin => Confirmation::Confirmed,
                ReportedCode::Masked { .. } | ReportedCode::Unreadable | ReportedCode::Empty => {
                    Confirmation::StatusOnly
                }
                ReportedCode::Code(_) => Confirmation::OtherCode,
            },
            SlotContents::Occupied { status, .. } => Confirmation::WrongStatus(*status),
        }
    }
}

/// What a read-back says about an intended code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// With the status wanted and exactly this code.
    Confirmed,
    /// With the status wanted, but the lock does not show its codes (masked or unreadable): the status is all
    /// that can be checked, so the code is *assumed*, not confirmed.
    StatusOnly,
    /// With the status wanted and another code.
    OtherCode,
    /// The slot is empty: the write did not reach the lock, or the lock refused it.
    Empty,
    /// Holds a code with another status than the one wanted (Disabled, Enabled, …).
    WrongStatus(SlotStatus),
}

/// Where the bolt is, from Door Lock `currentMode` (or `targetMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    Locked,
    /// Any unsecured mode; the mode byte says which (inside/outside, with timeout).
    Unlocked {
        mode: u8,
    },
    /// 0xFE, or a mode byte the protocol does not define.
    Unknown,
}

impl Position {
    fn from_mode(mode: u8) -> Position {
        match mode {
            MODE_SECURED => Position::Locked,
            0x00 | 0x01 | 0x10 | 0x11 | 0x20 | 0x21 => Position::Unlocked { mode },
            _ => Position::Unknown,
        }
    }
}

/// The door, from `doorStatus` or the `Door_state` notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DoorPosition {
    Open,
    Closed,
}

/// The bolt as `boltStatus` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bolt {
    Thrown,
    Retracted,
}

/// A node's availability, from `<node>/status` or forwarded events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Availability {
    Alive,
    Awake,
    /// A sleeping node between wake-ups: commands wait in the gateway's queue.
    Asleep,
    /// A transmission to it failed.
    Dead,
    Unknown,
}

impl Availability {
    pub(crate) fn from_wire(s: &str) -> Option<Availability> {
        Some(match s {
            "Alive" | "alive" => Availability::Alive,
            "Awake" | "awake" => Availability::Awake,
            "Asleep" | "asleep" => Availability::Asleep,
            "Dead" | "dead" => Availability::Dead,
            "Unknown" | "unknown" => Availability::Unknown,
            _ => return None,
        })
    }
}

/// How an operation was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Keypad,
    /// Thumbturn, key or inside button.
    Manual,
    /// A Z-Wave command (latchkey's or another controller's).
    Remote,
    /// Auto-relock.
    Auto,
}

/// Locked or unlocked, by an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Motion {
    Locked,
    Unlocked,
}

/// A lock or unlock the lock reported, attributed to a slot when it names one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    pub motion: Motion,
    pub method: Method,
    /// The User Code slot, for keypad operations that name one (0 is "no user" and is `None`).
    pub slot: Option<u16>,
}

/// A condition the lock raises (and later clears).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alarm {
    /// Not fully locked: the bolt did not reach its end.
    Jam,
    /// Cover removed, product moved or forced.
    Tamper,
    /// Too many wrong codes: the keypad ignores entries for a while.
    KeypadDisabled,
    LowBattery,
}

/// A change to the codes the lock itself reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeChange {
    Added {
        slot: Option<u16>,
    },
    Deleted {
        slot: Option<u16>,
    },
    AllDeleted,
    /// Refused: the code is already in another slot (Yale sends no slot).
    Duplicate {
        slot: Option<u16>,
    },
}

/// One thing a node (or the gateway about a node) reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    SlotStatus {
        slot: u16,
        status: SlotStatus,
    },
    SlotCode {
        slot: u16,
        code: ReportedCode,
    },
    /// `currentMode`: where the bolt is.
    Position(Position),
    /// `targetMode`: where it was told to go. zwave-js publishes it as soon as a command is
    /// sent, so it is never a confirmation.
    Target(Position),
    Bolt(Bolt),
    Door(DoorPosition),
    /// Battery percent (0–100).
    Battery {
        percent: u8,
    },
    BatteryLow(bool),
    /// `autoRelockTime`, seconds.
    AutoRelock {
        seconds: u32,
    },
    Operation(Operation),
    Alarm(Alarm),
    AlarmCleared(Alarm),
    CodeChange(CodeChange),
    /// A messaging code (status 3) was typed at the keypad: it opens nothing, it only tells
    /// (Access Control 0x20).
    MessagingCode {
        slot: Option<u16>,
    },
    /// The raw legacy `alarmType`; pair it with `alarmLevel` through
    /// [`crate::events::LegacyAlarms`].
    LegacyAlarmType(u8),
    LegacyAlarmLevel(u8),
    Availability(Availability),
    /// When the gateway last heard from the node (ms since the epoch).
    LastActive {
        ms: u64,
    },
}

fn invalid(field: &'static str, reason: &'static str) -> ParseError {
    ParseError::InvalidField { field, reason }
}

fn byte(v: &Value, field: &'static str) -> Result<u8, ParseError> {
    as_uint(v, 255)
        .and_then(|n| u8::try_from(n).ok())
        .ok_or_else(|| invalid(field, "expected an integer 0–255"))
}

/// A slot number from a topic key or valueId: 1–65535.
pub(crate) fn slot_number(key: Option<&str>) -> Result<u16, ParseError> {
    key.and_then(crate::topic::small_number)
        .filter(|n| *n >= 1)
        .ok_or_else(|| invalid("propertyKey", "expected a slot number"))
}

/// The report a User Code, Door Lock or Battery value means, `Ok(None)` for values latchkey does
/// not read. `value` is the payload's `value` (absent: nothing to report).
pub(crate) fn value_report(
    cc: u16,
    property: &str,
    key: Option<&str>,
    value: Option<&Value>,
) -> Result<Option<Report>, ParseError> {
    let Some(v) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    Ok(Some(match (cc, property) {
        (CC_USER_CODE, "userIdStatus") => Report::SlotStatus {
            slot: slot_number(key)?,
            status: SlotStatus::from_code(byte(v, "userIdStatus")?),
        },
        (CC_USER_CODE, "userCode") => Report::SlotCode {
            slot: slot_number(key)?,
            code: ReportedCode::parse(v)?,
        },
        (CC_DOOR_LOCK, "currentMode") => {
            Report::Position(Position::from_mode(byte(v, "currentMode")?))
        }
        (CC_DOOR_LOCK, "targetMode") => Report::Target(Position::from_mode(byte(v, "targetMode")?)),
        (CC_DOOR_LOCK, "boltStatus") => Report::Bolt(match v.as_str() {
            Some("locked") => Bolt::Thrown,
            Some("unlocked") => Bolt::Retracted,
            _ => return Err(invalid("boltStatus", "expected locked or unlocked")),
        }),
        (CC_DOOR_LOCK, "doorStatus") => Report::Door(match v.as_str() {
            Some("open") => DoorPosition::Open,
            Some("closed") => DoorPosition::Closed,
            _ => return Err(invalid("doorStatus", "expected open or closed")),
        }),
        (CC_DOOR_LOCK, "autoRelockTime") => Report::AutoRelock {
            seconds: as_uint(v, 65_535)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| invalid("autoRelockTime", "expected seconds 0–65535"))?,
        },
        (CC_BATTERY, "level") => {
            let p = byte(v, "level")?;
            if p > 100 {
                return Err(invalid("level", "expected a percentage"));
            }
            Report::Battery { percent: p }
        }
        (CC_BATTERY, "isLow") => Report::BatteryLow(
            v.as_bool()
                .ok_or_else(|| invalid("isLow", "expected a boolean"))?,
        ),
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(s: &str) -> ReportedCode {
        ReportedCode::parse(&json!(s)).expect("a string")
    }

    #[test]
    fn empty_slot_spellings_mean_empty_only_with_status_available() {
        for spelling in ["", "0000", "000000", "****"] {
            assert_eq!(
                SlotContents::of(SlotStatus::Available, code(spelling)),
                SlotContents::Empty
            );
        }
        // 0000 is a valid PIN on some locks.
        assert_eq!(
            SlotContents::of(SlotStatus::Enabled, code("0000")).confirms("0000"),
            Confirmation::Confirmed
        );
    }

    #[test]
    fn a_masked_read_back_confirms_the_status_only() {
        assert_eq!(code("****"), ReportedCode::Masked { len: 4 });
        let contents = SlotContents::of(SlotStatus::Enabled, code("****"));
        assert_eq!(contents.confirms("0427"), Confirmation::StatusOnly);
        assert_eq!(
            SlotContents::of(SlotStatus::Enabled, code("0427")).confirms("0427"),
            Confirmation::Confirmed
        );
        assert_eq!(
            SlotContents::of(SlotStatus::Enabled, code("1427")).confirms("0427"),
            Confirmation::OtherCode
        );
        assert_eq!(
            SlotContents::of(SlotStatus::Disabled, code("0427")).confirms("0427"),
            Confirmation::WrongStatus(SlotStatus::Disabled)
        );
    }

    #[test]
    fn binary_codes_are_unreadable_and_codes_never_print() {
        assert_eq!(code("0x31320a"), ReportedCode::Unreadable);
        assert_eq!(format!("{:?}", code("0427")), "Code(****)");
        assert!(ReportedCode::parse(&json!(427)).is_err());
        assert!(ReportedCode::parse(&json!("1".repeat(33))).is_err());
    }

    #[test]
    fn door_lock_modes_map_to_positions() {
        let r = |m: u8| value_report(98, "currentMode", None, Some(&json!(m))).expect("ok");
        assert_eq!(r(255), Some(Report::Position(Position::Locked)));
        assert_eq!(r(0), Some(Report::Position(Position::Unlocked { mode: 0 })));
        assert_eq!(
            r(0x21),
            Some(Report::Position(Position::Unlocked { mode: 0x21 }))
        );
        assert_eq!(r(254), Some(Report::Position(Position::Unknown)));
        assert!(value_report(98, "currentMode", None, Some(&json!("255"))).is_err());
        assert!(value_report(98, "currentMode", None, Some(&json!(256))).is_err());
        assert_eq!(value_report(98, "currentMode", None, None), Ok(None));
    }
}
