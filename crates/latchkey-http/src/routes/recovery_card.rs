//! Recovery cards: print one for your own account (the codes are shown once), and prove a
//! lockout case with one of its codes (no sign-in).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::lockouts::CaseDto;
use crate::extract::{ApiJson, Auth, Source};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct RecoveryCardDto {
    /// Single-use codes, shown once: print them and keep the card somewhere you can reach
    /// without your phone.
    pub codes: Vec<String>,
}

/// Prints a new recovery card for the caller. The unused codes of any card before stop
/// working.
#[utoipa::path(post, path = "/api/v1/me/recovery-card", tag = "lockouts",
    responses((status = 201, body = RecoveryCardDto), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn print(
    State(s): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<(StatusCode, Json<RecoveryCardDto>)> {
    let card = s.app.print_recovery_card(who.card_holder()?).await?;
    Ok((
        StatusCode::CREATED,
        Json(RecoveryCardDto { codes: card.codes }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCodeBody {
    pub token: String,
    /// One code from the resident's recovery card (case, spaces and dashes do not matter).
    pub code: String,
}

/// Proves a case with a code from the resident's recovery card (no sign-in), when the
/// property's policy counts `recovery_code`. Each code works once. Refused codes are answered
/// and limited as authenticator codes are.
#[utoipa::path(post, path = "/api/v1/lockouts/proofs/recovery-code", tag = "lockouts", security(()), request_body = RecoveryCodeBody,
    responses((status = 200, body = CaseDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 429, body = Problem)))]
pub async fn prove(
    State(s): State<AppState>,
    Source(source): Source,
    ApiJson(b): ApiJson<RecoveryCodeBody>,
) -> ApiResult<Json<CaseDto>> {
    Ok(Json(
        s.app
            .prove_with_recovery_code(&b.token, &b.code, &source)
            .await?
            .into(),
    ))
}
