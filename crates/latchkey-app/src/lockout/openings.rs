//! Getting the person in once the case is proven: a spare-key holder releases a one-time PIN
//! or opens the door remotely, once each per case; staff open the door and the policy's fee is
//! charged. Nothing here works on a case that is not proven, and every opening is told to the
//! household at once.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use latchkey_core::{DoorId, LockoutCaseId, PersonId};
use latchkey_store::audit::NewEvent;
use latchkey_store::lockout::{self as repo, LockoutCase, Step};
use latchkey_store::records::Door;
use latchkey_store::recovery;
use latchkey_store::resolution::{self as res, Charge, Opening};
use latchkey_store::{StoreError, property};
use serde::Serialize;
use serde_json::json;

use super::fees::{ChargeFor, cents_words, equipment_fault, staff_fee};
use super::ways::inside;
use crate::authz::{CaseOpener, Principal, SpareKeyHolder};
use crate::devices::{RemoteAction, RemoteOutcome, ToLock};
use crate::directory::{load_property, time_zone};
use crate::mint::{NewPin, one_time};
use crate::{App, AppError, Result};

/// A one-time PIN, shown once to whoever released it.
#[derive(Clone, Debug, Serialize)]
pub struct ReleasedPin {
    pub pin: String,
    pub doors: Vec<DoorId>,
    pub valid_until: Timestamp,
}

/// A staff opening: the command and the ledger line.
#[derive(Clone, Debug, Serialize)]
pub struct StaffOpening {
    pub command: RemoteOutcome,
    /// `None` when this case was already charged.
    pub charge: Option<Charge>,
}

pub(super) use crate::authz::NOT_PROVEN;

/// The doors of the case's unit that have a lock.
pub(crate) async fn unit_lock_doors(
    conn: &mut latchkey_store::Conn,
    case: &LockoutCase,
) -> Result<Vec<Door>> {
    let (Some(p), Some(u)) = (case.property_id, case.unit_id) else {
        return Ok(Vec::new());
    };
    Ok(property::list_doors(conn, p)
        .await?
        .into_iter()
        .filter(|d| d.unit_id == Some(u) && d.lock_name.is_some())
        .collect())
}

fn conflict_once(e: StoreError, what: &str) -> AppError {
    match e {
        StoreError::Conflict(_) => {
            AppError::Conflict(format!("this spare key already {what} in this case"))
        }
        other => other.into(),
    }
}

impl App {
    /// Loads case `id` and the spare keys to its unit, and checks that the caller holds one
    /// of them and the case is proven ([`Principal::spare_key_holder`]).
    ///
    /// # Errors
    /// `NotFound` unless the caller holds an active spare key to the case's unit; `Forbidden`
    /// before the case is proven.
    pub async fn may_use_spare_key<'a>(
        &self,
        who: &'a Principal,
        id: LockoutCaseId,
    ) -> Result<SpareKeyHolder<'a>> {
        let mut conn = self.store().read().await?;
        let case = repo::get_case(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("lockout case"))?;
        let keys = match (case.property_id, case.unit_id) {
            (Some(p), Some(u)) => recovery::list_spare_keys(&mut conn, p, Some(u)).await?,
            _ => Vec::new(),
        };
        who.spare_key_holder(case, keys)
    }

    /// Loads case `id` and checks that the caller is staff of its property and the case is
    /// proven ([`Principal::case_opener`]).
    ///
    /// # Errors
    /// `NotFound`/`Forbidden` for non-staff; `Forbidden` before the case is proven.
    pub async fn may_staff_open<'a>(
        &self,
        who: &'a Principal,
        id: LockoutCaseId,
    ) -> Result<CaseOpener<'a>> {
        let mut conn = self.store().read().await?;
        let case = repo::get_case(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("lockout case"))?;
        who.case_opener(case)
    }

    /// A spare-key holder releases a one-time PIN for the unit's door: valid for the policy's
    /// minutes, one use, put on the lock by the reconciler. Once per spare key and case.
    ///
    /// # Errors
    /// `NotFound` unless the caller holds an active spare key to the case's unit; `Forbidden`
    /// before the case is proven; `Conflict` for a second release; `Invalid` when the unit's
    /// door has no lock.
    pub async fn release_spare_pin(&self, holder: SpareKeyHolder<'_>) -> Result<ReleasedPin> {
        let who = holder.principal();
        let (case, key) = (holder.case().clone(), holder.key().clone());
        let id = case.id;
        let now = self.now();
        let mut tx = self.store().write().await?;
        let prop = load_property(tx.conn(), key.property_id).await?;
        let tz = time_zone(&prop.timezone)?;
        let doors: Vec<DoorId> = unit_lock_doors(tx.conn(), &case)
            .await?
            .iter()
            .map(|d| d.id)
            .collect();
        if doors.is_empty() {
            return Err(AppError::invalid(
                "case",
                "the unit's door has no paired lock to take a code",
            ));
        }
        let until = now
            .checked_add(SignedDuration::from_mins(i64::from(
                prop.policy.one_time_pin_minutes,
            )))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let person = case
            .person_id
            .ok_or_else(|| AppError::not_found("lockout case"))?;
        let (credential, pin) = self
            .mint_pin(
                tx.conn(),
                NewPin {
                    property: key.property_id,
                    person,
                    unit: Some(key.unit_id),
                    label: format!("one-time PIN from a spare key (case {id})"),
                    doors: doors.clone(),
                    schedule: one_time(&tz, now, until),
                    max_uses: Some(1),
                    digits: 8,
                    non_access: false,
                },
            )
            .await?;
        res::add_opening(
            tx.conn(),
            id,
            &Opening {
                kind: "spare_pin".into(),
                by_person: Some(who.id()),
                spare_key_id: Some(key.id),
                door_id: doors.first().copied(),
                credential_id: Some(credential.id),
                command_id: None,
                at: now,
            },
        )
        .await
        .map_err(|e| conflict_once(e, "released a PIN"))?;
        let detail = json!({
            "kind": "pin", "spare_key_id": key.id, "holder": who.id(),
            "holder_name": who.person().name, "doors": doors,
            "credential_id": credential.id, "valid_until": until,
        });
        let ev = self
            .announce(
                &mut tx,
                &case,
                Some(who.id()),
                "spare_key_released",
                detail,
                now,
            )
            .await?;
        self.commit_at(tx, vec![ev], now).await?;
        self.devices().credential_changed(credential.id, &doors);
        Ok(ReleasedPin {
            pin: pin.expose().to_owned(),
            doors,
            valid_until: until,
        })
    }

    /// A spare-key holder opens the unit's door remotely, once per spare key and case.
    ///
    /// # Errors
    /// As [`App::release_spare_pin`], plus `Invalid` for a door that is not the unit's and
    /// `Unavailable` when no bridge is connected.
    pub async fn spare_key_unlock(
        &self,
        holder: SpareKeyHolder<'_>,
        door: DoorId,
        wait: Duration,
    ) -> Result<RemoteOutcome> {
        let who = holder.principal();
        let (case, key) = (holder.case().clone(), holder.key().clone());
        let id = case.id;
        self.require_bridge()?;
        let now = self.now();
        let mut tx = self.store().write().await?;
        let target = unit_lock_doors(tx.conn(), &case)
            .await?
            .into_iter()
            .find(|d| d.id == door)
            .ok_or_else(|| {
                AppError::invalid("door_id", "is not a door of the case's unit with a lock")
            })?;
        res::add_opening(
            tx.conn(),
            id,
            &Opening {
                kind: "spare_unlock".into(),
                by_person: Some(who.id()),
                spare_key_id: Some(key.id),
                door_id: Some(door),
                credential_id: None,
                command_id: None,
                at: now,
            },
        )
        .await
        .map_err(|e| conflict_once(e, "opened the door"))?;
        let detail = json!({
            "kind": "unlock", "spare_key_id": key.id, "holder": who.id(),
            "holder_name": who.person().name, "door": door,
        });
        let ev = self
            .announce(
                &mut tx,
                &case,
                Some(who.id()),
                "spare_key_released",
                detail,
                now,
            )
            .await?;
        self.commit_at(tx, vec![ev], now).await?;
        self.open_for_case(&case, &target, who.id(), "lock.spare_key_command", wait)
            .await
    }

    /// Staff open a door for a proven case; the first opening of a case charges the policy's
    /// fee (office hours or after hours, free lockouts first, waived when the lock was at
    /// fault). The residents are told, with the fee.
    ///
    /// # Errors
    /// `NotFound`/`Forbidden` for non-staff; `Forbidden` before the case is proven; `Invalid`
    /// for a door of another property or without a lock.
    pub async fn staff_open(
        &self,
        opener: CaseOpener<'_>,
        door: DoorId,
        wait: Duration,
    ) -> Result<StaffOpening> {
        self.open_by_staff(opener, door, None, wait).await
    }

    /// As [`App::staff_open`], once the caller was shown the fee ([`App::staff_opening_quote`])
    /// and confirmed it: `confirmed_cents` is the amount due they saw. When the fee is no longer
    /// that (the office closed meanwhile, another opening used the free lockout), nothing is
    /// sent, recorded or charged.
    ///
    /// # Errors
    /// As [`App::staff_open`], and `Conflict` when the fee due now differs from the one
    /// confirmed.
    pub async fn staff_open_at_fee(
        &self,
        opener: CaseOpener<'_>,
        door: DoorId,
        confirmed_cents: i64,
        wait: Duration,
    ) -> Result<StaffOpening> {
        self.open_by_staff(opener, door, Some(confirmed_cents), wait)
            .await
    }

    async fn open_by_staff(
        &self,
        opener: CaseOpener<'_>,
        door: DoorId,
        confirmed_cents: Option<i64>,
        wait: Duration,
    ) -> Result<StaffOpening> {
        let who = opener.principal();
        let case = opener.case().clone();
        let id = case.id;
        let property = opener.property();
        let now = self.now();
        let mut tx = self.store().write().await?;
        let target = property::get_door(tx.conn(), door)
            .await?
            .filter(|d| d.property_id == property && d.lock_name.is_some())
            .ok_or_else(|| {
                AppError::invalid("door_id", "is not a door of this property with a lock")
            })?;
        let prop = load_property(tx.conn(), property).await?;
        let tz = time_zone(&prop.timezone)?;
        let office = inside(&prop.office_hours, &tz, now);
        let charged_before = res::charges_of_case(tx.conn(), id)
            .await?
            .iter()
            .any(|c| c.kind == "staff_opening");
        // Checked under the write lock, so what is charged below is what was confirmed.
        if let Some(confirmed) = confirmed_cents {
            let due = if charged_before {
                0
            } else {
                let fault = !equipment_fault(tx.conn(), property, &[door], case.person_id, now)
                    .await?
                    .is_empty();
                staff_fee(tx.conn(), &case, &prop.policy, office, fault, now)
                    .await?
                    .due_cents()
            };
            if due != confirmed {
                return Err(AppError::Conflict(format!(
                    "the fee changed since it was shown: it is now {} (was {}); nothing was charged or opened, look at it again",
                    cents_words(due),
                    cents_words(confirmed)
                )));
            }
        }
        // Nothing is written before this: an opening that cannot be sent leaves no trace.
        self.require_bridge()?;
        let charge = if charged_before {
            None
        } else {
            Some(
                self.charge(
                    tx.conn(),
                    &case,
                    ChargeFor::StaffOpening { office },
                    &[door],
                    who.id(),
                    now,
                )
                .await?,
            )
        };
        res::add_opening(
            tx.conn(),
            id,
            &Opening {
                kind: "staff_opening".into(),
                by_person: Some(who.id()),
                spare_key_id: None,
                door_id: Some(door),
                credential_id: None,
                command_id: None,
                at: now,
            },
        )
        .await?;
        let detail = json!({
            "by": who.id(), "by_name": who.person().name, "door": door, "door_name": target.name,
            "office_hours": office,
            "fee_cents": charge.as_ref().map(|c| c.amount_cents),
            "waived": charge.as_ref().map(|c| c.waived),
            "reason": charge.as_ref().map(|c| c.reason.clone()),
        });
        let ev = self
            .announce(&mut tx, &case, Some(who.id()), "staff_opened", detail, now)
            .await?;
        self.commit_at(tx, vec![ev], now).await?;
        let command = self
            .open_for_case(&case, &target, who.id(), "lock.case_command", wait)
            .await?;
        Ok(StaffOpening { command, charge })
    }

    /// A one-time code released in a case was used at its door (called by ingestion after its
    /// commit): the household is told, as of every release, and the case is resolved.
    pub(crate) async fn case_code_used(
        &self,
        credential: latchkey_core::CredentialId,
        door: DoorId,
    ) {
        if let Err(e) = self.record_code_use(credential, door).await {
            tracing::error!(credential = credential.0, error = %e, "could not tell the household of a code's use");
        }
    }

    async fn record_code_use(
        &self,
        credential: latchkey_core::CredentialId,
        door: DoorId,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.store().write().await?;
        let Some((case_id, kind)) = res::opening_of_code(tx.conn(), credential).await? else {
            return Ok(());
        };
        let Some(case) = repo::get_case(tx.conn(), case_id).await? else {
            return Ok(());
        };
        let ev = self
            .announce(
                &mut tx,
                &case,
                None,
                "code_used",
                json!({ "released_as": kind, "credential_id": credential, "door": door }),
                now,
            )
            .await?;
        self.commit_at(tx, vec![ev], now).await?;
        // The code opened the door for the person locked out: they are in.
        match case.person_id {
            Some(person) => {
                self.resolve_case(
                    &case,
                    person,
                    json!({ "door": door, "by_code": credential }),
                )
                .await
            }
            None => Ok(()),
        }
    }

    /// Nothing is recorded (or charged) for an opening that cannot even be sent.
    fn require_bridge(&self) -> Result<()> {
        if !self.port().drives_devices() {
            return Err(AppError::Unavailable(
                "no lock bridge is running, so the door cannot be opened remotely".into(),
            ));
        }
        Ok(())
    }

    /// Sends the unlock; a confirmed opening resolves the case.
    async fn open_for_case(
        &self,
        case: &LockoutCase,
        door: &Door,
        by: PersonId,
        kind: &'static str,
        wait: Duration,
    ) -> Result<RemoteOutcome> {
        let lock = door
            .lock_name
            .clone()
            .ok_or_else(|| AppError::invalid("door", "this door has no paired lock"))?;
        let outcome = self
            .send_to_lock(
                ToLock {
                    door: door.id,
                    property: door.property_id,
                    lock: &lock,
                    by: Some(by),
                    kind,
                    data: json!({ "action": "unlock", "lockout_case": case.id }),
                },
                RemoteAction::Unlock,
                wait,
            )
            .await?;
        if outcome.status == "confirmed" {
            self.resolve_case(case, by, json!({ "door": door.id }))
                .await?;
        }
        Ok(outcome)
    }

    /// Marks a case resolved (once): the person is in.
    pub(crate) async fn resolve_case(
        &self,
        case: &LockoutCase,
        by: PersonId,
        detail: serde_json::Value,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.store().write().await?;
        let current = repo::get_case(tx.conn(), case.id).await?;
        if current.is_none_or(|c| matches!(c.state.as_str(), "resolved" | "cancelled")) {
            return Ok(());
        }
        repo::set_case_state(tx.conn(), case.id, "resolved", now).await?;
        let ev = self
            .announce(&mut tx, case, Some(by), "resolved", detail, now)
            .await?;
        self.commit_at(tx, vec![ev], now).await
    }

    /// A step of the case told to everyone who lives in the unit, in the case's transaction:
    /// the timeline step `what`, a `lockout.{what}` notification for each, and the audit event
    /// of the same kind (returned, for the commit).
    pub(crate) async fn announce(
        &self,
        tx: &mut latchkey_store::WriteTx,
        case: &LockoutCase,
        by: Option<PersonId>,
        what: &str,
        detail: serde_json::Value,
        now: Timestamp,
    ) -> Result<NewEvent> {
        self.case_step(tx, case, by, what, detail.clone(), now)
            .await?;
        let kind = format!("lockout.{what}");
        self.tell_household(tx, case, &kind, detail.clone(), now)
            .await?;
        let ev = NewEvent::new(kind, format!("lockout:{}", case.id))
            .actor(by)
            .data(detail);
        Ok(match case.property_id {
            Some(p) => ev.property(p),
            None => ev,
        })
    }

    /// One timeline step in the case's transaction.
    pub(crate) async fn case_step(
        &self,
        tx: &mut latchkey_store::WriteTx,
        case: &LockoutCase,
        by: Option<PersonId>,
        kind: &str,
        detail: serde_json::Value,
        now: Timestamp,
    ) -> Result<()> {
        Ok(repo::add_step(
            tx.conn(),
            case.id,
            &Step {
                at: now,
                actor_id: by,
                kind: kind.to_owned(),
                detail,
            },
        )
        .await?)
    }
}
