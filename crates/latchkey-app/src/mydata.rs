//! A person's own data (docs/OPERATIONS.md, "Privacy"): everything latchkey holds about the
//! caller, and the erasure of a person who moved out.

use jiff::Timestamp;
use latchkey_core::{PersonId, PropertyId};
use latchkey_store::audit::{self, EventFilter, NewEvent, Redaction};
use latchkey_store::auth::{Grant, GrantKind};
use latchkey_store::lockout::{LockoutCase, Notification};
use latchkey_store::privacy::{self as repo, ERASED_KIND};
use latchkey_store::records::{Credential, Event, Membership, Person};
use latchkey_store::{auth as grants, credentials, lockout, passkeys, people};

use crate::authz::{OwnAccount, PersonEraser, Principal};
use crate::directory::check_text;
use crate::events::MAX_PAGE;
use crate::passkeys::PasskeyView;
use crate::{App, AppError, Result};

/// Everything latchkey holds about one person, without secrets: no password hash, no PIN, no
/// token or passkey key material, no authenticator secret.
#[derive(Clone, Debug)]
pub struct PersonalData {
    pub exported_at: Timestamp,
    pub person: Person,
    pub memberships: Vec<Membership>,
    pub credentials: Vec<Credential>,
    pub sessions: Vec<Grant>,
    pub api_tokens: Vec<Grant>,
    pub passkeys: Vec<PasskeyView>,
    /// Browsers with notifications on (Web Push subscriptions).
    pub push_subscriptions: Vec<crate::push::Subscription>,
    /// Lockout cases opened for or by the person.
    pub lockout_cases: Vec<LockoutCase>,
    /// Audit events the person did or that are about them or their credentials, newest first.
    pub events: Vec<Event>,
}

/// What an erasure removed and what it kept, and why.
#[derive(Clone, Debug)]
pub struct Erasure {
    pub person_id: PersonId,
    pub erased_at: Timestamp,
    /// Audit events whose actor and data were redacted.
    pub redacted_events: u64,
    pub removed: Vec<&'static str>,
    /// What stays, each with the reason.
    pub kept: Vec<(&'static str, &'static str)>,
}

/// What an erasure removes.
pub const REMOVED: &[&str] = &[
    "name (replaced by \"Erased person <id>\")",
    "e-mail address",
    "phone number",
    "password",
    "sessions and API tokens",
    "passkeys and the authenticator secret",
    "devices with notifications on",
    "invitations and queued messages",
    "credential labels and the sealed codes of revoked credentials",
    "actor and data of audit events the person did or that are about them",
];

/// What an erasure keeps, and why.
pub const KEPT: &[(&str, &str)] = &[
    (
        "the person's id, memberships (with their dates) and revoked credentials",
        "the ledger and the audit log refer to them; they name no one once the name is gone",
    ),
    (
        "ledger entries (lockout fees, locksmith bills)",
        "accounting records must be kept for the period commercial and tax law sets",
    ),
    (
        "lockout cases",
        "they record who was let into a home and by whom; the identity typed into the request stays with the case",
    ),
    (
        "the audit chain's digests of redacted events",
        "they let `latchkey audit verify` prove that nothing else was changed; a digest is keyed and reveals nothing",
    ),
];

/// The kind of the event (one per property of the person) and of the staff's notification that
/// record a person's own erasure request.
pub const REQUESTED_KIND: &str = "privacy.erasure_requested";

/// When staff carry out an erasure request, as the answer says it.
pub const WHEN: &str = "after you move out: once every membership has ended and every credential \
     is revoked, staff of your properties erase you; until then nothing is erased";

/// A person's request to be erased, as the person reads it.
#[derive(Clone, Debug)]
pub struct ErasureRequest {
    pub person_id: PersonId,
    /// When the first request was made (a second request while one is pending changes nothing).
    pub requested_at: Timestamp,
    /// Whether this call found a pending request and so recorded and told nothing.
    pub already_requested: bool,
    /// The properties whose staff were told.
    pub properties: Vec<PropertyId>,
    /// When the last membership ends; `None` while one has no end.
    pub moves_out_at: Option<Timestamp>,
    pub when: &'static str,
    pub removed: Vec<&'static str>,
    pub kept: Vec<(&'static str, &'static str)>,
}

/// A pending erasure request, as staff of one property list it.
#[derive(Clone, Debug)]
pub struct PendingErasure {
    pub person_id: PersonId,
    pub name: String,
    pub requested_at: Timestamp,
    pub note: Option<String>,
    /// Every membership of the person, at any property, has ended: staff may erase them once
    /// their credentials are revoked.
    pub moved_out: bool,
}

impl App {
    /// Records the caller's request to be erased and tells the staff of every property they
    /// belong or belonged to, in one transaction; the answer says what will go, what stays and
    /// why, and when. A second request while one is pending answers the same (with
    /// `already_requested`) and records and tells nothing.
    ///
    /// # Errors
    /// `Invalid("note")` for a note without visible characters or longer than 500; `Conflict`
    /// for an admin (an admin cannot be erased) or someone who belongs to no property (no staff
    /// to carry it out); `Store` when the database fails. Nothing is written then.
    pub async fn request_my_erasure(
        &self,
        own: OwnAccount<'_>,
        note: Option<&str>,
    ) -> Result<ErasureRequest> {
        let who = own.principal();
        let me = who.id();
        let note = note.map(|n| check_text("note", n, 500)).transpose()?;
        let now = self.now();
        let mut tx = self.store().write().await?;
        // Two requests at once (a double click, two devices) wait here for each other, so the
        // second one sees the first's event and records nothing.
        people::lock_person(&mut tx, me).await?;
        let person = people::get_person(tx.conn(), me)
            .await?
            .ok_or_else(|| AppError::Unauthenticated("this account no longer exists".into()))?;
        if person.is_admin {
            return Err(AppError::Conflict(
                "an admin cannot be erased; another admin first takes away your admin rights"
                    .into(),
            ));
        }
        let memberships = people::memberships_of(tx.conn(), me).await?;
        let mut properties: Vec<_> = memberships.iter().map(|m| m.property_id).collect();
        properties.sort_unstable();
        properties.dedup();
        if properties.is_empty() {
            return Err(AppError::Conflict(
                "you belong to no property, so no staff can carry out an erasure; ask an admin"
                    .into(),
            ));
        }
        let moves_out_at = memberships
            .iter()
            .map(|m| m.valid_until)
            .try_fold(None::<Timestamp>, |last, u| u.map(|u| last.max(Some(u))))
            .flatten();
        let pending = audit::query(
            tx.conn(),
            &EventFilter {
                subject: Some(format!("person:{me}")),
                kind_prefix: Some(REQUESTED_KIND.to_owned()),
                limit: 1,
                ..EventFilter::default()
            },
        )
        .await?;
        let answer = |requested_at, already_requested| ErasureRequest {
            person_id: me,
            requested_at,
            already_requested,
            properties: properties.clone(),
            moves_out_at,
            when: WHEN,
            removed: REMOVED.to_vec(),
            kept: KEPT.to_vec(),
        };
        if let Some(first) = pending.first() {
            return Ok(answer(first.at, true));
        }
        let mut messages = Vec::new();
        let mut events = Vec::new();
        for p in &properties {
            let mut staff: Vec<PersonId> = people::list_memberships(tx.conn(), *p)
                .await?
                .into_iter()
                .filter(|m| m.role.is_staff() && m.is_active_at(now) && m.person_id != me)
                .map(|m| m.person_id)
                .collect();
            staff.sort_unstable();
            staff.dedup();
            messages.extend(staff.into_iter().map(|s| Notification {
                property_id: Some(*p),
                person_id: s,
                kind: REQUESTED_KIND.to_owned(),
                case_id: None,
                body: serde_json::json!({
                    "person_id": me, "name": person.name, "note": note,
                    "text": "This person asks to be erased. After move-out (every membership \
                             ended, every credential revoked) erase them with \
                             POST /api/v1/people/{id}/erasure.",
                }),
                created_at: now,
                sent_at: None,
            }));
            events.push(
                NewEvent::new(REQUESTED_KIND, format!("person:{me}"))
                    .property(*p)
                    .actor(Some(me))
                    .data(serde_json::json!({ "note": note })),
            );
        }
        latchkey_store::lockout::queue(tx.conn(), &messages).await?;
        self.commit_with(tx, events).await?;
        Ok(answer(now, false))
    }

    /// The erasure requests of people of `property` who are not erased yet, oldest first.
    ///
    /// # Errors
    /// As [`Principal::staff`] (`NotFound` for outsiders, `Forbidden` for residents); `Store`
    /// when the database fails.
    pub async fn list_erasure_requests(
        &self,
        who: &Principal,
        property: PropertyId,
    ) -> Result<Vec<PendingErasure>> {
        who.staff(property)?;
        let now = self.now();
        let mut conn = self.store().read().await?;
        let mut requests: Vec<Event> = Vec::new();
        let mut before = None;
        loop {
            let page = audit::query(
                &mut conn,
                &EventFilter {
                    properties: Some(vec![property]),
                    kind_prefix: Some(REQUESTED_KIND.to_owned()),
                    before,
                    limit: MAX_PAGE,
                    ..EventFilter::default()
                },
            )
            .await?;
            before = page.last().map(|e| e.seq);
            let done = page.len() < MAX_PAGE as usize;
            requests.extend(page.into_iter().filter(|e| e.kind == REQUESTED_KIND));
            if done {
                break;
            }
        }
        requests.reverse();
        let mut out: Vec<PendingErasure> = Vec::new();
        for e in requests {
            let Some(id) = e
                .subject
                .strip_prefix("person:")
                .and_then(|n| n.parse().ok())
                .map(PersonId)
            else {
                continue;
            };
            if out.iter().any(|r| r.person_id == id) || repo::is_erased(&mut conn, id).await? {
                continue;
            }
            let Some(person) = people::get_person(&mut conn, id).await? else {
                continue;
            };
            let moved_out = people::memberships_of(&mut conn, id)
                .await?
                .iter()
                .all(|m| m.valid_until.is_some_and(|u| u <= now));
            out.push(PendingErasure {
                person_id: id,
                name: person.name,
                requested_at: e.at,
                note: e
                    .data
                    .get("note")
                    .and_then(|n| n.as_str())
                    .map(str::to_owned),
                moved_out,
            });
        }
        Ok(out)
    }

    /// Everything latchkey holds about the caller ([`PersonalData`]).
    ///
    /// # Errors
    /// `Store` when the database fails.
    pub async fn export_my_data(&self, who: &Principal) -> Result<PersonalData> {
        let me = who.id();
        let mut conn = self.store().read().await?;
        let person = people::get_person(&mut conn, me)
            .await?
            .ok_or_else(|| AppError::Unauthenticated("this account no longer exists".into()))?;
        let memberships = people::memberships_of(&mut conn, me).await?;
        let mut properties: Vec<_> = memberships.iter().map(|m| m.property_id).collect();
        properties.sort_unstable();
        properties.dedup();
        let mut creds = Vec::new();
        let mut cases = Vec::new();
        for p in &properties {
            creds.extend(credentials::list_credentials(&mut conn, *p, Some(me)).await?);
            cases.extend(
                lockout::list_cases(&mut conn, *p)
                    .await?
                    .into_iter()
                    .filter(|c| c.person_id == Some(me) || c.opened_by == Some(me)),
            );
        }
        let sessions = grants::list(&mut conn, GrantKind::Session, me).await?;
        let api_tokens = grants::list(&mut conn, GrantKind::ApiToken, me).await?;
        let keys = passkeys::list_passkeys(&mut conn, me).await?;
        let push_subscriptions = latchkey_store::push::of_person(&mut conn, me).await?;
        let mut subjects = vec![format!("person:{me}")];
        subjects.extend(creds.iter().map(|c| format!("credential:{}", c.id)));
        let mut events = Vec::new();
        let mut before = None;
        loop {
            let page = audit::query(
                &mut conn,
                &EventFilter {
                    visible_to: Some((me, subjects.clone())),
                    before,
                    limit: MAX_PAGE,
                    ..EventFilter::default()
                },
            )
            .await?;
            before = page.last().map(|e| e.seq);
            let done = page.len() < MAX_PAGE as usize;
            events.extend(page);
            if done {
                break;
            }
        }
        Ok(PersonalData {
            exported_at: self.now(),
            person,
            memberships,
            credentials: creds,
            sessions,
            api_tokens,
            passkeys: keys.into_iter().map(crate::passkeys::view).collect(),
            push_subscriptions,
            lockout_cases: cases,
            events,
        })
    }

    /// Loads a person and their memberships and checks that the caller may erase them
    /// ([`Principal::person_eraser`]).
    ///
    /// # Errors
    /// `NotFound` when there is no such person (or the caller may not know of them); as
    /// [`Principal::person_eraser`].
    pub async fn may_erase_person<'a>(
        &self,
        who: &'a Principal,
        id: PersonId,
    ) -> Result<PersonEraser<'a>> {
        let mut conn = self.store().read().await?;
        let person = people::get_person(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("person"))?;
        let memberships = people::memberships_of(&mut conn, id).await?;
        who.person_eraser(person, &memberships)
    }

    /// Erases the person the capability carries (see [`REMOVED`] and [`KEPT`]).
    ///
    /// # Errors
    /// `Conflict` when the person still holds a credential that is not revoked, or was erased
    /// already.
    pub async fn erase_person(&self, eraser: PersonEraser<'_>) -> Result<Erasure> {
        self.erase(eraser.person().id, Some(eraser.principal().id()), "request")
            .await
    }

    /// The erasure itself, for a request (`by` staff) or the retention job.
    pub(crate) async fn erase(
        &self,
        id: PersonId,
        by: Option<PersonId>,
        reason: &str,
    ) -> Result<Erasure> {
        let now = self.now();
        let mut tx = self.store().write().await?;
        if repo::is_erased(tx.conn(), id).await? {
            return Err(AppError::Conflict(format!(
                "person {id} was erased already"
            )));
        }
        let memberships = people::memberships_of(tx.conn(), id).await?;
        let mut properties: Vec<_> = memberships.iter().map(|m| m.property_id).collect();
        properties.sort_unstable();
        properties.dedup();
        for p in properties {
            let live = credentials::list_credentials(tx.conn(), p, Some(id))
                .await?
                .into_iter()
                .find(|c| c.revoked_at.is_none());
            if let Some(c) = live {
                return Err(AppError::Conflict(format!(
                    "credential {} of person {id} is not revoked; revoke it first so that it \
                     leaves the locks",
                    c.id
                )));
            }
        }
        // Taking the chain head first, as every append does, before the redactions below.
        audit::append(&mut tx, self.keys().chain_key(), now, &[]).await?;
        repo::erase_person(tx.conn(), id, &format!("Erased person {id}")).await?;
        let mut redacted = 0u64;
        for r in [
            Redaction {
                actor: Some(id),
                ..Redaction::default()
            },
            Redaction {
                subject: Some(format!("person:{id}")),
                ..Redaction::default()
            },
        ] {
            loop {
                let n = audit::redact(&mut tx, self.keys().chain_key(), &r, 10_000)
                    .await?
                    .len();
                redacted += n as u64;
                if n < 10_000 {
                    break;
                }
            }
        }
        let event = NewEvent::new(ERASED_KIND, format!("person:{id}"))
            .actor(by)
            .data(serde_json::json!({ "reason": reason, "redacted_events": redacted }));
        self.commit_with(tx, vec![event]).await?;
        Ok(Erasure {
            person_id: id,
            erased_at: now,
            redacted_events: redacted,
            removed: REMOVED.to_vec(),
            kept: KEPT.to_vec(),
        })
    }
}
