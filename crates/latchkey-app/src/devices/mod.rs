//! Locks and sensors: the link to the device bridge, pairing devices with doors and sensors,
//! remote lock/unlock commands, ingestion of what devices report, and the reconciler that drives
//! every lock's PIN slots toward what the database says they should hold.
//!
//! Commands go out in the core's lock vocabulary (`latchkey_core::lock`) through the
//! [`crate::DevicePort`] the app was built with; the bridge translates them to a protocol and
//! hands this module parsed messages ([`App::ingest`]).

mod ask;
mod batch;
pub(crate) mod desired;
mod ingest;
mod pairing;
pub mod reconcile;
mod refused;
mod remote;
mod restore;
pub(crate) mod settings;
mod status;
mod watch;

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use latchkey_core::{DoorId, PropertyId};
use tokio::sync::oneshot;

pub use ask::{AskStats, AskWhy};
pub(crate) use ingest::LOW_BATTERY;
pub use ingest::{IngestItem, IngestStats};
pub use pairing::DeviceView;
pub(crate) use remote::CommandFacts;
pub(crate) use remote::ToLock;
pub use remote::{RemoteAction, RemoteOutcome};
pub use restore::{Adoption, HistoryCheck, RestoreReview, Restored, UnknownCode};
pub use settings::{SettingsView, desired_settings};
pub use status::{LockStatus, Removal};

/// What the door of a lock is, cached by the lock's friendly name.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LockDoor {
    pub door: DoorId,
    pub property: PropertyId,
}

/// The live state of a device as last stored, to write only what changed.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Snapshot {
    pub availability: String,
    pub lock_state: String,
    pub door_state: String,
    pub battery: Option<i64>,
    pub linkquality: Option<i64>,
    pub reported: latchkey_store::devices::LockSettings,
}

/// A caller waiting for the lock's answer to its command.
pub(crate) struct Waiter {
    pub command: i64,
    /// Told once the answer is committed.
    pub tx: oneshot::Sender<Answered>,
}

/// How a lock answered a command, as committed by ingestion.
#[derive(Clone, Debug)]
pub(crate) struct Answered {
    /// `confirmed` or `failed`.
    pub status: &'static str,
    pub at: jiff::Timestamp,
    /// For a failure, the lock's reason.
    pub detail: Option<String>,
}

/// Bridge-related state shared by the app's clones.
#[derive(Default)]
pub struct BridgeState {
    pub(crate) waiters: Mutex<HashMap<DoorId, Vec<Waiter>>>,
    pub(crate) lock_doors: RwLock<HashMap<String, Option<LockDoor>>>,
    pub(crate) snapshots: Mutex<HashMap<String, Snapshot>>,
    /// Consecutive wrong codes per door (reset by a good code or when the limit is reached).
    pub(crate) wrong_codes: Mutex<HashMap<DoorId, u32>>,
    /// Since when each door has been unlocked or open, and whether that was already alarmed.
    pub(crate) open_since: Mutex<HashMap<DoorId, OpenSince>>,
    pub(crate) writer: batch::CommandWriter,
    /// Per door, the credentials last reported as having no free slot.
    pub(crate) overflow: Mutex<HashMap<DoorId, Vec<latchkey_core::CredentialId>>>,
    /// Doors whose lock was caught up since it last went offline (a lock that talks while its
    /// availability still says offline is caught up once, not on every report).
    pub(crate) caught_up: Mutex<std::collections::HashSet<DoorId>>,
    /// The settings last sent to each door's lock, what it reported then (`None` for a send
    /// not made by the sweep), and when (`settings.rs`).
    pub(crate) settings_sent: Mutex<HashMap<DoorId, settings::Sent>>,
    /// Whether this replica holds the reconciler lease: `None` until its reconciler first
    /// tried (see [`App::device_lease`]).
    pub(crate) lease: tokio::sync::watch::Sender<Option<bool>>,
}

/// A door left unlocked or open.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OpenSince {
    pub property: PropertyId,
    pub unlocked: Option<jiff::Timestamp>,
    pub open: Option<jiff::Timestamp>,
    pub alarmed_unlocked: bool,
    pub alarmed_open: bool,
}

impl BridgeState {
    /// Tells the caller waiting for a command, if it waits in this process, the answer that a
    /// log event records (`lock.command_confirmed` or `lock.command_failed`). With several
    /// replicas the lock's report may be ingested by another one than the replica that sent
    /// the command; its answer reaches the waiter through the log (`live.rs`).
    pub(crate) fn answer_from_log(&self, e: &latchkey_store::records::Event) {
        let status = match e.kind.as_str() {
            "lock.command_confirmed" => "confirmed",
            "lock.command_failed" => "failed",
            _ => return,
        };
        let Some(door) = e
            .subject
            .strip_prefix("door:")
            .and_then(|d| d.parse().ok())
            .map(DoorId)
        else {
            return;
        };
        let Some(command) = e.data.get("command").and_then(serde_json::Value::as_i64) else {
            return;
        };
        let mut map = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(list) = map.get_mut(&door)
            && let Some(i) = list.iter().position(|w| w.command == command)
        {
            let w = list.swap_remove(i);
            let _ = w.tx.send(Answered {
                status,
                at: e.at,
                detail: e
                    .data
                    .get("detail")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
            });
        }
    }

    /// Forgets cached lock→door mappings (after pairing changes).
    pub(crate) fn forget_pairings(&self) {
        self.lock_doors
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl crate::App {
    /// For a replica whose session shares the locks' reports with other replicas (a shared
    /// subscription): the answer to a command this replica sent may be ingested by another, so
    /// this replica follows the log to hear it (`answer_from_log`). A single server ingests
    /// every report itself and need not call this.
    ///
    /// # Errors
    /// `Store` when the log cannot be read.
    pub async fn hear_answers_from_other_replicas(&self) -> crate::Result<()> {
        self.follow_log().await
    }

    /// Whether this replica holds the reconciler lease, as its reconciler last found: `None`
    /// until it first tried. A device link whose gateway speaks to every replica at once (the
    /// Z-Wave session) applies what the locks say only while it is held, so each report is
    /// recorded once however many replicas run (docs/ARCHITECTURE.md, decision 94).
    pub fn device_lease(&self) -> tokio::sync::watch::Receiver<Option<bool>> {
        self.bridge().lease.subscribe()
    }
}
