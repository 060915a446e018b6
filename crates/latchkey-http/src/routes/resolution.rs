//! Getting in once a case is proven: spare-key releases, staff openings, presence at the door,
//! and a new PIN after the household's chance to cancel it.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use latchkey_app::AppError;
use latchkey_core::{DoorId, LockoutCaseId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::dto::CommandDto;
use crate::extract::{ApiJson, ApiPath, Auth, Source};
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

/// 200 once the lock confirmed the opening, otherwise 202 (the body's `status` says `sent`,
/// `unconfirmed`, or `failed` with the lock's reason): an opening is recorded, told and, for
/// staff, charged whatever the lock answers, so it is never answered as a refused request.
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
    let r = s
        .app
        .release_spare_pin(s.app.may_use_spare_key(&who, LockoutCaseId(id)).await?)
        .await?;
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
    #[schema(minimum = 1, maximum = 30)]
    pub wait_seconds: Option<u64>,
}

/// A spare-key holder opens the unit's door remotely for a proven case (once per spare key and
/// case). 200 when the lock reported it open, 202 otherwise (not yet known, or `failed` with
/// the lock's reason).
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
        .spare_key_unlock(
            s.app.may_use_spare_key(&who, LockoutCaseId(id)).await?,
            DoorId(b.door_id),
            wait,
        )
        .await?
        .into();
    Ok((command_status(&cmd), Json(cmd)))
}

#[derive(Serialize, ToSchema)]
pub struct StaffOpeningDto {
    pub command: CommandDto,
    /// The ledger line; `null` when this case was charged already.
    pub charge: Option<crate::routes::ledger::ChargeDto>,
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
        .staff_open(
            s.app.may_staff_open(&who, LockoutCaseId(id)).await?,
            DoorId(b.door_id),
            wait,
        )
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
#[utoipa::path(post, path = "/api/v1/lockouts/presence", tag = "lockouts", security(()), request_body = PresenceBody,
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
#[utoipa::path(post, path = "/api/v1/lockouts/new-pin", tag = "lockouts", security(()), request_body = PresenceBody,
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
#[utoipa::path(post, path = "/api/v1/lockouts/new-pin/collect", tag = "lockouts", security(()), request_body = PresenceBody,
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
    let canceller = s.app.may_cancel_credential_change(&who, id).await?;
    s.app.cancel_credential_change(canceller).await?;
    Ok(StatusCode::NO_CONTENT)
}
