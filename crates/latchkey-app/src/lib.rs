//! latchkey's use cases. A use case that changes state takes an authorization capability that
//! only [`authz`] mints (a change by id: the capability carries the record, loaded by an
//! `App::may_*` function); reads take the [`authz::Principal`] and show what it may see. Each
//! does its work in one store transaction and appends the audit event in that same
//! transaction: a change that cannot be recorded does not happen.
//!
//! Depends on `latchkey-core` and `latchkey-store`; knows nothing of HTTP, MQTT or any lock
//! protocol: it speaks to locks and hears them only in the core's lock vocabulary
//! (docs/ARCHITECTURE.md, decisions 81 and 88). Two seams are left for the device bridge and for
//! notifications: [`DevicePort`] is told when the desired state of a door's lock changes and
//! carries commands to locks, [`App::ingest`] takes what locks said as
//! `latchkey_core::lock::DeviceMessage`s, and [`App::subscribe`] yields every committed audit
//! event.

pub mod access;
pub mod alarms;
pub mod auth;
pub mod authz;
pub mod broker_logins;
pub mod broker_settings;
pub mod chain_watch;
pub mod clock;
pub mod console;
pub mod credentials;
pub mod devices;
pub mod directory;
pub mod entry;
mod error;
pub mod event_kinds;
pub mod events;
mod feed;
pub mod incidents;
pub mod invitations;
pub mod limits;
pub mod live;
pub mod lockout;
mod mint;
pub mod monitoring;
pub mod mydata;
pub mod onboarding;
pub mod outbox;
pub mod pages;
pub mod passkeys;
pub mod people;
pub mod push;
pub mod ratelimit;
pub mod readiness;
pub mod recovery;
pub mod retention;
pub mod secrets;
pub mod webhooks;

use std::sync::Arc;

use latchkey_core::DoorId;
use latchkey_store::audit::{self, NewEvent};
use latchkey_store::records::Event;
use latchkey_store::{Store, WriteTx};
use tokio::sync::broadcast;

pub use clock::{Clock, ManualClock, ShiftedClock, SystemClock};
pub use error::{AppError, Result};

/// The records that use cases take and return, as storage defines them. Types only: storage
/// itself is reachable through the use cases alone, so a handler or terminal command cannot
/// write without authorization and audit.
pub mod store {
    pub mod records {
        pub use latchkey_store::records::{
            Credential, Door, DoorGroup, Event, Membership, Person, Property, Sensor, Unit,
        };
    }
    pub mod auth {
        pub use latchkey_store::auth::{Grant, GrantKind};
    }
    pub mod audit {
        pub use latchkey_store::audit::EventFilter;
    }
    pub mod broker_logins {
        pub use latchkey_store::broker_logins::BrokerLogin;
    }
    pub mod devices {
        pub use latchkey_store::devices::{LockCommand, LockSettings, Slot, SlotStatus};
    }
    pub mod lockout {
        pub use latchkey_store::lockout::{LockoutCase, Step};
    }
    pub mod recovery {
        pub use latchkey_store::recovery::{Locksmith, OnCall, SpareKey};
    }
    pub mod resolution {
        pub use latchkey_store::resolution::{Charge, Incident, Job};
    }
    pub use latchkey_store::{Backend, StoreError};
}

/// The app's one seam to devices, given at construction: it is told when what a door's lock
/// should hold (PIN slots, mode, settings) has changed, so that the device bridge can reconcile
/// it, and it carries commands to locks in latchkey's own vocabulary
/// ([`latchkey_core::lock::LockCommand`]); the bridge translates them to a protocol. The
/// defaults are those of no bridge at all: the database is the desired state, nothing else
/// needs to hear about it, and nothing can be sent.
pub trait DevicePort: Send + Sync {
    fn desired_state_changed(&self, door: DoorId);

    /// One credential changed on these doors (revoked, frozen, rescheduled). A bridge can
    /// update just that credential's slot on each lock instead of re-planning every door.
    fn credential_changed(&self, credential: latchkey_core::CredentialId, doors: &[DoorId]) {
        let _ = credential;
        for d in doors {
            self.desired_state_changed(*d);
        }
    }

    /// Whether a device bridge runs in this process, connected or not: a command can be sent
    /// now or once it connects.
    fn drives_devices(&self) -> bool {
        false
    }

    /// Whether commands can reach the devices right now.
    fn connected(&self) -> bool {
        false
    }

    /// Queues `command` for the device named `device`.
    ///
    /// # Errors
    /// A sentence saying why it could not be queued (no bridge, the broker is unreachable, the
    /// name is not addressable).
    fn send(
        &self,
        device: &str,
        command: &latchkey_core::lock::LockCommand,
    ) -> std::result::Result<(), String> {
        let _ = (device, command);
        Err("no lock bridge is running".to_owned())
    }
}

/// The port used when no device bridge runs.
pub struct NoDevices;

impl DevicePort for NoDevices {
    fn desired_state_changed(&self, _door: DoorId) {}
}

/// Tunables of the application layer.
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// How long a sign-in session lasts.
    pub session_ttl: jiff::SignedDuration,
    /// Login attempts allowed per account and per source address in `login_window`.
    pub login_attempts: u32,
    pub login_window: std::time::Duration,
    /// Remote lock/unlock commands a person may send per minute.
    pub remote_per_minute: u32,
    /// How long an invitation link stays usable.
    pub invitation_ttl: jiff::SignedDuration,
    /// How long a fresh proof (a passkey assertion, or the password of a person without a
    /// passkey) given for an unlock from the web app is trusted for the next unlocks.
    pub unlock_proof_window: jiff::SignedDuration,
    /// The WebAuthn relying party: the server's public origin.
    pub relying_party: passkeys::RelyingParty,
    /// Web Push: whether it is offered, and which endpoints are accepted.
    pub push: push::PushPolicy,
    /// How staff are told of alarms: the digest window and the offline grace.
    pub alarms: alarms::AlarmConfig,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            session_ttl: jiff::SignedDuration::from_hours(12),
            login_attempts: 10,
            login_window: std::time::Duration::from_secs(300),
            remote_per_minute: 30,
            invitation_ttl: jiff::SignedDuration::from_hours(72),
            unlock_proof_window: jiff::SignedDuration::from_mins(5),
            relying_party: passkeys::RelyingParty::default(),
            push: push::PushPolicy::default(),
            alarms: alarms::AlarmConfig::default(),
        }
    }
}

/// The application: storage, keys, clock and the seams. Cheap to clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    keys: secrets::Keys,
    clock: Arc<dyn Clock>,
    devices: Arc<dyn DevicePort>,
    events: broadcast::Sender<Event>,
    limiter: ratelimit::RateLimiter,
    config: AppConfig,
    bridge: devices::BridgeState,
    feed: feed::FeedWriter,
    /// Bumped whenever a broker login is rotated or revoked, here or (through the change feed)
    /// in another process: the embedded broker checks its clients' logins again at once.
    broker_logins: tokio::sync::watch::Sender<u64>,
    live: live::Hub,
    /// Heat maps kept until the log says what they read changed (`readiness/cache.rs`).
    readiness: readiness::MapCache,
    webauthn: std::result::Result<webauthn_rs::Webauthn, String>,
    counters: monitoring::Counters,
    /// The console's view of the audit chain (`chain_watch.rs`).
    chain: chain_watch::ChainWatch,
}

impl App {
    pub fn new(
        store: Store,
        keys: secrets::Keys,
        clock: Arc<dyn Clock>,
        devices: Arc<dyn DevicePort>,
        config: AppConfig,
    ) -> App {
        let (events, _) = broadcast::channel(1024);
        let webauthn = config.relying_party.build();
        if let Err(e) = &webauthn {
            tracing::error!("passkeys are unavailable: {e}");
        }
        App {
            inner: Arc::new(Inner {
                store,
                keys,
                clock,
                devices,
                events,
                limiter: ratelimit::RateLimiter::default(),
                config,
                bridge: devices::BridgeState::default(),
                feed: feed::FeedWriter::new(),
                broker_logins: tokio::sync::watch::Sender::new(0),
                live: live::Hub::new(),
                readiness: readiness::MapCache::default(),
                webauthn,
                counters: monitoring::Counters::default(),
                chain: chain_watch::ChainWatch::default(),
            }),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// At shutdown: records the changes not yet in the feed, then waits for the database's
    /// connections to close.
    pub async fn close(&self) {
        self.flush_changes().await;
        self.inner.store.close().await;
    }

    pub fn now(&self) -> jiff::Timestamp {
        self.inner.clock.now()
    }

    pub fn config(&self) -> &AppConfig {
        &self.inner.config
    }

    pub(crate) fn keys(&self) -> &secrets::Keys {
        &self.inner.keys
    }

    pub(crate) fn limiter(&self) -> &ratelimit::RateLimiter {
        &self.inner.limiter
    }

    /// The WebAuthn relying party.
    pub(crate) fn webauthn(&self) -> Result<&webauthn_rs::Webauthn> {
        self.inner
            .webauthn
            .as_ref()
            .map_err(|e| AppError::Unavailable(format!("passkeys are not configured: {e}")))
    }

    pub(crate) fn bridge(&self) -> &devices::BridgeState {
        &self.inner.bridge
    }

    /// The device port, to send commands through.
    pub(crate) fn port(&self) -> &dyn DevicePort {
        self.inner.devices.as_ref()
    }

    /// Every audit event committed from now on, in order. Slow subscribers miss events (they
    /// get `Lagged`) rather than slowing writers; the log itself is the durable record.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Appends `events` in `tx`, commits, then publishes them to subscribers.
    pub(crate) async fn commit_with(&self, tx: WriteTx, events: Vec<NewEvent>) -> Result<()> {
        let at = self.now();
        self.commit_at(tx, events, at).await
    }

    /// As [`App::commit_with`], with the events stamped `at`.
    pub(crate) async fn commit_at(
        &self,
        mut tx: WriteTx,
        events: Vec<NewEvent>,
        at: jiff::Timestamp,
    ) -> Result<()> {
        let last = audit::append(&mut tx, self.keys().chain_key(), at, &events).await?;
        tx.commit().await?;
        self.inner.live.committed();
        let first = last - events.len() as i64 + 1;
        for (i, ev) in events.into_iter().enumerate() {
            // Nobody listening is fine: the event is in the log.
            let _ = self.inner.events.send(Event {
                seq: first + i as i64,
                at,
                property_id: ev.property_id,
                actor_id: ev.actor_id,
                kind: ev.kind,
                subject: ev.subject,
                data: ev.data,
            });
        }
        Ok(())
    }
}
