//! One virtual Z-Wave lock: what the lock itself holds (its truth) and its quirks. The gateway
//! keeps its own cache of every value beside it (see `gateway.rs`); the two differ exactly
//! where the protocol makes them differ.

use std::time::Duration;

/// How a virtual lock misbehaves, from the pitfalls the Z-Wave JS UI reference documents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Quirks {
    /// The first code write to this lock never reaches it: the gateway still echoes the value
    /// and answers 254 (SuccessUnsupervised), and the verification read shows the old slot.
    pub drop_first_write: bool,
    /// Report every stored code as `*` characters (Schlage BE469, FE599).
    pub masked_codes: bool,
    /// How a cleared slot's code reads back: `""` by default, `"0000"` on a BE469ZP.
    pub empty_code: String,
    /// A sleeping node: every API call about it waits for its next wake-up, this long after
    /// the call (FLiRS locks, the usual kind, do not sleep).
    pub sleeping: Option<Duration>,
    /// Starts dead: every transmission to it fails.
    pub dead: bool,
    /// Also sends the legacy `alarmType`/`alarmLevel` pair for keypad operations.
    pub legacy_alarms: bool,
    /// Sends only that legacy pair for keypad operations, no Notification event (a lock whose
    /// device file maps none, such as the Kwikset 916).
    pub legacy_only: bool,
    /// Confirms writes through Supervision (status 255) instead of answering unsupervised.
    pub supervised: bool,
}

/// One virtual lock's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZwaveLockConfig {
    /// Node id (2–232; 1 is the controller).
    pub id: u16,
    /// Node name in the gateway.
    pub name: String,
    /// User Code slots (1..=capacity).
    pub capacity: u16,
    pub quirks: Quirks,
}

impl ZwaveLockConfig {
    /// A well-behaved lock with 30 slots.
    pub fn new(id: u16, name: impl Into<String>) -> Self {
        ZwaveLockConfig {
            id,
            name: name.into(),
            capacity: 30,
            quirks: Quirks::default(),
        }
    }
}

/// One slot as the lock holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZwaveSlot {
    /// `userIdStatus`: 0 available, 1 enabled, 2 disabled, 3 messaging, 4 passage.
    pub status: u8,
    /// The code, empty when available.
    pub code: String,
}

/// The lock's own state.
#[derive(Clone, Debug)]
pub(crate) struct ZwaveLock {
    pub(crate) cfg: ZwaveLockConfig,
    pub(crate) slots: Vec<ZwaveSlot>,
    /// Door Lock `currentMode`: 255 secured, 0 unsecured.
    pub(crate) mode: u8,
    pub(crate) auto_relock: u16,
    pub(crate) battery: u8,
    pub(crate) dead: bool,
    pub(crate) jammed: bool,
    pub(crate) door_open: bool,
    pub(crate) dropped_once: bool,
}

impl ZwaveLock {
    pub(crate) fn new(cfg: ZwaveLockConfig) -> Self {
        ZwaveLock {
            slots: vec![ZwaveSlot::default(); usize::from(cfg.capacity)],
            mode: 255,
            auto_relock: 0,
            battery: 100,
            dead: cfg.quirks.dead,
            jammed: false,
            door_open: false,
            dropped_once: false,
            cfg,
        }
    }

    pub(crate) fn slot(&self, n: u16) -> Option<&ZwaveSlot> {
        self.slots.get(usize::from(n).checked_sub(1)?)
    }

    pub(crate) fn slot_mut(&mut self, n: u16) -> Option<&mut ZwaveSlot> {
        self.slots.get_mut(usize::from(n).checked_sub(1)?)
    }

    /// The code as the lock reports it: masked, the empty spelling, or the code.
    pub(crate) fn reported_code(&self, n: u16) -> String {
        match self.slot(n) {
            Some(s) if s.status == 0 => self.cfg.quirks.empty_code.clone(),
            Some(s) if self.cfg.quirks.masked_codes => "*".repeat(s.code.len()),
            Some(s) => s.code.clone(),
            None => String::new(),
        }
    }

    /// The slot holding `pin` as a messaging code (status 3), which opens nothing.
    pub(crate) fn messaging_slot_for(&self, pin: &str) -> Option<u16> {
        self.slots
            .iter()
            .position(|s| s.status == 3 && s.code == pin)
            .and_then(|i| u16::try_from(i + 1).ok())
    }

    /// The slot a keypad entry opens: an enabled one holding `pin`.
    pub(crate) fn slot_for(&self, pin: &str) -> Option<u16> {
        self.slots
            .iter()
            .position(|s| s.status == 1 && s.code == pin)
            .and_then(|i| u16::try_from(i + 1).ok())
    }
}
