//! One change feed for every process. Use cases tell [`App::devices`] when what a lock should
//! hold has changed; that tells this process's own [`DevicePort`] at once *and* records the
//! change in the database's feed, so that a terminal command, or a replica that does not drive
//! the locks, is heard by the server that does within moments ([`App::follow_changes`]), not at
//! its next sweep. See docs/ARCHITECTURE.md, "The change feed".
//!
//! Recording happens after the use case's commit, in a writer task that batches what arrived
//! meanwhile. A process that dies between its commit and that write loses only the wake-up: the
//! reconciler's periodic sweep still finds the change in the database.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use latchkey_core::{CredentialId, DoorId};
use latchkey_store::Store;
use latchkey_store::feed::{self, Change, FeedRow};
use tokio::sync::{mpsc, oneshot};

use crate::{App, Clock, DevicePort, Result};

/// How long feed rows are kept: far longer than any process needs to catch up, short enough
/// to stay small.
const KEEP: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);
/// How often a follower prunes old rows.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Rows read per query while catching up.
const PAGE: i64 = 5_000;

enum Msg {
    Change(Change),
    Flush(oneshot::Sender<()>),
}

/// The writer task's queue, started on first use (it needs a Tokio runtime).
pub(crate) struct FeedWriter {
    origin: String,
    tx: OnceLock<mpsc::UnboundedSender<Msg>>,
}

impl FeedWriter {
    pub(crate) fn new() -> FeedWriter {
        let mut bytes = [0u8; 8];
        // Without randomness the pid still tells processes of one machine apart.
        let _ = getrandom::fill(&mut bytes);
        FeedWriter {
            origin: format!("{}-{}", std::process::id(), hex::encode(bytes)),
            tx: OnceLock::new(),
        }
    }

    fn sender(&self, store: &Store, clock: &Arc<dyn Clock>) -> &mpsc::UnboundedSender<Msg> {
        self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(write_feed(
                store.clone(),
                clock.clone(),
                self.origin.clone(),
                rx,
            ));
            tx
        })
    }
}

/// What use cases call after a commit that changes what a lock should hold.
pub(crate) struct Devices<'a> {
    app: &'a App,
}

impl Devices<'_> {
    fn record(&self, changes: impl IntoIterator<Item = Change>) {
        let inner = &self.app.inner;
        let tx = inner.feed.sender(&inner.store, &inner.clock);
        for c in changes {
            // A closed queue means the runtime is going down; the sweep covers the rest.
            let _ = tx.send(Msg::Change(c));
        }
    }

    /// Everything a door's lock should hold may have changed.
    pub(crate) fn desired_state_changed(&self, door: DoorId) {
        self.app.inner.devices.desired_state_changed(door);
        self.record([Change::Door(door)]);
    }

    /// One credential changed on these doors.
    pub(crate) fn credential_changed(&self, credential: CredentialId, doors: &[DoorId]) {
        self.app.inner.devices.credential_changed(credential, doors);
        self.record(doors.iter().map(|d| Change::Credential(credential, *d)));
    }

    /// A broker login was rotated or revoked: this process's broker checks its clients' logins
    /// again now, and every other process's when it reads the feed.
    pub(crate) fn broker_logins_changed(&self) {
        self.app
            .inner
            .broker_logins
            .send_modify(|n| *n = n.wrapping_add(1));
        self.record([Change::BrokerLogins]);
    }

    /// Deliveries became due outside a queueing transaction (a redelivery).
    pub(crate) fn outbox_changed(&self) {
        self.record([Change::Outbox]);
    }

    /// A lock was paired with or unpaired from `door` (or, with `None`, a sensor changed):
    /// every process forgets its cached pairings.
    pub(crate) fn pairing_changed(&self, door: Option<DoorId>) {
        if let Some(d) = door {
            self.app.inner.devices.desired_state_changed(d);
        }
        self.record([Change::Pairing(door)]);
    }
}

async fn write_feed(
    store: Store,
    clock: Arc<dyn Clock>,
    origin: String,
    mut rx: mpsc::UnboundedReceiver<Msg>,
) {
    while let Some(first) = rx.recv().await {
        let mut changes = Vec::new();
        let mut flushed = Vec::new();
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Msg::Change(c) => changes.push(c),
                Msg::Flush(done) => flushed.push(done),
            }
            next = if changes.len() < 50_000 {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        if !changes.is_empty() {
            let written = async {
                let mut tx = store.write().await?;
                let backend = tx.backend();
                feed::append(tx.conn(), backend, clock.now(), &origin, &changes).await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = written {
                tracing::warn!(
                    error = %e,
                    changes = changes.len(),
                    "could not record changes for the other processes; their sweep will find them"
                );
            }
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

impl App {
    /// The seam to the device side, recording each change in the feed as well.
    pub(crate) fn devices(&self) -> Devices<'_> {
        Devices { app: self }
    }

    /// Changes whenever a broker login is rotated or revoked, by this process or (once it
    /// reads the change feed, [`App::follow_changes`]) by another one. The embedded broker
    /// waits on it to check its connected clients' logins again without delay.
    pub fn broker_logins_changed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.broker_logins.subscribe()
    }

    /// Waits until every change told so far is in the feed (terminal commands call this, via
    /// [`App::close`], before they exit).
    pub async fn flush_changes(&self) {
        let Some(tx) = self.inner.feed.tx.get() else {
            return;
        };
        let (done, wait) = oneshot::channel();
        if tx.send(Msg::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Follows the feed for as long as the returned future runs: every change another process
    /// made is handed to this process's [`DevicePort`] (its reconciler), and a pairing made
    /// elsewhere empties this process's pairing cache. Changes made before the call are not
    /// replayed: the reconciler's first sweep covers them.
    ///
    /// # Errors
    /// The feed cannot be opened; once running, read failures are logged and retried.
    pub async fn follow_changes(&self) -> Result<()> {
        let mut waker = self.store().feed_waker().await?;
        let mut last = {
            let mut conn = self.store().read().await?;
            feed::last_seq(&mut conn).await?
        };
        let mut pruned = Instant::now();
        loop {
            waker.wait().await;
            match self.catch_up(last).await {
                Ok(seq) => last = seq,
                Err(e) => tracing::warn!(error = %e, "reading the change feed failed; retrying"),
            }
            if pruned.elapsed() >= PRUNE_EVERY {
                pruned = Instant::now();
                if let Err(e) = self.prune_feed().await {
                    tracing::warn!(error = %e, "pruning the change feed failed");
                }
            }
        }
    }

    /// Applies the rows after `last`; returns the newest sequence number seen.
    async fn catch_up(&self, mut last: i64) -> Result<i64> {
        loop {
            let rows = {
                let mut conn = self.store().read().await?;
                feed::after(&mut conn, last, PAGE).await?
            };
            let Some(newest) = rows.last().map(|r| r.seq) else {
                return Ok(last);
            };
            last = newest;
            let full = rows.len() as i64 == PAGE;
            self.apply_feed(rows);
            if !full {
                return Ok(last);
            }
        }
    }

    fn apply_feed(&self, rows: Vec<FeedRow>) {
        let port: &dyn DevicePort = self.inner.devices.as_ref();
        let mut doors = BTreeSet::new();
        let mut credentials: BTreeMap<CredentialId, Vec<DoorId>> = BTreeMap::new();
        let mut pairings = false;
        let mut broker_logins = false;
        for row in rows
            .into_iter()
            .filter(|r| r.origin != self.inner.feed.origin)
        {
            match row.change {
                Change::Door(d) => {
                    doors.insert(d);
                }
                Change::Credential(c, d) => credentials.entry(c).or_default().push(d),
                Change::Pairing(d) => {
                    pairings = true;
                    doors.extend(d);
                }
                Change::BrokerLogins => broker_logins = true,
                // The outbox worker reads the feed itself (outbox/worker.rs).
                Change::Outbox => {}
            }
        }
        if broker_logins {
            self.inner
                .broker_logins
                .send_modify(|n| *n = n.wrapping_add(1));
        }
        if pairings {
            self.bridge().forget_pairings();
        }
        for (c, ds) in credentials {
            port.credential_changed(c, &ds);
        }
        for d in doors {
            port.desired_state_changed(d);
        }
    }

    async fn prune_feed(&self) -> Result<()> {
        let before = self.now().checked_sub(KEEP).unwrap_or(self.now());
        let mut tx = self.store().write().await?;
        feed::prune(tx.conn(), before).await?;
        tx.commit().await?;
        Ok(())
    }
}
