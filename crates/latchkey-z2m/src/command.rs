//! Outbound commands: what latchkey asks a lock to do, encoded to the topic and JSON payload
//! Zigbee2MQTT expects. Payloads are typed structs serialised by serde, never concatenated text.
//!
//! Zigbee2MQTT answers none of these directly: a command is done when the state report, a
//! programming event or a re-read shows it (see docs/DEVICES.md).

use std::fmt;

use serde::Serialize;

use crate::inbound::{LOCK_CAPS_PROPERTY, SoundVolume};
use crate::topic::{TopicError, Topics};

/// Longest auto-relock time accepted, in seconds (the `auto_relock_time` expose's range).
pub const MAX_AUTO_RELOCK_SECONDS: u32 = 3600;

/// The ZCL cluster of door locks, as Zigbee2MQTT names it.
pub const DOOR_LOCK_CLUSTER: &str = "closuresDoorLock";

/// The attributes [`Command::ReadCapabilities`] reads.
pub const CAPABILITY_ATTRIBUTES: [&str; 5] = [
    "numOfPinUsersSupported",
    "minPinLen",
    "maxPinLen",
    "wrongCodeEntryLimit",
    "userCodeTemporaryDisableTime",
];

wire_enum!(
    /// The ZCL user type of a PIN slot (ZCL 0–4).
    UserType {
        Unrestricted => "unrestricted",
        YearDaySchedule => "year_day_schedule",
        WeekDaySchedule => "week_day_schedule",
        Master => "master",
        NonAccess => "non_access",
    }
);

wire_enum!(
    /// The status to give a slot with [`Command::SetUserStatus`].
    UserStatus {
        Available => "available",
        Enabled => "enabled",
        Disabled => "disabled",
    }
);

/// A command for one lock. Slot numbers are 0-based ZCL user ids; checking them against the
/// lock's capacity is the caller's job. `Debug` never prints a PIN.
#[derive(Clone, PartialEq, Eq)]
pub enum Command {
    /// `{"state":"LOCK"}` to `/set`.
    Lock,
    /// `{"state":"UNLOCK"}` to `/set`.
    Unlock,
    /// Set or replace the PIN of a slot: `{"pin_code":{"user":…,"user_type":…,
    /// "user_enabled":…,"pin_code":"0427"}}` to `/set`. The PIN must be 4–8 ASCII digits and is
    /// sent as a JSON string, so leading zeros survive.
    SetPin {
        slot: u16,
        pin: String,
        user_type: UserType,
        enabled: bool,
    },
    /// Clear a slot (ZCL clearPinCode): `{"pin_code":{"user":…,"pin_code":null}}` to `/set`.
    ClearPin { slot: u16 },
    /// Enable or disable a slot without touching its PIN: `{"user_status":{"user":…,
    /// "status":…}}` to `/set`. Only for locks whose definition has `lock_userstatus`.
    SetUserStatus { slot: u16, status: UserStatus },
    /// Read one slot: `{"pin_code":{"user":…}}` to `/get`. There is deliberately no way to
    /// express the read-every-slot form `{"pin_code":""}`, which floods lock and broker.
    ReadSlot { slot: u16 },
    /// Read the lock position: `{"state":""}` to `/get`.
    ReadState,
    /// `{"auto_relock_time":…}` to `/set`; 0 disables, at most [`MAX_AUTO_RELOCK_SECONDS`].
    SetAutoRelock { seconds: u32 },
    /// `{"sound_volume":…}` to `/set`.
    SetSoundVolume(SoundVolume),
    /// Write the ZCL wrong-code lockout attributes through the generic `write` converter to
    /// `/set`. Both are ZCL uint8 with range 1–255: `wrongCodeEntryLimit` attempts and
    /// `userCodeTemporaryDisableTime` seconds.
    WriteLockoutSettings {
        wrong_code_limit: u8,
        disable_seconds: u8,
    },
    /// Read [`CAPABILITY_ATTRIBUTES`] through the generic `read` converter (a `/set`
    /// command); the result arrives under [`LOCK_CAPS_PROPERTY`] in the state message.
    ReadCapabilities,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Lock => f.write_str("Lock"),
            Command::Unlock => f.write_str("Unlock"),
            Command::SetPin {
                slot,
                pin: _,
                user_type,
                enabled,
            } => f
                .debug_struct("SetPin")
                .field("slot", slot)
                .field("pin", &"****")
                .field("user_type", user_type)
                .field("enabled", enabled)
                .finish(),
            Command::ClearPin { slot } => f.debug_struct("ClearPin").field("slot", slot).finish(),
            Command::SetUserStatus { slot, status } => f
                .debug_struct("SetUserStatus")
                .field("slot", slot)
                .field("status", status)
                .finish(),
            Command::ReadSlot { slot } => f.debug_struct("ReadSlot").field("slot", slot).finish(),
            Command::ReadState => f.write_str("ReadState"),
            Command::SetAutoRelock { seconds } => f
                .debug_struct("SetAutoRelock")
                .field("seconds", seconds)
                .finish(),
            Command::SetSoundVolume(v) => f.debug_tuple("SetSoundVolume").field(v).finish(),
            Command::WriteLockoutSettings {
                wrong_code_limit,
                disable_seconds,
            } => f
                .debug_struct("WriteLockoutSettings")
                .field("wrong_code_limit", wrong_code_limit)
                .field("disable_seconds", disable_seconds)
                .finish(),
            Command::ReadCapabilities => f.write_str("ReadCapabilities"),
        }
    }
}

/// Why a command could not be encoded. Messages never contain a PIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error(transparent)]
    Topic(#[from] TopicError),
    #[error("a PIN must be 4 to 8 ASCII digits")]
    InvalidPin,
    #[error("auto-relock time {seconds} s exceeds the maximum of {max} s")]
    AutoRelockTooLong { seconds: u32, max: u32 },
    #[error("`{field}` must be between 1 and 255 (0 is outside the ZCL range)")]
    ZeroLockoutValue { field: &'static str },
    #[error("payload could not be serialised")]
    Serialize,
}

#[derive(Serialize)]
struct StateCmd {
    state: &'static str,
}

#[derive(Serialize)]
struct PinCodeCmd<T> {
    pin_code: T,
}

#[derive(Serialize)]
struct SetPinBody<'a> {
    user: u16,
    user_type: UserType,
    user_enabled: bool,
    pin_code: &'a str,
}

#[derive(Serialize)]
struct ClearPinBody {
    user: u16,
    pin_code: Option<&'static str>,
}

#[derive(Serialize)]
struct ReadSlotBody {
    user: u16,
}

#[derive(Serialize)]
struct UserStatusCmd {
    user_status: UserStatusBody,
}

#[derive(Serialize)]
struct UserStatusBody {
    user: u16,
    status: UserStatus,
}

#[derive(Serialize)]
struct AutoRelockCmd {
    auto_relock_time: u32,
}

#[derive(Serialize)]
struct SoundVolumeCmd {
    sound_volume: SoundVolume,
}

#[derive(Serialize)]
struct WriteCmd {
    write: WriteBody,
}

#[derive(Serialize)]
struct WriteBody {
    cluster: &'static str,
    payload: LockoutPayload,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LockoutPayload {
    wrong_code_entry_limit: u8,
    user_code_temporary_disable_time: u8,
}

#[derive(Serialize)]
struct ReadCmd {
    read: ReadBody,
}

#[derive(Serialize)]
struct ReadBody {
    cluster: &'static str,
    attributes: &'static [&'static str],
    state_property: &'static str,
}

/// Which device topic a command goes to.
#[derive(Clone, Copy)]
enum Target {
    Set,
    Get,
}

fn is_valid_pin(pin: &str) -> bool {
    (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>, EncodeError> {
    serde_json::to_vec(value).map_err(|_| EncodeError::Serialize)
}

impl Command {
    /// The topic and JSON payload that carry this command to `device` (a friendly name).
    ///
    /// # Errors
    /// `device` is not an addressable friendly name; a PIN is not 4–8 ASCII digits; an
    /// auto-relock time is over [`MAX_AUTO_RELOCK_SECONDS`]; a lockout value is 0.
    pub fn encode(&self, topics: &Topics, device: &str) -> Result<(String, Vec<u8>), EncodeError> {
        let (target, payload) = self.payload()?;
        let topic = match target {
            Target::Set => topics.set(device)?,
            Target::Get => topics.get(device)?,
        };
        Ok((topic, payload))
    }

    fn payload(&self) -> Result<(Target, Vec<u8>), EncodeError> {
        Ok(match self {
            Command::Lock => (Target::Set, json(&StateCmd { state: "LOCK" })?),
            Command::Unlock => (Target::Set, json(&StateCmd { state: "UNLOCK" })?),
            Command::SetPin {
                slot,
                pin,
                user_type,
                enabled,
            } => {
                if !is_valid_pin(pin) {
                    return Err(EncodeError::InvalidPin);
                }
                let body = SetPinBody {
                    user: *slot,
                    user_type: *user_type,
                    user_enabled: *enabled,
                    pin_code: pin,
                };
                (Target::Set, json(&PinCodeCmd { pin_code: body })?)
            }
            Command::ClearPin { slot } => {
                let body = ClearPinBody {
                    user: *slot,
                    pin_code: None,
                };
                (Target::Set, json(&PinCodeCmd { pin_code: body })?)
            }
            Command::SetUserStatus { slot, status } => {
                let body = UserStatusBody {
                    user: *slot,
                    status: *status,
                };
                (Target::Set, json(&UserStatusCmd { user_status: body })?)
            }
            Command::ReadSlot { slot } => {
                let body = ReadSlotBody { user: *slot };
                (Target::Get, json(&PinCodeCmd { pin_code: body })?)
            }
            Command::ReadState => (Target::Get, json(&StateCmd { state: "" })?),
            Command::SetAutoRelock { seconds } => {
                if *seconds > MAX_AUTO_RELOCK_SECONDS {
                    return Err(EncodeError::AutoRelockTooLong {
                        seconds: *seconds,
                        max: MAX_AUTO_RELOCK_SECONDS,
                    });
                }
                let cmd = AutoRelockCmd {
                    auto_relock_time: *seconds,
                };
                (Target::Set, json(&cmd)?)
            }
            Command::SetSoundVolume(volume) => {
                let cmd = SoundVolumeCmd {
                    sound_volume: *volume,
                };
                (Target::Set, json(&cmd)?)
            }
            Command::WriteLockoutSettings {
                wrong_code_limit,
                disable_seconds,
            } => {
                if *wrong_code_limit == 0 {
                    return Err(EncodeError::ZeroLockoutValue {
                        field: "wrong_code_limit",
                    });
                }
                if *disable_seconds == 0 {
                    return Err(EncodeError::ZeroLockoutValue {
                        field: "disable_seconds",
                    });
                }
                let cmd = WriteCmd {
                    write: WriteBody {
                        cluster: DOOR_LOCK_CLUSTER,
                        payload: LockoutPayload {
                            wrong_code_entry_limit: *wrong_code_limit,
                            user_code_temporary_disable_time: *disable_seconds,
                        },
                    },
                };
                (Target::Set, json(&cmd)?)
            }
            Command::ReadCapabilities => {
                let cmd = ReadCmd {
                    read: ReadBody {
                        cluster: DOOR_LOCK_CLUSTER,
                        attributes: &CAPABILITY_ATTRIBUTES,
                        state_property: LOCK_CAPS_PROPERTY,
                    },
                };
                (Target::Set, json(&cmd)?)
            }
        })
    }
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
