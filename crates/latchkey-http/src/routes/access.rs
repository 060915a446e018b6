//! "Would this credential or person open this door at this instant, and why not?"

use axum::Json;
use axum::extract::State;
use latchkey_app::access::AccessQuery;
use latchkey_core::decide::Decision;

use crate::bodies::AccessCheckBody;
use crate::dto::{AccessAnswerDto, CredentialCheckDto};
use crate::extract::{ApiJson, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

/// Decides without opening anything, and records the decision in the audit log. Body:
/// `door_id` and either `credential_id` or `person_id`; optional `at` (RFC 3339, default now),
/// `method` (keypad, rfid, remote, physical_key), `emergency_override`.
#[utoipa::path(post, path = "/api/v1/access-checks", tag = "access", request_body = AccessCheckBody,
    responses((status = 200, body = AccessAnswerDto), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn check(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(q): ApiJson<AccessQuery>,
) -> ApiResult<Json<AccessAnswerDto>> {
    let a = s
        .app
        .check_access(s.app.may_check_access(&who, q).await?)
        .await?;
    Ok(Json(AccessAnswerDto {
        granted: a.granted,
        door_id: a.door_id.0,
        at: a.at,
        checks: a
            .checks
            .into_iter()
            .map(|c| {
                let (granted, reason, duress) = match c.decision {
                    Decision::Granted { duress } => (true, None, duress),
                    Decision::Denied { reason } => (false, Some(reason.as_str().to_owned()), false),
                };
                CredentialCheckDto {
                    credential_id: c.credential_id.0,
                    kind: c.kind,
                    granted,
                    reason,
                    duress,
                    message: c.message,
                }
            })
            .collect(),
    }))
}
