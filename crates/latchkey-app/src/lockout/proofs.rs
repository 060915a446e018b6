//! Identity proofs in a lockout case. The property's policy names the proofs that count; the
//! first one given moves the case to `proven`, and everyone in the household is told. Refused
//! attempts are limited per source address and per case; refusals against one person are
//! counted only to tell them, and each is recorded in the case's timeline, so the household sees
//! someone trying.
//!
//! A WebAuthn assertion arrives with the web app as one more [`ProofKind`]: it is checked by
//! its own verifier and recorded through the same [`App::accept_proof`].

use std::time::Duration;

use latchkey_core::model::ProofKind;
use latchkey_core::totp::{self, Secret};
use latchkey_core::{LockoutCaseId, PersonId};
use latchkey_store::audit::NewEvent;
use latchkey_store::lockout::{self as repo, LockoutCase, Proof, Step};
use serde::Serialize;
use serde_json::json;

use super::CaseView;
use crate::authz::{CaseStaff, OwnAccount, Principal};
use crate::secrets::{random_bytes, token_digest};
use crate::{App, AppError, Result};

const ATTEMPTS_PER_SOURCE: u32 = 20;
const ATTEMPTS_PER_CASE: u32 = 5;
/// Refused codes against one person (in any case, from anywhere) per hour after which they are
/// told; never a block, so that strangers' wrong codes cannot turn away the person's right one.
const ATTEMPTS_PER_PERSON: u32 = 10;
/// The same answer for every refused code, whatever the reason.
const REFUSED: &str = "that code does not prove this case";

/// An authenticator enrolment, shown once.
#[derive(Clone, Debug, Serialize)]
pub struct TotpEnrolment {
    /// Base32, for typing into an authenticator app.
    pub secret: String,
    /// `otpauth://` URI, for a QR code.
    pub uri: String,
}

fn totp_aad(person: PersonId) -> Vec<u8> {
    format!("latchkey.totp.{}", person.0).into_bytes()
}

fn check_document(document: &str) -> Result<&str> {
    let document = document.trim();
    if document.is_empty() || document.chars().count() > 100 {
        return Err(AppError::invalid("document", "must be 1 to 100 characters"));
    }
    Ok(document)
}

impl App {
    /// Checks `document`, loads case `id` and checks that the caller is staff of its property
    /// ([`Principal::case_staff`]).
    ///
    /// # Errors
    /// `Invalid` for an empty document description; `NotFound` for anyone who may not see the
    /// case; `Forbidden` for non-staff.
    pub async fn may_record_id_check<'a>(
        &self,
        who: &'a Principal,
        id: LockoutCaseId,
        document: &str,
    ) -> Result<CaseStaff<'a>> {
        check_document(document)?;
        let mut conn = self.store().read().await?;
        let case = repo::get_case(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("lockout case"))?;
        who.case_staff(case)
    }

    /// Enrols (or replaces) the caller's authenticator app secret. The secret is shown once
    /// and stored sealed with the master key.
    ///
    /// # Errors
    /// `Internal` when the random source fails.
    pub async fn enroll_totp(&self, own: OwnAccount<'_>) -> Result<TotpEnrolment> {
        let who = own.principal();
        let secret = Secret::from_bytes(random_bytes::<{ totp::SECRET_LEN }>()?);
        let sealed = self
            .keys()
            .seal_bytes(&totp_aad(who.id()), secret.as_bytes())?;
        let now = self.now();
        let mut tx = self.store().write().await?;
        repo::set_totp_secret(tx.conn(), who.id(), &sealed, now).await?;
        let ev =
            NewEvent::new("totp.enrolled", format!("person:{}", who.id())).actor(Some(who.id()));
        self.commit_at(tx, vec![ev], now).await?;
        let account = who
            .person()
            .email
            .clone()
            .unwrap_or_else(|| who.person().name.clone());
        Ok(TotpEnrolment {
            secret: secret.to_base32(),
            uri: secret.otpauth_uri("latchkey", &account),
        })
    }

    /// A code from the authenticator of the person the case is about, given with the case
    /// token (no sign-in: their phone may be the thing they lost, the authenticator may be on
    /// another device).
    ///
    /// # Errors
    /// `NotFound` for an unknown token; `Forbidden` with one fixed sentence for every refused
    /// code (wrong, replayed, no authenticator, a case that matched nobody, a closed case);
    /// `RateLimited` past the limits. Answers no sooner than [`super::FLOOR`].
    pub async fn prove_with_totp(&self, token: &str, code: &str, source: &str) -> Result<CaseView> {
        super::held(self.check_code(token, code, source, ProofKind::Totp)).await
    }

    /// Checks a code of `kind` (an authenticator's, a recovery card's) given with a case token.
    pub(super) async fn check_code(
        &self,
        token: &str,
        code: &str,
        source: &str,
        kind: ProofKind,
    ) -> Result<CaseView> {
        let hour = Duration::from_secs(3600);
        let by_source = format!("proof:source:{source}");
        self.limits()
            .hit(&by_source, ATTEMPTS_PER_SOURCE, hour)
            .await?;
        let case = {
            let mut conn = self.store().read().await?;
            repo::case_by_token(&mut conn, &token_digest(token))
                .await?
                .ok_or_else(|| AppError::not_found("lockout case"))?
        };
        let by_case = format!("proof:case:{}", case.id);
        self.limits()
            .hit(&by_case, ATTEMPTS_PER_CASE, Duration::from_secs(900))
            .await?;
        let now = self.now();
        let mut tx = self.store().write().await?;
        let accepted = match (case.person_id, case.state.as_str(), kind) {
            (Some(person), "open", ProofKind::RecoveryCode) => {
                repo::use_recovery_code(tx.conn(), person, &super::card::code_digest(code), now)
                    .await?
            }
            (Some(person), "open", ProofKind::Totp) => {
                match repo::totp_secret(tx.conn(), person).await? {
                    Some((sealed, last)) => {
                        let bytes = self.keys().open_bytes(&totp_aad(person), &sealed)?;
                        let secret = <[u8; totp::SECRET_LEN]>::try_from(bytes.as_slice())
                            .map(Secret::from_bytes)
                            .map_err(|_| {
                                AppError::Internal(
                                    "a stored authenticator secret has the wrong length".into(),
                                )
                            })?;
                        let unix = u64::try_from(now.as_second()).unwrap_or(0);
                        let last = last.and_then(|l| u64::try_from(l).ok());
                        match totp::verify(&secret, code, unix, last) {
                            Ok(step) => {
                                repo::use_totp_step(
                                    tx.conn(),
                                    person,
                                    i64::try_from(step).unwrap_or(i64::MAX),
                                )
                                .await?
                            }
                            Err(_) => false,
                        }
                    }
                    None => false,
                }
            }
            _ => false,
        };
        if !accepted {
            self.limits()
                .failures_against(
                    &mut tx,
                    case.person_id,
                    &format!("proof:person:{}", case.person_id.map_or(0, |p| p.0)),
                    ATTEMPTS_PER_PERSON,
                    hour,
                    "lockout_proof",
                )
                .await?;
            repo::add_step(
                tx.conn(),
                case.id,
                &Step {
                    at: now,
                    actor_id: None,
                    kind: "proof_refused".into(),
                    detail: json!({ "proof": kind.as_str() }),
                },
            )
            .await?;
            let ev = NewEvent::new("lockout.proof_refused", format!("lockout:{}", case.id))
                .data(json!({ "proof": kind.as_str(), "source": source }));
            let ev = match case.property_id {
                Some(p) => ev.property(p),
                None => ev,
            };
            self.commit_at(tx, vec![ev], now).await?;
            return Err(AppError::forbidden(REFUSED));
        }
        let proof = Proof {
            kind: kind.as_str().into(),
            person_id: case.person_id,
            recorded_by: None,
            at: now,
            detail: json!({}),
        };
        self.accept_proof(tx, &case, proof, Vec::new()).await?;
        self.limits().forgive(&by_source).await?;
        self.limits().forgive(&by_case).await?;
        self.token_view(token, source).await
    }

    /// Staff record that they checked the person's identity document in person.
    ///
    /// # Errors
    /// `Conflict` for a case that is not open or matched nobody.
    pub async fn record_id_check(&self, staff: CaseStaff<'_>, document: &str) -> Result<CaseView> {
        let document = check_document(document)?;
        let who = staff.principal();
        let case = staff.case().clone();
        let id = case.id;
        if case.state != "open" || case.person_id.is_none() {
            return Err(AppError::Conflict(
                "only an open case about a known resident can be proven".into(),
            ));
        }
        let tx = self.store().write().await?;
        let proof = Proof {
            kind: ProofKind::IdCheck.as_str().into(),
            person_id: case.person_id,
            recorded_by: Some(who.id()),
            at: self.now(),
            detail: json!({ "document": document }),
        };
        self.accept_proof(tx, &case, proof, Vec::new()).await?;
        self.lockout_case(who, id).await
    }

    /// Records a proof in the case's transaction; when the property's policy is met, the case
    /// becomes `proven` and the household is told.
    pub(crate) async fn accept_proof(
        &self,
        mut tx: latchkey_store::WriteTx,
        case: &LockoutCase,
        proof: Proof,
        mut events: Vec<NewEvent>,
    ) -> Result<()> {
        let now = proof.at;
        // The case is proven once one of the policy's proofs is given and, where the policy
        // asks for it, presence at the door too, in either order.
        let earlier = repo::proofs_of(tx.conn(), case.id).await?;
        let (counts, proven) = match case.property_id {
            Some(p) => {
                let policy = crate::directory::load_property(tx.conn(), p).await?.policy;
                let counted =
                    |kind: &str| policy.recovery_proofs.iter().any(|k| k.as_str() == kind);
                let presence = ProofKind::Presence.as_str();
                let counts = counted(&proof.kind);
                let proven = (counts || earlier.iter().any(|e| counted(&e.kind)))
                    && (!policy.require_presence
                        || proof.kind == presence
                        || earlier.iter().any(|e| e.kind == presence));
                (counts, proven && case.state == "open")
            }
            None => (false, false),
        };
        repo::add_proof(tx.conn(), case.id, &proof).await?;
        repo::add_step(
            tx.conn(),
            case.id,
            &Step {
                at: now,
                actor_id: proof.recorded_by,
                kind: format!("proof_{}", proof.kind),
                detail: json!({ "counts": counts }),
            },
        )
        .await?;
        events.push(
            NewEvent::new("lockout.proof", format!("lockout:{}", case.id))
                .actor(proof.recorded_by)
                .data(json!({ "proof": proof.kind, "counts": counts })),
        );
        if proven {
            repo::set_case_state(tx.conn(), case.id, "proven", now).await?;
            repo::add_step(
                tx.conn(),
                case.id,
                &Step {
                    at: now,
                    actor_id: proof.recorded_by,
                    kind: "proven".into(),
                    detail: json!({ "by": proof.kind }),
                },
            )
            .await?;
            self.tell_household(
                &mut tx,
                case,
                "lockout.proven",
                json!({ "proof": proof.kind }),
                now,
            )
            .await?;
            events.push(
                NewEvent::new("lockout.proven", format!("lockout:{}", case.id))
                    .actor(proof.recorded_by)
                    .data(json!({ "proof": proof.kind })),
            );
        }
        let events = match case.property_id {
            Some(p) => events.into_iter().map(|e| e.property(p)).collect(),
            None => events,
        };
        self.commit_at(tx, events, now).await
    }
}
