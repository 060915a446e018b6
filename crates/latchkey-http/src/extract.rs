//! Extractors whose rejections are problem documents: JSON bodies (malformed, not an object,
//! unknown fields, wrong content type, oversized), path and query parameters, and the
//! signed-in principal.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use latchkey_app::authz::Principal;
use latchkey_app::store::auth::GrantKind;
use serde::de::DeserializeOwned;

use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "latchkey_session";

/// A JSON body; every way it can be wrong is a 4xx problem naming what to fix.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let parsed = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) if !v.is_object() => {
                return Err(Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-body",
                    "the request body must be a JSON object",
                ));
            }
            Ok(axum::Json(mut v)) => {
                whole_numbers_as_integers(&mut v);
                let bytes = serde_json::to_vec(&v).unwrap_or_default();
                axum::Json::<T>::from_bytes(&bytes)
            }
            Err(e) => Err(e),
        };
        match parsed {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonDataError(e)) => Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                format!(
                    "the request body does not fit: {}",
                    e.body_text().trim_start_matches(
                        "Failed to deserialize the JSON body into the target type: "
                    )
                ),
            )),
            Err(JsonRejection::JsonSyntaxError(_)) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "the request body is not valid JSON",
            )),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "json-required",
                "send the body as JSON with `Content-Type: application/json`",
            )),
            Err(JsonRejection::BytesRejection(_)) => Err(Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                format!("the request body is larger than {} bytes", crate::MAX_BODY),
            )),
            Err(e) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "bad-body",
                e.body_text(),
            )),
        }
    }
}

/// JSON has one kind of number and JSON Schema counts `3.0` as the integer 3, so a whole number
/// written with a decimal point is read as that integer. Only numbers a double holds exactly
/// (up to 2^53) are changed; `3.5` and `1e300` stay as they are and are refused where an
/// integer is expected.
fn whole_numbers_as_integers(v: &mut serde_json::Value) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match v {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64()
                && n.is_f64()
                && f.fract() == 0.0
                && f.abs() <= EXACT
            {
                // In range and whole, so the cast is exact.
                #[allow(clippy::cast_possible_truncation)]
                let i = f as i64;
                *n = serde_json::Number::from(i);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        serde_json::Value::Object(fields) => {
            fields.values_mut().for_each(whole_numbers_as_integers);
        }
        _ => {}
    }
}

/// Path parameters.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "invalid-path", e.body_text()))
    }
}

/// Query parameters.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "invalid-query", e.body_text()))
    }
}

/// The caller's network address, for rate limits ("unknown" in-process).
pub struct Source(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Source(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string()),
        ))
    }
}

/// The request's cookie `name` (the first one), parsed by the `cookie` crate.
pub(crate) fn cookie_value(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// The session cookie's `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, `Path=/`, lasting
/// `max_age_secs` (0 clears it), and `Secure` unless the server serves plain HTTP on loopback
/// (`secure`, docs/ARCHITECTURE.md).
pub(crate) fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    cookie::Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .secure(secure)
        .build()
        .to_string()
}

/// The signed-in person: a session cookie or an `Authorization: Bearer` API token. A request
/// signed in by cookie has already passed the cross-site check (`browser.rs`).
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let cookie = cookie_value(parts, SESSION_COOKIE);
        let (kind, token) = match (bearer, cookie.as_deref()) {
            (Some(t), _) if t.starts_with("lks_") => (GrantKind::Session, t),
            (Some(t), _) => (GrantKind::ApiToken, t),
            (None, Some(t)) => (GrantKind::Session, t),
            (None, None) => {
                return Err(Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "sign in first (POST /api/v1/auth/login) or send an API token as `Authorization: Bearer …`",
                ));
            }
        };
        let principal = state
            .app
            .authenticate(kind, token)
            .await
            .map_err(|e| Problem::from(ApiError(e)))?;
        Ok(Auth(principal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_keeps_its_attributes_and_is_secure_only_when_asked() {
        let plain = session_cookie("lks_abc", 43_200, false);
        let mut attrs: Vec<&str> = plain.split("; ").collect();
        attrs.sort_unstable();
        assert_eq!(
            attrs,
            [
                "HttpOnly",
                "Max-Age=43200",
                "Path=/",
                "SameSite=Strict",
                "latchkey_session=lks_abc"
            ]
        );
        let secure = session_cookie("", 0, true);
        assert!(secure.starts_with("latchkey_session=;"), "{secure}");
        assert!(secure.split("; ").any(|a| a == "Secure"), "{secure}");
        assert!(secure.split("; ").any(|a| a == "Max-Age=0"), "{secure}");
    }

    #[test]
    fn the_first_cookie_of_that_name_is_read_among_others() {
        let req = axum::http::Request::builder()
            .header(header::COOKIE, "a=1; latchkey_session=lks_x; b=2")
            .header(header::COOKIE, "latchkey_session=lks_y")
            .body(())
            .unwrap_or_default();
        let (parts, ()) = req.into_parts();
        assert_eq!(
            cookie_value(&parts, SESSION_COOKIE).as_deref(),
            Some("lks_x")
        );
        assert_eq!(cookie_value(&parts, "missing"), None);
    }
}
