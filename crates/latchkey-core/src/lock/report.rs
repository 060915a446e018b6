//! What a lock tells latchkey, in latchkey's words. A codec turns its protocol's messages into
//! these; one protocol message may carry several.

use std::fmt;

/// Where the bolt is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Position {
    Locked,
    Unlocked,
    /// The bolt stopped part-way: a jam.
    NotFullyLocked,
}

/// The door's contact (on the lock, or a sensor paired with the door).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DoorContact {
    Open,
    Closed,
}

/// Whether the lock can be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Availability {
    Online,
    Offline,
    /// A sleeping lock between wake-ups: it is there, and commands wait for it.
    Asleep,
}

/// A slot's status as the lock reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlotStatus {
    /// Nothing in it.
    Empty,
    /// A code that works.
    Enabled,
    /// A code kept but refused at the keypad.
    Disabled,
}

/// The code a slot holds, as far as the lock shows it. `Debug` never prints the digits.
#[derive(Clone, PartialEq, Eq)]
pub enum ReportedCode {
    /// The digits, as the lock holds them.
    Exact(String),
    /// The lock shows that there is a code but not which (all `*`, or bytes that are not
    /// digits).
    Masked,
    /// The report said nothing about the code.
    NotReported,
}

impl fmt::Debug for ReportedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportedCode::Exact(_) => f.write_str("Exact(****)"),
            ReportedCode::Masked => f.write_str("Masked"),
            ReportedCode::NotReported => f.write_str("NotReported"),
        }
    }
}

/// What the lock said about one slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotReading {
    pub slot: u16,
    pub status: SlotStatus,
    pub code: ReportedCode,
    /// Whether this is the lock's answer to a read of the slot (a read-back), rather than a
    /// value the gateway published on its own (which may be its echo of a write the lock never
    /// got).
    pub read_back: bool,
}

/// Which way the bolt moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Motion {
    Lock,
    Unlock,
}

/// How an operation was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// A code typed at the keypad.
    Keypad,
    /// A card or tag.
    Rfid,
    /// By hand: the thumb-turn or a key.
    Manual,
    /// A command over the network.
    Remote,
    /// The lock on its own (auto-relock, a schedule).
    Auto,
    /// The lock did not say.
    Unknown,
}

/// The lock moved, or refused to, and says how and for whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Operation {
    pub motion: Motion,
    pub method: Method,
    /// The slot whose code (or card) was used, when the lock names one.
    pub slot: Option<u16>,
    /// Whether the lock refused (a wrong or disabled code, a failed remote command).
    pub refused: bool,
}

/// Something wrong at the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alarm {
    /// The bolt did not throw fully.
    Jam,
    /// Someone is tampering with the lock.
    Tamper,
    /// The keypad is disabled after too many wrong codes.
    KeypadDisabled,
    /// The battery is low.
    LowBattery,
    /// The door was forced.
    ForcedEntry,
}

/// A code changed on the lock: a programming event. It is the lock's own word that a slot
/// changed, so it confirms a write on locks that send it ([`super::Confirms::ProgrammingEvent`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeChange {
    Added {
        slot: Option<u16>,
    },
    Changed {
        slot: Option<u16>,
    },
    Deleted {
        slot: Option<u16>,
    },
    /// The lock refused a code because another slot holds it.
    Duplicate {
        slot: Option<u16>,
    },
}

/// One thing a lock reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockReport {
    Position(Position),
    Door(DoorContact),
    /// Battery charge in percent (0–100).
    Battery(u8),
    Availability(Availability),
    Slot(SlotReading),
    Operation(Operation),
    Alarm(Alarm),
    CodeChanged(CodeChange),
    /// The settings the lock holds, each `None` when not reported.
    Settings {
        auto_relock_seconds: Option<u32>,
        wrong_code_limit: Option<u8>,
        keypad_disable_seconds: Option<u8>,
    },
}
