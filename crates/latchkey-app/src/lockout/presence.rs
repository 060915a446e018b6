//! Presence at the door (docs/LOCKOUT.md): with the case token, the person gets a one-time
//! challenge code that latchkey puts on the unit's lock as a `non_access` user. The lock
//! recognises it, reports its use and never opens for it; when the person types it on the
//! keypad, the report proves they stand at that door. An extra factor: the policy's
//! `require_presence` makes a case wait for it on top of a proof.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use latchkey_core::CredentialId;
use latchkey_core::model::{CredentialStatus, ProofKind};
use latchkey_store::audit::NewEvent;
use latchkey_store::credentials;
use latchkey_store::lockout::{self as repo, Proof};
use latchkey_store::resolution::{self as res, Challenge};
use serde::Serialize;
use serde_json::json;

use super::openings::unit_lock_doors;
use crate::directory::{load_property, time_zone};
use crate::mint::{NewPin, one_time, random_pin};
use crate::secrets::token_digest;
use crate::{App, AppError, Result};

/// How long a challenge code waits to be typed.
const CHALLENGE_TTL: SignedDuration = SignedDuration::from_mins(10);
/// Challenges per case per hour, and per source address per hour.
const CHALLENGES_PER_CASE: u32 = 3;
const CHALLENGES_PER_SOURCE: u32 = 10;

/// What the person at the door types. The same shape for every case, matched or not.
#[derive(Clone, Debug, Serialize)]
pub struct PresenceChallenge {
    pub code: String,
    pub valid_until: Timestamp,
    pub message: &'static str,
}

const CHALLENGE_MESSAGE: &str = "Type this code on the keypad of your unit's door. The door will \
     not open; the lock tells latchkey that you are standing there.";

impl App {
    /// A challenge code for the case behind `token`. A case that matched nobody, or that the
    /// household cancelled, gets a decoy code too (never put on any lock) and the same step in
    /// its timeline, so neither the answer nor the look-up says anything about the case.
    ///
    /// # Errors
    /// `NotFound` for an unknown token; `Conflict` for a case already proven; `RateLimited` past
    /// the limits. Answers no sooner than [`super::FLOOR`].
    pub async fn presence_challenge(&self, token: &str, source: &str) -> Result<PresenceChallenge> {
        super::held(self.challenge(token, source)).await
    }

    async fn challenge(&self, token: &str, source: &str) -> Result<PresenceChallenge> {
        let hour = Duration::from_secs(3600);
        self.limits()
            .hit(
                &format!("presence:source:{source}"),
                CHALLENGES_PER_SOURCE,
                hour,
            )
            .await?;
        let now = self.now();
        let until = now
            .checked_add(CHALLENGE_TTL)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.store().write().await?;
        let case = repo::case_by_token(tx.conn(), &token_digest(token))
            .await?
            .ok_or_else(|| AppError::not_found("lockout case"))?;
        self.limits()
            .hit_in(
                &mut tx,
                &format!("presence:case:{}", case.id),
                CHALLENGES_PER_CASE,
                hour,
            )
            .await?;
        if super::was_proven(&repo::steps_of(tx.conn(), case.id).await?) {
            return Err(AppError::Conflict(format!(
                "the case is {}: presence is asked for before it is proven",
                case.state
            )));
        }
        let door = unit_lock_doors(tx.conn(), &case).await?.into_iter().next();
        let (Some(property), Some(person), Some(door), "open") =
            (case.property_id, case.person_id, door, case.state.as_str())
        else {
            // A decoy: a code put on no lock, and the same step in the timeline, so neither the
            // answer nor the case's look-up says the case matched nobody (or was cancelled).
            let ctx = latchkey_core::pin::PinContext { unit_label: None };
            let code = random_pin(&ctx, 6)?.expose().to_owned();
            self.case_step(
                &mut tx,
                &case,
                None,
                "presence_challenge",
                json!({ "door": null, "valid_until": until, "decoy": true }),
                now,
            )
            .await?;
            let ev = NewEvent::new("lockout.presence_challenge", format!("lockout:{}", case.id))
                .data(json!({ "door": null, "decoy": true, "source": source }));
            let ev = match case.property_id {
                Some(p) => ev.property(p),
                None => ev,
            };
            self.commit_at(tx, vec![ev], now).await?;
            return Ok(PresenceChallenge {
                code,
                valid_until: until,
                message: CHALLENGE_MESSAGE,
            });
        };
        let prop = load_property(tx.conn(), property).await?;
        let tz = time_zone(&prop.timezone)?;
        let (credential, code) = self
            .mint_pin(
                tx.conn(),
                NewPin {
                    property,
                    person,
                    unit: case.unit_id,
                    label: format!("presence challenge (case {})", case.id),
                    doors: vec![door.id],
                    schedule: one_time(&tz, now, until),
                    max_uses: None,
                    digits: 6,
                    non_access: true,
                },
            )
            .await?;
        res::create_challenge(
            tx.conn(),
            &Challenge {
                id: 0,
                case_id: case.id,
                credential_id: credential.id,
                door_id: door.id,
                created_at: now,
                expires_at: until,
                seen_at: None,
            },
        )
        .await?;
        self.case_step(
            &mut tx,
            &case,
            None,
            "presence_challenge",
            json!({ "door": door.id, "valid_until": until }),
            now,
        )
        .await?;
        let ev = NewEvent::new("lockout.presence_challenge", format!("lockout:{}", case.id))
            .property(property)
            .data(json!({ "door": door.id, "credential_id": credential.id, "source": source }));
        self.commit_at(tx, vec![ev], now).await?;
        self.devices().credential_changed(credential.id, &[door.id]);
        Ok(PresenceChallenge {
            code: code.expose().to_owned(),
            valid_until: until,
            message: CHALLENGE_MESSAGE,
        })
    }

    /// The lock reported a `non_access` code (called by ingestion after its commit): if it is a
    /// waiting challenge, it is used up and counts as presence in its case.
    pub(crate) async fn presence_reported(&self, credential: CredentialId) {
        if let Err(e) = self.record_presence(credential).await {
            tracing::error!(credential = credential.0, error = %e, "could not record presence at the door");
        }
    }

    async fn record_presence(&self, credential: CredentialId) -> Result<()> {
        let now = self.now();
        let mut tx = self.store().write().await?;
        let Some(challenge) = res::see_challenge(tx.conn(), credential, now).await? else {
            return Ok(());
        };
        // One use: the code leaves the lock whatever happens next.
        credentials::set_status(tx.conn(), credential, CredentialStatus::Revoked, now).await?;
        let case = repo::get_case(tx.conn(), challenge.case_id).await?;
        let valid = now < challenge.expires_at;
        match case {
            Some(case) if valid && case.state == "open" => {
                let proof = Proof {
                    kind: ProofKind::Presence.as_str().into(),
                    person_id: case.person_id,
                    recorded_by: None,
                    at: now,
                    detail: json!({ "door": challenge.door_id }),
                };
                self.accept_proof(tx, &case, proof, Vec::new()).await?;
            }
            _ => {
                let ev = NewEvent::new(
                    "lockout.presence_ignored",
                    format!("credential:{credential}"),
                )
                .data(json!({ "case": challenge.case_id, "expired": !valid }));
                self.commit_at(tx, vec![ev], now).await?;
            }
        }
        self.devices()
            .credential_changed(credential, &[challenge.door_id]);
        Ok(())
    }
}
