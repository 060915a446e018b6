//! Openings that should not have happened: the lock opened for a code latchkey had revoked,
//! frozen, let expire or switched off for its schedule (a lock that missed a command), or for
//! a slot latchkey does not manage. Such an opening is a `lock.alarm` (`unexpected_opening`,
//! severity `critical`) instead of `access.granted`, and the household is told in the same
//! transaction.

use jiff::SignedDuration;
use latchkey_core::decide::{Decision, DenyReason};
use latchkey_core::model::CredentialKind;
use latchkey_store::devices::{Desired, SlotStatus};
use latchkey_store::records::Credential;
use latchkey_store::{Conn, people, property};
use serde_json::json;

use super::{Batch, alarm};
use crate::Result;
use crate::devices::LockDoor;
use crate::devices::desired::keypad_decision;

/// An edge passed this recently may not have reached the lock yet (its command leaves within a
/// second of the edge): an opening so close to it is the command in flight, not an alarm.
const IN_FLIGHT: SignedDuration = SignedDuration::from_secs(2);

impl Batch<'_> {
    /// Why an opening by the code in `slot` (held by `cred`) should not have happened, or
    /// `None` when it was expected (or the lock named no slot to hold it against).
    pub(super) async fn unexpected_opening(
        &mut self,
        conn: &mut Conn,
        ld: LockDoor,
        slot: Option<i64>,
        cred: Option<&Credential>,
    ) -> Result<Option<&'static str>> {
        if slot.is_none() {
            return Ok(None);
        }
        let Some(c) = cred else {
            return Ok(Some("unmanaged_slot"));
        };
        if c.kind != CredentialKind::Pin {
            return Ok(None);
        }
        let Some(door) = property::get_door(conn, ld.door).await? else {
            return Ok(None);
        };
        let prop = crate::directory::load_property(conn, ld.property).await?;
        let tz = crate::directory::time_zone(&prop.timezone)?;
        let ms = people::memberships_of(conn, c.person_id).await?;
        let reason = match keypad_decision(c, &ms, &door, &tz, self.now) {
            Decision::Granted { .. } => return Ok(None),
            Decision::Denied { reason } => reason,
        };
        let alarming = matches!(
            reason,
            DenyReason::Revoked
                | DenyReason::Frozen
                | DenyReason::Expired
                | DenyReason::NotYetValid
                | DenyReason::OutsideSchedule
                | DenyReason::UsesExhausted
                | DenyReason::MembershipEnded
                | DenyReason::MembershipNotStarted
                | DenyReason::NotForThisDoor
                | DenyReason::StaffOnUnitDoor
        );
        if !alarming {
            return Ok(None);
        }
        let just_before = self.now.checked_sub(IN_FLIGHT).unwrap_or(self.now);
        let scheduled = matches!(
            reason,
            DenyReason::Expired | DenyReason::OutsideSchedule | DenyReason::MembershipEnded
        );
        if scheduled && keypad_decision(c, &ms, &door, &tz, just_before).is_granted() {
            return Ok(None);
        }
        Ok(Some(reason.as_str()))
    }

    /// Records the alarm and tells the household of the door (or of the code's holder).
    pub(super) async fn raise_unexpected_opening(
        &mut self,
        conn: &mut Conn,
        ld: LockDoor,
        why: &str,
        slot: Option<i64>,
        cred: Option<&Credential>,
        method: &str,
    ) -> Result<()> {
        let data = json!({
            "why": why, "slot": slot, "method": method,
            "credential_id": cred.map(|c| c.id), "person_id": cred.map(|c| c.person_id),
            "text": "The lock opened for a code that should not open it. Check the door; \
                     the code is being removed from the lock again.",
        });
        self.events.push(alarm(
            "unexpected_opening",
            "critical",
            ld.door,
            ld.property,
            data.clone(),
        ));
        let door = property::get_door(conn, ld.door).await?;
        let unit = door
            .and_then(|d| d.unit_id)
            .or_else(|| cred.and_then(|c| c.unit_id));
        if let Some(unit) = unit {
            let mut body = data;
            body["door"] = json!(ld.door);
            let messages = crate::entry::tell_household(
                conn,
                ld.property,
                unit,
                "lock.unexpected_opening",
                &body,
                self.now,
            )
            .await?;
            latchkey_store::lockout::queue(conn, &messages).await?;
        }
        // What the slot should hold is sent again at once: a lock that missed a removal gets
        // it now, not at the next sweep. A slot latchkey does not manage is a stranger's code.
        if let Some(n) = slot {
            match self.slot(conn, ld.door, n).await? {
                // A code latchkey does not know, already flagged: it stays until an admin
                // adopts or removes it (it may be someone's from a history the database lost).
                Some(s) if s.status == SlotStatus::Unmanaged => {}
                Some(mut s) => {
                    s.status = if s.desired == Desired::Empty {
                        SlotStatus::Removing
                    } else {
                        SlotStatus::Pending
                    };
                    s.attempts = 0;
                    s.next_attempt_at = Some(self.now);
                    s.reason = Some("the lock opened for this code; sent again".into());
                    s.updated_at = self.now;
                    self.put_slot(s);
                }
                None => self.unmanaged(conn, ld, n).await?,
            }
        }
        self.after.returned.push(ld.door);
        Ok(())
    }
}
