//! After a restore: knowing that the database went back in time, the restored state, and the
//! codes found on locks that the database does not know (docs/ARCHITECTURE.md, decisions 31–33;
//! docs/OPERATIONS.md, "After a restore").
//!
//! The rules, in order:
//! 1. `serve` keeps a signed marker of the audit head outside the database. At start, a log
//!    that does not hold the marked `(seq, hash)` (older, or another history) puts latchkey in
//!    the **restored** state: logged at error level and recorded as `restore.detected`.
//! 2. In that state the reconciler clears no code and writes only into slots the lock reported
//!    empty since, or that an admin decided (`reconcile/probe.rs`); the unmanaged-code policy
//!    never applies.
//! 3. Every slot a lock reports holding a code latchkey does not know is `unmanaged`: listed
//!    here for an admin to adopt (a credential of a person, with the code the holder uses) or
//!    remove. Ending the restored state is an admin's audited decision.

use latchkey_core::chain::anchor::Anchor;
use latchkey_core::model::CredentialKind;
use latchkey_core::pin::{Pin, PinContext};
use latchkey_core::schedule::Schedule;
use latchkey_core::{CredentialId, DoorId, PersonId};
use latchkey_store::audit::NewEvent;
use latchkey_store::credentials::{self as creds, NewCredential};
use latchkey_store::devices::{self as repo, Desired, Slot, SlotStatus};
use latchkey_store::restore::{self as store, Mark};
use latchkey_store::{people, property};
use serde::Serialize;
use serde_json::json;

pub use latchkey_store::restore::Restored;

use crate::authz::{Admin, Principal};
use crate::{App, AppError, Result};

/// What the start-up check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryCheck {
    /// No marker: a fresh installation (or one that never recorded its history).
    NoMarker,
    /// The log holds the marked head: it went on from there.
    Continues,
    /// The log does not hold the marked head: the database is older than its recorded history
    /// (or another one). `newly` is false when latchkey was already in the restored state.
    Restored {
        head_seq: i64,
        marker_seq: Option<i64>,
        newly: bool,
    },
}

/// A code a lock holds in a slot latchkey does not know.
#[derive(Clone, Debug, Serialize)]
pub struct UnknownCode {
    pub door_id: DoorId,
    pub door: String,
    /// The lock's friendly name.
    pub lock: Option<String>,
    pub slot: i64,
    /// When latchkey found it.
    pub found_at: jiff::Timestamp,
    /// Whether latchkey had written a PIN of its own to this slot before: the code may be one
    /// latchkey wrote in a history the database lost.
    pub written_before: bool,
}

/// The restored state and the codes waiting for a decision.
#[derive(Clone, Debug, Serialize)]
pub struct RestoreReview {
    pub restored: Option<Restored>,
    pub unknown_codes: Vec<UnknownCode>,
}

/// A code found on a lock, to attach to a person.
#[derive(Clone, Debug)]
pub struct Adoption {
    pub door: DoorId,
    pub slot: i64,
    pub person: PersonId,
    /// The code its holder types (asked of them: a lock does not tell).
    pub pin: String,
    pub label: Option<String>,
}

/// Refuses anyone but an admin, saying what for.
fn admin_only(who: &Principal) -> Result<Admin<'_>> {
    who.admin().map_err(|_| {
        AppError::forbidden("only admins review codes found on locks and end the restored state")
    })
}

impl App {
    /// Compares the marker of the history kept outside the database (`line`, as written by
    /// [`App::history_marker`]) with the log; when the log does not hold it, enters the
    /// restored state (loudly). Called by `serve` before anything else writes.
    ///
    /// # Errors
    /// `Store` when the log or the state cannot be read or written.
    pub async fn check_history(&self, line: Option<&str>) -> Result<HistoryCheck> {
        let Some(line) = line.map(str::trim).filter(|l| !l.is_empty()) else {
            return Ok(HistoryCheck::NoMarker);
        };
        let head_seq = {
            let mut conn = self.store().read().await?;
            latchkey_store::audit::read_head(&mut conn).await?.0
        };
        let marker_seq = Anchor::parse(line).ok().map(|a| a.seq);
        if self.check_anchors(line, head_seq).await?.is_ok() && marker_seq.is_some() {
            return Ok(HistoryCheck::Continues);
        }
        let now = self.now();
        let mut tx = self.store().write().await?;
        let newly = store::enter_restored(
            tx.conn(),
            &Restored {
                since: now,
                head_seq,
                marker_seq: marker_seq.unwrap_or(-1),
            },
        )
        .await?;
        let events = if newly {
            vec![NewEvent::new("restore.detected", "latchkey").data(json!({
                "severity": "critical",
                "head_seq": head_seq,
                "marker_seq": marker_seq,
                "text": "The database is older than the history latchkey recorded outside it \
                         (a restored backup?). Until an admin ends the restored state, latchkey \
                         clears no code and overwrites no slot, and lists the codes it finds on \
                         the locks that it does not know.",
            }))]
        } else {
            Vec::new()
        };
        self.commit_at(tx, events, now).await?;
        tracing::error!(
            head_seq,
            marker_seq,
            "the database is older than the history latchkey recorded (a restored backup?): \
             latchkey is in the restored state; it clears no code and overwrites no slot until \
             an admin ends it (`latchkey restore status`, docs/OPERATIONS.md \"After a restore\")"
        );
        Ok(HistoryCheck::Restored {
            head_seq,
            marker_seq,
            newly,
        })
    }

    /// The line to keep outside the database as the marker of how far the history went: the
    /// audit head, signed.
    ///
    /// # Errors
    /// `Store` when the head cannot be read.
    pub async fn history_marker(&self) -> Result<String> {
        Ok(self.audit_anchor().await?.to_line())
    }

    /// Whether latchkey is in the restored state.
    ///
    /// # Errors
    /// `Store` when the state cannot be read.
    pub async fn restored_state(&self) -> Result<Option<Restored>> {
        let mut conn = self.store().read().await?;
        Ok(store::restored(&mut conn).await?)
    }

    /// The restored state and every code found on a lock that latchkey does not know.
    ///
    /// # Errors
    /// `Forbidden` for anyone but an admin; `Store` when they cannot be read.
    pub async fn restore_review(&self, who: &Principal) -> Result<RestoreReview> {
        admin_only(who)?;
        let mut conn = self.store().read().await?;
        let restored = store::restored(&mut conn).await?;
        let mut unknown_codes = Vec::new();
        for s in repo::unmanaged_slots(&mut conn).await? {
            let Some(door) = property::get_door(&mut conn, s.door_id).await? else {
                continue;
            };
            let note = store::note(&mut conn, s.door_id, s.slot).await?;
            unknown_codes.push(UnknownCode {
                door_id: s.door_id,
                door: door.name,
                lock: door.lock_name,
                slot: s.slot,
                found_at: s.updated_at,
                written_before: note.is_some_and(|n| n.written_at.is_some()),
            });
        }
        Ok(RestoreReview {
            restored,
            unknown_codes,
        })
    }

    /// Attaches the code in an unmanaged slot to a person: a PIN credential for that door with
    /// the code its holder types, in that slot, as the lock already holds it (nothing is
    /// written to the lock).
    ///
    /// # Errors
    /// `Forbidden` for anyone but an admin; `NotFound` for a slot holding no unknown code;
    /// `Invalid` (`person`, `pin`) for a person without standing at the door's property or a
    /// code the PIN rules refuse; `Conflict` when the code is another credential's on the door.
    pub async fn adopt_code(&self, admin: Admin<'_>, a: Adoption) -> Result<CredentialId> {
        let now = self.now();
        let mut tx = self.store().write().await?;
        let (slot, door) = unknown_slot(tx.conn(), a.door, a.slot).await?;
        let ms = people::memberships_of(tx.conn(), a.person).await?;
        if people::get_person(tx.conn(), a.person).await?.is_none()
            || !ms
                .iter()
                .any(|m| m.property_id == door.property_id && m.is_active_at(now))
        {
            return Err(AppError::invalid(
                "person",
                "no such person holds a role at this door's property",
            ));
        }
        let unit = match door.unit_id {
            Some(u) => property::get_unit(tx.conn(), u).await?,
            None => None,
        };
        let pin = Pin::parse(
            &a.pin,
            &PinContext {
                unit_label: unit.as_ref().map(|u| u.label.as_str()),
            },
        )
        .map_err(|e| AppError::invalid("pin", format!("{e}; remove the code instead")))?;
        let digest = self.keys().pin_digest(door.property_id, &pin);
        if creds::pin_taken(tx.conn(), &[door.id], &digest).await? {
            return Err(AppError::Conflict(
                "another credential on this door has that code".into(),
            ));
        }
        let credential = creds::create_credential(
            tx.conn(),
            &NewCredential {
                property_id: door.property_id,
                person_id: a.person,
                unit_id: door.unit_id,
                kind: CredentialKind::Pin,
                label: a
                    .label
                    .unwrap_or_else(|| format!("adopted from slot {} of {}", a.slot, door.name)),
                schedule: Schedule::Always,
                max_uses: None,
                duress: false,
                non_access: false,
                pin_chosen: true,
                secret: Some(self.keys().seal_pin(door.property_id, &pin)?),
                pin_digest: Some(digest),
                card_uid: None,
                doors: vec![door.id],
            },
            now,
        )
        .await?;
        repo::save_slots(
            tx.conn(),
            &[Slot {
                credential_id: Some(credential.id),
                desired: Desired::Enabled,
                status: SlotStatus::Set,
                reason: Some("adopted by an admin".into()),
                attempts: 0,
                next_attempt_at: None,
                updated_at: now,
                ..slot
            }],
        )
        .await?;
        store::mark(tx.conn(), Mark::Decided, &[(door.id, a.slot)], now).await?;
        store::mark(tx.conn(), Mark::Written, &[(door.id, a.slot)], now).await?;
        let ev = NewEvent::new("lock.code_adopted", format!("door:{}", door.id))
            .property(door.property_id)
            .actor(Some(admin.principal().id()))
            .data(json!({
                "slot": a.slot, "credential_id": credential.id, "person_id": a.person,
            }));
        self.commit_at(tx, vec![ev], now).await?;
        self.devices().credential_changed(credential.id, &[door.id]);
        Ok(credential.id)
    }

    /// Orders the code in an unmanaged slot cleared from the lock (also in the restored state:
    /// the admin decided).
    ///
    /// # Errors
    /// `Forbidden` for anyone but an admin; `NotFound` for a slot holding no unknown code.
    pub async fn remove_unknown_code(&self, admin: Admin<'_>, door: DoorId, n: i64) -> Result<()> {
        let now = self.now();
        let mut tx = self.store().write().await?;
        let (slot, door) = unknown_slot(tx.conn(), door, n).await?;
        repo::save_slots(
            tx.conn(),
            &[Slot {
                credential_id: None,
                desired: Desired::Empty,
                status: SlotStatus::Removing,
                reason: Some("removal ordered by an admin".into()),
                attempts: 0,
                next_attempt_at: Some(now),
                updated_at: now,
                ..slot
            }],
        )
        .await?;
        store::mark(tx.conn(), Mark::Decided, &[(door.id, n)], now).await?;
        let ev = NewEvent::new("lock.code_removal_ordered", format!("door:{}", door.id))
            .property(door.property_id)
            .actor(Some(admin.principal().id()))
            .data(json!({ "slot": n }));
        self.commit_at(tx, vec![ev], now).await?;
        self.devices().desired_state_changed(door.id);
        Ok(())
    }

    /// Ends the restored state: latchkey writes and clears slots as usual again. Codes still
    /// listed stay unmanaged (never overwritten), and the unmanaged-code policy applies to codes
    /// found from now on.
    ///
    /// # Errors
    /// `Forbidden` for anyone but an admin; `Conflict` when latchkey is not in the restored
    /// state.
    pub async fn end_restored_state(&self, admin: Admin<'_>) -> Result<()> {
        let now = self.now();
        let mut tx = self.store().write().await?;
        let Some(r) = store::restored(tx.conn()).await? else {
            return Err(AppError::Conflict(
                "latchkey is not in the restored state".into(),
            ));
        };
        store::leave_restored(tx.conn()).await?;
        let unknown = repo::unmanaged_slots(tx.conn()).await?.len();
        let doors = property::paired_doors(tx.conn()).await?;
        // What was held goes out now, not when its wait is over.
        for d in &doors {
            repo::expedite_door(tx.conn(), d.id, now).await?;
        }
        let ev = NewEvent::new("restore.ended", "latchkey")
            .actor(Some(admin.principal().id()))
            .data(json!({
                "since": r.since, "head_seq": r.head_seq, "marker_seq": r.marker_seq,
                "unknown_codes_left": unknown,
            }));
        self.commit_at(tx, vec![ev], now).await?;
        tracing::warn!(
            unknown_codes_left = unknown,
            "an admin ended the restored state"
        );
        for d in doors {
            self.devices().desired_state_changed(d.id);
        }
        Ok(())
    }

    /// The capability for the three decisions above, with a message that says what for.
    ///
    /// # Errors
    /// `Forbidden` for anyone but an admin.
    pub fn may_review_restore<'a>(&self, who: &'a Principal) -> Result<Admin<'a>> {
        admin_only(who)
    }
}

/// The unmanaged slot `n` of `door`, and the door.
async fn unknown_slot(
    conn: &mut latchkey_store::Conn,
    door: DoorId,
    n: i64,
) -> Result<(Slot, latchkey_store::records::Door)> {
    let slot = repo::get_slot(conn, door, n)
        .await?
        .filter(|s| s.status == SlotStatus::Unmanaged);
    let door = property::get_door(conn, door).await?;
    match (slot, door) {
        (Some(s), Some(d)) => Ok((s, d)),
        _ => Err(AppError::not_found(
            "unknown code in that slot of that door",
        )),
    }
}
