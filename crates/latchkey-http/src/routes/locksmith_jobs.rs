//! Locksmith jobs: booked for a case, the locksmith's one-time code, the work and its cost.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use latchkey_app::lockout::{BookLocksmith, CompleteJob};
use latchkey_app::store::resolution::Job;
use latchkey_core::{DoorId, LockoutCaseId, LocksmithId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{ApiJson, ApiPath, Auth, Source};
use crate::problem::{ApiResult, Problem};
use crate::routes::ledger::{ChargeDto, IncidentDto};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct JobDto {
    pub id: i64,
    pub case_id: i64,
    pub locksmith_id: i64,
    pub door_id: i64,
    /// The locksmith says this at the door; the resident sees it in the case.
    pub check_word: String,
    #[schema(value_type = String, format = DateTime)]
    pub window_from: jiff::Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub window_until: jiff::Timestamp,
    /// The lock had failed when booked: physical work, no code.
    pub lock_failed: bool,
    pub quoted_cents: i64,
    /// `booked`, `code_released`, `done` or `cancelled`.
    pub status: String,
    pub cost_cents: Option<i64>,
    pub work: Option<String>,
}

impl From<Job> for JobDto {
    fn from(j: Job) -> Self {
        JobDto {
            id: j.id,
            case_id: j.case_id.0,
            locksmith_id: j.locksmith_id.0,
            door_id: j.door_id.0,
            check_word: j.check_word,
            window_from: j.window_from,
            window_until: j.window_until,
            lock_failed: j.lock_failed,
            quoted_cents: j.quoted_cents,
            status: j.status,
            cost_cents: j.cost_cents,
            work: j.work,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookBody {
    pub locksmith_id: i64,
    /// The unit's first door with a lock when left out.
    pub door_id: Option<i64>,
    /// 15–480, default 120.
    #[schema(minimum = 15, maximum = 480)]
    pub window_minutes: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct BookedDto {
    pub job: JobDto,
    pub company: String,
    /// Shown once: give it to the locksmith, who fetches the one-time code with it.
    pub job_token: String,
}

/// Books a verified locksmith who works at this hour (staff, or the people of the unit).
#[utoipa::path(post, path = "/api/v1/lockouts/{id}/locksmith-jobs", tag = "lockouts", params(("id" = i64, Path)),
    request_body = BookBody,
    responses((status = 201, body = BookedDto), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn book_locksmith(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<BookBody>,
) -> ApiResult<(StatusCode, Json<BookedDto>)> {
    let input = BookLocksmith {
        locksmith_id: LocksmithId(b.locksmith_id),
        door_id: b.door_id.map(DoorId),
        window_minutes: b.window_minutes,
    };
    let party = s
        .app
        .may_book_locksmith(&who, LockoutCaseId(id), &input)
        .await?;
    let booked = s.app.book_locksmith(party, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(BookedDto {
            job: booked.job.into(),
            company: booked.company,
            job_token: booked.job_token,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// The job token the locksmith was given.
    pub token: String,
    /// The ID document checked in person, e.g. "driving licence, photo matches".
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub document: String,
}

#[derive(Serialize, ToSchema)]
pub struct LocksmithCodeDto {
    /// One use, only until `valid_until`.
    pub pin: String,
    pub door_id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub valid_until: jiff::Timestamp,
    pub check_word: String,
}

/// The locksmith, at the door, after checking the resident's ID, fetches the one-time code (no
/// sign-in; the job token). Only inside the job's window, once, and while the lock works.
#[utoipa::path(post, path = "/api/v1/locksmith-jobs/code", tag = "lockouts", security(()), request_body = CodeBody,
    responses((status = 200, body = LocksmithCodeDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn locksmith_code(
    State(s): State<AppState>,
    Source(source): Source,
    ApiJson(b): ApiJson<CodeBody>,
) -> ApiResult<Json<LocksmithCodeDto>> {
    let c = s.app.locksmith_code(&b.token, &b.document, &source).await?;
    Ok(Json(LocksmithCodeDto {
        pin: c.pin,
        door_id: c.door_id.0,
        valid_until: c.valid_until,
        check_word: c.check_word,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    #[schema(minimum = 0, maximum = 1000000)]
    pub cost_cents: i64,
    #[schema(schema_with = crate::bodies::work)]
    pub work: String,
}

#[derive(Serialize, ToSchema)]
pub struct CompletedDto {
    pub job: JobDto,
    pub charge: ChargeDto,
    /// The lock marked for service, when it had failed or was picked or drilled.
    pub service: Option<IncidentDto>,
}

/// Staff record the locksmith's work and cost: a ledger line, the lock marked for service when
/// needed, the case resolved.
#[utoipa::path(post, path = "/api/v1/locksmith-jobs/{id}/complete", tag = "lockouts", params(("id" = i64, Path)),
    request_body = CompleteBody,
    responses((status = 200, body = CompletedDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn complete_job(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<CompleteBody>,
) -> ApiResult<Json<CompletedDto>> {
    let input = CompleteJob {
        cost_cents: b.cost_cents,
        work: b.work,
    };
    let completer = s.app.may_complete_locksmith_job(&who, id, &input).await?;
    let done = s.app.complete_locksmith_job(completer, input).await?;
    Ok(Json(CompletedDto {
        job: done.job.into(),
        charge: done.charge.into(),
        service: done.service.map(Into::into),
    }))
}
