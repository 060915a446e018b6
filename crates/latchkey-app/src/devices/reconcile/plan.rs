//! Planning: which credential goes in which slot of a door, and what each slot should hold.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use jiff::Timestamp;
use latchkey_core::model::CredentialKind;
use latchkey_core::{CredentialId, DoorId};
use latchkey_store::audit::NewEvent;
use latchkey_store::devices::{self as repo, Desired, Slot, SlotStatus};
use latchkey_store::records::Credential;
use latchkey_store::{credentials, property};
use serde_json::json;

use super::views::Views;
use super::{FAILED_RETRY_AFTER, Pending};
use crate::devices::desired::desired_for;
use crate::{App, Result};

/// Updates one credential's slot on each door; returns the doors where it has no slot yet
/// (those need a full plan to allocate one).
pub(super) async fn plan_credential(
    app: &App,
    views: &mut Views,
    pending: &mut Pending,
    id: CredentialId,
    doors: &BTreeSet<DoorId>,
) -> Result<Vec<DoorId>> {
    let now = app.now();
    let mut conn = app.store().read().await?;
    let Some(c) = views.credential(&mut conn, id).await? else {
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
    if let Some(s) = super::probe::retarget_unseen(slot, want, stale_failure, now) {
        return s;
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
pub(super) async fn plan_door(
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
    let mut creds: Vec<Arc<Credential>> = Vec::new();
    for id in credentials::credential_ids_on_door(&mut conn, door_id).await? {
        if let Some(c) = views.credential(&mut conn, id).await?
            && c.kind == CredentialKind::Pin
        {
            creds.push(c);
        }
    }
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
        if !super::probe::takeable(effective) {
            busy.insert(slot.slot);
        }
        if let Some(s) = next {
            changed.push(s);
        }
    }
    let mut free = (0..door.pin_slots).filter(|n| !busy.contains(n));
    let mut overflow = Vec::new();
    let mut new_creds: Vec<&Arc<Credential>> = creds
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
        // A slot believed free is read before anything is written to it (`probe.rs`).
        changed.retain(|s: &Slot| s.slot != n);
        changed.push(Slot {
            door_id,
            slot: n,
            credential_id: Some(c.id),
            desired: want.get(&c.id).copied().unwrap_or(Desired::Empty),
            status: SlotStatus::Probing,
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
