//! Doors and opening sensors.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use latchkey_app::directory::{DoorInput, DoorPatch, SensorInput};
use latchkey_core::{DoorId, PropertyId, SensorId};

use crate::bodies::{DoorBody, DoorPatchBody, SensorBody};
use crate::dto::{DoorDto, SensorDto};
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

/// Doors of a property the caller may see (staff: all; others: the doors they may open).
#[utoipa::path(get, path = "/api/v1/properties/{id}/doors", tag = "doors", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<DoorDto>), (status = 404, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<DoorDto>>> {
    Ok(Json(
        s.app
            .list_doors(&who, PropertyId(id))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Creates a door (staff). Body: `name`, `kind`, optional `unit_id`, `mode`, `pin_slots`.
#[utoipa::path(post, path = "/api/v1/properties/{id}/doors", tag = "doors", params(("id" = i64, Path)), request_body = DoorBody,
    responses((status = 201, body = DoorDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<DoorInput>,
) -> ApiResult<(StatusCode, Json<DoorDto>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.app
                .create_door(who.staff(PropertyId(id))?, b)
                .await?
                .into(),
        ),
    ))
}

/// One door.
#[utoipa::path(get, path = "/api/v1/doors/{id}", tag = "doors", params(("id" = i64, Path)),
    responses((status = 200, body = DoorDto), (status = 404, body = Problem)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DoorDto>> {
    Ok(Json(s.app.get_door(&who, DoorId(id)).await?.into()))
}

/// Changes a door: staff anything; a unit's residents its entry door's mode (normal, privacy,
/// vacation). Staff changing the mode of a unit's own door give a `reason`, and its household
/// is told who changed it and why. Entering passage unlocks the lock and turns its auto-relock
/// off; leaving passage restores the policy's auto-relock and locks it.
#[utoipa::path(patch, path = "/api/v1/doors/{id}", tag = "doors", params(("id" = i64, Path)), request_body = DoorPatchBody,
    responses((status = 200, body = DoorDto), (status = 403, body = Problem), (status = 422, body = Problem), (status = 409, body = Problem)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<DoorPatch>,
) -> ApiResult<Json<DoorDto>> {
    Ok(Json(
        s.app
            .update_door(s.app.may_update_door(&who, DoorId(id), &b).await?, b)
            .await?
            .into(),
    ))
}

/// Sensors of a property the caller may see.
#[utoipa::path(get, path = "/api/v1/properties/{id}/sensors", tag = "doors", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<SensorDto>), (status = 404, body = Problem)))]
pub async fn list_sensors(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<SensorDto>>> {
    Ok(Json(
        s.app
            .list_sensors(&who, PropertyId(id))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Creates a door contact or window sensor (staff).
#[utoipa::path(post, path = "/api/v1/properties/{id}/sensors", tag = "doors", params(("id" = i64, Path)), request_body = SensorBody,
    responses((status = 201, body = SensorDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_sensor(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<SensorInput>,
) -> ApiResult<(StatusCode, Json<SensorDto>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.app
                .create_sensor(who.staff(PropertyId(id))?, b)
                .await?
                .into(),
        ),
    ))
}

/// One sensor.
#[utoipa::path(get, path = "/api/v1/sensors/{id}", tag = "doors", params(("id" = i64, Path)),
    responses((status = 200, body = SensorDto), (status = 404, body = Problem)))]
pub async fn get_sensor(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<SensorDto>> {
    Ok(Json(s.app.get_sensor(&who, SensorId(id)).await?.into()))
}
