//! Credentials: create, list, read, change, revoke, freeze, unfreeze, reveal a PIN once.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use latchkey_app::credentials::{CredentialInput, CredentialPatch};
use latchkey_core::model::CredentialStatus;
use latchkey_core::{CredentialId, PersonId, PropertyId};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::bodies::{CredentialBody, CredentialPatchBody};
use crate::dto::{CredentialCreatedDto, CredentialDto, PinDto};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this person's credentials.
    pub person_id: Option<i64>,
}

/// Credentials at a property the caller may see. PINs are never part of this answer.
#[utoipa::path(get, path = "/api/v1/properties/{id}/credentials", tag = "credentials", params(("id" = i64, Path), ListQuery),
    responses((status = 200, body = Vec<CredentialDto>), (status = 404, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Vec<CredentialDto>>> {
    let v = s
        .app
        .list_credentials(&who, PropertyId(id), q.person_id.map(PersonId))
        .await?;
    Ok(Json(v.into_iter().map(Into::into).collect()))
}

/// Creates a credential. Body: `person_id`, `kind` (phone_key, pin, rfid_card, physical_key),
/// optional `unit_id`, `doors`, `schedule`, `max_uses`, `duress`, `pin`, `card_uid`, `label`.
/// Leave out `pin` and latchkey generates the code; a chosen `pin` is taken only for a home's
/// own PIN on doors no other household can open, and never from staff for someone else (422).
/// The answer can carry a PIN (`pin`, to its holder or a resident handing it over).
#[utoipa::path(post, path = "/api/v1/properties/{id}/credentials", tag = "credentials", params(("id" = i64, Path)), request_body = CredentialBody,
    responses((status = 201, body = CredentialCreatedDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<CredentialInput>,
) -> ApiResult<(StatusCode, Json<CredentialCreatedDto>)> {
    let c = s
        .app
        .create_credential(who.credential_issuer(PropertyId(id), b.unit_id)?, b)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CredentialCreatedDto {
            credential: c.credential.into(),
            pin: c.pin,
        }),
    ))
}

/// One credential.
#[utoipa::path(get, path = "/api/v1/credentials/{id}", tag = "credentials", params(("id" = i64, Path)),
    responses((status = 200, body = CredentialDto), (status = 404, body = Problem)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CredentialDto>> {
    Ok(Json(
        s.app.get_credential(&who, CredentialId(id)).await?.into(),
    ))
}

/// Changes label, schedule or use limit (the unit's residents, staff).
#[utoipa::path(patch, path = "/api/v1/credentials/{id}", tag = "credentials", params(("id" = i64, Path)), request_body = CredentialPatchBody,
    responses((status = 200, body = CredentialDto), (status = 403, body = Problem), (status = 422, body = Problem), (status = 409, body = Problem)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<CredentialPatch>,
) -> ApiResult<Json<CredentialDto>> {
    Ok(Json(
        s.app
            .update_credential(
                s.app.may_update_credential(&who, CredentialId(id)).await?,
                b,
            )
            .await?
            .into(),
    ))
}

async fn set_status(
    s: &AppState,
    who: &latchkey_app::authz::Principal,
    id: i64,
    to: CredentialStatus,
) -> ApiResult<Json<CredentialDto>> {
    Ok(Json(
        s.app
            .set_credential_status(
                s.app
                    .may_set_credential_status(who, CredentialId(id), to)
                    .await?,
            )
            .await?
            .into(),
    ))
}

/// Revokes a credential for good.
#[utoipa::path(post, path = "/api/v1/credentials/{id}/revoke", tag = "credentials", params(("id" = i64, Path)),
    responses((status = 200, body = CredentialDto), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn revoke(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CredentialDto>> {
    set_status(&s, &who, id, CredentialStatus::Revoked).await
}

/// Freezes a lost phone key or card at once (its holder, anyone of its unit, staff).
#[utoipa::path(post, path = "/api/v1/credentials/{id}/freeze", tag = "credentials", params(("id" = i64, Path)),
    responses((status = 200, body = CredentialDto), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn freeze(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CredentialDto>> {
    set_status(&s, &who, id, CredentialStatus::Frozen).await
}

/// Unfreezes a credential (the unit's residents, staff).
#[utoipa::path(post, path = "/api/v1/credentials/{id}/unfreeze", tag = "credentials", params(("id" = i64, Path)),
    responses((status = 200, body = CredentialDto), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn unfreeze(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CredentialDto>> {
    set_status(&s, &who, id, CredentialStatus::Active).await
}

/// Shows a PIN to its holder, once, when it was not shown at creation. The answer carries a PIN.
#[utoipa::path(post, path = "/api/v1/credentials/{id}/reveal", tag = "credentials", params(("id" = i64, Path)),
    responses((status = 200, body = PinDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn reveal(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PinDto>> {
    Ok(Json(PinDto {
        pin: s
            .app
            .reveal_pin(s.app.may_reveal_pin(&who, CredentialId(id)).await?)
            .await?,
    }))
}
