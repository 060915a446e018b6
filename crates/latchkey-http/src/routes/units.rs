//! Units and door groups.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use latchkey_core::{DoorGroupId, DoorId, PropertyId, UnitId};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::dto::{DoorGroupDto, UnitDto};
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitBody {
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub label: String,
    #[serde(default)]
    #[schema(minimum = -10, maximum = 300)]
    pub floor: i64,
    pub door_group_id: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitPatch {
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub label: Option<String>,
    #[schema(minimum = -10, maximum = 300)]
    pub floor: Option<i64>,
    /// `null` detaches the unit from its door group.
    #[serde(default, deserialize_with = "crate::routes::units::double_option")]
    pub door_group_id: Option<Option<i64>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
pub fn double_option<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Units of a property the caller may see.
#[utoipa::path(get, path = "/api/v1/properties/{id}/units", tag = "units", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<UnitDto>), (status = 404, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<UnitDto>>> {
    Ok(Json(
        s.app
            .list_units(&who, PropertyId(id))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Creates a unit (staff).
#[utoipa::path(post, path = "/api/v1/properties/{id}/units", tag = "units", params(("id" = i64, Path)), request_body = UnitBody,
    responses((status = 201, body = UnitDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<UnitBody>,
) -> ApiResult<(StatusCode, Json<UnitDto>)> {
    let u = s
        .app
        .create_unit(
            who.staff(PropertyId(id))?,
            &b.label,
            b.floor,
            b.door_group_id.map(DoorGroupId),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(u.into())))
}

/// One unit.
#[utoipa::path(get, path = "/api/v1/units/{id}", tag = "units", params(("id" = i64, Path)),
    responses((status = 200, body = UnitDto), (status = 404, body = Problem)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<UnitDto>> {
    Ok(Json(s.app.get_unit(&who, UnitId(id)).await?.into()))
}

/// Changes a unit (staff).
#[utoipa::path(patch, path = "/api/v1/units/{id}", tag = "units", params(("id" = i64, Path)), request_body = UnitPatch,
    responses((status = 200, body = UnitDto), (status = 403, body = Problem), (status = 422, body = Problem), (status = 409, body = Problem)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<UnitPatch>,
) -> ApiResult<Json<UnitDto>> {
    let u = s
        .app
        .update_unit(
            s.app.may_update_unit(&who, UnitId(id)).await?,
            b.label.as_deref(),
            b.floor,
            b.door_group_id.map(|g| g.map(DoorGroupId)),
        )
        .await?;
    Ok(Json(u.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoorGroupBody {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    pub doors: Vec<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoorGroupDoors {
    pub doors: Vec<i64>,
}

/// Door groups of a property (staff).
#[utoipa::path(get, path = "/api/v1/properties/{id}/door-groups", tag = "units", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<DoorGroupDto>), (status = 403, body = Problem)))]
pub async fn list_groups(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<DoorGroupDto>>> {
    Ok(Json(
        s.app
            .list_door_groups(&who, PropertyId(id))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Creates a door group (staff).
#[utoipa::path(post, path = "/api/v1/properties/{id}/door-groups", tag = "units", params(("id" = i64, Path)), request_body = DoorGroupBody,
    responses((status = 201, body = DoorGroupDto), (status = 403, body = Problem), (status = 422, body = Problem), (status = 409, body = Problem)))]
pub async fn create_group(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<DoorGroupBody>,
) -> ApiResult<(StatusCode, Json<DoorGroupDto>)> {
    let doors: Vec<DoorId> = b.doors.into_iter().map(DoorId).collect();
    let g = s
        .app
        .create_door_group(who.staff(PropertyId(id))?, &b.name, &doors)
        .await?;
    Ok((StatusCode::CREATED, Json(g.into())))
}

/// One door group (staff).
#[utoipa::path(get, path = "/api/v1/door-groups/{id}", tag = "units", params(("id" = i64, Path)),
    responses((status = 200, body = DoorGroupDto), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_group(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DoorGroupDto>> {
    Ok(Json(
        s.app.get_door_group(&who, DoorGroupId(id)).await?.into(),
    ))
}

/// Replaces the doors of a group (staff).
#[utoipa::path(put, path = "/api/v1/door-groups/{id}", tag = "units", params(("id" = i64, Path)), request_body = DoorGroupDoors,
    responses((status = 200, body = DoorGroupDto), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn set_group(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<DoorGroupDoors>,
) -> ApiResult<Json<DoorGroupDto>> {
    let doors: Vec<DoorId> = b.doors.into_iter().map(DoorId).collect();
    Ok(Json(
        s.app
            .set_door_group_doors(
                s.app
                    .may_set_door_group_doors(&who, DoorGroupId(id))
                    .await?,
                &doors,
            )
            .await?
            .into(),
    ))
}
