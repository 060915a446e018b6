//! The reconciler: drives each paired lock's PIN slots toward what the database says they
//! should hold. It allocates slots within the lock's capacity, writes and clears them, waits for
//! the lock to confirm (a programming event or a slot read, applied by ingestion), retries with
//! backoff, verifies by reading back, and gives up with a reason after a bounded number of
//! attempts. Its state is in the database (`lock_slots`), so it survives restarts of the server
//! and the broker; a lease makes sure only one replica sends commands.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use latchkey_core::model::CredentialKind;
use latchkey_core::{CredentialId, DoorId, PersonId, PropertyId};
use latchkey_store::audit::NewEvent;
use latchkey_store::devices::{self as repo, Desired, Slot, SlotStatus};
use latchkey_store::records::{Credential, Door, Membership};
use latchkey_store::{credentials, people, property};
use latchkey_z2m::{Command, UserType};
use serde_json::json;
use tokio::sync::mpsc;

use super::desired::desired_for;
use crate::directory::time_zone;
use crate::{App, DevicePort, Result};

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
    /// How often every paired door is re-planned (catches schedule window edges, failed
    /// slots worth another try, and changes made by other replicas).
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
    loop {
        tokio::select! {
            input = rx.recv() => {
                let Some(first) = input else { break };
                let mut batch = vec![first];
                while batch.len() < 50_000 {
                    match rx.try_recv() {
                        Ok(i) => batch.push(i),
                        Err(_) => break,
                    }
                }
                if leader
                    && let Err(e) = handle(&app, &opts, batch).await {
                        tracing::warn!(error = %e, "reconciling failed; the next sweep retries");
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

/// Everything needed to plan the slots of one property's doors.
struct PropertyView {
    tz: jiff::tz::TimeZone,
    doors: HashMap<DoorId, Door>,
    memberships: HashMap<PersonId, Vec<Membership>>,
}

/// Property views loaded during one pass, so that planning ten thousand doors of one building
/// reads the building once.
#[derive(Default)]
struct Views(HashMap<PropertyId, std::sync::Arc<PropertyView>>);

impl Views {
    async fn get(&mut self, app: &App, id: PropertyId) -> Result<std::sync::Arc<PropertyView>> {
        if let Some(v) = self.0.get(&id) {
            return Ok(v.clone());
        }
        let v = std::sync::Arc::new(property_view(app, id).await?);
        self.0.insert(id, v.clone());
        Ok(v)
    }
}

async fn property_view(app: &App, id: PropertyId) -> Result<PropertyView> {
    let mut conn = app.store().read().await?;
    let prop = crate::directory::load_property(&mut conn, id).await?;
    let tz = time_zone(&prop.timezone)?;
    let doors = property::list_doors(&mut conn, id)
        .await?
        .into_iter()
        .map(|d| (d.id, d))
        .collect();
    let mut memberships: HashMap<PersonId, Vec<Membership>> = HashMap::new();
    for m in people::list_memberships(&mut conn, id).await? {
        memberships.entry(m.person_id).or_default().push(m);
    }
    Ok(PropertyView {
        tz,
        doors,
        memberships,
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
    apply_all(app, opts, &mut views, pending).await
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

/// Writes the property's lock policy (auto-relock, wrong-code limit and keypad disable time)
/// to a door's lock. Idempotent, so it is simply sent again whenever the door or policy changes.
async fn push_settings(app: &App, door_id: DoorId) -> Result<()> {
    let Some(link) = app.bridge().link().cloned() else {
        return Ok(());
    };
    let mut conn = app.store().read().await?;
    let Some(door) = property::get_door(&mut conn, door_id).await? else {
        return Ok(());
    };
    let Some(lock) = door.lock_name.as_deref() else {
        return Ok(());
    };
    let policy = crate::directory::load_property(&mut conn, door.property_id)
        .await?
        .policy;
    // ZCL holds the disable time in one byte: longer policies are capped at 255 s on the lock
    // (latchkey's own keypad check still uses the full time).
    let commands = [
        Command::SetAutoRelock {
            seconds: policy
                .auto_relock_seconds
                .min(latchkey_z2m::command::MAX_AUTO_RELOCK_SECONDS),
        },
        Command::WriteLockoutSettings {
            wrong_code_limit: policy.wrong_code_limit.max(1),
            disable_seconds: u8::try_from(policy.keypad_disable_seconds.clamp(1, 255))
                .unwrap_or(u8::MAX),
        },
    ];
    for c in &commands {
        if let Err(why) = link.send(lock, c) {
            tracing::debug!(lock, %why, "lock settings not sent; they go again on the next change");
        }
    }
    Ok(())
}

/// Updates one credential's slot on each door; returns the doors where it has no slot yet
/// (those need a full plan to allocate one).
async fn plan_credential(
    app: &App,
    views: &mut Views,
    pending: &mut Pending,
    id: CredentialId,
    doors: &BTreeSet<DoorId>,
) -> Result<Vec<DoorId>> {
    let now = app.now();
    let mut conn = app.store().read().await?;
    let Some(c) = credentials::get_credential(&mut conn, id).await? else {
        return Ok(doors.iter().copied().collect());
    };
    if c.kind != CredentialKind::Pin {
        return Ok(Vec::new());
    }
    let existing: HashMap<DoorId, Slot> = repo::slots_of_credential(&mut conn, id)
        .await?
        .into_iter()
        .map(|s| (s.door_id, s))
        .collect();
    drop(conn);
    let view = views.get(app, c.property_id).await?;
    let ms = view
        .memberships
        .get(&c.person_id)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut changed = Vec::new();
    let mut unplaced = Vec::new();
    for door_id in doors {
        let Some(door) = view.doors.get(door_id) else {
            continue;
        };
        if door.lock_name.is_none() {
            continue;
        }
        let want = if c.doors.contains(door_id) {
            desired_for(&c, ms, door, &view.tz, now)
        } else {
            Desired::Empty
        };
        match existing.get(door_id) {
            Some(slot) => {
                if let Some(s) = retarget(slot, want, now) {
                    changed.push(s);
                }
            }
            None if want != Desired::Empty => unplaced.push(*door_id),
            None => {}
        }
    }
    pending.entry(c.property_id).or_default().extend(changed);
    Ok(unplaced)
}

/// The slot with a new target, or `None` when nothing changes.
fn retarget(slot: &Slot, want: Desired, now: Timestamp) -> Option<Slot> {
    let stale_failure = slot.status == SlotStatus::Failed
        && slot
            .updated_at
            .checked_add(FAILED_RETRY_AFTER)
            .is_ok_and(|t| t <= now);
    if slot.desired == want && !stale_failure {
        return None;
    }
    if want == Desired::Empty
        && slot.desired == Desired::Empty
        && slot.status == SlotStatus::Removed
    {
        return None;
    }
    let mut s = slot.clone();
    s.desired = want;
    s.status = if want == Desired::Empty {
        SlotStatus::Removing
    } else {
        SlotStatus::Pending
    };
    s.reason = None;
    s.attempts = 0;
    s.next_attempt_at = Some(now);
    s.updated_at = now;
    Some(s)
}

/// Plans every slot of a door: keeps each credential in its slot, gives new ones the lowest
/// free slot, and empties slots whose credential no longer belongs there.
async fn plan_door(
    app: &App,
    views: &mut Views,
    pending: &mut Pending,
    door_id: DoorId,
) -> Result<()> {
    let now = app.now();
    let mut conn = app.store().read().await?;
    let Some(door) = property::get_door(&mut conn, door_id).await? else {
        return Ok(());
    };
    if door.lock_name.is_none() {
        return Ok(());
    }
    let creds: Vec<Credential> = credentials::credentials_on_door(&mut conn, door_id)
        .await?
        .into_iter()
        .filter(|c| c.kind == CredentialKind::Pin)
        .collect();
    let slots = repo::slots_of_door(&mut conn, door_id).await?;
    drop(conn);
    let view = views.get(app, door.property_id).await?;
    let mut want: HashMap<CredentialId, Desired> = HashMap::new();
    for c in &creds {
        let ms = view
            .memberships
            .get(&c.person_id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        want.insert(c.id, desired_for(c, ms, &door, &view.tz, now));
    }
    let mut changed = Vec::new();
    let mut placed: HashSet<CredentialId> = HashSet::new();
    let mut busy: HashSet<i64> = HashSet::new();
    for slot in &slots {
        let target = match slot.credential_id {
            Some(cid) => want.get(&cid).copied().unwrap_or(Desired::Empty),
            None => Desired::Empty,
        };
        if let Some(cid) = slot.credential_id {
            placed.insert(cid);
        }
        let next = retarget(slot, target, now);
        let effective = next.as_ref().unwrap_or(slot);
        if !(effective.desired == Desired::Empty && effective.status == SlotStatus::Removed) {
            busy.insert(slot.slot);
        }
        if let Some(s) = next {
            changed.push(s);
        }
    }
    let mut free = (0..door.pin_slots).filter(|n| !busy.contains(n));
    let mut overflow = Vec::new();
    let mut new_creds: Vec<&Credential> = creds
        .iter()
        .filter(|c| {
            !placed.contains(&c.id) && want.get(&c.id).is_some_and(|d| *d != Desired::Empty)
        })
        .collect();
    new_creds.sort_by_key(|c| c.id);
    for c in new_creds {
        let Some(n) = free.next() else {
            overflow.push(c.id);
            continue;
        };
        // Reusing a slot whose previous credential was removed: the new credential takes it.
        changed.retain(|s: &Slot| s.slot != n);
        changed.push(Slot {
            door_id,
            slot: n,
            credential_id: Some(c.id),
            desired: want.get(&c.id).copied().unwrap_or(Desired::Empty),
            status: SlotStatus::Pending,
            reason: None,
            attempts: 0,
            next_attempt_at: Some(now),
            updated_at: now,
        });
    }
    // Reported when the set of credentials without a slot changes, not on every sweep.
    let reported = {
        let mut map = app
            .bridge()
            .overflow
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let changed_set = map.get(&door_id) != Some(&overflow);
        if overflow.is_empty() {
            map.remove(&door_id);
        } else {
            map.insert(door_id, overflow.clone());
        }
        changed_set
    };
    if reported && !overflow.is_empty() {
        let tx = app.store().write().await?;
        let ev = NewEvent::new("lock.capacity_exceeded", format!("door:{door_id}"))
            .property(door.property_id)
            .data(json!({
                "severity": "warning", "slots": door.pin_slots, "credentials_without_slot": overflow,
            }));
        app.commit_at(tx, vec![ev], now).await?;
    }
    pending.entry(door.property_id).or_default().extend(changed);
    Ok(())
}

/// Saves changed slots and sends the commands that are due now.
async fn apply(
    app: &App,
    opts: &ReconcileOptions,
    view: &PropertyView,
    mut changed: Vec<Slot>,
    now: Timestamp,
) -> Result<()> {
    if changed.is_empty() {
        return Ok(());
    }
    send_due(app, opts, view, &mut changed, now).await;
    let mut tx = app.store().write().await?;
    repo::save_slots(tx.conn(), &changed).await?;
    tx.commit().await?;
    Ok(())
}

/// Sends the write, clear or read-back each slot needs; counts an attempt only when the
/// command left (a broker outage delays, it does not use up attempts).
async fn send_due(
    app: &App,
    opts: &ReconcileOptions,
    view: &PropertyView,
    slots: &mut [Slot],
    now: Timestamp,
) {
    let Some(link) = app.bridge().link().cloned() else {
        return;
    };
    if !link.connected() {
        return;
    }
    for s in slots.iter_mut() {
        let Some(door) = view.doors.get(&s.door_id) else {
            continue;
        };
        let Some(lock) = door.lock_name.as_deref() else {
            continue;
        };
        let Ok(slot) = u16::try_from(s.slot) else {
            continue;
        };
        let command = if s.attempts % 2 == 1 {
            // Every other attempt reads the slot back: the write may have landed while its
            // confirmation was lost.
            Command::ReadSlot { slot }
        } else if s.desired == Desired::Empty {
            Command::ClearPin { slot }
        } else {
            match pin_of(app, door.property_id, s.credential_id).await {
                Some(pin) => Command::SetPin {
                    slot,
                    pin,
                    user_type: if s.desired == Desired::NonAccess {
                        UserType::NonAccess
                    } else {
                        UserType::Unrestricted
                    },
                    enabled: s.desired != Desired::Disabled,
                },
                None => {
                    s.status = SlotStatus::Failed;
                    s.reason =
                        Some("the PIN cannot be read from the database (wrong master key?)".into());
                    continue;
                }
            }
        };
        match link.send(lock, &command) {
            Ok(()) => {
                s.attempts += 1;
                s.next_attempt_at = now
                    .checked_add(backoff(opts.confirm_after, s.attempts - 1))
                    .ok();
                s.updated_at = now;
            }
            Err(why) => {
                s.reason = Some(format!("not sent: {why}"));
            }
        }
    }
}

async fn pin_of(
    app: &App,
    property: PropertyId,
    credential: Option<CredentialId>,
) -> Option<String> {
    let id = credential?;
    let mut conn = app.store().read().await.ok()?;
    let sealed = credentials::secret(&mut conn, id).await.ok()??;
    match app.keys().open_pin(property, &sealed) {
        Ok(pin) => Some(pin),
        Err(e) => {
            tracing::error!(credential = %id, error = %e, "a stored PIN does not open");
            None
        }
    }
}

/// Retries slots whose confirmation is overdue, or gives up on them.
async fn retry_due(app: &App, opts: &ReconcileOptions) -> Result<()> {
    let now = app.now();
    let due = {
        let mut conn = app.store().read().await?;
        repo::due_slots(&mut conn, now, 5_000).await?
    };
    if due.is_empty() {
        return Ok(());
    }
    let mut by_property: HashMap<PropertyId, Vec<Slot>> = HashMap::new();
    {
        let mut conn = app.store().read().await?;
        let mut door_props: HashMap<DoorId, Option<PropertyId>> = HashMap::new();
        for s in due {
            let prop = match door_props.get(&s.door_id) {
                Some(p) => *p,
                None => {
                    let p = property::get_door(&mut conn, s.door_id)
                        .await?
                        .map(|d| d.property_id);
                    door_props.insert(s.door_id, p);
                    p
                }
            };
            if let Some(p) = prop {
                by_property.entry(p).or_default().push(s);
            }
        }
    }
    for (prop, mut slots) in by_property {
        let view = property_view(app, prop).await?;
        let mut events = Vec::new();
        let mut retry = Vec::new();
        for s in &mut slots {
            if s.attempts >= opts.max_attempts {
                s.status = SlotStatus::Failed;
                s.reason = Some(s.reason.clone().unwrap_or_else(|| {
                    format!("the lock did not confirm after {} attempts", s.attempts)
                }));
                s.next_attempt_at = None;
                s.updated_at = now;
                events.push(
                    NewEvent::new("lock.slot_failed", format!("door:{}", s.door_id))
                        .property(prop)
                        .data(json!({
                            "severity": "warning", "slot": s.slot, "credential_id": s.credential_id,
                            "desired": s.desired, "reason": s.reason,
                        })),
                );
            } else {
                retry.push(s.clone());
            }
        }
        send_due(app, opts, &view, &mut retry, now).await;
        let failed: Vec<Slot> = slots
            .into_iter()
            .filter(|s| s.status == SlotStatus::Failed)
            .collect();
        let tx = {
            let mut tx = app.store().write().await?;
            repo::save_slots(tx.conn(), &retry).await?;
            repo::save_slots(tx.conn(), &failed).await?;
            tx
        };
        app.commit_at(tx, events, now).await?;
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
