//! A person's own data (docs/OPERATIONS.md, "Privacy"): everything latchkey holds about the
//! caller, and the erasure of a person who moved out.

use jiff::Timestamp;
use latchkey_core::PersonId;
use latchkey_store::audit::{self, EventFilter, NewEvent, Redaction};
use latchkey_store::auth::{Grant, GrantKind};
use latchkey_store::lockout::LockoutCase;
use latchkey_store::privacy::{self as repo, ERASED_KIND};
use latchkey_store::records::{Credential, Event, Membership, Person};
use latchkey_store::{auth as grants, credentials, lockout, passkeys, people};

use crate::authz::{PersonEraser, Principal};
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

impl App {
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
