//! Lockout cases: the public start and token look-up (no sign-in), and the signed-in views.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use latchkey_app::lockout::{CaseView, PublicStart, WayOption};
use latchkey_app::store::lockout::{LockoutCase, Step};
use latchkey_core::{LockoutCaseId, PersonId, PropertyId, UnitId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{ApiJson, ApiPath, Auth, Source};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicStartBody {
    pub property_id: i64,
    /// The unit's label, e.g. "4B".
    #[schema(min_length = 1, max_length = 40, pattern = r"\S")]
    pub unit: String,
    /// The resident's name or e-mail address.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub identity: String,
}

#[derive(Serialize, ToSchema)]
pub struct StartedDto {
    /// The only way back to the case without signing in: keep it.
    pub token: String,
    pub message: String,
}

/// Opens a lockout case without signing in. The answer is the same, and takes the same time,
/// whether or not the unit and person exist; if they do, the household is told at once.
#[utoipa::path(post, path = "/api/v1/lockouts", tag = "lockouts", security(()), request_body = PublicStartBody,
    responses((status = 202, body = StartedDto), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn start_public(
    State(s): State<AppState>,
    Source(source): Source,
    ApiJson(b): ApiJson<PublicStartBody>,
) -> ApiResult<(StatusCode, Json<StartedDto>)> {
    let started = s
        .app
        .start_lockout_public(
            PublicStart {
                property_id: b.property_id,
                unit: b.unit,
                identity: b.identity,
            },
            &source,
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(StartedDto {
            token: started.token,
            message: started.message.to_owned(),
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct StepDto {
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    pub actor_id: Option<i64>,
    pub kind: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<Step> for StepDto {
    fn from(s: Step) -> Self {
        StepDto {
            at: s.at,
            actor_id: s.actor_id.map(|p| p.0),
            kind: s.kind,
            detail: s.detail,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WayDto {
    pub way: String,
    pub title: String,
    /// `null` until the case may be assessed.
    pub available: Option<bool>,
    pub why_not: Option<String>,
    pub warning: Option<String>,
    pub minutes: u32,
    pub cost_cents: i64,
    pub damage: String,
}

impl From<WayOption> for WayDto {
    fn from(w: WayOption) -> Self {
        WayDto {
            way: w.way.to_owned(),
            title: w.title,
            available: w.available,
            why_not: w.why_not,
            warning: w.warning,
            minutes: w.minutes,
            cost_cents: w.cost_cents,
            damage: w.damage.to_owned(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CaseDto {
    /// Only for the household and staff.
    pub id: Option<i64>,
    /// `open`, `proven`, `resolved` or `cancelled`.
    pub state: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    pub timeline: Vec<StepDto>,
    /// Best first.
    pub ways: Vec<WayDto>,
    /// Locksmiths sent to the case, with the check word the locksmith says at the door.
    pub locksmith_jobs: Vec<crate::routes::locksmith_jobs::JobDto>,
}

impl From<CaseView> for CaseDto {
    fn from(c: CaseView) -> Self {
        CaseDto {
            id: c.id.map(|i| i.0),
            state: c.state,
            created_at: c.created_at,
            timeline: c.timeline.into_iter().map(Into::into).collect(),
            ways: c.ways.into_iter().map(Into::into).collect(),
            locksmith_jobs: c.locksmith_jobs.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupBody {
    pub token: String,
}

/// The case behind a case token (no sign-in). Until the case is proven it shows the general
/// order of the ways back in, never who lives there or what is open.
#[utoipa::path(post, path = "/api/v1/lockouts/lookup", tag = "lockouts", security(()), request_body = LookupBody,
    responses((status = 200, body = CaseDto), (status = 404, body = Problem), (status = 429, body = Problem)))]
pub async fn lookup(
    State(s): State<AppState>,
    Source(source): Source,
    ApiJson(b): ApiJson<LookupBody>,
) -> ApiResult<Json<CaseDto>> {
    Ok(Json(
        s.app.lockout_by_token(&b.token, &source).await?.into(),
    ))
}

/// A case in full: its timeline and the ways back in, assessed now (staff and the people who
/// live in the unit).
#[utoipa::path(get, path = "/api/v1/lockouts/{id}", tag = "lockouts", params(("id" = i64, Path)),
    responses((status = 200, body = CaseDto), (status = 404, body = Problem)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CaseDto>> {
    Ok(Json(
        s.app.lockout_case(&who, LockoutCaseId(id)).await?.into(),
    ))
}

/// Cancels an open case (staff, or anyone who lives in the unit); the household is told.
#[utoipa::path(post, path = "/api/v1/lockouts/{id}/cancel", tag = "lockouts", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    s.app
        .cancel_lockout(s.app.may_cancel_lockout(&who, LockoutCaseId(id)).await?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct CaseSummaryDto {
    pub id: i64,
    pub unit_id: Option<i64>,
    pub person_id: Option<i64>,
    pub state: String,
    /// `public`, `staff` or `resident`.
    pub opened_via: String,
    /// What the caller typed.
    pub claimed_unit: String,
    pub claimed_identity: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
}

impl From<LockoutCase> for CaseSummaryDto {
    fn from(c: LockoutCase) -> Self {
        CaseSummaryDto {
            id: c.id.0,
            unit_id: c.unit_id.map(|u| u.0),
            person_id: c.person_id.map(|p| p.0),
            state: c.state,
            opened_via: c.opened_via.to_owned(),
            claimed_unit: c.claimed_unit,
            claimed_identity: c.claimed_identity,
            created_at: c.created_at,
        }
    }
}

/// The property's lockout cases, newest first (staff).
#[utoipa::path(get, path = "/api/v1/properties/{id}/lockouts", tag = "lockouts", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<CaseSummaryDto>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<CaseSummaryDto>>> {
    Ok(Json(
        s.app
            .lockout_cases(&who, PropertyId(id))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartForBody {
    pub unit_id: i64,
    pub person_id: i64,
}

#[derive(Serialize, ToSchema)]
pub struct OpenedDto {
    pub id: i64,
    /// For the person locked out, if they have no phone to sign in with.
    pub token: String,
}

/// Opens a case for a resident: staff taking a call, or a resident for themselves.
#[utoipa::path(post, path = "/api/v1/properties/{id}/lockouts", tag = "lockouts", params(("id" = i64, Path)),
    request_body = StartForBody,
    responses((status = 201, body = OpenedDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn start_for(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<StartForBody>,
) -> ApiResult<(StatusCode, Json<OpenedDto>)> {
    let (case, token) = s
        .app
        .start_lockout_for(
            who.case_starter(PropertyId(id), PersonId(b.person_id))?,
            UnitId(b.unit_id),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(OpenedDto {
            id: case.id.0,
            token,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpProofBody {
    pub token: String,
    /// Six digits from the resident's authenticator app.
    pub code: String,
}

/// Proves a case with a code from the resident's authenticator app (no sign-in). Every refused
/// code gets the same answer; attempts are limited per source and case, and refusals against
/// one person only tell that person, so a made-up name is answered like a resident's.
#[utoipa::path(post, path = "/api/v1/lockouts/proofs/totp", tag = "lockouts", security(()), request_body = TotpProofBody,
    responses((status = 200, body = CaseDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 429, body = Problem)))]
pub async fn prove_totp(
    State(s): State<AppState>,
    Source(source): Source,
    ApiJson(b): ApiJson<TotpProofBody>,
) -> ApiResult<Json<CaseDto>> {
    Ok(Json(
        s.app
            .prove_with_totp(&b.token, &b.code, &source)
            .await?
            .into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdCheckBody {
    /// What was checked, e.g. "passport, photo matches".
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub document: String,
}

/// Records that staff checked the person's identity document in person.
#[utoipa::path(post, path = "/api/v1/lockouts/{id}/proofs/id-check", tag = "lockouts", params(("id" = i64, Path)),
    request_body = IdCheckBody,
    responses((status = 200, body = CaseDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn id_check(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<IdCheckBody>,
) -> ApiResult<Json<CaseDto>> {
    Ok(Json(
        s.app
            .record_id_check(
                s.app
                    .may_record_id_check(&who, LockoutCaseId(id), &b.document)
                    .await?,
                &b.document,
            )
            .await?
            .into(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct TotpEnrolmentDto {
    /// Base32, shown once: type it into an authenticator app.
    pub secret: String,
    /// The same as an `otpauth://` URI, for a QR code.
    pub uri: String,
}

/// Enrols (or replaces) the caller's authenticator app, for proving who they are when locked
/// out. The secret is shown once.
#[utoipa::path(post, path = "/api/v1/me/totp", tag = "lockouts",
    responses((status = 201, body = TotpEnrolmentDto), (status = 401, body = Problem)))]
pub async fn enroll_totp(
    State(s): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<(StatusCode, Json<TotpEnrolmentDto>)> {
    let e = s.app.enroll_totp(who.own_account()).await?;
    Ok((
        StatusCode::CREATED,
        Json(TotpEnrolmentDto {
            secret: e.secret,
            uri: e.uri,
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct GuardiansAskedDto {
    pub message: String,
}

/// With the case token, asks the unit's household members and spare-key holders to confirm it
/// is you: each gets a single-use link that expires in 30 minutes. The same answer whether or
/// not the case is about a resident.
#[utoipa::path(post, path = "/api/v1/lockouts/guardians", tag = "lockouts", security(()), request_body = LookupBody,
    responses((status = 202, body = GuardiansAskedDto), (status = 404, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn ask_guardians(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<LookupBody>,
) -> ApiResult<(StatusCode, Json<GuardiansAskedDto>)> {
    let asked = s.app.ask_guardians(&b.token).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(GuardiansAskedDto {
            message: asked.message.to_owned(),
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardianAnswerBody {
    /// The link's token, as received.
    pub token: String,
    /// `true`: it is them; `false`: it is not (the household is told at once).
    pub confirm: bool,
}

/// A guardian answers their link, signed in as themselves. A link works once, before it
/// expires, and only for the person it was sent to.
#[utoipa::path(post, path = "/api/v1/guardian-links/answer", tag = "lockouts", request_body = GuardianAnswerBody,
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn answer_guardian(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(b): ApiJson<GuardianAnswerBody>,
) -> ApiResult<StatusCode> {
    s.app
        .answer_guardian_link(
            s.app.may_answer_guardian_link(&who, &b.token).await?,
            b.confirm,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
