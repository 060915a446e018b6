//! Importing a building's units, entry doors and residents from a CSV body
//! (docs/OPERATIONS.md, "Importing a building").

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use latchkey_app::onboarding::{ImportMode, MAX_BYTES};
use latchkey_core::PropertyId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiPath, ApiQuery, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Only check the file against the property; write nothing.
    #[serde(default)]
    pub check: bool,
    /// Make an invitation link for each new person with an e-mail address, returned only in
    /// this answer.
    #[serde(default)]
    pub invite: bool,
}

/// What a good file adds (or, checked, would add).
#[derive(Serialize, ToSchema)]
pub struct ImportDto {
    pub units: usize,
    pub doors: usize,
    pub people: usize,
    /// False for a check.
    pub written: bool,
    /// With `invite`: one link per new person with an e-mail address; the only copies.
    pub invitations: Vec<ImportedInvitationDto>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportedInvitationDto {
    pub person_id: i64,
    pub unit: String,
    pub name: String,
    pub email: String,
    pub link: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

/// One wrong line of a refused file; `line` is absent when the whole file is refused.
#[derive(Serialize, ToSchema)]
pub struct ImportLineDto {
    pub line: Option<u64>,
    pub message: String,
}

/// A refused file: a problem document with every wrong line.
#[derive(Serialize, ToSchema)]
pub struct ImportRefused {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub lines: Vec<ImportLineDto>,
}

impl IntoResponse for ImportRefused {
    fn into_response(self) -> Response {
        let mut res = (StatusCode::UNPROCESSABLE_ENTITY, Json(self)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        res
    }
}

/// Imports a building file into the property (its managers and installers, or an admin). The
/// body is the CSV file (`unit,floor,door,resident_name,resident_email,role`, at most 1 MiB).
/// Every line is checked first; with any wrong line the answer is 422 listing each with its
/// number, and nothing is written. A unit or door the property already has is a wrong line, so
/// the same file is never imported twice.
#[utoipa::path(post, path = "/api/v1/properties/{id}/import", tag = "units", params(("id" = i64, Path), ImportQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportDto), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 413, body = Problem), (status = 422, body = ImportRefused)))]
pub async fn import(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Body,
) -> ApiResult<Response> {
    let importer = who.importer(PropertyId(id))?;
    // Read here with the import's own limit: the API's body limit is far smaller.
    let Ok(file) = axum::body::to_bytes(body, MAX_BYTES + 1).await else {
        return Ok(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!(
                "the file is larger than {MAX_BYTES} bytes (1 MiB): split it into several files"
            ),
        )
        .into_response());
    };
    let mode = if q.check {
        ImportMode::Check
    } else {
        ImportMode::Write { invite: q.invite }
    };
    let report = s.app.import_building(importer, &file, mode).await?;
    if !report.errors.is_empty() {
        let n = report.errors.len();
        return Ok(ImportRefused {
            kind: "urn:latchkey:problem:import-refused".into(),
            title: "Unprocessable Entity".into(),
            status: 422,
            detail: format!(
                "{n} {} wrong; nothing was imported",
                if n == 1 { "line is" } else { "lines are" }
            ),
            lines: report
                .errors
                .into_iter()
                .map(|e| ImportLineDto {
                    line: e.line,
                    message: e.message,
                })
                .collect(),
        }
        .into_response());
    }
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
    Ok(Json(ImportDto {
        units: report.units,
        doors: report.doors,
        people: report.people,
        written: report.written,
        invitations: report
            .invitations
            .into_iter()
            .map(|i| ImportedInvitationDto {
                person_id: i.invitation.person.0,
                unit: i.unit,
                name: i.name,
                email: i.email,
                link: latchkey_app::invitations::link(&base, &i.invitation.token),
                expires_at: i.invitation.expires_at,
            })
            .collect(),
    })
    .into_response())
}
