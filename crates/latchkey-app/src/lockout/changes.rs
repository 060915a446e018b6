//! Recovery that changes credentials (docs/LOCKOUT.md): a proven case may ask for a new PIN in
//! place of a forgotten one. It waits the policy's delay, during which everyone in the
//! household is told and any of them can cancel it, unless the case was proven with a factor
//! the person already had (their passkey or authenticator app). Then the token holder collects
//! the new PIN once; the person's old PINs leave the locks.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use latchkey_core::model::{CredentialKind, CredentialStatus, ProofKind};
use latchkey_core::schedule::Schedule;
use latchkey_core::{CredentialId, DoorId};
use latchkey_store::credentials;
use latchkey_store::lockout::{self as repo, LockoutCase};
use latchkey_store::resolution::{self as res, Change};
use serde::Serialize;
use serde_json::json;

use super::openings::{NOT_PROVEN, unit_lock_doors};
use crate::authz::{ChangeCanceller, Principal};
use crate::directory::load_property;
use crate::mint::NewPin;
use crate::secrets::token_digest;
use crate::{App, AppError, Result};

const TRIES_PER_SOURCE: u32 = 20;

/// The new PIN, shown once.
#[derive(Clone, Debug, Serialize)]
pub struct CollectedPin {
    pub pin: String,
    pub doors: Vec<DoorId>,
}

/// A new PIN on its way.
#[derive(Clone, Debug, Serialize)]
pub struct ChangeRequested {
    pub change_id: i64,
    /// When the new PIN can be collected.
    pub effective_at: Timestamp,
    /// False when a factor the person already had proved the case: no wait.
    pub delayed: bool,
}

impl App {
    async fn case_of_token(&self, token: &str, source: &str) -> Result<LockoutCase> {
        self.limits()
            .hit(
                &format!("change:source:{source}"),
                TRIES_PER_SOURCE,
                Duration::from_secs(3600),
            )
            .await?;
        let mut conn = self.store().read().await?;
        repo::case_by_token(&mut conn, &token_digest(token))
            .await?
            .ok_or_else(|| AppError::not_found("lockout case"))
    }

    /// With the case token of a proven case, asks for a new PIN in place of the person's
    /// current ones. The household is told at once and can cancel it during the delay.
    ///
    /// # Errors
    /// `NotFound` for an unknown token; `Forbidden` before the case is proven; `Conflict` when
    /// a new PIN is already on its way; `RateLimited`.
    pub async fn request_new_pin(&self, token: &str, source: &str) -> Result<ChangeRequested> {
        let case = self.case_of_token(token, source).await?;
        let (Some(property), Some(person), "proven") =
            (case.property_id, case.person_id, case.state.as_str())
        else {
            return Err(AppError::forbidden(NOT_PROVEN));
        };
        let now = self.now();
        let mut tx = self.store().write().await?;
        if res::latest_change(tx.conn(), case.id)
            .await?
            .is_some_and(|c| c.status == "pending")
        {
            return Err(AppError::Conflict("a new PIN is already on its way".into()));
        }
        let policy = load_property(tx.conn(), property).await?.policy;
        let strong = repo::proofs_of(tx.conn(), case.id)
            .await?
            .iter()
            .any(|p| p.kind == ProofKind::Totp.as_str() || p.kind == ProofKind::Passkey.as_str());
        let delay = if strong {
            SignedDuration::ZERO
        } else {
            SignedDuration::from_mins(i64::from(policy.credential_change_delay_minutes))
        };
        let effective_at = now
            .checked_add(delay)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let change = res::create_change(
            tx.conn(),
            &Change {
                id: 0,
                case_id: case.id,
                person_id: person,
                kind: "new_pin".into(),
                status: "pending".into(),
                effective_at,
                created_at: now,
                cancelled_by: None,
                applied_at: None,
                credential_id: None,
            },
        )
        .await?;
        let detail = json!({
            "change": change.id, "effective_at": effective_at, "delayed": !strong,
            "text": "A new PIN was asked for in a lockout case. If this is not right, cancel it before it takes effect.",
        });
        let ev = self
            .announce(&mut tx, &case, None, "credential_change", detail, now)
            .await?;
        self.commit_at(tx, vec![ev], now).await?;
        Ok(ChangeRequested {
            change_id: change.id,
            effective_at,
            delayed: !strong,
        })
    }

    /// Loads credential change `id` and its case, and checks that the caller sees the case
    /// ([`Principal::change_canceller`]).
    ///
    /// # Errors
    /// `NotFound` for anyone who may not see the case.
    pub async fn may_cancel_credential_change<'a>(
        &self,
        who: &'a Principal,
        id: i64,
    ) -> Result<ChangeCanceller<'a>> {
        let mut conn = self.store().read().await?;
        let change = res::get_change(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("credential change"))?;
        let case = repo::get_case(&mut conn, change.case_id)
            .await?
            .ok_or_else(|| AppError::not_found("credential change"))?;
        who.change_canceller(change, case)
    }

    /// Anyone in the household (or staff) cancels the pending credential change the
    /// capability carries.
    ///
    /// # Errors
    /// `Conflict` when it is no longer pending.
    pub async fn cancel_credential_change(&self, canceller: ChangeCanceller<'_>) -> Result<()> {
        let who = canceller.principal();
        let case = canceller.case();
        let id = canceller.change().id;
        let now = self.now();
        let mut tx = self.store().write().await?;
        // Read again under the write lock: the status decides whether it can still be cancelled.
        let mut change = res::get_change(tx.conn(), id)
            .await?
            .ok_or_else(|| AppError::not_found("credential change"))?;
        change.status = "cancelled".into();
        change.cancelled_by = Some(who.id());
        if !res::finish_change(tx.conn(), &change).await? {
            return Err(AppError::Conflict("the change is no longer pending".into()));
        }
        let detail = json!({ "change": id, "by": who.id(), "by_name": who.person().name });
        let ev = self
            .announce(
                &mut tx,
                case,
                Some(who.id()),
                "credential_change_cancelled",
                detail,
                now,
            )
            .await?;
        self.commit_at(tx, vec![ev], now).await
    }

    /// With the case token, once the delay is over, collects the new PIN (shown once). The
    /// person's other PINs on those doors are revoked and leave the locks.
    ///
    /// # Errors
    /// `NotFound` for an unknown token; `Conflict` while it waits, or when it was cancelled,
    /// collected already, or never asked for; `RateLimited`.
    pub async fn collect_new_pin(&self, token: &str, source: &str) -> Result<CollectedPin> {
        let case = self.case_of_token(token, source).await?;
        let now = self.now();
        let mut tx = self.store().write().await?;
        let mut change = res::latest_change(tx.conn(), case.id)
            .await?
            .ok_or_else(|| AppError::Conflict("no new PIN was asked for in this case".into()))?;
        match change.status.as_str() {
            "pending" if change.effective_at <= now => {}
            "pending" => {
                return Err(AppError::Conflict(format!(
                    "the new PIN can be collected from {} unless the household cancels it",
                    change.effective_at
                )));
            }
            other => {
                return Err(AppError::Conflict(format!("the new PIN was {other}")));
            }
        }
        if case.state == "cancelled" {
            return Err(AppError::Conflict("the case was cancelled".into()));
        }
        let (Some(property), Some(person)) = (case.property_id, case.person_id) else {
            return Err(AppError::not_found("lockout case"));
        };
        let old: Vec<_> = credentials::list_credentials(tx.conn(), property, Some(person))
            .await?
            .into_iter()
            .filter(|c| {
                c.kind == CredentialKind::Pin
                    && c.status != CredentialStatus::Revoked
                    && !c.non_access
                    && matches!(c.schedule, Schedule::Always | Schedule::Weekly { .. })
            })
            .collect();
        let mut doors: Vec<DoorId> = old.iter().flat_map(|c| c.doors.clone()).collect();
        if doors.is_empty() {
            doors = unit_lock_doors(tx.conn(), &case)
                .await?
                .iter()
                .map(|d| d.id)
                .collect();
        }
        doors.sort_unstable();
        doors.dedup();
        if doors.is_empty() {
            return Err(AppError::invalid(
                "case",
                "the unit has no door with a lock for a PIN",
            ));
        }
        let mut changed: Vec<(CredentialId, Vec<DoorId>)> = Vec::new();
        for c in &old {
            credentials::set_status(tx.conn(), c.id, CredentialStatus::Revoked, now).await?;
            changed.push((c.id, c.doors.clone()));
        }
        let (credential, pin) = self
            .mint_pin(
                tx.conn(),
                NewPin {
                    property,
                    person,
                    unit: case.unit_id,
                    label: "PIN (replaced in a lockout case)".into(),
                    doors: doors.clone(),
                    schedule: Schedule::Always,
                    max_uses: None,
                    digits: 6,
                    non_access: false,
                },
            )
            .await?;
        changed.push((credential.id, doors.clone()));
        change.status = "applied".into();
        change.applied_at = Some(now);
        change.credential_id = Some(credential.id);
        if !res::finish_change(tx.conn(), &change).await? {
            return Err(AppError::Conflict(
                "the change was cancelled meanwhile".into(),
            ));
        }
        let detail =
            json!({ "change": change.id, "credential_id": credential.id, "replaced": old.len() });
        let ev = self
            .announce(&mut tx, &case, None, "credential_changed", detail, now)
            .await?;
        self.commit_at(tx, vec![ev], now).await?;
        for (id, d) in &changed {
            self.devices().credential_changed(*id, d);
        }
        Ok(CollectedPin {
            pin: pin.expose().to_owned(),
            doors,
        })
    }
}
