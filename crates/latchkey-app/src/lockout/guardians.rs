//! Guardians: the household members and spare-key holders of the unit, asked to confirm that
//! the person at the door is who they say. Each gets a single-use link that expires; it works
//! only for the guardian it was sent to, signed in as themselves. When the policy's number of
//! guardians confirm — distinct people, however many links each holds — the case is proven; one
//! denial is told to the household at once.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use latchkey_core::PersonId;
use latchkey_core::model::ProofKind;
use latchkey_store::audit::NewEvent;
use latchkey_store::lockout::{self as repo, Notification, Proof, Step};
use latchkey_store::recovery;
use serde::Serialize;
use serde_json::json;

use crate::authz::{Guardian, Principal};
use crate::secrets::{new_token, token_digest};
use crate::{App, AppError, Result};

/// How long a guardian link stays valid.
pub const LINK_TTL: SignedDuration = SignedDuration::from_mins(30);
const ASKS_PER_CASE: u32 = 3;
const ANSWERS_PER_PERSON: u32 = 20;

/// The additional data a guardian link is sealed with in its notification (`link_sealed_hex`):
/// only the delivery to the guardian it was sent to opens it.
pub fn guardian_link_aad(guardian: PersonId) -> Vec<u8> {
    format!("latchkey.notify.guardian_link.{}", guardian.0).into_bytes()
}

/// The answer to asking guardians: the same whether or not the case is about anyone.
#[derive(Clone, Debug, Serialize)]
pub struct GuardiansAsked {
    pub message: &'static str,
}

const ASKED: &str = "If this case is about a resident, their household and spare-key holders \
     have each been sent a link to confirm it is you. The links expire in 30 minutes.";

impl App {
    /// Loads the guardian link `token` names and checks that it was sent to the caller
    /// ([`Principal::guardian`]). Rate-limited per caller, before anything is read.
    ///
    /// # Errors
    /// `RateLimited`; `NotFound` for an unknown link; `Forbidden` for a link sent to someone
    /// else.
    pub async fn may_answer_guardian_link<'a>(
        &self,
        who: &'a Principal,
        token: &str,
    ) -> Result<Guardian<'a>> {
        self.limits()
            .hit(
                &format!("guardians:answer:{}", who.id()),
                ANSWERS_PER_PERSON,
                Duration::from_secs(3600),
            )
            .await?;
        let mut conn = self.store().read().await?;
        let link = repo::guardian_link_by_token(&mut conn, &token_digest(token))
            .await?
            .ok_or_else(|| AppError::not_found("guardian link"))?;
        who.guardian(link)
    }

    /// With the case token, asks the unit's guardians to confirm.
    ///
    /// # Errors
    /// `NotFound` for an unknown token; `Conflict` for a case already proven; `RateLimited`
    /// past three asks per case per hour. Answers no sooner than [`super::FLOOR`], and the same
    /// for a case that matched nobody or was cancelled (nobody is asked then).
    pub async fn ask_guardians(&self, token: &str) -> Result<GuardiansAsked> {
        super::held(self.ask(token)).await
    }

    async fn ask(&self, token: &str) -> Result<GuardiansAsked> {
        let now = self.now();
        let mut tx = self.store().write().await?;
        let case = repo::case_by_token(tx.conn(), &token_digest(token))
            .await?
            .ok_or_else(|| AppError::not_found("lockout case"))?;
        if super::was_proven(&repo::steps_of(tx.conn(), case.id).await?) {
            return Err(AppError::Conflict(format!("the case is {}", case.state)));
        }
        self.limits()
            .hit_in(
                &mut tx,
                &format!("guardians:case:{}", case.id),
                ASKS_PER_CASE,
                Duration::from_secs(3600),
            )
            .await?;
        let mut guardians: Vec<(PersonId, &'static str)> = Vec::new();
        if let (Some(p), Some(u), Some(person), "open") = (
            case.property_id,
            case.unit_id,
            case.person_id,
            case.state.as_str(),
        ) {
            for o in repo::occupants_of_unit(tx.conn(), u, now).await? {
                // One link per person, even for someone with two memberships in the unit.
                if o.person_id != person && !guardians.iter().any(|(g, _)| *g == o.person_id) {
                    guardians.push((o.person_id, "household"));
                }
            }
            for k in recovery::list_spare_keys(tx.conn(), p, Some(u)).await? {
                if k.status == "active"
                    && k.holder_id != person
                    && !guardians.iter().any(|(g, _)| *g == k.holder_id)
                {
                    guardians.push((k.holder_id, "spare_key"));
                }
            }
        }
        let expires = now.checked_add(LINK_TTL).unwrap_or(now);
        let mut messages = Vec::new();
        for (g, why) in &guardians {
            let (link, digest) = new_token("lkg")?;
            repo::create_guardian_link(tx.conn(), case.id, *g, &digest, now, expires).await?;
            // The table keeps only the link's SHA-256; the outbox carries it sealed, so a copy
            // of the database cannot answer for the guardian.
            let sealed = self
                .keys()
                .seal_bytes(&guardian_link_aad(*g), link.as_bytes())?;
            messages.push(Notification {
                property_id: case.property_id,
                person_id: *g,
                kind: "lockout.guardian_request".into(),
                case_id: Some(case.id),
                body: json!({
                    "case_id": case.id,
                    "link_sealed_hex": hex::encode(sealed),
                    "as": why,
                    "expires_at": expires,
                    "text": format!(
                        "{} says they are locked out of unit {}. Confirm only if you know it is them \
                         (call them): sign in and answer with this link.",
                        case.claimed_identity, case.claimed_unit
                    ),
                }),
                created_at: now,
                sent_at: None,
            });
        }
        repo::queue(tx.conn(), &messages).await?;
        repo::add_step(
            tx.conn(),
            case.id,
            &Step {
                at: now,
                actor_id: None,
                kind: "guardians_asked".into(),
                detail: json!({ "asked": guardians.len() }),
            },
        )
        .await?;
        let ev = NewEvent::new("lockout.guardians_asked", format!("lockout:{}", case.id))
            .data(json!({ "asked": guardians.len() }));
        let ev = match case.property_id {
            Some(p) => ev.property(p),
            None => ev,
        };
        self.commit_at(tx, vec![ev], now).await?;
        Ok(GuardiansAsked { message: ASKED })
    }

    /// A guardian answers their link, signed in as themselves: `confirm` vouches for the person
    /// at the door, `false` says it is not them. The capability carries the link
    /// ([`App::may_answer_guardian_link`]); using it is atomic, so a link answers once.
    ///
    /// # Errors
    /// `NotFound` for an unknown link; `Forbidden` for a link sent to someone else;
    /// `Conflict` for a link already used, expired, or a case no longer open; `RateLimited`.
    pub async fn answer_guardian_link(&self, guardian: Guardian<'_>, confirm: bool) -> Result<()> {
        let who = guardian.principal();
        let link = guardian.link();
        let now = self.now();
        let mut tx = self.store().write().await?;
        if link.used_at.is_some() {
            return Err(AppError::Conflict("this link was already used".into()));
        }
        if link.expires_at <= now {
            return Err(AppError::Conflict("this link has expired".into()));
        }
        let case = repo::get_case(tx.conn(), link.case_id)
            .await?
            .ok_or_else(|| AppError::not_found("guardian link"))?;
        if case.state != "open" {
            return Err(AppError::Conflict(format!("the case is {}", case.state)));
        }
        let outcome = if confirm { "confirmed" } else { "denied" };
        if !repo::use_guardian_link(tx.conn(), link.id, outcome, now).await? {
            return Err(AppError::Conflict("this link was already used".into()));
        }
        repo::add_step(
            tx.conn(),
            case.id,
            &Step {
                at: now,
                actor_id: Some(who.id()),
                kind: format!("guardian_{outcome}"),
                detail: json!({}),
            },
        )
        .await?;
        let ev = NewEvent::new(
            format!("lockout.guardian_{outcome}"),
            format!("lockout:{}", case.id),
        )
        .actor(Some(who.id()));
        let ev = match case.property_id {
            Some(p) => ev.property(p),
            None => ev,
        };
        if !confirm {
            self.tell_household(
                &mut tx,
                &case,
                "lockout.guardian_denied",
                json!({ "by": who.id() }),
                now,
            )
            .await?;
            return self.commit_at(tx, vec![ev], now).await;
        }
        // Guardians are people, not links: someone asked twice holds two links, and confirming
        // both is still one guardian's word.
        let mut confirmed_by: Vec<PersonId> = repo::guardian_links_of(tx.conn(), case.id)
            .await?
            .iter()
            .filter(|l| l.outcome.as_deref() == Some("confirmed"))
            .map(|l| l.guardian_id)
            .collect();
        confirmed_by.sort_unstable();
        confirmed_by.dedup();
        let confirmed = confirmed_by.len();
        let required = match case.property_id {
            Some(p) => {
                crate::directory::load_property(tx.conn(), p)
                    .await?
                    .policy
                    .guardians_required
            }
            None => u8::MAX,
        };
        if confirmed < usize::from(required) {
            return self.commit_at(tx, vec![ev], now).await;
        }
        let proof = Proof {
            kind: ProofKind::Guardians.as_str().into(),
            person_id: case.person_id,
            recorded_by: None,
            at: now,
            detail: json!({ "confirmed": confirmed }),
        };
        self.accept_proof(tx, &case, proof, vec![ev]).await
    }

    /// Queues one message to everyone who lives in the case's unit.
    pub(crate) async fn tell_household(
        &self,
        tx: &mut latchkey_store::WriteTx,
        case: &repo::LockoutCase,
        kind: &str,
        body: serde_json::Value,
        now: jiff::Timestamp,
    ) -> Result<()> {
        let (Some(p), Some(u)) = (case.property_id, case.unit_id) else {
            return Ok(());
        };
        let occupants = repo::occupants_of_unit(tx.conn(), u, now).await?;
        let messages: Vec<Notification> = occupants
            .iter()
            .map(|o| Notification {
                property_id: Some(p),
                person_id: o.person_id,
                kind: kind.to_owned(),
                case_id: Some(case.id),
                body: json!({ "case_id": case.id, "detail": body }),
                created_at: now,
                sent_at: None,
            })
            .collect();
        Ok(repo::queue(tx.conn(), &messages).await?)
    }
}

/// What a guardian is asked, read with their link.
#[derive(Clone, Debug, Serialize)]
pub struct GuardianRequest {
    /// The unit and the name as the person at the door typed them.
    pub unit: String,
    pub claimed_identity: String,
    /// `open`, `proven`, `resolved` or `cancelled`.
    pub case_state: String,
    pub expires_at: Timestamp,
    /// `confirmed` or `denied` once answered.
    pub answered: Option<String>,
}

impl App {
    /// What the guardian link the capability carries asks: who says they are locked out
    /// where, and whether the link may still be answered.
    ///
    /// # Errors
    /// `NotFound` when the case is gone.
    pub async fn guardian_request(&self, guardian: &Guardian<'_>) -> Result<GuardianRequest> {
        let link = guardian.link();
        let mut conn = self.store().read().await?;
        let case = repo::get_case(&mut conn, link.case_id)
            .await?
            .ok_or_else(|| AppError::not_found("guardian link"))?;
        Ok(GuardianRequest {
            unit: case.claimed_unit,
            claimed_identity: case.claimed_identity,
            case_state: case.state,
            expires_at: link.expires_at,
            answered: link.outcome.clone(),
        })
    }
}
