//! Entry notices: staff announce a visit to a unit (purpose and window), the household is told
//! at once, and staff open the unit's door remotely only inside the window
//! (`POST /api/v1/doors/{id}/unlock`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use latchkey_app::entry::{EntryNotice, EntryNoticeInput};
use latchkey_core::{DoorId, PropertyId, UnitId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{ApiJson, ApiPath, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct EntryNoticeDto {
    pub id: i64,
    pub property_id: i64,
    pub unit_id: i64,
    /// The unit's doors staff may open inside the window.
    pub doors: Vec<i64>,
    pub purpose: String,
    #[schema(value_type = String, format = DateTime)]
    pub window_from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub window_until: Timestamp,
    pub created_by: Option<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    pub cancelled_by: Option<i64>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cancelled_at: Option<Timestamp>,
}

impl From<EntryNotice> for EntryNoticeDto {
    fn from(n: EntryNotice) -> Self {
        EntryNoticeDto {
            id: n.id,
            property_id: n.property_id.0,
            unit_id: n.unit_id.0,
            doors: n.doors.iter().map(|d| d.0).collect(),
            purpose: n.purpose,
            window_from: n.window_from,
            window_until: n.window_until,
            created_by: n.created_by.map(|p| p.0),
            created_at: n.created_at,
            cancelled_by: n.cancelled_by.map(|p| p.0),
            cancelled_at: n.cancelled_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryNoticeBody {
    pub unit_id: i64,
    /// The unit's own doors; all of them when absent.
    pub doors: Option<Vec<i64>>,
    /// What the visit is for, as the household reads it (5–500 characters).
    pub purpose: String,
    /// At least the property's `entry_notice_hours` (24 by default) from now.
    #[schema(value_type = String, format = DateTime)]
    pub window_from: Timestamp,
    /// After `window_from`, at most 12 hours later.
    #[schema(value_type = String, format = DateTime)]
    pub window_until: Timestamp,
}

/// Announces a visit by staff to a unit; everyone who lives there is told at once (staff).
#[utoipa::path(post, path = "/api/v1/properties/{id}/entry-notices", tag = "entry notices", params(("id" = i64, Path)),
    request_body = EntryNoticeBody,
    responses((status = 201, body = EntryNoticeDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<EntryNoticeBody>,
) -> ApiResult<(StatusCode, Json<EntryNoticeDto>)> {
    let n = s
        .app
        .create_entry_notice(
            who.staff(PropertyId(id))?,
            EntryNoticeInput {
                unit_id: UnitId(b.unit_id),
                doors: b.doors.map(|d| d.into_iter().map(DoorId).collect()),
                purpose: b.purpose,
                window_from: b.window_from,
                window_until: b.window_until,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(n.into())))
}

/// Entry notices, latest window first: staff see all; the people who live in a unit see its own.
#[utoipa::path(get, path = "/api/v1/properties/{id}/entry-notices", tag = "entry notices", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<EntryNoticeDto>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<EntryNoticeDto>>> {
    Ok(Json(
        s.app
            .list_entry_notices(&who, PropertyId(id))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Cancels a notice before its window ends; the household is told (staff).
#[utoipa::path(post, path = "/api/v1/entry-notices/{id}/cancel", tag = "entry notices", params(("id" = i64, Path)),
    responses((status = 200, body = EntryNoticeDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn cancel(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<EntryNoticeDto>> {
    Ok(Json(
        s.app
            .cancel_entry_notice(s.app.may_cancel_entry_notice(&who, id).await?)
            .await?
            .into(),
    ))
}
