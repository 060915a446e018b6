//! The reconciler: drives each paired lock's PIN slots toward what the database says they
//! should hold. It allocates slots within the lock's capacity, writes and clears them, waits for
//! the lock to confirm (a programming event or a slot read, applied by ingestion), retries with
//! backoff, verifies by reading back, and gives up with a reason after a bounded number of
//! attempts. Its state is in the database (`lock_slots`), so it survives restarts of the server
//! and the broker; a lease makes sure only one replica sends commands, and its generation
//! fences a replica that lost the lease without noticing ([`Fence`], docs/ARCHITECTURE.md,
//! "Failover and fencing").

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use latchkey_core::{CredentialId, DoorId, PropertyId};
use latchkey_store::devices::{self as repo, Slot};
use latchkey_store::property;
use tokio::sync::mpsc;

use crate::{App, DevicePort, Result};

mod plan;
mod probe;
mod send;
mod timers;
mod views;

use plan::{plan_credential, plan_door};
use send::{apply, retry_due};
use timers::Timers;
use views::Views;

/// What the reconciler is told.
#[derive(Clone, Debug)]
pub enum Input {
    /// Re-plan every slot of this door.
    Door(DoorId),
    /// Re-plan one credential on these doors.
    Credential(CredentialId, Vec<DoorId>),
}

/// The [`DevicePort`] that feeds the reconciler.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::UnboundedSender<Input>,
}

impl DevicePort for Notifier {
    fn desired_state_changed(&self, door: DoorId) {
        // A closed channel means the reconciler has stopped; the periodic sweep of the next
        // one picks the change up from the database.
        let _ = self.tx.send(Input::Door(door));
    }

    fn credential_changed(&self, credential: CredentialId, doors: &[DoorId]) {
        let _ = self.tx.send(Input::Credential(credential, doors.to_vec()));
    }
}

/// A notifier and the receiver to hand to [`run`].
pub fn channel() -> (Notifier, mpsc::UnboundedReceiver<Input>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Notifier { tx }, rx)
}

/// Tunables.
#[derive(Clone, Debug)]
pub struct ReconcileOptions {
    /// How often due retries are looked for.
    pub tick: Duration,
    /// How long to wait for a confirmation before the first retry; doubled on each retry.
    pub confirm_after: Duration,
    /// Attempts (writes and read-backs) before a slot is marked failed.
    pub max_attempts: i64,
    /// How often every paired door is re-planned: a safety net behind the timers (which apply
    /// schedule edges at their instant) and the change feed; it also retries failed slots.
    pub sweep_every: Duration,
    /// This replica's name for the lease.
    pub holder: String,
    /// How long a lease lasts unrenewed: a dead holder's work is taken over this long after
    /// its last renewal (plus one try of the others). The holder renews every third of it and
    /// stops sending when less than a third is left.
    pub lease_ttl: Duration,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        ReconcileOptions {
            tick: Duration::from_millis(250),
            confirm_after: Duration::from_secs(5),
            max_attempts: 6,
            sweep_every: Duration::from_secs(60),
            holder: format!("latchkey-{}", std::process::id()),
            lease_ttl: Duration::from_secs(3),
        }
    }
}

/// The lease's name in the database.
pub(crate) const LEASE: &str = "reconciler";
/// Door-wide changes (a mode, a pairing, a membership) recompute every edge, at most this often.
const REBUILD_AT_MOST_EVERY: Duration = Duration::from_secs(1);
/// More credentials than this changed at once recompute every edge instead of each one.
const REFRESH_AT_MOST: usize = 1_000;
/// A failed slot is tried again after this long.
const FAILED_RETRY_AFTER: SignedDuration = SignedDuration::from_mins(10);

fn backoff(confirm_after: Duration, attempts: i64) -> SignedDuration {
    let shift = u32::try_from(attempts.clamp(0, 6)).unwrap_or(6);
    let d = confirm_after
        .saturating_mul(1 << shift)
        .min(Duration::from_secs(300));
    SignedDuration::try_from(d).unwrap_or(SignedDuration::from_secs(300))
}

/// The lease as this replica holds it: the generation it took, and until when (by this
/// process's own monotonic clock) it may send. Every batch of slot writes checks the
/// generation in the transaction that records the attempts ([`Fence::holds`]), and every
/// command checks the deadline just before it leaves ([`Fence::may_send`]).
pub(crate) struct Fence {
    holder: String,
    epoch: i64,
    sendable_until: Instant,
}

impl Fence {
    /// Whether this replica may still send: its last renewal is recent enough that no other
    /// replica can have taken the lease, with a third of the lease to spare for clock skew
    /// between replicas and a renewal that is slow to come back.
    pub(crate) fn may_send(&self) -> bool {
        Instant::now() < self.sendable_until
    }

    /// Whether the lease is still this replica's, in the generation it took, at `now`.
    pub(crate) async fn holds(
        &self,
        conn: &mut latchkey_store::Conn,
        now: jiff::Timestamp,
    ) -> Result<bool> {
        Ok(
            self.may_send()
                && repo::holds_lease(conn, LEASE, &self.holder, self.epoch, now).await?,
        )
    }
}

/// Runs until the input channel closes.
pub async fn run(app: App, mut rx: mpsc::UnboundedReceiver<Input>, opts: ReconcileOptions) {
    let mut tick = tokio::time::interval(opts.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (renew_every, try_every) = (opts.lease_ttl / 3, opts.lease_ttl / 6);
    let mut fence: Option<Fence> = None;
    let mut lease_tried: Option<Instant> = None;
    let mut last_sweep: Option<Instant> = None;
    let mut timers = Timers::default();
    let mut last_rebuild: Option<Instant> = None;
    loop {
        let live = fence.as_ref().is_some_and(Fence::may_send);
        let wake = if live { timers.next() } else { None };
        let nap = wake.map_or(Duration::ZERO, |t| {
            Duration::try_from(t.duration_since(app.now()))
                .unwrap_or(Duration::ZERO)
                .min(Duration::from_secs(30))
        });
        tokio::select! {
            () = tokio::time::sleep(nap), if wake.is_some() => {
                if let Some(f) = fence.as_ref().filter(|f| f.may_send())
                    && let Err(e) = fire(&app, &opts, f, &mut timers).await {
                        tracing::warn!(error = %e, "applying a schedule edge failed; the next sweep retries");
                    }
            }
            input = rx.recv() => {
                let Some(first) = input else { break };
                let mut batch = vec![first];
                while batch.len() < 50_000 {
                    match rx.try_recv() {
                        Ok(i) => batch.push(i),
                        Err(_) => break,
                    }
                }
                // Without the lease the input is dropped: the holder hears of the change
                // through the change feed, and a new holder sweeps every door first.
                if let Some(f) = fence.as_ref().filter(|f| f.may_send()) {
                    let changed = timers.note(&batch);
                    if let Err(e) = handle(&app, &opts, f, batch).await {
                        tracing::warn!(error = %e, "reconciling failed; the next sweep retries");
                    }
                    if let Err(e) = timers.refresh(&app, &changed).await {
                        tracing::warn!(error = %e, "computing schedule edges failed; the next sweep retries");
                    }
                }
            }
            _ = tick.tick() => {
                // The holder renews every third of the lease; the others try every sixth, so a
                // dead holder's lease is taken within half a second of its expiry (by default).
                let every = if fence.is_some() { renew_every } else { try_every };
                if lease_tried.is_none_or(|t| t.elapsed() >= every) {
                    lease_tried = Some(Instant::now());
                    let before = fence.as_ref().map(|f| f.epoch);
                    fence = take_lease(&app, &opts).await;
                    let held = Some(fence.is_some());
                    app.bridge().lease.send_if_modified(|v| {
                        let changed = *v != held;
                        *v = held;
                        changed
                    });
                    match (before, fence.as_ref().map(|f| f.epoch)) {
                        (b, Some(e)) if b != Some(e) => {
                            tracing::info!(holder = %opts.holder, epoch = e, "this replica now reconciles the locks");
                            take_over(&app).await;
                            last_sweep = None;
                        }
                        (Some(b), None) => tracing::warn!(
                            holder = %opts.holder, epoch = b,
                            "this replica lost the reconciler lease; it sends nothing more"
                        ),
                        _ => {}
                    }
                }
                let Some(f) = fence.as_ref().filter(|f| f.may_send()) else {
                    continue;
                };
                if last_sweep.is_none_or(|t| t.elapsed() >= opts.sweep_every) {
                    last_sweep = Some(Instant::now());
                    if let Err(e) = sweep(&app, &opts, f).await {
                        tracing::warn!(error = %e, "sweeping the locks failed");
                    }
                    timers.stale = true;
                    last_rebuild = None;
                }
                if timers.stale && last_rebuild.is_none_or(|t| t.elapsed() >= REBUILD_AT_MOST_EVERY) {
                    last_rebuild = Some(Instant::now());
                    match timers.rebuild(&app).await {
                        Ok(()) => tracing::debug!(next = ?timers.next(), "schedule edges computed"),
                        Err(e) => tracing::warn!(error = %e, "computing schedule edges failed"),
                    }
                }
                if let Err(e) = retry_due(&app, &opts, f).await {
                    tracing::warn!(error = %e, "retrying lock slots failed");
                }
                if let Err(e) = app.check_left_open().await {
                    tracing::warn!(error = %e, "checking for doors left open failed");
                }
            }
        }
    }
}

/// Applies the edges that have come: ends the credentials of holders who moved out at a set
/// time, re-plans every credential whose edge it is (the commands leave now), and computes
/// their next edges.
async fn fire(
    app: &App,
    opts: &ReconcileOptions,
    fence: &Fence,
    timers: &mut Timers,
) -> Result<()> {
    let now = app.now();
    let due = timers.take_due(now);
    if due.is_empty() {
        return Ok(());
    }
    let ids: Vec<CredentialId> = due.iter().map(|(c, _)| *c).collect();
    app.end_credentials_of_ended_memberships(&ids).await?;
    let inputs = timers::doors_of(app, &ids)
        .await?
        .into_iter()
        .map(|(c, doors)| Input::Credential(c, doors))
        .collect();
    handle(app, opts, fence, inputs).await?;
    let late = due
        .iter()
        .map(|(_, t)| app.now().duration_since(*t))
        .max()
        .unwrap_or_default();
    tracing::debug!(
        credentials = ids.len(),
        late_ms = late.as_secs_f64() * 1e3,
        "applied schedule edges"
    );
    timers.refresh(app, &ids).await
}

/// Takes or renews the lease; `None` while another replica holds it (or the database cannot
/// be reached: a holder that cannot renew must stop sending anyway).
async fn take_lease(app: &App, opts: &ReconcileOptions) -> Option<Fence> {
    let asked = Instant::now();
    let now = app.now();
    let ttl = SignedDuration::try_from(opts.lease_ttl).unwrap_or(SignedDuration::from_secs(3));
    let until = now.checked_add(ttl).unwrap_or(now);
    let result = async {
        let mut tx = app.store().write().await?;
        let epoch = repo::acquire_lease(tx.conn(), LEASE, &opts.holder, now, until).await?;
        tx.commit().await?;
        Ok::<Option<i64>, crate::AppError>(epoch)
    }
    .await;
    match result {
        Ok(epoch) => epoch.map(|epoch| Fence {
            holder: opts.holder.clone(),
            epoch,
            // Counted from before the request: the lease may have been written at once.
            sendable_until: asked + opts.lease_ttl - opts.lease_ttl / 3,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "could not take the reconciler lease");
            None
        }
    }
}

/// What a new holder does first: whatever the last holder recorded as sent but had no answer
/// for yet is due now (it may never have left that replica), and the caller sweeps every door.
async fn take_over(app: &App) {
    let result = async {
        let mut tx = app.store().write().await?;
        let moved = repo::make_in_flight_due(tx.conn(), app.now()).await?;
        tx.commit().await?;
        Ok::<u64, crate::AppError>(moved)
    }
    .await;
    match result {
        Ok(0) => {}
        Ok(moved) => tracing::info!(
            slots = moved,
            "retrying at once what the last holder had in flight"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "could not take over the slots in flight; they wait for their retry")
        }
    }
}

async fn handle(
    app: &App,
    opts: &ReconcileOptions,
    fence: &Fence,
    batch: Vec<Input>,
) -> Result<()> {
    let mut doors: BTreeSet<DoorId> = BTreeSet::new();
    let mut explicit: BTreeSet<DoorId> = BTreeSet::new();
    let mut creds: HashMap<CredentialId, BTreeSet<DoorId>> = HashMap::new();
    for i in batch {
        match i {
            Input::Door(d) => {
                doors.insert(d);
                explicit.insert(d);
            }
            Input::Credential(c, ds) => creds.entry(c).or_default().extend(ds),
        }
    }
    let started = std::time::Instant::now();
    let mut views = Views::default();
    let mut pending = Pending::new();
    for (c, ds) in creds {
        let unplaced = plan_credential(app, &mut views, &mut pending, c, &ds).await?;
        doors.extend(unplaced);
    }
    for d in &explicit {
        app.send_lock_settings(*d).await?;
    }
    for d in doors {
        plan_door(app, &mut views, &mut pending, d).await?;
    }
    let planned = started.elapsed();
    let slots: usize = pending.values().map(Vec::len).sum();
    apply_all(app, opts, fence, &mut views, pending).await?;
    tracing::debug!(
        slots,
        plan_ms = planned.as_secs_f64() * 1e3,
        total_ms = started.elapsed().as_secs_f64() * 1e3,
        "reconciled a batch of changes"
    );
    Ok(())
}

/// Slots changed during one pass, by property: saved in one transaction per property.
type Pending = HashMap<PropertyId, Vec<Slot>>;

async fn apply_all(
    app: &App,
    opts: &ReconcileOptions,
    fence: &Fence,
    views: &mut Views,
    pending: Pending,
) -> Result<()> {
    let now = app.now();
    for (prop, slots) in pending {
        let view = views.get(app, prop).await?;
        apply(app, opts, fence, &view, slots, now).await?;
    }
    Ok(())
}

/// Re-plans every paired door, and sends their settings to locks that report other ones.
async fn sweep(app: &App, opts: &ReconcileOptions, fence: &Fence) -> Result<()> {
    let corrected = app.correct_lock_settings().await?;
    if corrected > 0 {
        tracing::info!(
            locks = corrected,
            "sent lock settings that differ from the policy"
        );
    }
    let doors = {
        let mut conn = app.store().read().await?;
        property::paired_doors(&mut conn).await?
    };
    match probe::scan(app, fence).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            slots = n,
            "restored state: reading what the locks hold, a few slots at a time"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "restored state: could not plan the reads of the locks' slots")
        }
    }
    let mut views = Views::default();
    let mut pending = Pending::new();
    for d in doors {
        plan_door(app, &mut views, &mut pending, d.id).await?;
    }
    apply_all(app, opts, fence, &mut views, pending).await
}
