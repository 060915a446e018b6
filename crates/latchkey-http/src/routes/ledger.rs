//! What lockouts cost and leave behind: the ledger (JSON and CSV), forced entries, incidents.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use latchkey_app::lockout::ledger_csv;
use latchkey_app::store::resolution::{Charge, Incident};
use latchkey_core::{DoorId, LockoutCaseId, PropertyId, UnitId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct ChargeDto {
    pub id: i64,
    pub unit_id: Option<i64>,
    pub case_id: Option<i64>,
    /// `staff_opening` or `locksmith`.
    pub kind: String,
    /// `tenant` or `landlord`.
    pub payer: String,
    pub amount_cents: i64,
    /// Not charged: the equipment was at fault (see `evidence`).
    pub waived: bool,
    pub reason: String,
    /// Sequence numbers of the audit events that show the fault.
    pub evidence: Vec<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
}

impl From<Charge> for ChargeDto {
    fn from(c: Charge) -> Self {
        ChargeDto {
            id: c.id,
            unit_id: c.unit_id.map(|u| u.0),
            case_id: c.case_id.map(|k| k.0),
            kind: c.kind,
            payer: c.payer,
            amount_cents: c.amount_cents,
            waived: c.waived,
            reason: c.reason,
            evidence: c.evidence,
            created_at: c.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct IncidentDto {
    pub id: i64,
    pub door_id: i64,
    pub case_id: Option<i64>,
    /// `service` or `compromised`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    #[schema(value_type = String, format = DateTime)]
    pub opened_at: jiff::Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<jiff::Timestamp>,
}

impl From<Incident> for IncidentDto {
    fn from(i: Incident) -> Self {
        IncidentDto {
            id: i.id,
            door_id: i.door_id.0,
            case_id: i.case_id.map(|c| c.0),
            kind: i.kind,
            detail: i.detail,
            opened_at: i.opened_at,
            closed_at: i.closed_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForcedEntryBody {
    pub door_id: i64,
    /// What was done, e.g. "door kicked in".
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub how: String,
}

#[derive(Serialize, ToSchema)]
pub struct CompromiseDto {
    pub incident: IncidentDto,
    /// Credentials replaced: `[old, new]` pairs. New PINs go to their owners only.
    pub rotated: Vec<[i64; 2]>,
}

/// Records that the door was forced (the physical last resort): the door is marked compromised,
/// every PIN of it rotated, the managers asked to repair it, the residents advised.
#[utoipa::path(post, path = "/api/v1/lockouts/{id}/forced-entry", tag = "lockouts", params(("id" = i64, Path)),
    request_body = ForcedEntryBody,
    responses((status = 201, body = CompromiseDto), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn forced_entry(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ForcedEntryBody>,
) -> ApiResult<(StatusCode, Json<CompromiseDto>)> {
    let c = s
        .app
        .may_record_forced_entry(&who, LockoutCaseId(id), &b.how)
        .await?;
    let c = s
        .app
        .record_forced_entry(c, DoorId(b.door_id), &b.how)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CompromiseDto {
            incident: c.incident.into(),
            rotated: c.rotated.iter().map(|(a, b)| [a.0, b.0]).collect(),
        }),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    /// One unit only (required for residents).
    pub unit_id: Option<i64>,
}

/// The lockout ledger: every charge with its case (staff: the property; residents: their unit).
#[utoipa::path(get, path = "/api/v1/properties/{id}/ledger", tag = "lockouts", params(("id" = i64, Path), LedgerQuery),
    responses((status = 200, body = Vec<ChargeDto>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn ledger(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<LedgerQuery>,
) -> ApiResult<Json<Vec<ChargeDto>>> {
    Ok(Json(
        s.app
            .ledger(&who, PropertyId(id), q.unit_id.map(UnitId))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// The same ledger as CSV.
#[utoipa::path(get, path = "/api/v1/properties/{id}/ledger.csv", tag = "lockouts", params(("id" = i64, Path), LedgerQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn ledger_as_csv(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<LedgerQuery>,
) -> ApiResult<impl IntoResponse> {
    let charges = s
        .app
        .ledger(&who, PropertyId(id), q.unit_id.map(UnitId))
        .await?;
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        ledger_csv(&charges),
    ))
}

/// The property's door incidents, open ones first (staff).
#[utoipa::path(get, path = "/api/v1/properties/{id}/incidents", tag = "lockouts", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<IncidentDto>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn incidents(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<IncidentDto>>> {
    Ok(Json(
        s.app
            .incidents(&who, PropertyId(id))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// What staff found wrong with a door.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKindDto {
    /// The lock or door needs service: the door is marked for service.
    Service,
    /// The door was forced: its PINs are replaced, the managers asked to repair it and the
    /// household told, as for a forced entry the lock reports.
    Compromised,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenIncidentBody {
    pub kind: IncidentKindDto,
    /// What staff found, e.g. "closer arm loose".
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub note: String,
}

/// Staff open an incident on a door: it needs service, or it was forced. One open incident of
/// a kind per door (409).
#[utoipa::path(post, path = "/api/v1/doors/{id}/incidents", tag = "lockouts", params(("id" = i64, Path)),
    request_body = OpenIncidentBody,
    responses((status = 201, body = IncidentDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn open_incident(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<OpenIncidentBody>,
) -> ApiResult<(StatusCode, Json<IncidentDto>)> {
    use latchkey_app::incidents::IncidentKind;
    let kind = match b.kind {
        IncidentKindDto::Service => IncidentKind::Service,
        IncidentKindDto::Compromised => IncidentKind::Compromised,
    };
    let staff = s.app.may_open_incident(&who, DoorId(id), &b.note).await?;
    Ok((
        StatusCode::CREATED,
        Json(s.app.open_incident(staff, kind, &b.note).await?.into()),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    /// What was done, e.g. "lock replaced".
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub note: String,
}

/// Staff close an incident once the door is repaired or serviced.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/close", tag = "lockouts", params(("id" = i64, Path)),
    request_body = CloseBody,
    responses((status = 200, body = IncidentDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn close_incident(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<CloseBody>,
) -> ApiResult<Json<IncidentDto>> {
    Ok(Json(
        s.app
            .close_incident(s.app.may_close_incident(&who, id, &b.note).await?, &b.note)
            .await?
            .into(),
    ))
}
