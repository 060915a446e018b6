//! RFC 9457 problem details: the one place where errors become responses. A 4xx says what was
//! wrong and how to fix it; a 5xx says "internal error" and the detail goes to the log only.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_app::AppError;
use serde::Serialize;
use utoipa::ToSchema;

/// A problem details document (`application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request field that was wrong, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds to wait before trying again (rate limits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:latchkey:problem:{slug}"),
            title: status.canonical_reason().unwrap_or("error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            retry_after: None,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = self.retry_after;
        let mut res = (status, axum::Json(self)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = retry
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

/// An application error on its way to becoming a problem response.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl From<ApiError> for Problem {
    fn from(ApiError(err): ApiError) -> Problem {
        match err {
            AppError::Unauthenticated(m) => {
                Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", m)
            }
            AppError::Forbidden(m) => Problem::new(StatusCode::FORBIDDEN, "forbidden", m),
            AppError::NotFound(what) => Problem::new(
                StatusCode::NOT_FOUND,
                "not-found",
                format!("{what} not found"),
            ),
            AppError::Invalid { field, message } => {
                let mut p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    format!("{field}: {message}"),
                );
                p.field = Some(field);
                p
            }
            AppError::Conflict(m) => Problem::new(StatusCode::CONFLICT, "conflict", m),
            AppError::RateLimited { retry_after_secs } => {
                let mut p = Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    format!("too many attempts; try again in {retry_after_secs} seconds"),
                );
                p.retry_after = Some(retry_after_secs);
                p
            }
            AppError::Unavailable(m) => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m)
            }
            AppError::Store(e) => {
                tracing::error!(error = %e, "storage error");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
            AppError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
