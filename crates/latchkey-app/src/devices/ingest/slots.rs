//! Slot reports: confirming PINs latchkey wrote and handling codes it did not set.
//!
//! How far a confirmation goes is the lock's profile's word ([`LockProfile::held_as`]), which
//! comes with each device message from the bridge: a lock that shows its codes makes a slot
//! `set`, one that cannot makes it `assumed`, never `set`. A Zigbee lock's programming events
//! confirm its codes; a Z-Wave lock's code-change notifications confirm nothing (the lock sends
//! them for latchkey's writes and the keypad's alike), its gateway session's read-back does
//! (docs/ARCHITECTURE.md, decision 86), and a notification about a slot latchkey does not hold
//! flags a code programmed at the keypad.

use latchkey_core::CredentialId;
use latchkey_core::lock::SlotStatus as Reported;
use latchkey_core::lock::{CodeHeld, Confirms, LockProfile};
use latchkey_store::Conn;
use latchkey_store::audit::NewEvent;
use latchkey_store::devices::{Desired, Slot, SlotStatus};
use latchkey_store::restore::{self, Mark};
use serde_json::json;

use super::{Batch, alarm};
use crate::Result;
use crate::devices::LockDoor;

/// The status a confirmed write gives its slot on a lock of `profile`.
fn held(profile: &LockProfile) -> SlotStatus {
    match profile.held_as() {
        CodeHeld::Set => SlotStatus::Set,
        CodeHeld::Assumed => SlotStatus::Assumed,
    }
}

impl Batch<'_> {
    /// A PIN was written to slot `n`: ours (confirming a write) or someone's at the keypad.
    pub(super) async fn programmed(
        &mut self,
        conn: &mut Conn,
        ld: LockDoor,
        n: i64,
        at_keypad: bool,
        profile: &LockProfile,
    ) -> Result<()> {
        let slot = self.slot(conn, ld.door, n).await?;
        if !at_keypad
            && let Some(mut s) = slot.clone().filter(|s| {
                s.credential_id.is_some()
                    && s.desired == Desired::Empty
                    && matches!(s.status, SlotStatus::Removing | SlotStatus::Removed)
            })
        {
            // latchkey's own write, landing after its credential was taken off (a lock working
            // through its queue, a slow mesh): the code is on the lock, so it is cleared again,
            // whatever a clear before it did. Never a stranger's code left in place while the
            // credential reads "removed".
            if s.status == SlotStatus::Removed {
                s.status = SlotStatus::Removing;
                s.attempts = 0;
                s.next_attempt_at = Some(self.now);
                s.updated_at = self.now;
                self.put_slot(s);
            }
            return Ok(());
        }
        // A probing slot was not written yet: whatever was programmed there is not ours.
        let ours = !at_keypad
            && slot.as_ref().is_some_and(|s| {
                s.credential_id.is_some()
                    && s.desired != Desired::Empty
                    && !matches!(s.status, SlotStatus::Probing | SlotStatus::Unmanaged)
            });
        if ours {
            // Only a lock whose programming events are its word confirms by them; on any other
            // the event may answer latchkey's write or someone's at the keypad, and the
            // session's read-back of the slot decides (decision 86).
            if profile.confirms == Confirms::ProgrammingEvent
                && let Some(s) = slot
            {
                self.confirm(ld, s, held(profile));
            }
            return Ok(());
        }
        self.unmanaged(conn, ld, n).await
    }

    /// A slot reported by a read (or a deletion event). `masked`: the read showed a code is
    /// there but not which, so a code latchkey wrote is `assumed`, never `set` (decision 86).
    pub(super) async fn slot_read(
        &mut self,
        conn: &mut Conn,
        ld: LockDoor,
        n: i64,
        status: Reported,
        profile: &LockProfile,
        masked: bool,
    ) -> Result<()> {
        let held_as = if masked {
            SlotStatus::Assumed
        } else {
            held(profile)
        };
        let slot = self.slot(conn, ld.door, n).await?;
        if status == Reported::Empty {
            restore::mark(conn, Mark::SeenFree, &[(ld.door, n)], self.now).await?;
        }
        if let Some(s) = slot.as_ref().filter(|s| s.status == SlotStatus::Probing) {
            return self.probed(conn, ld, s.clone(), status).await;
        }
        match (slot, status) {
            (Some(mut s), Reported::Empty) if s.status == SlotStatus::Unmanaged => {
                // The unknown code is gone (cleared at the lock, or by an admin's order).
                s.status = SlotStatus::Removed;
                s.reason = None;
                s.next_attempt_at = None;
                s.updated_at = self.now;
                self.put_slot(s);
                Ok(())
            }
            (Some(s), Reported::Enabled)
                if matches!(s.desired, Desired::Enabled | Desired::NonAccess) =>
            {
                self.confirm(ld, s, held_as);
                Ok(())
            }
            (Some(s), Reported::Disabled) if s.desired == Desired::Disabled => {
                self.confirm(ld, s, held_as);
                Ok(())
            }
            (Some(s), Reported::Empty) if s.desired == Desired::Empty => {
                self.confirm(ld, s, SlotStatus::Removed);
                Ok(())
            }
            (Some(mut s), Reported::Empty)
                if matches!(s.status, SlotStatus::Set | SlotStatus::Assumed) =>
            {
                // The lock lost a code it had confirmed: write it again.
                s.status = SlotStatus::Pending;
                s.attempts = 0;
                s.next_attempt_at = Some(self.now);
                s.updated_at = self.now;
                self.put_slot(s.clone());
                self.events.push(
                    NewEvent::new("lock.slot_lost", format!("door:{}", ld.door))
                        .property(ld.property)
                        .data(json!({ "severity": "warning", "slot": n, "credential_id": s.credential_id })),
                );
                Ok(())
            }
            (None, Reported::Enabled | Reported::Disabled) => self.unmanaged(conn, ld, n).await,
            (Some(s), Reported::Enabled | Reported::Disabled)
                if s.desired == Desired::Empty && s.status == SlotStatus::Removed =>
            {
                // A code where latchkey removed its own (or found none): not ours now, though
                // it may be one latchkey wrote in a history the database lost.
                self.unmanaged(conn, ld, n).await
            }
            _ => Ok(()),
        }
    }

    fn confirm(&mut self, ld: LockDoor, mut s: Slot, to: SlotStatus) {
        if s.status == to {
            return;
        }
        s.status = to;
        s.reason = None;
        s.next_attempt_at = None;
        s.updated_at = self.now;
        self.put_slot(s.clone());
        let kind = if to == SlotStatus::Removed {
            "lock.slot_removed"
        } else {
            "lock.slot_set"
        };
        let mut data =
            json!({ "slot": s.slot, "credential_id": s.credential_id, "desired": s.desired });
        if to == SlotStatus::Assumed {
            // Said in the event, so nobody reads "set" where the lock could not show it.
            data["held"] = json!("assumed");
        }
        self.events.push(
            NewEvent::new(kind, format!("door:{}", ld.door))
                .property(ld.property)
                .data(data),
        );
    }

    /// The lock's answer to the read of a slot latchkey believed free: empty, and the write
    /// may go; or a code, and the slot is unmanaged (the credential goes to another slot).
    async fn probed(
        &mut self,
        conn: &mut Conn,
        ld: LockDoor,
        mut s: Slot,
        status: Reported,
    ) -> Result<()> {
        match status {
            Reported::Empty => {
                (s.status, s.reason, s.attempts) = if s.credential_id.is_some() {
                    (SlotStatus::Pending, None, 0)
                } else {
                    (SlotStatus::Removed, None, 0)
                };
                s.next_attempt_at = s.credential_id.map(|_| self.now);
                s.updated_at = self.now;
                self.put_slot(s);
                Ok(())
            }
            Reported::Enabled | Reported::Disabled => {
                if s.credential_id.is_some() {
                    self.after.returned.push(ld.door);
                }
                self.unmanaged(conn, ld, s.slot).await
            }
        }
    }

    /// A code latchkey did not set: flag it at once and keep it as `unmanaged` for an admin to
    /// adopt or remove; by policy clear it, but never in the restored state and never in a slot
    /// latchkey had written a PIN of its own to (the code may be ours from a lost history).
    pub(super) async fn unmanaged(&mut self, conn: &mut Conn, ld: LockDoor, n: i64) -> Result<()> {
        let existing = self.slot(conn, ld.door, n).await?;
        if existing
            .as_ref()
            .is_some_and(|s| s.status == SlotStatus::Unmanaged)
        {
            return Ok(());
        }
        let policy = self.policy(conn, ld.property).await?;
        let restored = restore::restored(conn).await?.is_some();
        let written_before = existing
            .as_ref()
            .is_some_and(|s| s.credential_id.is_some() && s.status != SlotStatus::Probing)
            || restore::note(conn, ld.door, n)
                .await?
                .is_some_and(|note| note.written_at.is_some());
        let clearing = policy.clear_unmanaged_codes && !restored && !written_before;
        self.events.push(alarm(
            "unmanaged_code",
            "critical",
            ld.door,
            ld.property,
            json!({
                "slot": n, "clearing": clearing, "restored": restored,
                "written_before": written_before,
            }),
        ));
        if !clearing {
            self.put_slot(Slot {
                door_id: ld.door,
                slot: n,
                credential_id: None,
                desired: Desired::Empty,
                status: SlotStatus::Unmanaged,
                reason: Some("a code latchkey does not know; an admin adopts or removes it".into()),
                attempts: 0,
                next_attempt_at: None,
                updated_at: self.now,
            });
            return Ok(());
        }
        {
            let credential_id: Option<CredentialId> = existing
                .filter(|s| s.status != SlotStatus::Probing)
                .and_then(|s| s.credential_id);
            self.put_slot(Slot {
                door_id: ld.door,
                slot: n,
                credential_id,
                desired: Desired::Empty,
                status: SlotStatus::Removing,
                reason: Some("a code latchkey did not set".into()),
                attempts: 0,
                next_attempt_at: Some(self.now),
                updated_at: self.now,
            });
        }
        Ok(())
    }
}
