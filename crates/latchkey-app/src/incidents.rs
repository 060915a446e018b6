//! Incidents on doors: a lock marked for service after it failed, and a door compromised by a
//! forced entry (docs/LOCKOUT.md). A forced entry, reported by the lock or recorded in a
//! lockout case, marks the door compromised, rotates every PIN of that door (each owner gets a
//! new one, the old ones leave the lock through the reconciler), asks the managers to repair
//! it, and advises the unit's residents not to sleep there until it is fixed.

use jiff::Timestamp;
use latchkey_core::model::{CredentialKind, CredentialStatus};
use latchkey_core::schedule::Schedule;
use latchkey_core::{CredentialId, DoorId, LockoutCaseId, PersonId, PropertyId};
use latchkey_store::audit::NewEvent;
use latchkey_store::lockout::{self as cases, Notification};
use latchkey_store::resolution::{self as res, Incident};
use latchkey_store::{credentials, people, property};
use serde::Serialize;
use serde_json::json;

use crate::authz::{CaseParty, Principal, StaffOn};
use crate::mint::NewPin;
use crate::{App, AppError, Result};

/// What a forced entry set in motion.
#[derive(Clone, Debug, Serialize)]
pub struct Compromise {
    pub incident: Incident,
    /// Credentials replaced, as (old, new).
    pub rotated: Vec<(CredentialId, CredentialId)>,
}

const ADVICE: &str = "The door of your unit was forced and is not secure until it is repaired. \
     Do not sleep there until the building manager confirms the repair; your PIN for it has been \
     replaced.";

/// The additional data a new PIN is sealed with in a notification: only its owner's delivery
/// opens it.
pub fn rotated_pin_aad(person: PersonId) -> Vec<u8> {
    format!("latchkey.notify.pin.{}", person.0).into_bytes()
}

fn check_note(note: &str) -> Result<&str> {
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 200 {
        return Err(AppError::invalid(
            "note",
            "say what was done (1 to 200 characters)",
        ));
    }
    Ok(note)
}

impl App {
    /// Opens a `compromised` incident on `door` and does everything that follows from it, in one
    /// transaction. `None` when the door is already marked compromised.
    pub(crate) async fn compromise_door(
        &self,
        door: DoorId,
        case: Option<LockoutCaseId>,
        by: Option<PersonId>,
        how: &str,
    ) -> Result<Option<Compromise>> {
        let now = self.now();
        let mut tx = self.store().write().await?;
        let Some(d) = property::get_door(tx.conn(), door).await? else {
            return Err(AppError::not_found("door"));
        };
        let Some(incident) = res::open_incident(
            tx.conn(),
            &Incident {
                id: 0,
                property_id: d.property_id,
                door_id: door,
                case_id: case,
                kind: "compromised".into(),
                detail: json!({ "how": how }),
                opened_by: by,
                opened_at: now,
                closed_by: None,
                closed_at: None,
            },
        )
        .await?
        else {
            return Ok(None);
        };
        let mut rotated = Vec::new();
        let mut changed: Vec<(CredentialId, Vec<DoorId>)> = Vec::new();
        let mut messages = Vec::new();
        let mut events = vec![
            NewEvent::new("door.compromised", format!("door:{door}"))
                .property(d.property_id)
                .actor(by)
                .data(json!({ "incident": incident.id, "case": case, "how": how })),
        ];
        let all = credentials::list_credentials(tx.conn(), d.property_id, None).await?;
        for c in all.iter().filter(|c| {
            c.kind == CredentialKind::Pin
                && c.status != CredentialStatus::Revoked
                && c.doors.contains(&door)
        }) {
            credentials::set_status(tx.conn(), c.id, CredentialStatus::Revoked, now).await?;
            changed.push((c.id, c.doors.clone()));
            // A one-time code has done its job or will expire: it is withdrawn, not renewed.
            if matches!(c.schedule, Schedule::OneTime { .. }) {
                continue;
            }
            let (fresh, pin) = self
                .mint_pin(
                    tx.conn(),
                    NewPin {
                        property: c.property_id,
                        person: c.person_id,
                        unit: c.unit_id,
                        label: c.label.clone(),
                        doors: c.doors.clone(),
                        schedule: c.schedule.clone(),
                        max_uses: c.max_uses.map(|m| (m - c.uses).max(1)),
                        digits: 6,
                        non_access: false,
                    },
                )
                .await?;
            if c.status == CredentialStatus::Frozen {
                credentials::set_status(tx.conn(), fresh.id, CredentialStatus::Frozen, now).await?;
            }
            let sealed = self
                .keys()
                .seal_bytes(&rotated_pin_aad(c.person_id), pin.expose().as_bytes())?;
            messages.push(Notification {
                property_id: Some(d.property_id),
                person_id: c.person_id,
                kind: "credential.rotated".into(),
                case_id: case,
                body: json!({
                    "old_credential": c.id, "credential": fresh.id, "door": door,
                    "door_name": d.name,
                    "text": "The door was forced, so your PIN for it was replaced. Your old PIN no longer works.",
                    "pin_sealed_hex": hex::encode(sealed),
                }),
                created_at: now,
                sent_at: None,
            });
            events.push(
                NewEvent::new("credential.rotated", format!("credential:{}", c.id))
                    .property(d.property_id)
                    .actor(by)
                    .data(json!({ "new_credential": fresh.id, "door": door, "incident": incident.id })),
            );
            rotated.push((c.id, fresh.id));
            changed.push((fresh.id, fresh.doors.clone()));
        }
        let members = people::list_memberships(tx.conn(), d.property_id).await?;
        let mut staff: Vec<PersonId> = members
            .iter()
            .filter(|m| m.role.is_staff() && m.is_active_at(now))
            .map(|m| m.person_id)
            .collect();
        staff.sort_unstable();
        staff.dedup();
        for p in staff {
            messages.push(Notification {
                property_id: Some(d.property_id),
                person_id: p,
                kind: "door.repair_needed".into(),
                case_id: case,
                body: json!({
                    "incident": incident.id, "door": door, "door_name": d.name, "how": how,
                    "rotated": rotated.len(),
                    "text": "A door was forced: repair or replace the lock, then close the incident.",
                }),
                created_at: now,
                sent_at: None,
            });
        }
        if let Some(u) = d.unit_id {
            for o in cases::occupants_of_unit(tx.conn(), u, now).await? {
                messages.push(Notification {
                    property_id: Some(d.property_id),
                    person_id: o.person_id,
                    kind: "door.compromised".into(),
                    case_id: case,
                    body: json!({ "incident": incident.id, "door": door, "door_name": d.name, "text": ADVICE }),
                    created_at: now,
                    sent_at: None,
                });
            }
        }
        cases::queue(tx.conn(), &messages).await?;
        if let Some(c) = case {
            cases::add_step(
                tx.conn(),
                c,
                &cases::Step {
                    at: now,
                    actor_id: by,
                    kind: "forced_entry".into(),
                    detail: json!({ "door": door, "incident": incident.id, "rotated": rotated.len() }),
                },
            )
            .await?;
        }
        self.commit_at(tx, events, now).await?;
        for (id, doors) in &changed {
            self.devices().credential_changed(*id, doors);
        }
        Ok(Some(Compromise { incident, rotated }))
    }

    /// Checks `how`, loads case `case_id` and checks that the caller sees it
    /// ([`Principal::case_party`]): staff or the people of the unit.
    ///
    /// # Errors
    /// `Invalid` for an empty or long `how`; `NotFound` for anyone who may not see the case.
    pub async fn may_record_forced_entry<'a>(
        &self,
        who: &'a Principal,
        case_id: LockoutCaseId,
        how: &str,
    ) -> Result<CaseParty<'a>> {
        check_how(how)?;
        self.load_case_party(who, case_id).await
    }

    /// A forced entry recorded in the lockout case the capability carries (the physical last
    /// resort was taken).
    ///
    /// # Errors
    /// `Invalid` for a door of another unit or an empty `how`; `Conflict` when the door is
    /// already marked compromised.
    pub async fn record_forced_entry(
        &self,
        party: CaseParty<'_>,
        door: DoorId,
        how: &str,
    ) -> Result<Compromise> {
        let how = check_how(how)?;
        let who = party.principal();
        let case = party.case();
        let case_id = case.id;
        let mut conn = self.store().read().await?;
        let d = property::get_door(&mut conn, door)
            .await?
            .filter(|d| Some(d.property_id) == case.property_id)
            .ok_or_else(|| AppError::invalid("door_id", "is not a door of this property"))?;
        drop(conn);
        if d.unit_id.is_some() && d.unit_id != case.unit_id {
            return Err(AppError::invalid(
                "door_id",
                "is not a door of the case's unit",
            ));
        }
        self.compromise_door(door, Some(case_id), Some(who.id()), how)
            .await?
            .ok_or_else(|| AppError::Conflict("this door is already marked compromised".into()))
    }

    /// A forced entry the lock reported (called by ingestion after its commit).
    pub(crate) async fn lock_reported_forced_entry(&self, door: DoorId) {
        if let Err(e) = self
            .compromise_door(door, None, None, "the lock reported the door forced open")
            .await
        {
            tracing::error!(door = door.0, error = %e, "could not open the forced-entry incident");
        }
    }

    /// The property's incidents, open ones first (staff).
    ///
    /// # Errors
    /// `NotFound`/`Forbidden` for non-staff.
    pub async fn incidents(&self, who: &Principal, property: PropertyId) -> Result<Vec<Incident>> {
        who.staff(property)?;
        let mut conn = self.store().read().await?;
        Ok(res::incidents(&mut conn, property).await?)
    }

    /// Checks `note`, loads incident `id` and checks that the caller is staff of its property
    /// ([`Principal::incident_closer`]).
    ///
    /// # Errors
    /// `Invalid` for an empty note; `NotFound` for an incident of a property the caller does
    /// not manage.
    pub async fn may_close_incident<'a>(
        &self,
        who: &'a Principal,
        id: i64,
        note: &str,
    ) -> Result<StaffOn<'a, Incident>> {
        check_note(note)?;
        let mut conn = self.store().read().await?;
        let incident = res::get_incident(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("incident"))?;
        who.incident_closer(incident)
    }

    /// Staff close the incident the capability carries once the door is repaired or serviced.
    ///
    /// # Errors
    /// `Invalid` for an empty note; `NotFound` for an incident of a property the caller does not
    /// manage; `Conflict` when it is already closed.
    pub async fn close_incident(
        &self,
        staff: StaffOn<'_, Incident>,
        note: &str,
    ) -> Result<Incident> {
        let note = check_note(note)?;
        let who = staff.principal();
        let incident = staff.record().clone();
        let id = incident.id;
        let now: Timestamp = self.now();
        let mut tx = self.store().write().await?;
        if !res::close_incident(tx.conn(), id, who.id(), now).await? {
            return Err(AppError::Conflict("the incident is already closed".into()));
        }
        let ev = NewEvent::new(
            format!("door.{}_closed", incident.kind),
            format!("door:{}", incident.door_id),
        )
        .property(incident.property_id)
        .actor(Some(who.id()))
        .data(json!({ "incident": id, "note": note }));
        self.commit_at(tx, vec![ev], now).await?;
        Ok(Incident {
            closed_by: Some(who.id()),
            closed_at: Some(now),
            ..incident
        })
    }
}

/// What staff report on a door themselves (the other incidents open on their own: a forced
/// entry the lock reports, a locksmith's job on a failed lock).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// The lock or door needs service: the door is marked for service.
    Service,
    /// The door was forced: as for a forced entry the lock reports, its PINs are replaced, the
    /// managers asked to repair it and its household told.
    Compromised,
}

impl IncidentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::Service => "service",
            IncidentKind::Compromised => "compromised",
        }
    }
}

impl App {
    /// Checks `note`, loads door `door` and checks that the caller is staff of its property
    /// ([`Principal::staff_on`]).
    ///
    /// # Errors
    /// `Invalid` for an empty or long note; `NotFound` for a door the caller may not see;
    /// `Forbidden` for anyone else but staff.
    pub async fn may_open_incident<'a>(
        &self,
        who: &'a Principal,
        door: DoorId,
        note: &str,
    ) -> Result<StaffOn<'a, latchkey_store::records::Door>> {
        check_note(note)?;
        let d = self.get_door(who, door).await?;
        who.staff_on(d)
    }

    /// Opens an incident of `kind` on the door the capability carries, with staff's `note`
    /// (what they found). A door has at most one open incident of each kind.
    ///
    /// # Errors
    /// `Invalid` for an empty or long note; `Conflict` when one of that kind is already open on
    /// the door.
    pub async fn open_incident(
        &self,
        staff: StaffOn<'_, latchkey_store::records::Door>,
        kind: IncidentKind,
        note: &str,
    ) -> Result<Incident> {
        let note = check_note(note)?;
        let who = staff.principal();
        let door = staff.record();
        let already = || {
            AppError::Conflict(format!(
                "this door already has an open {} incident; close it first",
                kind.as_str()
            ))
        };
        if kind == IncidentKind::Compromised {
            return self
                .compromise_door(door.id, None, Some(who.id()), note)
                .await?
                .map(|c| c.incident)
                .ok_or_else(already);
        }
        let now: Timestamp = self.now();
        let mut tx = self.store().write().await?;
        let incident = res::open_incident(
            tx.conn(),
            &Incident {
                id: 0,
                property_id: door.property_id,
                door_id: door.id,
                case_id: None,
                kind: kind.as_str().into(),
                detail: json!({ "note": note }),
                opened_by: Some(who.id()),
                opened_at: now,
                closed_by: None,
                closed_at: None,
            },
        )
        .await?
        .ok_or_else(already)?;
        let ev = NewEvent::new("door.marked_for_service", format!("door:{}", door.id))
            .property(door.property_id)
            .actor(Some(who.id()))
            .data(json!({ "incident": incident.id, "note": note }));
        self.commit_at(tx, vec![ev], now).await?;
        Ok(incident)
    }
}

/// A forced entry's `how`, trimmed: what was done, 1 to 200 characters.
fn check_how(how: &str) -> Result<&str> {
    let how = how.trim();
    if how.is_empty() || how.chars().count() > 200 {
        return Err(AppError::invalid(
            "how",
            "say what was done (1 to 200 characters)",
        ));
    }
    Ok(how)
}
