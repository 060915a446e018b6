//! How a lockout case ends: spare-key releases, staff openings, locksmith jobs, forced entries,
//! the lockout ledger and door incidents.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use latchkey_app::AppError;
use latchkey_app::lockout::{BookLocksmith, CompleteJob, ledger_csv};
use latchkey_app::store::resolution::{Charge, Incident, Job};
use latchkey_core::{DoorId, LockoutCaseId, LocksmithId, PropertyId, UnitId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::dto::CommandDto;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, Source};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

fn wait_of(seconds: Option<u64>) -> Result<Duration, AppError> {
    let wait = seconds.unwrap_or(15);
    if (1..=30).contains(&wait) {
        Ok(Duration::from_secs(wait))
    } else {
        Err(AppError::invalid(
            "wait_seconds",
            "must be between 1 and 30",
        ))
    }
}

fn command_status(c: &CommandDto) -> StatusCode {
    if c.status == "confirmed" {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    }
}

#[derive(Serialize, ToSchema)]
pub struct ReleasedPinDto {
    /// Shown once: pass it to the person at the door. One use, until `valid_until`.
    pub pin: String,
    pub doors: Vec<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub valid_until: jiff::Timestamp,
}

/// A spare-key holder releases a one-time PIN for a proven case (once per spare key and case).
/// The household is told.
#[utoipa::path(post, path = "/api/v1/lockouts/{id}/spare-pin", tag = "lockouts", params(("id" = i64, Path)),
    responses((status = 201, body = ReleasedPinDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn spare_pin(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<(StatusCode, Json<ReleasedPinDto>)> {
    let r = s.app.release_spare_pin(&who, LockoutCaseId(id)).await?;
    Ok((
        StatusCode::CREATED,
        Json(ReleasedPinDto {
            pin: r.pin,
            doors: r.doors.iter().map(|d| d.0).collect(),
            valid_until: r.valid_until,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    pub door_id: i64,
    /// Seconds to wait for the lock's report (1–30, default 15).
    pub wait_seconds: Option<u64>,
}

/// A spare-key holder opens the unit's door remotely for a proven case (once per spare key and
/// case). 200 when the lock reported it open, 202 when not yet known.
#[utoipa::path(post, path = "/api/v1/lockouts/{id}/spare-unlock", tag = "lockouts", params(("id" = i64, Path)),
    request_body = OpenBody,
    responses((status = 200, body = CommandDto), (status = 202, body = CommandDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn spare_unlock(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<OpenBody>,
) -> ApiResult<(StatusCode, Json<CommandDto>)> {
    let wait = wait_of(b.wait_seconds)?;
    let cmd: CommandDto = s
        .app
        .spare_key_unlock(&who, LockoutCaseId(id), DoorId(b.door_id), wait)
        .await?
        .into();
    Ok((command_status(&cmd), Json(cmd)))
}

#[derive(Serialize, ToSchema)]
pub struct ChargeDto {
    pub id: i64,
    pub unit_id: Option<i64>,
    pub case_id: Option<i64>,
    /// `staff_opening` or `locksmith`.
    pub kind: String,
    /// `tenant` or `landlord`.
    pub payer: String,
    pub amount_cents: i64,
    /// Not charged: the equipment was at fault (see `evidence`).
    pub waived: bool,
    pub reason: String,
    /// Sequence numbers of the audit events that show the fault.
    pub evidence: Vec<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
}

impl From<Charge> for ChargeDto {
    fn from(c: Charge) -> Self {
        ChargeDto {
            id: c.id,
            unit_id: c.unit_id.map(|u| u.0),
            case_id: c.case_id.map(|k| k.0),
            kind: c.kind,
            payer: c.payer,
            amount_cents: c.amount_cents,
            waived: c.waived,
            reason: c.reason,
            evidence: c.evidence,
            created_at: c.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct StaffOpeningDto {
    pub command: CommandDto,
    /// The ledger line; `null` when this case was charged already.
    pub charge: Option<ChargeDto>,
}

/// Staff open a door for a proven case. The first opening of a case charges the policy's fee;
/// the residents are told, with the fee.
#[utoipa::path(post, path = "/api/v1/lockouts/{id}/staff-open", tag = "lockouts", params(("id" = i64, Path)),
    request_body = OpenBody,
    responses((status = 200, body = StaffOpeningDto), (status = 202, body = StaffOpeningDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn staff_open(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<OpenBody>,
) -> ApiResult<(StatusCode, Json<StaffOpeningDto>)> {
    let wait = wait_of(b.wait_seconds)?;
    let o = s
        .app
        .staff_open(&who, LockoutCaseId(id), DoorId(b.door_id), wait)
        .await?;
    let command: CommandDto = o.command.into();
    Ok((
        command_status(&command),
        Json(StaffOpeningDto {
            command,
            charge: o.charge.map(Into::into),
        }),
    ))
}

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
    let booked = s
        .app
        .book_locksmith(
            &who,
            LockoutCaseId(id),
            BookLocksmith {
                locksmith_id: LocksmithId(b.locksmith_id),
                door_id: b.door_id.map(DoorId),
                window_minutes: b.window_minutes,
            },
        )
        .await?;
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
#[utoipa::path(post, path = "/api/v1/locksmith-jobs/code", tag = "lockouts", request_body = CodeBody,
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
    pub cost_cents: i64,
    /// `code`, `battery_jump`, `picking`, `drilling` or `other`.
    pub work: String,
}

#[derive(Serialize, ToSchema)]
pub struct IncidentDto {
    pub id: i64,
    pub door_id: i64,
    pub case_id: Option<i64>,
    /// `service` or `compromised`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    #[schema(value_type = String, format = DateTime)]
    pub opened_at: jiff::Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<jiff::Timestamp>,
}

impl From<Incident> for IncidentDto {
    fn from(i: Incident) -> Self {
        IncidentDto {
            id: i.id,
            door_id: i.door_id.0,
            case_id: i.case_id.map(|c| c.0),
            kind: i.kind,
            detail: i.detail,
            opened_at: i.opened_at,
            closed_at: i.closed_at,
        }
    }
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
    let done = s
        .app
        .complete_locksmith_job(
            &who,
            id,
            CompleteJob {
                cost_cents: b.cost_cents,
                work: b.work,
            },
        )
        .await?;
    Ok(Json(CompletedDto {
        job: done.job.into(),
        charge: done.charge.into(),
        service: done.service.map(Into::into),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForcedEntryBody {
    pub door_id: i64,
    /// What was done, e.g. "door kicked in".
    pub how: String,
}

#[derive(Serialize, ToSchema)]
pub struct CompromiseDto {
    pub incident: IncidentDto,
    /// Credentials replaced: `[old, new]` pairs. New PINs go to their owners only.
    pub rotated: Vec<[i64; 2]>,
}

/// Records that the door was forced (the physical last resort): the door is marked compromised,
/// every PIN of it rotated, the managers asked to repair it, the residents advised.
#[utoipa::path(post, path = "/api/v1/lockouts/{id}/forced-entry", tag = "lockouts", params(("id" = i64, Path)),
    request_body = ForcedEntryBody,
    responses((status = 201, body = CompromiseDto), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn forced_entry(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ForcedEntryBody>,
) -> ApiResult<(StatusCode, Json<CompromiseDto>)> {
    let c = s
        .app
        .record_forced_entry(&who, LockoutCaseId(id), DoorId(b.door_id), &b.how)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CompromiseDto {
            incident: c.incident.into(),
            rotated: c.rotated.iter().map(|(a, b)| [a.0, b.0]).collect(),
        }),
    ))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    /// One unit only (required for residents).
    pub unit_id: Option<i64>,
}

/// The lockout ledger: every charge with its case (staff: the property; residents: their unit).
#[utoipa::path(get, path = "/api/v1/properties/{id}/ledger", tag = "lockouts", params(("id" = i64, Path), LedgerQuery),
    responses((status = 200, body = Vec<ChargeDto>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn ledger(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<LedgerQuery>,
) -> ApiResult<Json<Vec<ChargeDto>>> {
    Ok(Json(
        s.app
            .ledger(&who, PropertyId(id), q.unit_id.map(UnitId))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// The same ledger as CSV.
#[utoipa::path(get, path = "/api/v1/properties/{id}/ledger.csv", tag = "lockouts", params(("id" = i64, Path), LedgerQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn ledger_as_csv(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<LedgerQuery>,
) -> ApiResult<impl IntoResponse> {
    let charges = s
        .app
        .ledger(&who, PropertyId(id), q.unit_id.map(UnitId))
        .await?;
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        ledger_csv(&charges),
    ))
}

/// The property's door incidents, open ones first (staff).
#[utoipa::path(get, path = "/api/v1/properties/{id}/incidents", tag = "lockouts", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<IncidentDto>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn incidents(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<IncidentDto>>> {
    Ok(Json(
        s.app
            .incidents(&who, PropertyId(id))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    /// What was done, e.g. "lock replaced".
    pub note: String,
}

/// Staff close an incident once the door is repaired or serviced.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/close", tag = "lockouts", params(("id" = i64, Path)),
    request_body = CloseBody,
    responses((status = 200, body = IncidentDto), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn close_incident(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<CloseBody>,
) -> ApiResult<Json<IncidentDto>> {
    Ok(Json(s.app.close_incident(&who, id, &b.note).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceBody {
    /// The case token.
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct PresenceDto {
    /// Type it on the keypad of the unit's door: the door does not open, the lock reports it.
    pub code: String,
    #[schema(value_type = String, format = DateTime)]
    pub valid_until: jiff::Timestamp,
    pub message: String,
}

/// With the case token, a one-time challenge code to type on the unit's keypad (presence at
/// the door). The same answer whether or not the case is about a resident.
#[utoipa::path(post, path = "/api/v1/lockouts/presence", tag = "lockouts", request_body = PresenceBody,
    responses((status = 201, body = PresenceDto), (status = 404, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn presence(
    State(s): State<AppState>,
    Source(source): Source,
    ApiJson(b): ApiJson<PresenceBody>,
) -> ApiResult<(StatusCode, Json<PresenceDto>)> {
    let c = s.app.presence_challenge(&b.token, &source).await?;
    Ok((
        StatusCode::CREATED,
        Json(PresenceDto {
            code: c.code,
            valid_until: c.valid_until,
            message: c.message.to_owned(),
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct ChangeRequestedDto {
    /// Anyone in the household can cancel it with this id until `effective_at`.
    pub change_id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub effective_at: jiff::Timestamp,
    /// False when the case was proven with the person's own passkey or authenticator: no wait.
    pub delayed: bool,
}

/// With the token of a proven case, asks for a new PIN in place of a forgotten one. It waits
/// the policy's delay; the household is told at once and can cancel it.
#[utoipa::path(post, path = "/api/v1/lockouts/new-pin", tag = "lockouts", request_body = PresenceBody,
    responses((status = 202, body = ChangeRequestedDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn request_new_pin(
    State(s): State<AppState>,
    Source(source): Source,
    ApiJson(b): ApiJson<PresenceBody>,
) -> ApiResult<(StatusCode, Json<ChangeRequestedDto>)> {
    let c = s.app.request_new_pin(&b.token, &source).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ChangeRequestedDto {
            change_id: c.change_id,
            effective_at: c.effective_at,
            delayed: c.delayed,
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct CollectedPinDto {
    /// Shown once. The person's previous PINs no longer work.
    pub pin: String,
    pub doors: Vec<i64>,
}

/// With the case token, once the delay is over and nobody cancelled, collects the new PIN.
#[utoipa::path(post, path = "/api/v1/lockouts/new-pin/collect", tag = "lockouts", request_body = PresenceBody,
    responses((status = 201, body = CollectedPinDto), (status = 404, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn collect_new_pin(
    State(s): State<AppState>,
    Source(source): Source,
    ApiJson(b): ApiJson<PresenceBody>,
) -> ApiResult<(StatusCode, Json<CollectedPinDto>)> {
    let c = s.app.collect_new_pin(&b.token, &source).await?;
    Ok((
        StatusCode::CREATED,
        Json(CollectedPinDto {
            pin: c.pin,
            doors: c.doors.iter().map(|d| d.0).collect(),
        }),
    ))
}

/// Anyone in the household (or staff) cancels a pending credential change.
#[utoipa::path(post, path = "/api/v1/credential-changes/{id}/cancel", tag = "lockouts", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_change(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    s.app.cancel_credential_change(&who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
