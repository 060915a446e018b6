//! Access decisions from stored data: turns credentials, memberships and doors into the inputs of
//! the pure `decide()`, answers "would this credential or person open this door at this instant,
//! and why not", and keeps an in-memory index for hot paths (keypad events, the benchmark).

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use latchkey_core::decide::{AccessRequest, CredentialRule, Decision, DoorContext, decide};
use latchkey_core::model::{CredentialKind, Method, Role};
use latchkey_core::{CredentialId, DoorId, PersonId, PropertyId};
use latchkey_store::audit::NewEvent;
use latchkey_store::records::{Credential, Door, Membership};
use latchkey_store::{Store, credentials as creds, people, property};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::authz::{AccessChecker, Principal};
use crate::directory::{load_property, time_zone};
use crate::{App, AppError, Result};

/// The membership that gives a credential its holder's role and validity: one for the
/// credential's unit, or a property-wide one. A unit's credential is held in the holder's role
/// in that unit when they have one there (a manager living in the building opens their own
/// home as its resident, not as staff). The one in force at `at` wins; otherwise the next to
/// start; otherwise the last to end. `None` when the holder has no standing at all.
pub fn holder_membership<'a>(
    memberships: &'a [Membership],
    c: &Credential,
    at: Timestamp,
) -> Option<&'a Membership> {
    let relevant: Vec<&Membership> = memberships
        .iter()
        .filter(|m| m.person_id == c.person_id && m.property_id == c.property_id)
        .filter(|m| m.unit_id.is_none() || m.unit_id == c.unit_id)
        .collect();
    let relevant: Vec<&Membership> =
        if c.unit_id.is_some() && relevant.iter().any(|m| m.unit_id == c.unit_id) {
            relevant
                .into_iter()
                .filter(|m| m.unit_id == c.unit_id)
                .collect()
        } else {
            relevant
        };
    if let Some(m) = relevant.iter().find(|m| m.is_active_at(at)) {
        return Some(m);
    }
    if let Some(m) = relevant
        .iter()
        .filter(|m| m.valid_from.is_some_and(|f| f > at))
        .min_by_key(|m| m.valid_from)
    {
        return Some(m);
    }
    relevant.into_iter().max_by_key(|m| m.valid_until)
}

/// The decision inputs of a stored credential.
pub fn rule_for(c: &Credential, holder: Option<&Membership>, tz: &TimeZone) -> CredentialRule {
    rule_with_doors(c, holder, tz, c.doors.clone())
}

/// [`rule_for`] as seen by one door: the rule lists only that door (if the credential names
/// it), so that deciding for each of ten thousand doors does not copy ten thousand door ids.
pub fn rule_for_door(
    c: &Credential,
    holder: Option<&Membership>,
    tz: &TimeZone,
    door: DoorId,
) -> CredentialRule {
    let doors = if c.doors.contains(&door) {
        vec![door]
    } else {
        Vec::new()
    };
    rule_with_doors(c, holder, tz, doors)
}

fn rule_with_doors(
    c: &Credential,
    holder: Option<&Membership>,
    tz: &TimeZone,
    doors: Vec<DoorId>,
) -> CredentialRule {
    let (role, from, until) = match holder {
        Some(m) => (m.role, m.valid_from, m.valid_until),
        // No standing: an empty validity window ending at the epoch, so "membership ended".
        None => (Role::Guest, None, Some(Timestamp::UNIX_EPOCH)),
    };
    CredentialRule {
        id: c.id,
        kind: c.kind,
        status: c.status,
        holder_role: role,
        holder_from: from,
        holder_until: until,
        doors,
        schedule: c.schedule.compile(tz),
        max_uses: c.max_uses.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        uses: u32::try_from(c.uses).unwrap_or(u32::MAX),
        duress: c.duress,
    }
}

pub fn door_context(d: &Door) -> DoorContext {
    DoorContext {
        id: d.id,
        mode: d.mode,
        unit_entry: is_unit_door(d),
        keypad_disabled_until: d.keypad_disabled_until,
    }
}

/// A unit's own door: it belongs to a unit, or is a unit's entry. No staff credential opens
/// it; staff enter under an entry notice or as an emergency (see `entry.rs`).
pub fn is_unit_door(d: &Door) -> bool {
    d.unit_id.is_some() || d.kind == latchkey_core::model::DoorKind::UnitEntry
}

/// "Would this open?" Either a credential or a person (all of whose credentials are tried).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessQuery {
    pub credential_id: Option<CredentialId>,
    pub person_id: Option<PersonId>,
    pub door_id: DoorId,
    /// Defaults to now.
    pub at: Option<Timestamp>,
    /// Defaults to the way the credential's kind is presented.
    pub method: Option<Method>,
    #[serde(default)]
    pub emergency_override: bool,
}

/// One credential's answer.
#[derive(Clone, Debug, Serialize)]
pub struct CredentialCheck {
    pub credential_id: CredentialId,
    pub kind: CredentialKind,
    pub decision: Decision,
    /// A sentence for a person: why not, or that it opens.
    pub message: String,
}

/// The answer: granted if any credential opens the door.
#[derive(Clone, Debug, Serialize)]
pub struct AccessAnswer {
    pub granted: bool,
    pub door_id: DoorId,
    pub at: Timestamp,
    pub checks: Vec<CredentialCheck>,
}

fn message(d: &Decision) -> String {
    match d {
        Decision::Granted { .. } => "this credential opens the door".to_owned(),
        Decision::Denied { reason } => reason.message().to_owned(),
    }
}

impl App {
    /// Loads the door and the credentials of access query `q` as the caller sees them, and
    /// checks that the caller may ask ([`Principal::access_checker`]).
    ///
    /// # Errors
    /// `Invalid` when neither or both of credential and person are given, or they are of
    /// another property; `NotFound` when the caller may not see them.
    pub async fn may_check_access<'a>(
        &self,
        who: &'a Principal,
        q: AccessQuery,
    ) -> Result<AccessChecker<'a>> {
        if q.credential_id.is_some() == q.person_id.is_some() {
            return Err(AppError::invalid(
                "credential_id",
                "give either credential_id or person_id",
            ));
        }
        let door = self.get_door(who, q.door_id).await?;
        let mut candidates: Vec<Credential> = Vec::new();
        if let Some(cid) = q.credential_id {
            let c = self.get_credential(who, cid).await?;
            if c.property_id != door.property_id {
                return Err(AppError::invalid(
                    "credential_id",
                    "belongs to another property than the door",
                ));
            }
            candidates.push(c);
        } else if let Some(pid) = q.person_id {
            self.get_person(who, pid).await?;
            let all = self
                .list_credentials(who, door.property_id, Some(pid))
                .await?;
            candidates.extend(all);
        }
        who.access_checker(q, door, candidates)
    }

    /// Answers the access query the capability carries and records the decision in the audit
    /// log.
    ///
    /// # Errors
    /// `Store` on a failed read or write.
    pub async fn check_access(&self, checker: AccessChecker<'_>) -> Result<AccessAnswer> {
        let who = checker.principal();
        let (q, door, candidates) = (checker.query(), checker.door(), checker.candidates());
        let at = q.at.unwrap_or_else(|| self.now());
        let mut conn = self.store().read().await?;
        let prop = load_property(&mut conn, door.property_id).await?;
        let tz = time_zone(&prop.timezone)?;
        let ctx = door_context(door);
        let mut checks = Vec::new();
        for c in candidates {
            let memberships = people::memberships_of(&mut conn, c.person_id).await?;
            let rule = rule_for(c, holder_membership(&memberships, c, at), &tz);
            let decision = decide(&AccessRequest {
                credential: Some(&rule),
                method: q.method.unwrap_or(c.kind.method()),
                door: &ctx,
                at,
                tz: &tz,
                emergency_override: q.emergency_override,
            });
            checks.push(CredentialCheck {
                credential_id: c.id,
                kind: c.kind,
                message: message(&decision),
                decision,
            });
        }
        drop(conn);
        if checks.is_empty() {
            let decision = decide(&AccessRequest {
                credential: None,
                method: q.method.unwrap_or(Method::Remote),
                door: &ctx,
                at,
                tz: &tz,
                emergency_override: false,
            });
            checks.push(CredentialCheck {
                credential_id: CredentialId(0),
                kind: CredentialKind::PhoneKey,
                message: "this person holds no credential at this property".to_owned(),
                decision,
            });
        }
        let granted = checks.iter().any(|c| c.decision.is_granted());
        let tx = self.store().write().await?;
        let ev = NewEvent::new("access.checked", format!("door:{}", door.id))
            .property(door.property_id)
            .actor(Some(who.id()))
            .data(json!({
                "at": at,
                "granted": granted,
                "person_id": q.person_id,
                "checks": checks.iter().map(|c| json!({ "credential_id": c.credential_id, "decision": c.decision })).collect::<Vec<_>>(),
            }));
        self.commit_with(tx, vec![ev]).await?;
        Ok(AccessAnswer {
            granted,
            door_id: door.id,
            at,
            checks,
        })
    }
}

/// Every credential and door of a property, ready for decisions without touching the database.
/// Lookups are hash-map gets, so a decision costs the same at 1,000 or 100,000 credentials.
pub struct AccessIndex {
    tz: TimeZone,
    doors: HashMap<DoorId, DoorContext>,
    rules: HashMap<CredentialId, CredentialRule>,
}

impl AccessIndex {
    /// Loads a property's credentials, memberships and doors as of `at`.
    ///
    /// # Errors
    /// `NotFound` for an unknown property; `Store` on a failed read.
    pub async fn load(store: &Store, id: PropertyId, at: Timestamp) -> Result<AccessIndex> {
        let mut conn = store.read().await?;
        let prop = load_property(&mut conn, id).await?;
        let tz = time_zone(&prop.timezone)?;
        let doors = property::list_doors(&mut conn, id)
            .await?
            .iter()
            .map(|d| (d.id, door_context(d)))
            .collect();
        let memberships = people::list_memberships(&mut conn, id).await?;
        let mut by_person: HashMap<PersonId, Vec<Membership>> = HashMap::new();
        for m in memberships {
            by_person.entry(m.person_id).or_default().push(m);
        }
        let rules = creds::list_credentials(&mut conn, id, None)
            .await?
            .iter()
            .map(|c| {
                let ms = by_person
                    .get(&c.person_id)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                (c.id, rule_for(c, holder_membership(ms, c, at), &tz))
            })
            .collect();
        Ok(AccessIndex { tz, doors, rules })
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Decides one attempt. An unknown door is decided like an unknown credential's door: denied.
    pub fn decide(
        &self,
        credential: CredentialId,
        door: DoorId,
        method: Method,
        at: Timestamp,
    ) -> Decision {
        let unknown_door = DoorContext {
            id: door,
            mode: latchkey_core::model::DoorMode::Normal,
            unit_entry: false,
            keypad_disabled_until: None,
        };
        let ctx = self.doors.get(&door).unwrap_or(&unknown_door);
        decide(&AccessRequest {
            credential: self.rules.get(&credential),
            method,
            door: ctx,
            at,
            tz: &self.tz,
            emergency_override: false,
        })
    }
}
