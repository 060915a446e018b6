//! A session with one Z-Wave JS UI MQTT gateway, in `latchkey-zwave`'s vocabulary: it lists the
//! lock nodes, writes and clears codes and confirms them by reading the slot back, locks and
//! unlocks (confirmed by `currentMode`), sets auto-relock, finds dead nodes by ping and
//! staleness, and turns what the locks say into a stream of typed events.
//!
//! It is shaped to be driven later by the core's lock commands through a thin translation: a
//! [`ZwaveCommand`] goes in, exactly one [`ZwaveEvent::Outcome`] per command comes out
//! (confirmed, assumed, failed with a reason, or offline), and node reports come out as
//! [`ZwaveEvent::Report`]. docs/DEVICES.md ("Z-Wave JS UI") says what the gateway must be set to;
//! docs/ARCHITECTURE.md (decisions 51, 85–87) why a write is believed only after a read-back,
//! how retries, sleeping and dead nodes are handled.
//!
//! - [`core::Core`] is the whole session as a pure state machine (no I/O, the caller passes
//!   the instant), so every rule is testable without a broker;
//! - [`start`] runs one on an MQTT session of `latchkey-mqtt`.

pub mod core;
mod driver;
mod job;
pub mod link;
pub mod translate;

use std::time::Duration;

pub use latchkey_zwave::{Pin, Report, Topics};

pub use self::driver::{ZwaveGateway, ZwaveStats, session_options, start};

/// One thing asked of a lock node. Each gets one [`ZwaveEvent::Outcome`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZwaveCommand {
    /// Put `pin` in `slot` with `status`: Enabled (it opens), Disabled (stored, refused) or
    /// Messaging (it opens nothing and is reported when typed).
    SetCode {
        node: u16,
        slot: u16,
        pin: Pin,
        status: latchkey_zwave::SlotStatus,
    },
    /// Empty `slot`.
    ClearSlot {
        node: u16,
        slot: u16,
    },
    /// Read what `slot` holds (its status, then its code), as the lock answers.
    ReadSlot {
        node: u16,
        slot: u16,
    },
    Lock {
        node: u16,
    },
    Unlock {
        node: u16,
    },
    /// Ask the lock where its bolt is (`pollValue` of `currentMode`): after latchkey was away,
    /// what the lock did meanwhile is learnt from its answer, which is passed on as a report.
    ReadPosition {
        node: u16,
    },
    /// Relock this many seconds after an unlock (0: never), through Door Lock `autoRelockTime`.
    SetAutoRelock {
        node: u16,
        seconds: u16,
    },
}

impl ZwaveCommand {
    /// The slot a code command is about (`SetCode`, `ClearSlot`).
    fn code_slot(&self) -> Option<u16> {
        match self {
            ZwaveCommand::SetCode { slot, .. } | ZwaveCommand::ClearSlot { slot, .. } => {
                Some(*slot)
            }
            _ => None,
        }
    }

    /// Whether `self`, waiting in a node's queue, is made pointless by `later`: any later code
    /// command for the same slot (the last word on a slot is the one the lock must end with),
    /// or the same read again. Lock, unlock and settings are never replaced: each is carried
    /// out in the order asked, so the last one asked is the one that stands.
    pub(crate) fn superseded_by(&self, later: &ZwaveCommand) -> bool {
        let read = matches!(
            self,
            ZwaveCommand::ReadSlot { .. } | ZwaveCommand::ReadPosition { .. }
        );
        (read && self == later)
            || (self.node() == later.node()
                && self.code_slot().is_some()
                && self.code_slot() == later.code_slot())
    }

    /// The node it is about.
    pub fn node(&self) -> u16 {
        match self {
            ZwaveCommand::SetCode { node, .. }
            | ZwaveCommand::ClearSlot { node, .. }
            | ZwaveCommand::ReadSlot { node, .. }
            | ZwaveCommand::Lock { node }
            | ZwaveCommand::Unlock { node }
            | ZwaveCommand::ReadPosition { node }
            | ZwaveCommand::SetAutoRelock { node, .. } => *node,
        }
    }
}

/// Names one submitted command in its outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub u64);

/// How a command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The lock's own answer shows it done: the slot read back holds exactly the code enabled,
    /// reads back empty after a clear, `currentMode` reached the mode, the relock time reads
    /// back.
    Confirmed,
    /// The slot reads back enabled, but the lock masks its codes: only the status could be
    /// checked, latchkey's PIN is taken as the one in it. Never to be shown as *set*.
    Assumed,
    /// What a [`ZwaveCommand::ReadSlot`] found, as the lock answered.
    Read(latchkey_zwave::SlotContents),
    Failed(FailReason),
    /// The node (or the gateway) does not answer: a ping said dead, the node's status is
    /// `Dead`, or the gateway is gone. Nothing was confirmed; ask again when it is back.
    Offline,
}

/// Why a command failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailReason {
    /// The gateway did not list this node (or not as a lock: not secure, no Door Lock or
    /// User Code values).
    UnknownNode,
    /// The slot is 0 or beyond the lock's capacity.
    NoSuchSlot,
    /// The lock has no Door Lock `autoRelockTime` (Door Lock below v4), or the gateway says
    /// the command class or endpoint is not supported.
    Unsupported,
    /// zwave-js or the gateway refused the value (its message, digit runs masked).
    Refused(String),
    /// Every write read back as not landed (empty, another code, wrong status).
    NotLanded,
    /// The bolt did not reach the mode asked.
    NotMoved,
    /// The lock reported a jam while moving.
    Jammed,
    /// A later command for the same slot (or the same read again) came while this one waited
    /// its turn: only the later one is carried out (a code is never written after its clear
    /// was asked for).
    Superseded,
}

/// A lock node as the gateway lists it, for pairing listings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockNode {
    pub id: u16,
    pub name: String,
    pub location: String,
    pub manufacturer_id: Option<u16>,
    pub product_type: Option<u16>,
    pub product_id: Option<u16>,
    pub product_label: String,
    pub firmware_version: String,
    /// User Code slots.
    pub capacity: u16,
    /// A sleeping node: its requests wait in the gateway until it wakes.
    pub sleeping: bool,
    pub door_lock: bool,
    pub auto_relock: bool,
    pub availability: Option<latchkey_zwave::Availability>,
}

/// What the session tells its user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZwaveEvent {
    /// The lock nodes, after each `getNodes` answer.
    Nodes(Vec<LockNode>),
    /// Something a lock node reported: position, door, battery, availability, slot contents,
    /// an operation (keypad ones carry the slot), an alarm or its end, a code change. Echoes
    /// of writes, legacy alarm halves and repeats of one operation are not passed on.
    Report { node: u16, report: Report },
    /// How a command ended; `writes` is how many writes it took (retries included).
    Outcome {
        job: JobId,
        node: u16,
        outcome: Outcome,
        writes: u32,
    },
    /// The gateway (its MQTT client and the Z-Wave driver) is up or gone.
    Gateway { online: bool },
}

/// Timings and bounds of the session.
#[derive(Clone, Debug)]
pub struct ZwaveOptions {
    pub topics: Topics,
    /// How long an API call to an awake node may go unanswered before the node is pinged.
    pub answer_timeout: Duration,
    /// The same for a sleeping node: its call waits for the next wake-up.
    pub sleeping_answer_timeout: Duration,
    /// From a write's answer to its read-back: the lock needs time to store the code.
    pub settle: Duration,
    /// Writes of one code at most (the first included) before it fails as not landed.
    pub max_writes: u32,
    /// Wait before the second write; doubled for each further one.
    pub retry_backoff: Duration,
    /// From a lock/unlock's answer to reading `currentMode` when no report came.
    pub position_timeout: Duration,
    /// A node heard from less recently than this is pinged before a command and by the
    /// health check.
    pub stale_after: Duration,
    /// How often the health check runs.
    pub health_every: Duration,
    /// A ping that said dead is believed this long: commands in that time end offline at
    /// once, without another ping.
    pub dead_for: Duration,
    /// A repeat of the same operation (the value topic and the forwarded event of one keypad
    /// unlock, or the legacy pair) within this window is dropped.
    pub dedupe_window: Duration,
    /// Most messages held while waiting for the first node list.
    pub max_held: usize,
}

impl Default for ZwaveOptions {
    fn default() -> Self {
        ZwaveOptions {
            topics: Topics::default(),
            answer_timeout: Duration::from_secs(30),
            sleeping_answer_timeout: Duration::from_secs(6 * 3600),
            settle: Duration::from_secs(2),
            max_writes: 3,
            retry_backoff: Duration::from_secs(2),
            position_timeout: Duration::from_secs(10),
            stale_after: Duration::from_secs(24 * 3600),
            health_every: Duration::from_secs(10 * 60),
            dead_for: Duration::from_secs(60),
            dedupe_window: Duration::from_secs(2),
            max_held: 20_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_slots_later_word_or_the_same_read_replaces_a_waiting_command() {
        let pin = Pin::new("0427").expect("pin");
        let set = |slot| ZwaveCommand::SetCode {
            node: 5,
            slot,
            pin: pin.clone(),
            status: latchkey_zwave::SlotStatus::Enabled,
        };
        let clear = |slot| ZwaveCommand::ClearSlot { node: 5, slot };
        assert!(set(2).superseded_by(&clear(2)));
        assert!(clear(2).superseded_by(&set(2)));
        assert!(!set(2).superseded_by(&clear(3)));
        assert!(!set(2).superseded_by(&ZwaveCommand::ClearSlot { node: 6, slot: 2 }));
        let read = ZwaveCommand::ReadPosition { node: 5 };
        assert!(read.superseded_by(&read.clone()));
        // Lock, unlock and settings keep their order: the last asked is the one that stands.
        let unlock = ZwaveCommand::Unlock { node: 5 };
        assert!(!unlock.superseded_by(&unlock.clone()));
        let relock = ZwaveCommand::SetAutoRelock {
            node: 5,
            seconds: 30,
        };
        assert!(!relock.superseded_by(&relock.clone()));
    }
}
