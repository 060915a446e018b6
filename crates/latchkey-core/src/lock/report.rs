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

/// The door, as the lock's contact (or a sensor paired with the door) reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DoorContact {
    Open,
    Closed,
    /// The lock says the door is jammed.
    Jammed,
    /// The lock says the door was forced open.
    ForcedOpen,
    /// The lock reports a fault of its door sensor, or a state it does not define.
    Fault,
}

/// Whether the lock can be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Availability {
    Online,
    Offline,
    /// A sleeping lock between wake-ups: it is there, and commands wait for it.
    Asleep,
    /// The gateway no longer says (its retained availability was cleared: the device was
    /// removed or renamed).
    Unknown,
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

impl Motion {
    pub fn as_str(self) -> &'static str {
        match self {
            Motion::Lock => "lock",
            Motion::Unlock => "unlock",
        }
    }
}

/// How an operation was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// A code typed at the keypad.
    Keypad,
    /// A card or tag.
    Rfid,
    /// A fingerprint.
    Fingerprint,
    /// A key in the cylinder.
    Key,
    /// By hand: the thumb-turn, or the lock's own button.
    Manual,
    /// The one-touch button outside (locks without a code).
    OneTouch,
    /// A command over the network.
    Remote,
    /// The lock on its own: auto-relock.
    Auto,
    /// The lock's own schedule.
    Schedule,
    /// The lock did not say.
    Unknown,
}

impl Method {
    /// The word the audit log records.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Keypad => "keypad",
            Method::Rfid => "rfid",
            Method::Fingerprint => "fingerprint",
            Method::Key => "key",
            Method::Manual => "manual",
            Method::OneTouch => "one_touch",
            Method::Remote => "remote",
            Method::Auto => "auto",
            Method::Schedule => "schedule",
            Method::Unknown => "unknown",
        }
    }

    /// Whether a person presented a credential of their own (a code, a card, a finger), which
    /// the lock may attribute to a slot.
    pub fn is_credential(self) -> bool {
        matches!(self, Method::Keypad | Method::Rfid | Method::Fingerprint)
    }
}

/// Why the lock refused an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// A code (or card) it does not hold, or holds disabled.
    WrongCode,
    /// A code it holds, outside the code's schedule.
    OutsideSchedule,
}

impl Refusal {
    /// The reason the audit log records.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::WrongCode => "wrong_code",
            Refusal::OutsideSchedule => "outside_schedule",
        }
    }
}

/// The lock moved, or refused to, and says how and for whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Operation {
    pub motion: Motion,
    pub method: Method,
    /// The slot whose code (or card) was used, when the lock names one.
    pub slot: Option<u16>,
    /// Why the lock refused, when it did (a wrong code at the keypad, or a remote command it
    /// would not carry out).
    pub refused: Option<Refusal>,
}

/// Something wrong at the lock.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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
    /// A code kept for duress was typed (in `slot`, when the lock names it).
    Duress { slot: Option<u16> },
    /// An alarm latchkey has no word of its own for, as the protocol names it (bounded by
    /// the codec).
    Other(String),
}

/// A code changed on the lock: a programming event. It is the lock's own word that a slot
/// changed, so it confirms a write on locks that send it ([`super::Confirms::ProgrammingEvent`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CodeChange {
    pub kind: CodeChangeKind,
    /// The slot, when the lock names it.
    pub slot: Option<u16>,
    /// Whether someone programmed it at the keypad (with the master code), rather than a
    /// controller over the network.
    pub at_keypad: bool,
}

/// What happened to the code of a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeChangeKind {
    Added,
    Changed,
    Deleted,
    /// The lock refused a code because another slot holds it.
    Duplicate,
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
    /// The lock says its battery is low, without a charge.
    BatteryLow,
    /// The radio link's quality as the gateway measures it (0–255).
    LinkQuality(u8),
    Alarm(Alarm),
    CodeChanged(CodeChange),
    /// A code that opens nothing was typed (a presence or check-in code), in `slot` when named.
    PresenceCode {
        slot: Option<u16>,
    },
    /// An event latchkey has no word of its own for (a master code changed, a card added),
    /// recorded as the protocol names it.
    Other {
        event: String,
        method: Method,
        slot: Option<u16>,
    },
    /// The settings the lock holds, each `None` when not reported.
    Settings {
        auto_relock_seconds: Option<u32>,
        wrong_code_limit: Option<u8>,
        keypad_disable_seconds: Option<u8>,
    },
}
