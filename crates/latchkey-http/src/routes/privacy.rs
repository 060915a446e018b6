//! A person's own data: the export of everything latchkey holds about the caller, and the
//! erasure of a person who moved out (docs/OPERATIONS.md, "Privacy").

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use latchkey_app::mydata::{Erasure, PersonalData};
use latchkey_app::store::lockout::LockoutCase;
use latchkey_core::PersonId;
use serde::Serialize;
use utoipa::ToSchema;

use crate::dto::{CredentialDto, EventDto, GrantDto, MembershipDto, PersonDto};
use crate::extract::{ApiPath, Auth};
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

impl From<Erasure> for ErasureDto {
    fn from(e: Erasure) -> Self {
        ErasureDto {
            person_id: e.person_id.0,
            erased_at: e.erased_at,
            redacted_events: e.redacted_events,
            removed: e.removed.iter().map(|s| (*s).to_owned()).collect(),
            kept: e
                .kept
                .iter()
                .map(|(what, why)| KeptDto {
                    what: (*what).to_owned(),
                    why: (*why).to_owned(),
                })
                .collect(),
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
