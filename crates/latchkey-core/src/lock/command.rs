//! What latchkey asks a lock to do. A codec turns each command into its protocol's requests; a
//! command is done only when the lock's own report says so (see [`super::LockProfile::judge`]).

use std::fmt;

/// Longest auto-relock time latchkey asks for, in seconds (an hour; the locks latchkey drives
/// accept at least this).
pub const MAX_AUTO_RELOCK_SECONDS: u32 = 3600;

/// A code to write to a slot: 4 to 10 ASCII digits, kept as typed so `0427` stays `0427`.
/// Which lengths a given lock takes is its profile's business ([`super::PinLengths`]). `Debug`
/// never prints the digits, and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(String);

/// Why a string is not a code a lock can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("a lock code may contain only the digits 0–9")]
    NotDigits,
    #[error("a lock code has 4 to 10 digits")]
    Length,
}

impl Code {
    /// Shortest code any lock takes.
    pub const MIN_LEN: usize = 4;
    /// Longest code any lock takes.
    pub const MAX_LEN: usize = 10;

    /// # Errors
    /// [`CodeError::NotDigits`] for anything but ASCII digits, [`CodeError::Length`] outside
    /// 4–10 digits.
    pub fn new(digits: impl Into<String>) -> Result<Code, CodeError> {
        let digits = digits.into();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::NotDigits);
        }
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&digits.len()) {
            return Err(CodeError::Length);
        }
        Ok(Code(digits))
    }

    /// The digits, for a codec to put on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a code has at least [`Code::MIN_LEN`] digits.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Code(****)")
    }
}

/// What a code in a slot is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeUse {
    /// It opens the door.
    Access,
    /// It is recognised but opens nothing (a duress code, a code kept for its slot).
    NonAccess,
}

/// The settings latchkey keeps on a lock, as the lock holds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockSettings {
    /// Seconds after an unlock before the lock locks itself; 0 turns auto-relock off. At most
    /// [`MAX_AUTO_RELOCK_SECONDS`].
    pub auto_relock_seconds: u32,
    /// Wrong codes in a row before the keypad is disabled (1–255).
    pub wrong_code_limit: u8,
    /// How long the keypad stays disabled, in seconds (1–255 on the lock).
    pub keypad_disable_seconds: u8,
}

/// A command for one lock. Slots are numbered as latchkey shows them (0-based, the numbers of
/// `latchkey credential status`); a codec maps them to its protocol's numbering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockCommand {
    /// Put `code` in `slot`, replacing what is there, enabled or not.
    SetCode {
        slot: u16,
        code: Code,
        code_use: CodeUse,
        enabled: bool,
    },
    /// Empty `slot`.
    ClearSlot { slot: u16 },
    /// Ask the lock what `slot` holds (its answer is a [`super::LockReport::Slot`]).
    ReadSlot { slot: u16 },
    /// Throw the bolt.
    Lock,
    /// Withdraw the bolt.
    Unlock,
    /// Ask the lock for its position and whatever else it reports with it.
    ReadState,
    /// Write the settings the lock takes ([`super::SettingsSupport`]) and ask it to report what
    /// it holds.
    Configure(LockSettings),
}

impl LockCommand {
    /// Whether the command writes a code of latchkey's to a slot.
    pub fn writes_code(&self) -> bool {
        matches!(self, LockCommand::SetCode { .. })
    }

    /// The slot the command is about, if any.
    pub fn slot(&self) -> Option<u16> {
        match self {
            LockCommand::SetCode { slot, .. }
            | LockCommand::ClearSlot { slot }
            | LockCommand::ReadSlot { slot } => Some(*slot),
            _ => None,
        }
    }
}
