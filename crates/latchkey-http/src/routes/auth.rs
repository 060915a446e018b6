//! Sign-in, sign-out, the caller, sessions and API tokens.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_app::store::auth::GrantKind;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::dto::{GrantDto, MeDto, PersonDto, TokenCreatedDto};
use crate::extract::{ApiJson, ApiPath, Auth, Source, session_cookie};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

/// Signs in with e-mail and password; sets the session cookie. Rate-limited per account and per
/// source address.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()), request_body = LoginBody,
    responses((status = 200, body = PersonDto), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    State(s): State<AppState>,
    Source(src): Source,
    ApiJson(b): ApiJson<LoginBody>,
) -> ApiResult<Response> {
    let signed = s.app.login(&b.email, &b.password, &src).await?;
    let secs = s.app.config().session_ttl.as_secs();
    let cookie = session_cookie(&signed.token, secs, s.config.secure_cookies);
    with_cookie(
        axum::Json(PersonDto::from(signed.person)).into_response(),
        &cookie,
    )
}

fn with_cookie(mut res: Response, cookie: &str) -> ApiResult<Response> {
    let value = HeaderValue::from_str(cookie)
        .map_err(|e| ApiError(latchkey_app::AppError::Internal(e.to_string())))?;
    res.headers_mut().insert(header::SET_COOKIE, value);
    Ok(res)
}

/// Signs out: revokes the current session and clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = Problem), (status = 409, body = Problem)))]
pub async fn logout(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Response> {
    s.app.logout(s.app.may_logout(&who)?).await?;
    let clear = session_cookie("", 0, s.config.secure_cookies);
    with_cookie(StatusCode::NO_CONTENT.into_response(), &clear)
}

/// The signed-in person and their memberships.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, body = MeDto), (status = 401, body = Problem)))]
pub async fn me(Auth(who): Auth) -> axum::Json<MeDto> {
    axum::Json(MeDto {
        person: who.person().clone().into(),
        memberships: who.active().cloned().map(Into::into).collect(),
    })
}

/// The caller's sign-in sessions.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "auth",
    responses((status = 200, body = Vec<GrantDto>), (status = 401, body = Problem)))]
pub async fn list_sessions(
    State(s): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<axum::Json<Vec<GrantDto>>> {
    let v = s.app.list_grants(&who, GrantKind::Session).await?;
    Ok(axum::Json(v.into_iter().map(Into::into).collect()))
}

/// Revokes one of the caller's sessions (admins: anyone's).
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "auth", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke_session(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let revoker = s.app.may_revoke_grant(&who, GrantKind::Session, id).await?;
    s.app.revoke_grant(revoker).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's API tokens.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "auth",
    responses((status = 200, body = Vec<GrantDto>), (status = 401, body = Problem)))]
pub async fn list_tokens(
    State(s): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<axum::Json<Vec<GrantDto>>> {
    let v = s.app.list_grants(&who, GrantKind::ApiToken).await?;
    Ok(axum::Json(v.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// 1–100 characters, not only spaces.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
}

/// Creates an API token; the token is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "auth", request_body = TokenBody,
    responses((status = 201, body = TokenCreatedDto), (status = 422, body = Problem)))]
pub async fn create_token(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(b): ApiJson<TokenBody>,
) -> ApiResult<(StatusCode, axum::Json<TokenCreatedDto>)> {
    let (token, grant) = s.app.create_api_token(who.own_account(), &b.name).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(TokenCreatedDto {
            token,
            grant: grant.into(),
        }),
    ))
}

/// Revokes an API token.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "auth", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let revoker = s
        .app
        .may_revoke_grant(&who, GrantKind::ApiToken, id)
        .await?;
    s.app.revoke_grant(revoker).await?;
    Ok(StatusCode::NO_CONTENT)
}
