//! Seeing a slot before writing it (docs/ARCHITECTURE.md, decisions 31–32).
//!
//! 1. A slot latchkey believes free is read first: a new credential gets it as `probing`, the
//!    reconciler sends a single-slot read, and only the lock's answer "available" turns it into
//!    a write (ingestion, `ingest/slots.rs`). A code found there makes the slot `unmanaged` and
//!    the credential is placed elsewhere. The read is sent by the same retry machinery as the
//!    writes, so it is fenced, backed off and given up on like them.
//! 2. In the restored state every slot without a code of latchkey's is read, a few at a time
//!    (`scan`), to list what the locks hold that the database does not know.
//! 3. In the restored state a write goes only to a slot the lock reported empty since the state
//!    began, and a clear only where an admin decided (`held`); everything else waits.

use std::collections::HashSet;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use latchkey_core::DoorId;
use latchkey_core::lock::LockCommand;
use latchkey_store::devices::{self as repo, Desired, Slot, SlotStatus};
use latchkey_store::property;
use latchkey_store::restore::{self as notes, Mark, Restored};

use super::Fence;
use super::send::lost;
use crate::{App, Result};

pub(crate) use latchkey_store::devices::PROBE_UNANSWERED;
/// The reason of a write or clear held in the restored state.
const HELD: &str = "held: latchkey runs on a restored database and has not seen this slot \
                    empty since; an admin decides (docs/OPERATIONS.md, \"After a restore\")";
/// How long a held slot waits before it is looked at again.
const HELD_FOR: SignedDuration = SignedDuration::from_mins(1);
/// Between two reads of one lock's slots in a restored-state scan: a sleepy lock wakes for each.
const SCAN_PER_LOCK: Duration = Duration::from_millis(500);
/// Between two reads of the scan across locks: a Zigbee network carries a few dozen messages a
/// second, and keypads share it.
const SCAN_SPACING: Duration = Duration::from_millis(50);

/// Whether the slot's read before its first write went unanswered.
fn unanswered(slot: &Slot) -> bool {
    slot.status == SlotStatus::Failed && slot.reason.as_deref() == Some(PROBE_UNANSWERED)
}

/// For a slot that has not been seen (probing, or whose read went unanswered), what `retarget`
/// makes of it: `None` when the ordinary rule applies.
pub(super) fn retarget_unseen(
    slot: &Slot,
    want: Desired,
    stale_failure: bool,
    now: Timestamp,
) -> Option<Option<Slot>> {
    let unanswered = unanswered(slot);
    if slot.status == SlotStatus::Unmanaged {
        // Only an admin's decision changes it.
        return Some(None);
    }
    if slot.status != SlotStatus::Probing && !unanswered {
        return None;
    }
    if unanswered && !stale_failure {
        // Left alone until it is read again: a changed slot goes out at once, and an
        // unanswered read must never turn into a write.
        return Some(None);
    }
    let mut s = slot.clone();
    s.updated_at = now;
    if want == Desired::Empty {
        // Nothing of latchkey's was written here: the slot is given back, not cleared.
        s.credential_id = None;
        s.desired = Desired::Empty;
        s.status = SlotStatus::Removed;
        s.reason = None;
        s.next_attempt_at = None;
        return Some(Some(s));
    }
    s.desired = want;
    if unanswered {
        s.status = SlotStatus::Probing;
        s.reason = None;
        s.attempts = 0;
        s.next_attempt_at = Some(now);
    }
    Some(Some(s))
}

/// Whether the reconciler may take `slot` for a new credential: free by its rows (an unanswered
/// scan read included, which the new credential reads again).
pub(super) fn takeable(slot: &Slot) -> bool {
    slot.credential_id.is_none()
        && slot.desired == Desired::Empty
        && (unanswered(slot) || matches!(slot.status, SlotStatus::Removed | SlotStatus::Probing))
}

/// The command for a probing slot.
pub(super) fn read_of(slot: u16) -> LockCommand {
    LockCommand::ReadSlot { slot }
}

/// Which of `slots` (by index) may not be written or cleared now because latchkey is in the
/// restored state. A slot that cannot be looked up is held: holding is the safe side.
pub(super) async fn held(app: &App, slots: &[Slot]) -> HashSet<usize> {
    match held_inner(app, slots).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "cannot tell whether latchkey is restored; holding writes");
            (0..slots.len()).collect()
        }
    }
}

async fn held_inner(app: &App, slots: &[Slot]) -> Result<HashSet<usize>> {
    let mut conn = app.store().read().await?;
    let Some(r) = notes::restored(&mut conn).await? else {
        return Ok(HashSet::new());
    };
    let mut held = HashSet::new();
    for (i, s) in slots.iter().enumerate() {
        let writes = s.status != SlotStatus::Probing && s.attempts % 2 == 0;
        if !writes {
            continue;
        }
        let note = notes::note(&mut conn, s.door_id, s.slot).await?;
        let since = |t: Option<Timestamp>| t.is_some_and(|t| t >= r.since);
        let decided = note.as_ref().is_some_and(|n| since(n.decided_at));
        let seen_free = note.as_ref().is_some_and(|n| since(n.seen_free_at));
        let may = if s.desired == Desired::Empty {
            decided
        } else {
            decided || seen_free
        };
        if !may {
            held.insert(i);
        }
    }
    Ok(held)
}

/// Marks a slot held: no attempt is used, and it is looked at again later.
pub(super) fn hold(s: &mut Slot, now: Timestamp) {
    s.reason = Some(HELD.into());
    s.next_attempt_at = now.checked_add(HELD_FOR).ok();
    s.updated_at = now;
}

/// The slots of `out` that a PIN is being written to, to note as written.
pub(super) fn written(slots: &[Slot], writes: impl Iterator<Item = usize>) -> Vec<(DoorId, i64)> {
    writes
        .filter_map(|i| slots.get(i))
        .map(|s| (s.door_id, s.slot))
        .collect()
}

/// In the restored state, makes a read of every slot of every paired lock that holds no code
/// of latchkey's and was not seen since the state began, spread out in time (the retry loop
/// sends each when it is due).
pub(super) async fn scan(app: &App, fence: &Fence) -> Result<usize> {
    let now = app.now();
    let (restored, doors) = {
        let mut conn = app.store().read().await?;
        let Some(r) = notes::restored(&mut conn).await? else {
            return Ok(0);
        };
        (r, property::paired_doors(&mut conn).await?)
    };
    let per_lock = SCAN_PER_LOCK
        .max(SCAN_SPACING.saturating_mul(u32::try_from(doors.len()).unwrap_or(u32::MAX)));
    let mut rows = Vec::new();
    for (i, door) in doors.iter().enumerate() {
        let slots = scan_door(app, door.id, door.pin_slots, &restored).await?;
        for (k, n) in slots.into_iter().enumerate() {
            let offset = per_lock
                .saturating_mul(u32::try_from(k).unwrap_or(u32::MAX))
                .saturating_add(SCAN_SPACING.saturating_mul(u32::try_from(i).unwrap_or(u32::MAX)));
            let at = SignedDuration::try_from(offset)
                .ok()
                .and_then(|d| now.checked_add(d).ok())
                .unwrap_or(now);
            rows.push(Slot {
                door_id: door.id,
                slot: n,
                credential_id: None,
                desired: Desired::Empty,
                status: SlotStatus::Probing,
                reason: Some("reading what the lock holds after a restore".into()),
                attempts: 0,
                next_attempt_at: Some(at),
                updated_at: now,
            });
        }
    }
    if rows.is_empty() {
        return Ok(0);
    }
    let mut tx = app.store().write().await?;
    if !fence.holds(tx.conn(), now).await? {
        return Err(lost());
    }
    repo::save_slots(tx.conn(), &rows).await?;
    tx.commit().await?;
    Ok(rows.len())
}

/// The slots of one door to read in a restored-state scan.
async fn scan_door(app: &App, door: DoorId, capacity: i64, r: &Restored) -> Result<Vec<i64>> {
    let mut conn = app.store().read().await?;
    let rows = repo::slots_of_door(&mut conn, door).await?;
    let mut out = Vec::new();
    for n in 0..capacity {
        let row = rows.iter().find(|s| s.slot == n);
        let free_by_rows = row.is_none_or(|s| {
            s.credential_id.is_none()
                && s.desired == Desired::Empty
                && s.status == SlotStatus::Removed
        });
        if !free_by_rows {
            continue;
        }
        let note = notes::note(&mut conn, door, n).await?;
        if note.is_some_and(|n| n.seen_free_at.is_some_and(|t| t >= r.since)) {
            continue;
        }
        out.push(n);
    }
    Ok(out)
}

/// Notes the slots latchkey is writing a PIN of its own to, in the caller's transaction.
pub(super) async fn note_written(
    conn: &mut latchkey_store::Conn,
    slots: &[(DoorId, i64)],
    now: Timestamp,
) -> Result<()> {
    if !slots.is_empty() {
        notes::mark(conn, Mark::Written, slots, now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(status: SlotStatus, credential: Option<i64>, reason: Option<&str>) -> Slot {
        Slot {
            door_id: DoorId(1),
            slot: 3,
            credential_id: credential.map(latchkey_core::CredentialId),
            desired: if credential.is_some() {
                Desired::Enabled
            } else {
                Desired::Empty
            },
            status,
            reason: reason.map(str::to_owned),
            attempts: 6,
            next_attempt_at: None,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn an_unanswered_read_is_left_alone_until_it_is_read_again_never_written() {
        let s = slot(SlotStatus::Failed, Some(7), Some(PROBE_UNANSWERED));
        let now = Timestamp::UNIX_EPOCH;
        assert_eq!(
            retarget_unseen(&s, Desired::Disabled, false, now),
            Some(None)
        );
        let again = retarget_unseen(&s, Desired::Enabled, true, now)
            .flatten()
            .expect("read again");
        assert_eq!(again.status, SlotStatus::Probing);
        assert_eq!(again.attempts, 0);
    }

    #[test]
    fn a_slot_being_read_that_is_no_longer_wanted_is_given_back_not_cleared() {
        let s = slot(SlotStatus::Probing, Some(7), None);
        let back = retarget_unseen(&s, Desired::Empty, false, Timestamp::UNIX_EPOCH)
            .flatten()
            .expect("changed");
        assert_eq!(back.status, SlotStatus::Removed);
        assert_eq!(back.credential_id, None);
    }

    #[test]
    fn an_unmanaged_slot_is_never_taken_or_retargeted() {
        let s = slot(SlotStatus::Unmanaged, None, None);
        assert!(!takeable(&s));
        assert_eq!(
            retarget_unseen(&s, Desired::Empty, true, Timestamp::UNIX_EPOCH),
            Some(None)
        );
        assert!(takeable(&slot(
            SlotStatus::Failed,
            None,
            Some(PROBE_UNANSWERED)
        )));
        assert!(!takeable(&slot(SlotStatus::Failed, None, Some("other"))));
    }
}
