//! Slot reports: confirming PINs latchkey wrote and handling codes it did not set.

use latchkey_core::CredentialId;
use latchkey_store::Conn;
use latchkey_store::audit::NewEvent;
use latchkey_store::devices::{Desired, Slot, SlotStatus};
use latchkey_z2m::{ActionSource, SlotStatus as Reported};
use serde_json::json;

use super::{Batch, alarm};
use crate::Result;
use crate::devices::LockDoor;

impl Batch<'_> {
    /// A PIN was written to slot `n`: ours (confirming a write) or someone's at the keypad.
    pub(super) async fn programmed(
        &mut self,
        conn: &mut Conn,
        ld: LockDoor,
        n: i64,
        source: Option<ActionSource>,
    ) -> Result<()> {
        let slot = self.slot(conn, ld.door, n).await?;
        let ours = source != Some(ActionSource::Keypad)
            && slot
                .as_ref()
                .is_some_and(|s| s.credential_id.is_some() && s.desired != Desired::Empty);
        if ours {
            if let Some(s) = slot {
                self.confirm(ld, s, SlotStatus::Set);
            }
            return Ok(());
        }
        self.unmanaged(conn, ld, n).await
    }

    /// A slot reported by a read (or a deletion event).
    pub(super) async fn slot_read(
        &mut self,
        conn: &mut Conn,
        ld: LockDoor,
        n: i64,
        status: Reported,
    ) -> Result<()> {
        let slot = self.slot(conn, ld.door, n).await?;
        match (slot, status) {
            (Some(s), Reported::Enabled)
                if matches!(s.desired, Desired::Enabled | Desired::NonAccess) =>
            {
                self.confirm(ld, s, SlotStatus::Set);
                Ok(())
            }
            (Some(s), Reported::Disabled) if s.desired == Desired::Disabled => {
                self.confirm(ld, s, SlotStatus::Set);
                Ok(())
            }
            (Some(s), Reported::Available) if s.desired == Desired::Empty => {
                self.confirm(ld, s, SlotStatus::Removed);
                Ok(())
            }
            (Some(mut s), Reported::Available) if s.status == SlotStatus::Set => {
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
                if s.credential_id.is_none() && s.status == SlotStatus::Removed =>
            {
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
        self.events.push(
            NewEvent::new(kind, format!("door:{}", ld.door))
                .property(ld.property)
                .data(json!({ "slot": s.slot, "credential_id": s.credential_id, "desired": s.desired })),
        );
    }

    /// A code latchkey did not set: flag it at once and, by policy, clear it.
    pub(super) async fn unmanaged(&mut self, conn: &mut Conn, ld: LockDoor, n: i64) -> Result<()> {
        let policy = self.policy(conn, ld.property).await?;
        self.events.push(alarm(
            "unmanaged_code",
            "critical",
            ld.door,
            ld.property,
            json!({ "slot": n, "clearing": policy.clear_unmanaged_codes }),
        ));
        if policy.clear_unmanaged_codes {
            let existing = self.slot(conn, ld.door, n).await?;
            let credential_id: Option<CredentialId> = existing.and_then(|s| s.credential_id);
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
