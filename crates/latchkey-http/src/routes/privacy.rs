//! A person's own data: the export of everything latchkey holds about the caller, and the
//! erasure of a person who moved out (docs/OPERATIONS.md, "Privacy").

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use latchkey_app::mydata::{Erasure, ErasureRequest, PendingErasure, PersonalData};
use latchkey_app::store::lockout::LockoutCase;
use latchkey_core::{PersonId, PropertyId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::dto::{CredentialDto, EventDto, GrantDto, MembershipDto, PersonDto};
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

/// A passkey as exported: its name and dates, never its key.
#[derive(Serialize, ToSchema)]
pub struct PasskeyExportDto {
    pub id: i64,
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<Timestamp>,
}

/// A lockout case opened for or by the person.
#[derive(Serialize, ToSchema)]
pub struct CaseExportDto {
    pub id: i64,
    pub property_id: Option<i64>,
    pub unit_id: Option<i64>,
    /// `open`, `proven`, `resolved` or `cancelled`.
    pub state: String,
    pub claimed_unit: String,
    pub claimed_identity: String,
    /// Where the request came from (an address).
    pub source: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<Timestamp>,
}

impl From<LockoutCase> for CaseExportDto {
    fn from(c: LockoutCase) -> Self {
        CaseExportDto {
            id: c.id.0,
            property_id: c.property_id.map(|p| p.0),
            unit_id: c.unit_id.map(|u| u.0),
            state: c.state,
            claimed_unit: c.claimed_unit,
            claimed_identity: c.claimed_identity,
            source: c.source,
            created_at: c.created_at,
            closed_at: c.closed_at,
        }
    }
}

/// Everything latchkey holds about the caller. Secrets are never part of it: no password hash,
/// PIN, token, passkey key or authenticator secret.
#[derive(Serialize, ToSchema)]
pub struct ExportDto {
    #[schema(value_type = String, format = DateTime)]
    pub exported_at: Timestamp,
    pub person: PersonDto,
    pub memberships: Vec<MembershipDto>,
    pub credentials: Vec<CredentialDto>,
    pub sessions: Vec<GrantDto>,
    pub api_tokens: Vec<GrantDto>,
    pub passkeys: Vec<PasskeyExportDto>,
    /// Browsers with notifications on (their endpoints are not shown, only the push service).
    pub push_subscriptions: Vec<crate::routes::push::SubscriptionDto>,
    pub lockout_cases: Vec<CaseExportDto>,
    /// Audit events the caller did or that are about them or their credentials, newest first.
    pub events: Vec<EventDto>,
}

impl From<PersonalData> for ExportDto {
    fn from(d: PersonalData) -> Self {
        ExportDto {
            exported_at: d.exported_at,
            person: d.person.into(),
            memberships: d.memberships.into_iter().map(Into::into).collect(),
            credentials: d.credentials.into_iter().map(Into::into).collect(),
            sessions: d.sessions.into_iter().map(Into::into).collect(),
            api_tokens: d.api_tokens.into_iter().map(Into::into).collect(),
            passkeys: d
                .passkeys
                .into_iter()
                .map(|p| PasskeyExportDto {
                    id: p.id,
                    name: p.name,
                    created_at: p.created_at,
                    last_used_at: p.last_used_at,
                })
                .collect(),
            push_subscriptions: d.push_subscriptions.into_iter().map(Into::into).collect(),
            lockout_cases: d.lockout_cases.into_iter().map(Into::into).collect(),
            events: d.events.into_iter().map(Into::into).collect(),
        }
    }
}

/// One kind of data an erasure keeps, and why.
#[derive(Serialize, ToSchema)]
pub struct KeptDto {
    pub what: String,
    pub why: String,
}

/// What an erasure did.
#[derive(Serialize, ToSchema)]
pub struct ErasureDto {
    pub person_id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub erased_at: Timestamp,
    /// Audit events whose actor and data were redacted (the chain still verifies).
    pub redacted_events: u64,
    pub removed: Vec<String>,
    pub kept: Vec<KeptDto>,
}

fn kept_dtos(kept: &[(&str, &str)]) -> Vec<KeptDto> {
    kept.iter()
        .map(|(what, why)| KeptDto {
            what: (*what).to_owned(),
            why: (*why).to_owned(),
        })
        .collect()
}

/// A person's request to be erased.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequestBody {
    /// For staff (a forwarding address for the deposit, a date of move-out): 1–500 characters,
    /// not only spaces.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    #[serde(default)]
    pub note: Option<String>,
}

/// The caller's erasure request: what will be erased, what is kept and why, and when.
#[derive(Serialize, ToSchema)]
pub struct ErasureRequestDto {
    pub person_id: i64,
    /// When the (first) request was made.
    #[schema(value_type = String, format = DateTime)]
    pub requested_at: Timestamp,
    /// A request was pending already: nothing new was recorded or sent.
    pub already_requested: bool,
    /// The properties whose staff were told.
    pub properties: Vec<i64>,
    /// When the last membership ends; null while one has no end.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub moves_out_at: Option<Timestamp>,
    /// When staff carry it out.
    pub when: String,
    pub removed: Vec<String>,
    pub kept: Vec<KeptDto>,
}

impl From<ErasureRequest> for ErasureRequestDto {
    fn from(r: ErasureRequest) -> Self {
        ErasureRequestDto {
            person_id: r.person_id.0,
            requested_at: r.requested_at,
            already_requested: r.already_requested,
            properties: r.properties.iter().map(|p| p.0).collect(),
            moves_out_at: r.moves_out_at,
            when: r.when.to_owned(),
            removed: r.removed.iter().map(|s| (*s).to_owned()).collect(),
            kept: kept_dtos(&r.kept),
        }
    }
}

/// A pending erasure request of a person of the property.
#[derive(Serialize, ToSchema)]
pub struct PendingErasureDto {
    pub person_id: i64,
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub requested_at: Timestamp,
    pub note: Option<String>,
    /// Every membership of the person has ended; once their credentials are revoked, staff
    /// erase them with `POST /api/v1/people/{id}/erasure`.
    pub moved_out: bool,
}

impl From<PendingErasure> for PendingErasureDto {
    fn from(p: PendingErasure) -> Self {
        PendingErasureDto {
            person_id: p.person_id.0,
            name: p.name,
            requested_at: p.requested_at,
            note: p.note,
            moved_out: p.moved_out,
        }
    }
}

impl From<Erasure> for ErasureDto {
    fn from(e: Erasure) -> Self {
        ErasureDto {
            person_id: e.person_id.0,
            erased_at: e.erased_at,
            redacted_events: e.redacted_events,
            removed: e.removed.iter().map(|s| (*s).to_owned()).collect(),
            kept: kept_dtos(&e.kept),
        }
    }
}

/// Everything latchkey holds about the caller, as JSON.
#[utoipa::path(get, path = "/api/v1/me/export", tag = "auth",
    responses((status = 200, body = ExportDto), (status = 401, body = Problem)))]
pub async fn export(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<ExportDto>> {
    Ok(Json(s.app.export_my_data(&who).await?.into()))
}

/// Erases a person who moved out (staff of every property they belonged to): their name,
/// contact details, sign-in and the personal data of their audit events go; what is kept, and
/// why, is in the answer. 409 while a membership is in force or a credential is not revoked, or
/// when the person was erased already.
#[utoipa::path(post, path = "/api/v1/people/{id}/erasure", tag = "people", params(("id" = i64, Path)),
    responses((status = 200, body = ErasureDto), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn erase(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ErasureDto>> {
    let eraser = s.app.may_erase_person(&who, PersonId(id)).await?;
    Ok(Json(s.app.erase_person(eraser).await?.into()))
}

/// Asks for the caller's own erasure: recorded, and the staff of every property the caller
/// belongs or belonged to are told. Staff carry it out after move-out; the answer says what will
/// be erased, what is kept and why. A second request while one is pending answers the same, with
/// `already_requested`, and records and sends nothing. 409 for an admin or someone who belongs
/// to no property.
#[utoipa::path(post, path = "/api/v1/me/erasure-request", tag = "auth", request_body = ErasureRequestBody,
    responses((status = 202, body = ErasureRequestDto), (status = 401, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn request_erasure(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(b): ApiJson<ErasureRequestBody>,
) -> ApiResult<(StatusCode, Json<ErasureRequestDto>)> {
    let request = s
        .app
        .request_my_erasure(who.own_account(), b.note.as_deref())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(request.into())))
}

/// The pending erasure requests of the property's people (staff), oldest first.
#[utoipa::path(get, path = "/api/v1/properties/{id}/erasure-requests", tag = "people", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<PendingErasureDto>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_erasure_requests(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<PendingErasureDto>>> {
    let list = s.app.list_erasure_requests(&who, PropertyId(id)).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}
