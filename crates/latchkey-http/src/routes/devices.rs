//! Devices, pairing, remote lock/unlock, commands, slot tables and move-out receipts.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use latchkey_app::devices::RemoteAction;
use latchkey_core::{CredentialId, DoorId, MembershipId, SensorId};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::dto::{CommandDto, DeviceDto, LockStatusDto, RemovalDto, SlotDto};
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

/// Every device the bridge has seen, with what it is paired with (installers).
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices",
    responses((status = 200, body = Vec<DeviceDto>), (status = 403, body = Problem)))]
pub async fn list(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Vec<DeviceDto>>> {
    Ok(Json(
        s.app
            .list_devices(&who)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairBody {
    /// The Zigbee2MQTT friendly name; `null` unpairs. Segments between `/` are not empty and
    /// hold no `+`, `#` or control characters.
    #[schema(
        min_length = 1,
        pattern = r"^[^/+#\x00-\x1f\x7f-\x9f]+(/[^/+#\x00-\x1f\x7f-\x9f]+)*$"
    )]
    pub device: Option<String>,
}

/// Pairs a lock with a door, or unpairs it (installers).
#[utoipa::path(put, path = "/api/v1/doors/{id}/lock", tag = "devices", params(("id" = i64, Path)), request_body = PairBody,
    responses((status = 204), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn pair_lock(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<PairBody>,
) -> ApiResult<StatusCode> {
    s.app
        .pair_lock(
            s.app.may_pair_lock(&who, DoorId(id)).await?,
            b.device.as_deref(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pairs a door contact or window sensor with a device, or unpairs it (installers).
#[utoipa::path(put, path = "/api/v1/sensors/{id}/device", tag = "devices", params(("id" = i64, Path)), request_body = PairBody,
    responses((status = 204), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn pair_sensor(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<PairBody>,
) -> ApiResult<StatusCode> {
    s.app
        .pair_sensor(
            s.app.may_pair_sensor(&who, SensorId(id)).await?,
            b.device.as_deref(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CommandBody {
    /// Staff only: why this is an emergency. The opening is audited and the residents told.
    pub emergency_reason: Option<String>,
    /// Seconds to wait for the lock's report (1–30, default 15).
    #[schema(minimum = 1, maximum = 30)]
    pub wait_seconds: Option<u64>,
}

async fn command(
    s: AppState,
    who: latchkey_app::authz::Principal,
    id: i64,
    action: RemoteAction,
    b: CommandBody,
) -> ApiResult<(StatusCode, Json<CommandDto>)> {
    let wait = b.wait_seconds.unwrap_or(15);
    if !(1..=30).contains(&wait) {
        return Err(
            latchkey_app::AppError::invalid("wait_seconds", "must be between 1 and 30").into(),
        );
    }
    let allowed = s
        .app
        .may_remote_command(&who, DoorId(id), action, b.emergency_reason.as_deref())
        .await?;
    let cmd = s
        .app
        .remote_command(allowed, Duration::from_secs(wait))
        .await?;
    let cmd: CommandDto = cmd.into();
    Ok((cmd.http_status(), Json(cmd)))
}

/// Unlocks a door remotely. 200 when the lock reported it unlocked; 409 as soon as the lock
/// reported a failure (a jam: `status` is `failed` and `detail` gives the lock's reason); 202
/// when it has not answered by the deadline (the outcome is not yet known: follow
/// `/commands/{id}`). Staff open a unit's own door only inside an entry notice's window or with
/// an emergency reason; the household is told either way.
#[utoipa::path(post, path = "/api/v1/doors/{id}/unlock", tag = "devices", params(("id" = i64, Path)), request_body = CommandBody,
    responses((status = 200, body = CommandDto), (status = 202, body = CommandDto), (status = 403, body = Problem), (status = 409, body = CommandDto, description = "The lock reported a failure, e.g. a jam"), (status = 422, body = Problem), (status = 429, body = Problem), (status = 503, body = Problem)))]
pub async fn unlock(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<CommandBody>,
) -> ApiResult<(StatusCode, Json<CommandDto>)> {
    command(s, who, id, RemoteAction::Unlock, b).await
}

/// Locks a door remotely; answers like unlock.
#[utoipa::path(post, path = "/api/v1/doors/{id}/lock", tag = "devices", params(("id" = i64, Path)), request_body = CommandBody,
    responses((status = 200, body = CommandDto), (status = 202, body = CommandDto), (status = 403, body = Problem), (status = 409, body = CommandDto, description = "The lock reported a failure, e.g. a jam"), (status = 422, body = Problem), (status = 429, body = Problem), (status = 503, body = Problem)))]
pub async fn lock(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<CommandBody>,
) -> ApiResult<(StatusCode, Json<CommandDto>)> {
    command(s, who, id, RemoteAction::Lock, b).await
}

/// One remote command and how far it got: `sent` while the lock has not answered, then
/// `confirmed`, `failed` (with the lock's reason) or `unconfirmed`.
#[utoipa::path(get, path = "/api/v1/commands/{id}", tag = "devices", params(("id" = i64, Path)),
    responses((status = 200, body = CommandDto), (status = 404, body = Problem)))]
pub async fn get_command(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CommandDto>> {
    Ok(Json(s.app.get_lock_command(&who, id).await?.into()))
}

/// A door's managed PIN slots and how far the lock is with each (staff). No PINs.
#[utoipa::path(get, path = "/api/v1/doors/{id}/slots", tag = "devices", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<SlotDto>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn slots(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<SlotDto>>> {
    Ok(Json(
        s.app
            .door_slots(&who, DoorId(id))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// A credential's status on every lock: pending, set, failed (with why), removing, removed.
#[utoipa::path(get, path = "/api/v1/credentials/{id}/locks", tag = "devices", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<LockStatusDto>), (status = 404, body = Problem)))]
pub async fn credential_locks(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<LockStatusDto>>> {
    Ok(Json(
        s.app
            .credential_locks(&who, CredentialId(id))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// After a move-out: every removal, per door, and whether the lock confirmed it (staff).
#[utoipa::path(get, path = "/api/v1/memberships/{id}/receipt", tag = "devices", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<RemovalDto>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn receipt(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<RemovalDto>>> {
    Ok(Json(
        s.app
            .move_out_receipt(&who, MembershipId(id))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}
