//! Digital spare keys, the on-call roster and locksmiths (the drill is in `readiness`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use latchkey_app::recovery::LocksmithInput;
use latchkey_app::store::recovery::{Locksmith, OnCall, SpareKey};
use latchkey_core::schedule::Schedule;
use latchkey_core::{LocksmithId, PersonId, PropertyId, SpareKeyId, UnitId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{ApiJson, ApiPath, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct SpareKeyDto {
    pub id: i64,
    pub property_id: i64,
    pub unit_id: i64,
    pub granted_by: i64,
    pub holder_id: i64,
    #[schema(value_type = Object)]
    pub reachable: Schedule,
    /// `active` or `revoked`.
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<jiff::Timestamp>,
}

impl From<SpareKey> for SpareKeyDto {
    fn from(k: SpareKey) -> Self {
        SpareKeyDto {
            id: k.id.0,
            property_id: k.property_id.0,
            unit_id: k.unit_id.0,
            granted_by: k.granted_by.0,
            holder_id: k.holder_id.0,
            reachable: k.reachable,
            status: k.status,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpareKeyBody {
    pub unit_id: i64,
    /// The person who holds the key; they need standing at the property.
    pub holder_id: i64,
    /// When the holder can usually be reached (default: always).
    #[schema(value_type = Option<crate::bodies::ScheduleBody>, nullable = false)]
    pub reachable: Option<Schedule>,
}

/// Gives a trusted person a dormant spare key to a unit (the unit's residents, or staff).
#[utoipa::path(post, path = "/api/v1/properties/{id}/spare-keys", tag = "recovery", params(("id" = i64, Path)),
    request_body = SpareKeyBody,
    responses((status = 201, body = SpareKeyDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn grant_spare_key(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<SpareKeyBody>,
) -> ApiResult<(StatusCode, Json<SpareKeyDto>)> {
    let key = s
        .app
        .grant_spare_key(
            who.unit_admin(PropertyId(id), UnitId(b.unit_id))?,
            PersonId(b.holder_id),
            b.reachable.unwrap_or(Schedule::Always),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(key.into())))
}

/// Spare keys the caller may see: staff all of them, residents and household members those to
/// their units, anyone those they hold (a guest is not told who holds their unit's keys).
#[utoipa::path(get, path = "/api/v1/properties/{id}/spare-keys", tag = "recovery", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<SpareKeyDto>), (status = 404, body = Problem)))]
pub async fn list_spare_keys(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<SpareKeyDto>>> {
    Ok(Json(
        s.app
            .list_spare_keys(&who, PropertyId(id))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Revokes a spare key (the unit's residents, staff, or the holder giving it back).
#[utoipa::path(delete, path = "/api/v1/spare-keys/{id}", tag = "recovery", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_spare_key(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    s.app
        .revoke_spare_key(s.app.may_revoke_spare_key(&who, SpareKeyId(id)).await?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct OnCallDto {
    pub person_id: i64,
    #[schema(value_type = Object)]
    pub schedule: Schedule,
}

impl From<OnCall> for OnCallDto {
    fn from(o: OnCall) -> Self {
        OnCallDto {
            person_id: o.person_id.0,
            schedule: o.schedule,
        }
    }
}

/// Who answers outside office hours, and when (staff, and the residents and household members
/// of the property; not guests).
#[utoipa::path(get, path = "/api/v1/properties/{id}/on-call", tag = "recovery", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<OnCallDto>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_on_call(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<OnCallDto>>> {
    Ok(Json(
        s.app
            .list_on_call(&who, PropertyId(id))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OnCallBody {
    #[schema(value_type = crate::bodies::ScheduleBody)]
    pub schedule: Schedule,
}

/// Puts a manager or installer on call for a schedule, replacing their hours (staff).
#[utoipa::path(put, path = "/api/v1/properties/{id}/on-call/{person_id}", tag = "recovery",
    params(("id" = i64, Path), ("person_id" = i64, Path)), request_body = OnCallBody,
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_on_call(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath((id, person)): ApiPath<(i64, i64)>,
    ApiJson(b): ApiJson<OnCallBody>,
) -> ApiResult<StatusCode> {
    s.app
        .set_on_call(who.staff(PropertyId(id))?, PersonId(person), b.schedule)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct LocksmithDto {
    pub id: i64,
    pub property_id: i64,
    pub company: String,
    pub licence: String,
    pub phone: String,
    #[schema(value_type = Object)]
    pub hours: Schedule,
    pub callout_cents: i64,
    /// `unverified`, `verified` or `suspended`; only verified locksmiths are offered.
    pub status: String,
    pub verified_by: Option<i64>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub verified_at: Option<jiff::Timestamp>,
}

impl From<Locksmith> for LocksmithDto {
    fn from(l: Locksmith) -> Self {
        LocksmithDto {
            id: l.id.0,
            property_id: l.property_id.0,
            company: l.company,
            licence: l.licence,
            phone: l.phone,
            hours: l.hours,
            callout_cents: l.callout_cents,
            status: l.status,
            verified_by: l.verified_by.map(|p| p.0),
            verified_at: l.verified_at,
        }
    }
}

/// The property's locksmith companies (any member).
#[utoipa::path(get, path = "/api/v1/properties/{id}/locksmiths", tag = "recovery", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<LocksmithDto>), (status = 404, body = Problem)))]
pub async fn list_locksmiths(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<LocksmithDto>>> {
    Ok(Json(
        s.app
            .list_locksmiths(&who, PropertyId(id))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocksmithBody {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub company: String,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub licence: String,
    #[schema(min_length = 1, max_length = 40, pattern = r"\S")]
    pub phone: String,
    /// When they take jobs (default: always).
    #[schema(value_type = Option<crate::bodies::ScheduleBody>, nullable = false)]
    pub hours: Option<Schedule>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10000000)]
    pub callout_cents: i64,
}

/// Registers a locksmith company, unverified until staff check its licence (staff).
#[utoipa::path(post, path = "/api/v1/properties/{id}/locksmiths", tag = "recovery", params(("id" = i64, Path)),
    request_body = LocksmithBody,
    responses((status = 201, body = LocksmithDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_locksmith(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<LocksmithBody>,
) -> ApiResult<(StatusCode, Json<LocksmithDto>)> {
    let l = s
        .app
        .add_locksmith(
            who.staff(PropertyId(id))?,
            LocksmithInput {
                company: b.company,
                licence: b.licence,
                phone: b.phone,
                hours: b.hours.unwrap_or(Schedule::Always),
                callout_cents: b.callout_cents,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(l.into())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocksmithStatusBody {
    #[schema(schema_with = crate::bodies::locksmith_status)]
    pub status: String,
}

/// Records a locksmith's verification (licence and identity checked) or suspends them (staff).
#[utoipa::path(put, path = "/api/v1/locksmiths/{id}/status", tag = "recovery", params(("id" = i64, Path)),
    request_body = LocksmithStatusBody,
    responses((status = 200, body = LocksmithDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_locksmith_status(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<LocksmithStatusBody>,
) -> ApiResult<Json<LocksmithDto>> {
    Ok(Json(
        s.app
            .set_locksmith_status(
                s.app
                    .may_set_locksmith_status(&who, LocksmithId(id), &b.status)
                    .await?,
                &b.status,
            )
            .await?
            .into(),
    ))
}
