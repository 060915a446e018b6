//! The reconciler: drives each paired lock's PIN slots toward what the database says they
//! should hold. It allocates slots within the lock's capacity, writes and clears them, waits for
//! the lock to confirm (a programming event or a slot read, applied by ingestion), retries with
//! backoff, verifies by reading back, and gives up with a reason after a bounded number of
//! attempts. Its state is in the database (`lock_slots`), so it survives restarts of the server
//! and the broker; a lease makes sure only one replica sends commands.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use jiff::SignedDuration;
use latchkey_core::{CredentialId, DoorId, PropertyId};
use latchkey_store::devices::{self as repo, Slot};
use latchkey_store::property;
use tokio::sync::mpsc;

use crate::{App, DevicePort, Result};

mod plan;
mod send;
mod timers;
mod views;

use plan::{plan_credential, plan_door};
use send::{apply, push_settings, retry_due};
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
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        ReconcileOptions {
            tick: Duration::from_millis(250),
            confirm_after: Duration::from_secs(5),
            max_attempts: 6,
            sweep_every: Duration::from_secs(60),
            holder: format!("latchkey-{}", std::process::id()),
        }
    }
}

const LEASE: &str = "reconciler";
/// Door-wide changes (a mode, a pairing, a membership) recompute every edge, at most this often.
const REBUILD_AT_MOST_EVERY: Duration = Duration::from_secs(1);
/// More credentials than this changed at once recompute every edge instead of each one.
const REFRESH_AT_MOST: usize = 1_000;
const LEASE_TTL: SignedDuration = SignedDuration::from_secs(15);
/// A failed slot is tried again after this long.
const FAILED_RETRY_AFTER: SignedDuration = SignedDuration::from_mins(10);

fn backoff(confirm_after: Duration, attempts: i64) -> SignedDuration {
    let shift = u32::try_from(attempts.clamp(0, 6)).unwrap_or(6);
    let d = confirm_after
        .saturating_mul(1 << shift)
        .min(Duration::from_secs(300));
    SignedDuration::try_from(d).unwrap_or(SignedDuration::from_secs(300))
}

/// Runs until the input channel closes.
pub async fn run(app: App, mut rx: mpsc::UnboundedReceiver<Input>, opts: ReconcileOptions) {
    let mut tick = tokio::time::interval(opts.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut leader = false;
    let mut lease_renewed: Option<std::time::Instant> = None;
    let mut last_sweep: Option<std::time::Instant> = None;
    let mut timers = Timers::default();
    let mut last_rebuild: Option<std::time::Instant> = None;
    loop {
        let wake = if leader { timers.next() } else { None };
        let nap = wake.map_or(Duration::ZERO, |t| {
            Duration::try_from(t.duration_since(app.now()))
                .unwrap_or(Duration::ZERO)
                .min(Duration::from_secs(30))
        });
        tokio::select! {
            () = tokio::time::sleep(nap), if wake.is_some() => {
                if let Err(e) = fire(&app, &opts, &mut timers).await {
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
                if leader {
                    let changed = timers.note(&batch);
                    if let Err(e) = handle(&app, &opts, batch).await {
                        tracing::warn!(error = %e, "reconciling failed; the next sweep retries");
                    }
                    if let Err(e) = timers.refresh(&app, &changed).await {
                        tracing::warn!(error = %e, "computing schedule edges failed; the next sweep retries");
                    }
                }
            }
            _ = tick.tick() => {
                if lease_renewed.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                    let was = leader;
                    leader = take_lease(&app, &opts.holder).await;
                    lease_renewed = Some(std::time::Instant::now());
                    if leader && !was {
                        tracing::info!(holder = %opts.holder, "this replica now reconciles the locks");
                        last_sweep = None;
                    }
                }
                if !leader {
                    continue;
                }
                if last_sweep.is_none_or(|t| t.elapsed() >= opts.sweep_every) {
                    last_sweep = Some(std::time::Instant::now());
                    if let Err(e) = sweep(&app, &opts).await {
                        tracing::warn!(error = %e, "sweeping the locks failed");
                    }
                    timers.stale = true;
                    last_rebuild = None;
                }
                if timers.stale && last_rebuild.is_none_or(|t| t.elapsed() >= REBUILD_AT_MOST_EVERY) {
                    last_rebuild = Some(std::time::Instant::now());
                    match timers.rebuild(&app).await {
                        Ok(()) => tracing::debug!(next = ?timers.next(), "schedule edges computed"),
                        Err(e) => tracing::warn!(error = %e, "computing schedule edges failed"),
                    }
                }
                if let Err(e) = retry_due(&app, &opts).await {
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
async fn fire(app: &App, opts: &ReconcileOptions, timers: &mut Timers) -> Result<()> {
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
    handle(app, opts, inputs).await?;
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

async fn take_lease(app: &App, holder: &str) -> bool {
    let now = app.now();
    let until = now.checked_add(LEASE_TTL).unwrap_or(now);
    let result = async {
        let mut tx = app.store().write().await?;
        let ok = repo::acquire_lease(tx.conn(), LEASE, holder, now, until).await?;
        tx.commit().await?;
        Ok::<bool, crate::AppError>(ok)
    }
    .await;
    result.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not take the reconciler lease");
        false
    })
}

async fn handle(app: &App, opts: &ReconcileOptions, batch: Vec<Input>) -> Result<()> {
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
        push_settings(app, *d).await?;
    }
    for d in doors {
        plan_door(app, &mut views, &mut pending, d).await?;
    }
    let planned = started.elapsed();
    let slots: usize = pending.values().map(Vec::len).sum();
    apply_all(app, opts, &mut views, pending).await?;
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
    views: &mut Views,
    pending: Pending,
) -> Result<()> {
    let now = app.now();
    for (prop, slots) in pending {
        let view = views.get(app, prop).await?;
        apply(app, opts, &view, slots, now).await?;
    }
    Ok(())
}

/// Re-plans every paired door.
async fn sweep(app: &App, opts: &ReconcileOptions) -> Result<()> {
    let doors = {
        let mut conn = app.store().read().await?;
        property::paired_doors(&mut conn).await?
    };
    let mut views = Views::default();
    let mut pending = Pending::new();
    for d in doors {
        plan_door(app, &mut views, &mut pending, d.id).await?;
    }
    apply_all(app, opts, &mut views, pending).await
}
