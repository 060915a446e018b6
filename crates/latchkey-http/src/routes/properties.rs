//! Properties.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use latchkey_app::directory::{PropertyInput, PropertyPatch};
use latchkey_core::PropertyId;

use crate::bodies::{PropertyBody, PropertyPatchBody};
use crate::dto::PropertyDto;
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

/// Properties the caller has standing at (admins: all).
#[utoipa::path(get, path = "/api/v1/properties", tag = "properties",
    responses((status = 200, body = Vec<PropertyDto>), (status = 401, body = Problem)))]
pub async fn list(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Vec<PropertyDto>>> {
    Ok(Json(
        s.app
            .list_properties(&who)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Creates a property (admins). Body: `name`, `timezone` (IANA), optional `address`, `policy`,
/// `office_hours`.
#[utoipa::path(post, path = "/api/v1/properties", tag = "properties", request_body = PropertyBody,
    responses((status = 201, body = PropertyDto), (status = 403, body = Problem), (status = 422, body = Problem), (status = 409, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(b): ApiJson<PropertyInput>,
) -> ApiResult<(StatusCode, Json<PropertyDto>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_property(who.admin()?, b).await?.into()),
    ))
}

/// One property.
#[utoipa::path(get, path = "/api/v1/properties/{id}", tag = "properties", params(("id" = i64, Path)),
    responses((status = 200, body = PropertyDto), (status = 404, body = Problem)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PropertyDto>> {
    Ok(Json(s.app.get_property(&who, PropertyId(id)).await?.into()))
}

/// Changes a property (policy and time zone: installers; the rest: managers).
#[utoipa::path(patch, path = "/api/v1/properties/{id}", tag = "properties", params(("id" = i64, Path)),
    request_body = PropertyPatchBody,
    responses((status = 200, body = PropertyDto), (status = 403, body = Problem), (status = 422, body = Problem), (status = 409, body = Problem)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<PropertyPatch>,
) -> ApiResult<Json<PropertyDto>> {
    Ok(Json(
        s.app
            .update_property(
                who.property_changer(PropertyId(id), b.touches_settings())?,
                b,
            )
            .await?
            .into(),
    ))
}
