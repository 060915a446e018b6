//! Lockout cases (docs/LOCKOUT.md): anyone can open one without signing in, staff for a caller, a
//! resident for themselves. A case is a state machine (`open` → `proven` → `resolved`, or
//! `cancelled`) with a timeline of every step, each also an audit event.
//!
//! Opening a case reveals nothing: a request that matches nobody creates a case too, gets the
//! same answer, and the answer is held back to the same minimum time, so neither the words nor
//! the timing tell a stranger whether "Anna in 4B" lives here. When it does match, everyone who
//! lives in the unit is told at once through the notification outbox, so a stranger's attempt is
//! seen by the people it targets.
//!
//! The case token keeps that promise until the case is proven: every answer to it is a function
//! of what the caller sent and of public facts only, never of whether the case matched someone.
//!
//! 1. **Same steps.** Before proof the token holder sees the case as `open` with only the steps
//!    their own requests make ([`TOKEN_STEPS`]); a case that matched nobody makes them too (a
//!    presence request gets a decoy code and its step). What the household and staff do —
//!    guardians' answers, a booked locksmith and its check word, a cancellation — shows after
//!    proof only.
//! 2. **Same limits.** Limits are keyed on the source address, the case and the claim as typed
//!    ([`claim_key`]), never on the person matched, so a made-up name meets them exactly as a
//!    resident's does.
//! 3. **Same time.** Every answer is held to [`FLOOR`] ([`held`]), whatever work the match made.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use latchkey_core::{LockoutCaseId, PersonId, PropertyId, UnitId};
use latchkey_store::audit::NewEvent;
use latchkey_store::lockout::{self as repo, LockoutCase, NewCase, Notification, Step};
use serde::Serialize;
use serde_json::json;

use crate::authz::{CaseParty, CaseStarter, Principal};
use crate::secrets::{new_token, token_digest};
use crate::{App, AppError, Result};

mod card;
mod changes;
mod desk;
mod fees;
mod guardians;
mod locksmith;
mod openings;
mod presence;
mod prompts;
mod proofs;
mod ways;

pub use card::{CARD_CODES, RecoveryCard};
pub use changes::{ChangeRequested, CollectedPin};
pub use desk::{FeeQuote, StaffCase};
pub use fees::ledger_csv;
pub use guardians::{GuardianRequest, GuardiansAsked, LINK_TTL, guardian_link_aad};
pub use locksmith::{BookLocksmith, Booked, CompleteJob, Completed, JobView, LocksmithCode};
pub use openings::{ReleasedPin, StaffOpening};
pub use presence::PresenceChallenge;
pub use prompts::CasePrompt;
pub use proofs::TotpEnrolment;
pub use ways::WayOption;

/// Every public start and every answer to a case token comes no sooner than this, whatever it
/// found.
pub(crate) const FLOOR: Duration = Duration::from_millis(300);
/// The steps a token holder sees before the case is proven: those their own requests make, on
/// a case that matched someone and on one that matched nobody alike.
const TOKEN_STEPS: [&str; 4] = [
    "opened",
    "presence_challenge",
    "guardians_asked",
    "proof_refused",
];
/// Public starts allowed per source address, and per property and unit label, per hour.
const STARTS_PER_SOURCE: u32 = 10;
const STARTS_PER_UNIT: u32 = 5;
/// Case-token look-ups allowed per source address per hour (a token is 256 bits; this only
/// keeps a scanner from hammering the database).
const VIEWS_PER_SOURCE: u32 = 600;

/// What a person at the door types.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct PublicStart {
    pub property_id: i64,
    /// The unit's label as the resident knows it, e.g. "4B".
    pub unit: String,
    /// The resident's name or e-mail address.
    pub identity: String,
}

/// The answer to a public start: identical whether or not anything matched.
#[derive(Clone, Debug, Serialize)]
pub struct Started {
    /// Keep this: it is the only way back to the case without signing in.
    pub token: String,
    pub message: &'static str,
}

const STARTED_MESSAGE: &str = "Your request is recorded. If it matches a resident of this unit, \
     everyone who lives there has been told. Keep the case token: with it you can follow the case \
     and prove who you are.";

/// A case as its viewer may see it.
#[derive(Clone, Debug, Serialize)]
pub struct CaseView {
    /// Only for viewers who may know which case it is (the household and staff).
    pub id: Option<LockoutCaseId>,
    pub state: String,
    pub created_at: Timestamp,
    /// Steps the viewer may see: all of them for the household and staff; for the token
    /// holder, only the kinds of step (no names, no units).
    pub timeline: Vec<Step>,
    /// The ways back in, best first. Before the case is proven a token holder sees the general
    /// order only; live availability (which windows are open, who is reachable) is for the
    /// household, staff, and a proven case.
    pub ways: Vec<WayOption>,
    /// Locksmiths sent to the case, with the check word the locksmith will say at the door.
    pub locksmith_jobs: Vec<latchkey_store::resolution::Job>,
}

fn clean(text: &str, max: usize) -> Option<String> {
    let t = text.trim();
    (!t.is_empty() && t.chars().count() <= max).then(|| t.to_owned())
}

/// Runs `work` and answers no sooner than [`FLOOR`] after it began, whatever it found or failed
/// at: the time an answer takes says nothing about the match behind it.
pub(crate) async fn held<T>(work: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let outcome = work.await;
    let elapsed = started.elapsed();
    if elapsed < FLOOR {
        tokio::time::sleep(FLOOR - elapsed).await;
    }
    outcome
}

/// Whether a case was ever proven: only then may its token holder learn what it is about.
pub(crate) fn was_proven(steps: &[Step]) -> bool {
    steps.iter().any(|s| s.kind == "proven")
}

fn matches_identity(claim: &str, name: &str, email: Option<&str>) -> bool {
    let claim = claim.trim().to_lowercase();
    name.trim().to_lowercase() == claim || email.is_some_and(|e| e.trim().to_lowercase() == claim)
}

impl App {
    /// Opens a case from the public page: no sign-in. Same answer and minimum time whether or
    /// not the property, unit and person exist.
    ///
    /// # Errors
    /// `Invalid` for an empty or over-long unit or identity (that says nothing about the
    /// building); `RateLimited` past the limits per source address and per unit.
    pub async fn start_lockout_public(&self, input: PublicStart, source: &str) -> Result<Started> {
        let unit = clean(&input.unit, 40)
            .ok_or_else(|| AppError::invalid("unit", "must be 1 to 40 characters"))?;
        let identity = clean(&input.identity, 200)
            .ok_or_else(|| AppError::invalid("identity", "must be 1 to 200 characters"))?;
        self.limits()
            .hit(
                &format!("lockout:source:{source}"),
                STARTS_PER_SOURCE,
                Duration::from_secs(3600),
            )
            .await?;
        // Many starts for one unit only tell its household (never a block of its resident);
        // both that and the case are held to the same floor.
        let (outcome, signal) = held(async {
            let outcome = self
                .open_public_case(input.property_id, &unit, &identity, source)
                .await;
            let signal = self
                .limits()
                .unit_starts(
                    input.property_id,
                    &unit,
                    STARTS_PER_UNIT,
                    Duration::from_secs(3600),
                )
                .await;
            (outcome, signal)
        })
        .await;
        signal?;
        let token = outcome?;
        Ok(Started {
            token,
            message: STARTED_MESSAGE,
        })
    }

    async fn open_public_case(
        &self,
        property: i64,
        unit: &str,
        identity: &str,
        source: &str,
    ) -> Result<String> {
        let now = self.now();
        let (token, digest) = new_token("lkc")?;
        let mut tx = self.store().write().await?;
        let occupants = repo::occupants_by_label(tx.conn(), property, unit, now).await?;
        let claimed = occupants
            .iter()
            .find(|o| matches_identity(identity, &o.name, o.email.as_deref()));
        let property_id = latchkey_store::property::get_property(tx.conn(), PropertyId(property))
            .await?
            .map(|p| p.id);
        let case = repo::create_case(
            tx.conn(),
            &NewCase {
                property_id,
                unit_id: claimed.map(|o| o.unit_id),
                person_id: claimed.map(|o| o.person_id),
                opened_via: "public",
                opened_by: None,
                claimed_unit: unit.to_owned(),
                claimed_identity: identity.to_owned(),
                source: source.to_owned(),
            },
            &digest,
            now,
        )
        .await?;
        let household: Vec<PersonId> = match claimed {
            Some(c) => occupants
                .iter()
                .filter(|o| o.unit_id == c.unit_id)
                .map(|o| o.person_id)
                .collect(),
            None => Vec::new(),
        };
        self.record_opening(&mut tx, &case, &household, None, now)
            .await?;
        let ev = NewEvent::new("lockout.opened", format!("lockout:{}", case.id))
            .data(json!({ "via": "public", "matched": claimed.is_some(), "source": source }));
        let ev = match property_id {
            Some(p) => ev.property(p),
            None => ev,
        };
        self.commit_at(tx, vec![ev], now).await?;
        Ok(token)
    }

    /// The opening step and the household's notifications, in the case's transaction.
    async fn record_opening(
        &self,
        tx: &mut latchkey_store::WriteTx,
        case: &LockoutCase,
        household: &[PersonId],
        actor: Option<PersonId>,
        now: Timestamp,
    ) -> Result<()> {
        repo::add_step(
            tx.conn(),
            case.id,
            &Step {
                at: now,
                actor_id: actor,
                kind: "opened".into(),
                detail: json!({ "via": case.opened_via }),
            },
        )
        .await?;
        let messages: Vec<Notification> = household
            .iter()
            .map(|p| Notification {
                property_id: case.property_id,
                person_id: *p,
                kind: "lockout.opened".into(),
                case_id: Some(case.id),
                body: json!({
                    "case_id": case.id,
                    "about_you": Some(*p) == case.person_id,
                    "via": case.opened_via,
                    "text": "A lockout case was opened for your unit. If this was not you or someone \
                             you know, tell the building manager; nothing opens until identity is proven.",
                }),
                created_at: now,
                sent_at: None,
            })
            .collect();
        repo::queue(tx.conn(), &messages).await?;
        Ok(())
    }

    /// Opens a case for the resident the capability names ([`Principal::case_starter`]): by
    /// staff taking a call, or by a resident for themselves. Returns the case and its token.
    ///
    /// # Errors
    /// `NotFound` for a unit of another property; `Invalid` when the person does not live in
    /// the unit.
    pub async fn start_lockout_for(
        &self,
        starter: CaseStarter<'_>,
        unit: UnitId,
    ) -> Result<(LockoutCase, String)> {
        let who = starter.principal();
        let (property, person, via) = (starter.property(), starter.person(), starter.via());
        let now = self.now();
        let (token, digest) = new_token("lkc")?;
        let mut tx = self.store().write().await?;
        let unit_row = latchkey_store::property::get_unit(tx.conn(), unit)
            .await?
            .filter(|u| u.property_id == property)
            .ok_or_else(|| AppError::not_found("unit"))?;
        let occupants = repo::occupants_of_unit(tx.conn(), unit, now).await?;
        let Some(claimed) = occupants.iter().find(|o| o.person_id == person) else {
            return Err(AppError::invalid(
                "person_id",
                "this person does not live in the unit",
            ));
        };
        let case = repo::create_case(
            tx.conn(),
            &NewCase {
                property_id: Some(property),
                unit_id: Some(unit),
                person_id: Some(person),
                opened_via: via,
                opened_by: Some(who.id()),
                claimed_unit: unit_row.label.clone(),
                claimed_identity: claimed.name.clone(),
                source: String::new(),
            },
            &digest,
            now,
        )
        .await?;
        let household: Vec<PersonId> = occupants.iter().map(|o| o.person_id).collect();
        self.record_opening(&mut tx, &case, &household, Some(who.id()), now)
            .await?;
        let ev = NewEvent::new("lockout.opened", format!("lockout:{}", case.id))
            .property(property)
            .actor(Some(who.id()))
            .data(json!({ "via": via, "unit_id": unit, "person_id": person }));
        self.commit_at(tx, vec![ev], now).await?;
        Ok((case, token))
    }

    /// The case behind a token, as the person holding the token may see it: until the case is
    /// proven, the same for a case that matched someone as for one that matched nobody (see
    /// the module's header). Answers no sooner than [`FLOOR`].
    ///
    /// # Errors
    /// `NotFound` for an unknown token (the same for every unknown token); `RateLimited` past
    /// the per-source limit.
    pub async fn lockout_by_token(&self, token: &str, source: &str) -> Result<CaseView> {
        held(self.token_view(token, source)).await
    }

    pub(crate) async fn token_view(&self, token: &str, source: &str) -> Result<CaseView> {
        self.limits()
            .hit(
                &format!("lockout:view:{source}"),
                VIEWS_PER_SOURCE,
                Duration::from_secs(3600),
            )
            .await?;
        let mut conn = self.store().read().await?;
        let case = repo::case_by_token(&mut conn, &token_digest(token))
            .await?
            .ok_or_else(|| AppError::not_found("lockout case"))?;
        let steps = repo::steps_of(&mut conn, case.id).await?;
        drop(conn);
        let blank = |s: Step| Step {
            detail: json!({}),
            actor_id: None,
            ..s
        };
        if !was_proven(&steps) {
            return Ok(CaseView {
                id: None,
                state: "open".into(),
                created_at: case.created_at,
                timeline: steps
                    .into_iter()
                    .filter(|s| TOKEN_STEPS.contains(&s.kind.as_str()))
                    .map(blank)
                    .collect(),
                ways: ways::general_order(),
                locksmith_jobs: Vec::new(),
            });
        }
        Ok(CaseView {
            id: None,
            state: case.state.clone(),
            created_at: case.created_at,
            timeline: steps.into_iter().map(blank).collect(),
            ways: if case.state == "proven" {
                self.ways_back_in(&case).await?
            } else {
                ways::general_order()
            },
            locksmith_jobs: self.jobs_of(&case).await?,
        })
    }

    /// Whether the caller may see the case ([`Principal::sees_case`]).
    pub(crate) fn may_see_case(&self, who: &Principal, case: &LockoutCase) -> bool {
        who.sees_case(case)
    }

    /// A case, in full, for staff and the people of its unit.
    ///
    /// # Errors
    /// `NotFound` for anyone else.
    pub async fn lockout_case(&self, who: &Principal, id: LockoutCaseId) -> Result<CaseView> {
        let mut conn = self.store().read().await?;
        let case = repo::get_case(&mut conn, id)
            .await?
            .filter(|c| self.may_see_case(who, c))
            .ok_or_else(|| AppError::not_found("lockout case"))?;
        let timeline = repo::steps_of(&mut conn, id).await?;
        drop(conn);
        Ok(CaseView {
            id: Some(case.id),
            state: case.state.clone(),
            created_at: case.created_at,
            timeline,
            ways: self.ways_back_in(&case).await?,
            locksmith_jobs: self.jobs_of(&case).await?,
        })
    }

    /// The property's cases, newest first (staff).
    ///
    /// # Errors
    /// `NotFound`/`Forbidden` per [`Principal::staff`].
    pub async fn lockout_cases(
        &self,
        who: &Principal,
        property: PropertyId,
    ) -> Result<Vec<LockoutCase>> {
        who.staff(property)?;
        let mut conn = self.store().read().await?;
        Ok(repo::list_cases(&mut conn, property).await?)
    }

    /// Loads case `id` and checks that the caller sees it ([`Principal::case_party`]).
    ///
    /// # Errors
    /// `NotFound` for anyone who may not see the case.
    pub async fn may_cancel_lockout<'a>(
        &self,
        who: &'a Principal,
        id: LockoutCaseId,
    ) -> Result<CaseParty<'a>> {
        self.load_case_party(who, id).await
    }

    /// Loads case `id` and checks that the caller sees it: what cancelling it, booking a
    /// locksmith and recording a forced entry need.
    pub(crate) async fn load_case_party<'a>(
        &self,
        who: &'a Principal,
        id: LockoutCaseId,
    ) -> Result<CaseParty<'a>> {
        let mut conn = self.store().read().await?;
        let case = repo::get_case(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("lockout case"))?;
        who.case_party(case)
    }

    /// Cancels the open case the capability carries: any member of its household (for
    /// example, one who sees a case they did not expect) or staff. The household is told.
    ///
    /// # Errors
    /// `Conflict` for a closed case.
    pub async fn cancel_lockout(&self, party: CaseParty<'_>) -> Result<()> {
        let who = party.principal();
        let id = party.case().id;
        let now = self.now();
        let mut tx = self.store().write().await?;
        let case = repo::get_case(tx.conn(), id)
            .await?
            .ok_or_else(|| AppError::not_found("lockout case"))?;
        if matches!(case.state.as_str(), "resolved" | "cancelled") {
            return Err(AppError::Conflict(format!(
                "the case is already {}",
                case.state
            )));
        }
        repo::set_case_state(tx.conn(), id, "cancelled", now).await?;
        repo::add_step(
            tx.conn(),
            id,
            &Step {
                at: now,
                actor_id: Some(who.id()),
                kind: "cancelled".into(),
                detail: json!({}),
            },
        )
        .await?;
        self.tell_household(
            &mut tx,
            &case,
            "lockout.cancelled",
            json!({ "by": who.id() }),
            now,
        )
        .await?;
        let ev = NewEvent::new("lockout.cancelled", format!("lockout:{id}")).actor(Some(who.id()));
        let ev = match case.property_id {
            Some(p) => ev.property(p),
            None => ev,
        };
        self.commit_at(tx, vec![ev], now).await?;
        Ok(())
    }
}
