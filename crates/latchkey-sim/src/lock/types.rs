//! The lock's public value types: slots, PINs, positions, settings, outcomes and snapshots.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

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

    pub(super) fn is_empty(&self) -> bool {
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
    pub(super) fn lock_state(self) -> &'static str {
        match self {
            Self::NotFullyLocked => "not_fully_locked",
            Self::Locked => "locked",
            Self::Unlocked => "unlocked",
        }
    }

    /// `state` is `LOCK` only for ZCL lockState 1; everything else is `UNLOCK` (as `fz.lock` does).
    pub(super) fn state(self) -> &'static str {
        if self == Self::Locked {
            "LOCK"
        } else {
            "UNLOCK"
        }
    }

    pub(super) fn zcl(self) -> u8 {
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
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::ErrorJammed => "error_jammed",
            Self::ErrorForcedOpen => "error_forced_open",
        }
    }

    pub(super) fn zcl(self) -> u8 {
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
    pub(super) const ALL: [Self; 3] = [Self::SilentMode, Self::LowVolume, Self::HighVolume];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::SilentMode => "silent_mode",
            Self::LowVolume => "low_volume",
            Self::HighVolume => "high_volume",
        }
    }

    pub(super) fn zcl(self) -> u8 {
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
