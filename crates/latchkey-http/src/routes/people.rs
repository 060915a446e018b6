//! People and memberships.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use jiff::Timestamp;
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_core::{MembershipId, PersonId, PropertyId};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::bodies::{NewMembershipBody, PersonBody};
use crate::dto::{InvitationDto, MembershipDto, PersonCreatedDto, PersonDto};
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

/// People at a property the caller may see.
#[utoipa::path(get, path = "/api/v1/properties/{id}/people", tag = "people", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<PersonDto>), (status = 404, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<PersonDto>>> {
    Ok(Json(
        s.app
            .list_people(&who, PropertyId(id))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Adds a person with their first membership (staff: any role they may grant; residents:
/// household, guests and trusted contacts of their unit). Body: `name`, optional `email`,
/// `phone`, `password`, and `membership` {`role`, `unit_id`, `valid_from`, `valid_until`}.
/// An e-mail address that already signs someone in gets the same answer as a new one; it is
/// kept as the new person's unconfirmed address and signs nobody in.
#[utoipa::path(post, path = "/api/v1/properties/{id}/people", tag = "people", params(("id" = i64, Path)), request_body = PersonBody,
    responses((status = 201, body = PersonCreatedDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<PersonInput>,
) -> ApiResult<(StatusCode, Json<PersonCreatedDto>)> {
    let (p, m) = s
        .app
        .create_person(s.app.may_create_person(&who, PropertyId(id), &b)?, b)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(PersonCreatedDto {
            person: p.into(),
            membership: m.into(),
        }),
    ))
}

/// A new invitation link for a person added without a password (staff where the person holds
/// a membership, or an admin). The link sets the person's first password and signs them in; it
/// is single use, expires (72 hours by default), and replaces any earlier link, which stops
/// working. It is returned only here: latchkey keeps a digest of it. 404 for a person the caller
/// may not invite; 409 when the person already has a password or has no e-mail address yet.
#[utoipa::path(post, path = "/api/v1/people/{id}/invitation", tag = "people", params(("id" = i64, Path)),
    responses((status = 201, body = InvitationDto), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn invite(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<(StatusCode, Json<InvitationDto>)> {
    let inv = s
        .app
        .create_invitation(s.app.may_invite(&who, PersonId(id)).await?)
        .await?;
    let base = match &s.config.public_origin {
        Some(o) => o.to_string(),
        None => format!(
            "http://{}",
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost")
        ),
    };
    Ok((
        StatusCode::CREATED,
        Json(InvitationDto {
            id: inv.id,
            person_id: inv.person.0,
            link: latchkey_app::invitations::link(&base, &inv.token),
            expires_at: inv.expires_at,
        }),
    ))
}

/// Withdraws a person's unused invitation link: it no longer works. 404 when the caller may not
/// invite the person or the person has no unused link.
#[utoipa::path(delete, path = "/api/v1/people/{id}/invitation", tag = "people", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn uninvite(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    s.app
        .revoke_invitation(s.app.may_invite(&who, PersonId(id)).await?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One person.
#[utoipa::path(get, path = "/api/v1/people/{id}", tag = "people", params(("id" = i64, Path)),
    responses((status = 200, body = PersonDto), (status = 404, body = Problem)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PersonDto>> {
    Ok(Json(s.app.get_person(&who, PersonId(id)).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonPatch {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    #[schema(format = Email)]
    pub email: Option<String>,
    /// Digits, spaces and `+ - ( )`, 4–32 characters.
    #[schema(pattern = r"^[0-9+()-]([0-9 +()-]{2,30}[0-9+()-])$")]
    pub phone: Option<String>,
}

/// Changes a person's name, e-mail or phone. The sign-in e-mail changes only by the person
/// themself or by staff (403 for anyone else, a household's residents included); the old
/// address is told of the change.
#[utoipa::path(patch, path = "/api/v1/people/{id}", tag = "people", params(("id" = i64, Path)), request_body = PersonPatch,
    responses((status = 200, body = PersonDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<PersonPatch>,
) -> ApiResult<Json<PersonDto>> {
    let p = s
        .app
        .update_person(
            s.app.may_update_person(&who, PersonId(id)).await?,
            b.name.as_deref(),
            b.email.as_deref(),
            b.phone.as_deref(),
        )
        .await?;
    Ok(Json(p.into()))
}

/// Memberships at a property the caller may see.
#[utoipa::path(get, path = "/api/v1/properties/{id}/memberships", tag = "people", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<MembershipDto>), (status = 404, body = Problem)))]
pub async fn list_memberships(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<MembershipDto>>> {
    Ok(Json(
        s.app
            .list_memberships(&who, PropertyId(id))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Gives an existing person a membership (staff). Body: `person_id`, `role`, `unit_id`,
/// `valid_from`, `valid_until`.
#[utoipa::path(post, path = "/api/v1/properties/{id}/memberships", tag = "people", params(("id" = i64, Path)), request_body = NewMembershipBody,
    responses((status = 201, body = MembershipDto), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_membership(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<serde_json::Value>,
) -> ApiResult<(StatusCode, Json<MembershipDto>)> {
    let body = parse_membership(b)?;
    let m = s
        .app
        .create_membership(
            s.app.may_create_membership(&who, PropertyId(id), &body.1)?,
            PersonId(body.0),
            body.1,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(m.into())))
}

/// `deny_unknown_fields` does not combine with `flatten` in serde, so the body is split by hand.
fn parse_membership(
    mut v: serde_json::Value,
) -> Result<(i64, MembershipInput), latchkey_app::AppError> {
    let obj = v
        .as_object_mut()
        .ok_or_else(|| latchkey_app::AppError::invalid("body", "must be a JSON object"))?;
    let person = obj
        .remove("person_id")
        .and_then(|p| p.as_i64())
        .ok_or_else(|| {
            latchkey_app::AppError::invalid("person_id", "is required and must be an integer")
        })?;
    let m: MembershipInput = serde_json::from_value(v)
        .map_err(|e| latchkey_app::AppError::invalid("body", e.to_string()))?;
    Ok((person, m))
}

/// One membership.
#[utoipa::path(get, path = "/api/v1/memberships/{id}", tag = "people", params(("id" = i64, Path)),
    responses((status = 200, body = MembershipDto), (status = 404, body = Problem)))]
pub async fn get_membership(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<MembershipDto>> {
    Ok(Json(
        s.app.get_membership(&who, MembershipId(id)).await?.into(),
    ))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EndBody {
    /// When the membership ends; now when absent. Ending now revokes the person's credentials
    /// for that unit.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<Timestamp>,
}

/// Ends a membership (move-out).
#[utoipa::path(post, path = "/api/v1/memberships/{id}/end", tag = "people", params(("id" = i64, Path)), request_body = EndBody,
    responses((status = 200, body = MembershipDto), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn end_membership(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<EndBody>,
) -> ApiResult<Json<MembershipDto>> {
    Ok(Json(
        s.app
            .end_membership(
                s.app.may_end_membership(&who, MembershipId(id)).await?,
                b.until,
            )
            .await?
            .into(),
    ))
}
