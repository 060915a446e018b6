//! Where each credential stands on each lock, a door's slot table, and the move-out receipt:
//! the removals the locks themselves confirmed.

use latchkey_core::model::CredentialKind;
use latchkey_core::{CredentialId, DoorId, MembershipId};
use latchkey_store::devices::{self as repo, Desired, Slot, SlotStatus};
use latchkey_store::{credentials, property};
use serde::Serialize;

use crate::authz::Principal;
use crate::{App, AppError, Result};

/// A credential on one door's lock.
#[derive(Clone, Debug, Serialize)]
pub struct LockStatus {
    pub door_id: DoorId,
    /// The lock's friendly name, when the door has one.
    pub lock: Option<String>,
    /// pending | set | assumed | failed | removing | removed | no_lock | not_on_locks
    pub status: String,
    pub slot: Option<i64>,
    pub reason: Option<String>,
    pub updated_at: Option<jiff::Timestamp>,
}

/// One confirmed (or not yet confirmed) removal of a move-out.
#[derive(Clone, Debug, Serialize)]
pub struct Removal {
    pub credential_id: CredentialId,
    pub door_id: DoorId,
    pub slot: Option<i64>,
    /// removed (confirmed by the lock) | removing | failed | pending | not_on_locks
    pub status: String,
    pub confirmed_at: Option<jiff::Timestamp>,
}

fn status_of(
    slot: Option<&Slot>,
    has_lock: bool,
    kind: CredentialKind,
    revoked: bool,
) -> (String, Option<String>) {
    if kind != CredentialKind::Pin {
        return ("not_on_locks".into(), None);
    }
    if !has_lock {
        return ("no_lock".into(), None);
    }
    match slot {
        Some(s) => (s.status.as_str().into(), s.reason.clone()),
        None if revoked => (
            "removed".into(),
            Some("revoked before it was written to this lock".into()),
        ),
        None => (
            "pending".into(),
            Some("waiting for a free slot or the reconciler".into()),
        ),
    }
}

impl App {
    /// A credential's status on every lock of its doors.
    ///
    /// # Errors
    /// `NotFound` when the caller may not see the credential.
    pub async fn credential_locks(
        &self,
        who: &Principal,
        id: CredentialId,
    ) -> Result<Vec<LockStatus>> {
        let c = self.get_credential(who, id).await?;
        let mut conn = self.store().read().await?;
        let slots = repo::slots_of_credential(&mut conn, id).await?;
        let mut doors = c.doors.clone();
        for s in &slots {
            if !doors.contains(&s.door_id) {
                doors.push(s.door_id);
            }
        }
        let mut out = Vec::new();
        for d in doors {
            let door = property::get_door(&mut conn, d).await?;
            let lock = door.and_then(|x| x.lock_name);
            let slot = slots.iter().find(|s| s.door_id == d);
            let revoked = c.status == latchkey_core::model::CredentialStatus::Revoked;
            let (status, reason) = status_of(slot, lock.is_some(), c.kind, revoked);
            out.push(LockStatus {
                door_id: d,
                lock,
                status,
                slot: slot.map(|s| s.slot),
                reason,
                updated_at: slot.map(|s| s.updated_at),
            });
        }
        Ok(out)
    }

    /// The managed slots of a door's lock (staff). PINs are never part of it.
    ///
    /// # Errors
    /// `NotFound`/`Forbidden` as for the door.
    pub async fn door_slots(&self, who: &Principal, door: DoorId) -> Result<Vec<Slot>> {
        let d = self.get_door(who, door).await?;
        who.staff(d.property_id)?;
        let mut conn = self.store().read().await?;
        Ok(repo::slots_of_door(&mut conn, door).await?)
    }

    /// What the locks confirmed after a move-out: for every credential the membership's end
    /// revoked, on every door it was on.
    ///
    /// # Errors
    /// `Forbidden` for anyone but staff; `Conflict` when the membership has not ended.
    pub async fn move_out_receipt(
        &self,
        who: &Principal,
        id: MembershipId,
    ) -> Result<Vec<Removal>> {
        let m = self.get_membership(who, id).await?;
        who.staff(m.property_id)?;
        let Some(until) = m.valid_until else {
            return Err(AppError::Conflict(
                "the membership has not ended; end it first".to_owned(),
            ));
        };
        let mut conn = self.store().read().await?;
        let mut out = Vec::new();
        for c in credentials::list_credentials(&mut conn, m.property_id, Some(m.person_id)).await? {
            let in_scope = m.unit_id.is_none() || c.unit_id == m.unit_id;
            if !in_scope
                || c.revoked_at.is_none_or(|r| {
                    r < until
                        .checked_sub(jiff::SignedDuration::from_secs(1))
                        .unwrap_or(until)
                })
            {
                continue;
            }
            let slots = repo::slots_of_credential(&mut conn, c.id).await?;
            for d in &c.doors {
                let slot = slots.iter().find(|s| s.door_id == *d);
                let status = match (c.kind, slot) {
                    (CredentialKind::Pin, Some(s)) => s.status.as_str().to_owned(),
                    (CredentialKind::Pin, None) => "not_on_locks".to_owned(),
                    _ => "not_on_locks".to_owned(),
                };
                out.push(Removal {
                    credential_id: c.id,
                    door_id: *d,
                    slot: slot.map(|s| s.slot),
                    confirmed_at: slot
                        .filter(|s| s.status == SlotStatus::Removed && s.desired == Desired::Empty)
                        .map(|s| s.updated_at),
                    status,
                });
            }
        }
        Ok(out)
    }
}
