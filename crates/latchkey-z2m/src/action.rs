//! The one-shot `action` events of a lock's state message, and who caused them.
//!
//! Operation events (ZCL opereventcode 0–15) and programming events (programeventcode 0–6)
//! share the `action` property; `unknown` is in both lists and is one variant here. These are
//! audit events, never lock position (see docs/DEVICES.md).

/// Longest `Action::Other` text kept, in bytes.
pub const MAX_OTHER_ACTION_BYTES: usize = 64;

/// A lock event from the `action` property.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// `unknown`: the lock reported event code 0.
    Unknown,
    Lock,
    Unlock,
    LockFailureInvalidPinOrId,
    LockFailureInvalidSchedule,
    UnlockFailureInvalidPinOrId,
    UnlockFailureInvalidSchedule,
    OneTouchLock,
    KeyLock,
    KeyUnlock,
    AutoLock,
    ScheduleLock,
    ScheduleUnlock,
    ManualLock,
    ManualUnlock,
    NonAccessUserOperationalEvent,
    /// Programming event: the master code was changed.
    MasterCodeChanged,
    /// Programming event: a PIN was added to slot `action_user`.
    PinCodeAdded,
    /// Programming event: the PIN of slot `action_user` was deleted.
    PinCodeDeleted,
    /// Programming event: the PIN of slot `action_user` was changed.
    PinCodeChanged,
    RfidCodeAdded,
    RfidCodeDeleted,
    /// Anything else (vendor actions such as Onesti's `keypad_unlock`), cut to
    /// [`MAX_OTHER_ACTION_BYTES`].
    Other(String),
}

const KNOWN: [(&str, Action); 22] = [
    ("unknown", Action::Unknown),
    ("lock", Action::Lock),
    ("unlock", Action::Unlock),
    (
        "lock_failure_invalid_pin_or_id",
        Action::LockFailureInvalidPinOrId,
    ),
    (
        "lock_failure_invalid_schedule",
        Action::LockFailureInvalidSchedule,
    ),
    (
        "unlock_failure_invalid_pin_or_id",
        Action::UnlockFailureInvalidPinOrId,
    ),
    (
        "unlock_failure_invalid_schedule",
        Action::UnlockFailureInvalidSchedule,
    ),
    ("one_touch_lock", Action::OneTouchLock),
    ("key_lock", Action::KeyLock),
    ("key_unlock", Action::KeyUnlock),
    ("auto_lock", Action::AutoLock),
    ("schedule_lock", Action::ScheduleLock),
    ("schedule_unlock", Action::ScheduleUnlock),
    ("manual_lock", Action::ManualLock),
    ("manual_unlock", Action::ManualUnlock),
    (
        "non_access_user_operational_event",
        Action::NonAccessUserOperationalEvent,
    ),
    ("master_code_changed", Action::MasterCodeChanged),
    ("pin_code_added", Action::PinCodeAdded),
    ("pin_code_deleted", Action::PinCodeDeleted),
    ("pin_code_changed", Action::PinCodeChanged),
    ("rfid_code_added", Action::RfidCodeAdded),
    ("rfid_code_deleted", Action::RfidCodeDeleted),
];

impl Action {
    /// The action named `s` (ASCII case-insensitively); unknown names become
    /// [`Action::Other`], cut to [`MAX_OTHER_ACTION_BYTES`].
    pub fn from_wire(s: &str) -> Action {
        KNOWN
            .iter()
            .find(|(name, _)| s.eq_ignore_ascii_case(name))
            .map(|(_, action)| action.clone())
            .unwrap_or_else(|| Action::Other(crate::limits::truncate(s, MAX_OTHER_ACTION_BYTES)))
    }

    /// The wire name of this action.
    pub fn as_str(&self) -> &str {
        match self {
            Action::Other(s) => s,
            known => KNOWN
                .iter()
                .find(|(_, action)| action == known)
                .map_or("unknown", |(name, _)| name),
        }
    }

    /// Whether this is a programming event (a code was added, changed or deleted).
    pub fn is_programming(&self) -> bool {
        matches!(
            self,
            Action::MasterCodeChanged
                | Action::PinCodeAdded
                | Action::PinCodeDeleted
                | Action::PinCodeChanged
                | Action::RfidCodeAdded
                | Action::RfidCodeDeleted
        )
    }

    /// Whether this is a refused attempt (wrong PIN or outside its schedule), which counts
    /// toward the wrong-code alarm.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Action::LockFailureInvalidPinOrId
                | Action::LockFailureInvalidSchedule
                | Action::UnlockFailureInvalidPinOrId
                | Action::UnlockFailureInvalidSchedule
        )
    }
}

wire_enum!(
    /// Where an action came from (`action_source_name`, or the raw `action_source` 0–4).
    ActionSource {
        Keypad => "keypad",
        Rf => "rf",
        Manual => "manual",
        Rfid => "rfid",
        Fingerprint => "fingerprint",
    }
);

impl ActionSource {
    /// The source for a raw ZCL operation source code.
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(ActionSource::Keypad),
            1 => Some(ActionSource::Rf),
            2 => Some(ActionSource::Manual),
            3 => Some(ActionSource::Rfid),
            4 => Some(ActionSource::Fingerprint),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_action_round_trips_through_its_name() {
        for (name, action) in &KNOWN {
            assert_eq!(&Action::from_wire(name), action);
            assert_eq!(action.as_str(), *name);
        }
    }

    #[test]
    fn unknown_actions_are_kept_bounded() {
        assert_eq!(
            Action::from_wire("keypad_unlock"),
            Action::Other("keypad_unlock".into())
        );
        let long = "x".repeat(1000);
        assert_eq!(
            Action::from_wire(&long),
            Action::Other("x".repeat(MAX_OTHER_ACTION_BYTES))
        );
    }

    #[test]
    fn action_kinds() {
        assert!(Action::PinCodeAdded.is_programming());
        assert!(!Action::Unlock.is_programming());
        assert!(Action::UnlockFailureInvalidPinOrId.is_failure());
        assert_eq!(ActionSource::from_code(0), Some(ActionSource::Keypad));
        assert_eq!(ActionSource::from_code(9), None);
        assert_eq!(ActionSource::from_wire("RFID"), Some(ActionSource::Rfid));
    }
}
