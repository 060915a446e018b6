//! Sending: the commands each due slot needs, retries with backoff, giving up with a reason.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use latchkey_core::lock::{Code, CodeUse, LockCommand};
use latchkey_core::{CredentialId, DoorId, PropertyId};
use latchkey_store::audit::NewEvent;
use latchkey_store::devices::{self as repo, Desired, Slot, SlotStatus};
use latchkey_store::{credentials, property};
use serde_json::json;

use super::views::{PropertyView, property_view};
use super::{Fence, ReconcileOptions, backoff};
use crate::{App, Result};

/// Slots saved and sent together: the first commands of a burst leave after one small save
/// instead of after the whole burst is saved, so the locks work while the rest is written.
const APPLY_CHUNK: usize = 1_000;

/// Saves changed slots and sends the commands that are due now, a chunk at a time.
pub(super) async fn apply(
    app: &App,
    opts: &ReconcileOptions,
    fence: &Fence,
    view: &PropertyView,
    mut changed: Vec<Slot>,
    now: Timestamp,
) -> Result<()> {
    let mut queued = 0;
    for chunk in changed.chunks_mut(APPLY_CHUNK) {
        let out = prepare(app, opts, view, chunk, now, queued).await;
        queued += out.len();
        let mut tx = app.store().write().await?;
        if !fence.holds(tx.conn(), now).await? {
            return Err(lost());
        }
        repo::save_slots(tx.conn(), chunk).await?;
        super::probe::note_written(tx.conn(), &writes_of(chunk, &out), now).await?;
        tx.commit().await?;
        dispatch(app, fence, chunk, out).await?;
    }
    Ok(())
}

/// A command for the slot at `index` of a batch, with what the slot held before the attempt
/// was recorded (restored if the command cannot leave).
struct Outgoing {
    index: usize,
    lock: String,
    command: LockCommand,
    before: (i64, Option<Timestamp>, Option<String>),
}

/// How long each command queued ahead of a slot's own delays its confirmation: a burst of ten
/// thousand commands takes the broker and the locks a while to work through, and retrying the
/// tail of a burst before it was even delivered only doubles the work.
const QUEUE_ALLOWANCE: SignedDuration = SignedDuration::from_micros(500);

/// Works out the write, clear or read-back each slot needs and records the attempt in the slot.
/// This happens before anything is sent and the caller saves the slots first, because a lock
/// can answer before a save that came after the send, and its answer must find the slot as
/// latchkey meant it (a write it did not know of would be taken for a stranger's code).
async fn prepare(
    app: &App,
    opts: &ReconcileOptions,
    view: &PropertyView,
    slots: &mut [Slot],
    now: Timestamp,
    queued_before: usize,
) -> Vec<Outgoing> {
    let mut out = Vec::new();
    if !app.port().connected() {
        return out;
    }
    let held = super::probe::held(app, slots).await;
    let mut pins: HashMap<CredentialId, Option<String>> = HashMap::new();
    for (index, s) in slots.iter_mut().enumerate() {
        let Some(door) = view.doors.get(&s.door_id) else {
            continue;
        };
        let Some(lock) = door.lock_name.as_deref() else {
            continue;
        };
        let Ok(slot) = u16::try_from(s.slot) else {
            continue;
        };
        let command = if s.status == SlotStatus::Probing {
            // Nothing is written to a slot believed free before the lock says it is.
            super::probe::read_of(slot)
        } else if s.attempts % 2 == 1 {
            // Every other attempt reads the slot back: the write may have landed while its
            // confirmation was lost.
            LockCommand::ReadSlot { slot }
        } else if held.contains(&index) {
            super::probe::hold(s, now);
            continue;
        } else if s.desired == Desired::Empty {
            LockCommand::ClearSlot { slot }
        } else {
            let pin = match s.credential_id {
                Some(id) => match pins.get(&id) {
                    Some(known) => known.clone(),
                    None => {
                        let pin = pin_of(app, door.property_id, id).await;
                        pins.insert(id, pin.clone());
                        pin
                    }
                },
                None => None,
            };
            match pin.map(Code::new) {
                Some(Ok(code)) => LockCommand::SetCode {
                    slot,
                    code,
                    code_use: if s.desired == Desired::NonAccess {
                        CodeUse::NonAccess
                    } else {
                        CodeUse::Access
                    },
                    enabled: s.desired != Desired::Disabled,
                },
                Some(Err(e)) => {
                    s.status = SlotStatus::Failed;
                    s.reason = Some(format!("the PIN cannot go on a lock: {e}"));
                    continue;
                }
                None => {
                    s.status = SlotStatus::Failed;
                    s.reason =
                        Some("the PIN cannot be read from the database (wrong master key?)".into());
                    continue;
                }
            }
        };
        let before = (s.attempts, s.next_attempt_at, s.reason.clone());
        let queued = QUEUE_ALLOWANCE
            .checked_mul(i32::try_from(queued_before + out.len()).unwrap_or(i32::MAX))
            .unwrap_or(SignedDuration::MAX);
        s.attempts += 1;
        s.next_attempt_at = now
            .checked_add(backoff(opts.confirm_after, s.attempts - 1))
            .and_then(|t| t.checked_add(queued))
            .ok();
        s.updated_at = now;
        out.push(Outgoing {
            index,
            lock: lock.to_owned(),
            command,
            before,
        });
    }
    out
}

/// The slots the prepared commands write a PIN of latchkey's to.
fn writes_of(slots: &[Slot], out: &[Outgoing]) -> Vec<(DoorId, i64)> {
    super::probe::written(
        slots,
        out.iter()
            .filter(|o| o.command.writes_code())
            .map(|o| o.index),
    )
}

/// The error of a replica whose lease was taken: it sends nothing more.
pub(super) fn lost() -> crate::AppError {
    crate::AppError::Conflict("this replica no longer holds the reconciler lease".into())
}

/// Sends the prepared commands. One that cannot leave gives its attempt back (a broker outage
/// delays a slot, it does not use up its attempts) and says why in the slot. Sending stops as
/// soon as the lease may have passed to another replica: the slots left keep their recorded
/// attempt, which the next holder retries at once.
async fn dispatch(app: &App, fence: &Fence, slots: &mut [Slot], out: Vec<Outgoing>) -> Result<()> {
    let port = app.port();
    let mut unsent = Vec::new();
    for o in out {
        if !fence.may_send() {
            return Err(lost());
        }
        if let Err(why) = port.send(&o.lock, &o.command) {
            let s = &mut slots[o.index];
            (s.attempts, s.next_attempt_at) = (o.before.0, o.before.1);
            s.reason = Some(format!("not sent: {why}"));
            unsent.push(s.clone());
        }
    }
    if !unsent.is_empty() {
        let mut tx = app.store().write().await?;
        repo::save_slots(tx.conn(), &unsent).await?;
        tx.commit().await?;
    }
    Ok(())
}

async fn pin_of(app: &App, property: PropertyId, id: CredentialId) -> Option<String> {
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
pub(super) async fn retry_due(app: &App, opts: &ReconcileOptions, fence: &Fence) -> Result<()> {
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
            // A read nobody answered gives up like a write: the slot stays unwritten, and is
            // read again later (`probe.rs`).
            let probing = s.status == SlotStatus::Probing;
            if s.attempts >= opts.max_attempts && s.desired == Desired::Empty && !probing {
                // A code that must go is never given up on: a lock that missed its removal
                // still opens for it. It stays `removing`, retried at the longest backoff, and
                // staff are told once.
                if s.attempts == opts.max_attempts {
                    let reason = format!(
                        "the lock has not confirmed the removal after {} attempts; still trying",
                        s.attempts
                    );
                    events.push(
                        NewEvent::new("lock.slot_failed", format!("door:{}", s.door_id))
                            .property(prop)
                            .data(json!({
                                "severity": "warning", "slot": s.slot, "credential_id": s.credential_id,
                                "desired": s.desired, "reason": reason, "still_trying": true,
                            })),
                    );
                    s.reason = Some(reason);
                }
                retry.push(s.clone());
            } else if s.attempts >= opts.max_attempts {
                s.status = SlotStatus::Failed;
                s.reason = Some(if probing {
                    super::probe::PROBE_UNANSWERED.into()
                } else {
                    s.reason.clone().unwrap_or_else(|| {
                        format!("the lock did not confirm after {} attempts", s.attempts)
                    })
                });
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
        let out = prepare(app, opts, &view, &mut retry, now, 0).await;
        let failed: Vec<Slot> = slots
            .into_iter()
            .filter(|s| s.status == SlotStatus::Failed)
            .collect();
        let tx = {
            let mut tx = app.store().write().await?;
            if !fence.holds(tx.conn(), now).await? {
                return Err(lost());
            }
            repo::save_slots(tx.conn(), &retry).await?;
            repo::save_slots(tx.conn(), &failed).await?;
            super::probe::note_written(tx.conn(), &writes_of(&retry, &out), now).await?;
            tx
        };
        app.commit_at(tx, events, now).await?;
        dispatch(app, fence, &mut retry, out).await?;
    }
    Ok(())
}
