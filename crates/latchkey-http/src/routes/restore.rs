//! After a restored backup (admins): the restored state, the codes found on locks that latchkey
//! does not know, adopting or removing each, and ending the state (docs/OPERATIONS.md).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use latchkey_app::devices::{Adoption, RestoreReview};
use latchkey_core::{DoorId, PersonId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{ApiJson, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct RestoredDto {
    /// When latchkey found the database older than the history it had recorded.
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
    /// The last event of the database it found.
    pub head_seq: i64,
    /// The last event latchkey had recorded outside the database (-1: unreadable record).
    pub marker_seq: i64,
}

#[derive(Serialize, ToSchema)]
pub struct UnknownCodeDto {
    pub door_id: i64,
    pub door: String,
    /// The lock's Zigbee2MQTT friendly name.
    pub lock: Option<String>,
    pub slot: i64,
    #[schema(value_type = String, format = DateTime)]
    pub found_at: Timestamp,
    /// latchkey had written a PIN of its own to this slot before: the code may be one it wrote
    /// in a history the database lost. Never cleared by policy.
    pub written_before: bool,
}

#[derive(Serialize, ToSchema)]
pub struct RestoreDto {
    /// Present while latchkey is in the restored state: it clears no code and overwrites no
    /// slot until an admin ends it.
    pub restored: Option<RestoredDto>,
    /// Codes the locks hold in slots latchkey does not know, waiting to be adopted or removed.
    pub unknown_codes: Vec<UnknownCodeDto>,
}

impl From<RestoreReview> for RestoreDto {
    fn from(r: RestoreReview) -> Self {
        RestoreDto {
            restored: r.restored.map(|r| RestoredDto {
                since: r.since,
                head_seq: r.head_seq,
                marker_seq: r.marker_seq,
            }),
            unknown_codes: r
                .unknown_codes
                .into_iter()
                .map(|c| UnknownCodeDto {
                    door_id: c.door_id.0,
                    door: c.door,
                    lock: c.lock,
                    slot: c.slot,
                    found_at: c.found_at,
                    written_before: c.written_before,
                })
                .collect(),
        }
    }
}

/// The restored state and the codes found on locks that latchkey does not know (admins).
#[utoipa::path(get, path = "/api/v1/restore", tag = "restore",
    responses((status = 200, body = RestoreDto), (status = 403, body = Problem)))]
pub async fn review(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<RestoreDto>> {
    Ok(Json(s.app.restore_review(&who).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdoptBody {
    pub door_id: i64,
    #[schema(minimum = 0)]
    pub slot: i64,
    /// The person the code belongs to; they hold a role at the door's property.
    pub person_id: i64,
    /// The code its holder types, asked of them (a lock does not tell). 4–8 digits.
    #[schema(pattern = r"^[0-9]{4,8}$")]
    pub pin: String,
    #[schema(max_length = 200)]
    pub label: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AdoptedDto {
    /// The new credential, in the slot where the lock already holds the code.
    pub credential_id: i64,
}

/// Attaches a code found on a lock to a person, as a PIN credential in that slot; nothing is
/// written to the lock (admins).
#[utoipa::path(post, path = "/api/v1/restore/adopt", tag = "restore", request_body = AdoptBody,
    responses((status = 201, body = AdoptedDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn adopt(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(b): ApiJson<AdoptBody>,
) -> ApiResult<(StatusCode, Json<AdoptedDto>)> {
    let id = s
        .app
        .adopt_code(
            s.app.may_review_restore(&who)?,
            Adoption {
                door: DoorId(b.door_id),
                slot: b.slot,
                person: PersonId(b.person_id),
                pin: b.pin,
                label: b.label,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(AdoptedDto {
            credential_id: id.0,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveBody {
    pub door_id: i64,
    #[schema(minimum = 0)]
    pub slot: i64,
}

/// Orders a code found on a lock cleared from it (admins).
#[utoipa::path(post, path = "/api/v1/restore/remove", tag = "restore", request_body = RemoveBody,
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn remove(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(b): ApiJson<RemoveBody>,
) -> ApiResult<StatusCode> {
    s.app
        .remove_unknown_code(s.app.may_review_restore(&who)?, DoorId(b.door_id), b.slot)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends the restored state: latchkey writes and clears slots as usual again (admins).
#[utoipa::path(post, path = "/api/v1/restore/end", tag = "restore",
    responses((status = 204), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn end(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<StatusCode> {
    s.app
        .end_restored_state(s.app.may_review_restore(&who)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
