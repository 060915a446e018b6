//! Errors as pages in plain words: what happened and what to do next, never a problem document.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_app::AppError;

#[allow(unused_imports)] // named by the templates
use crate::layout::{Layout, Tab};

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub heading: String,
    pub message: String,
    pub back: &'static str,
    pub back_label: &'static str,
}

/// Why a page could not do what was asked.
#[derive(Debug)]
pub enum PageError {
    App(AppError),
    /// The form came from another site.
    CrossSite,
    /// The form's token is missing or belongs to another session.
    StaleForm,
}

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError::App(e)
    }
}

/// The status, heading and message of an application error, in words for a resident.
pub fn describe(e: &AppError) -> (StatusCode, &'static str, String) {
    match e {
        AppError::Unauthenticated(_) => (
            StatusCode::UNAUTHORIZED,
            "Please sign in",
            "Your session has ended. Sign in again to go on.".to_owned(),
        ),
        AppError::Forbidden(why) => (
            StatusCode::FORBIDDEN,
            "Not allowed",
            format!("{}.", capitalise(why.trim_end_matches('.'))),
        ),
        AppError::NotFound(what) => (
            StatusCode::NOT_FOUND,
            "Not found",
            format!("We could not find this {what}. It may have been removed, or it is not yours to see."),
        ),
        AppError::Invalid { field, message } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Please check what you typed",
            format!("{}: {message}.", capitalise(&field.replace('_', " "))),
        ),
        AppError::Conflict(what) => (
            StatusCode::CONFLICT,
            "That clashes with something",
            format!("{}.", capitalise(what.trim_end_matches('.'))),
        ),
        AppError::RateLimited { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            format!(
                "Please wait {} and try again.",
                if *retry_after_secs < 90 {
                    format!("{retry_after_secs} seconds")
                } else {
                    format!("{} minutes", retry_after_secs.div_ceil(60))
                }
            ),
        ),
        AppError::Unavailable(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Not available right now",
            format!("{}. Please try again in a moment.", capitalise(why.trim_end_matches('.'))),
        ),
        AppError::Store(_) | AppError::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side",
            "This is not your fault. Please try again; if it keeps happening, tell the building manager."
                .to_owned(),
        ),
    }
}

pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn page(status: StatusCode, heading: &str, message: String) -> Response {
    (
        status,
        ErrorPage {
            layout: Layout::public(heading),
            heading: heading.to_owned(),
            message,
            back: "/",
            back_label: "Go to the start page",
        },
    )
        .into_response()
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::App(AppError::Unauthenticated(_)) => {
                Redirect::to("/sign-in").into_response()
            }
            PageError::App(e) => {
                let (status, heading, message) = describe(&e);
                if status.is_server_error() {
                    tracing::error!(error = ?e, "page failed");
                }
                let mut res = page(status, heading, message);
                if let AppError::RateLimited { retry_after_secs } = e
                    && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
                {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
                res
            }
            PageError::CrossSite => page(
                StatusCode::FORBIDDEN,
                "This form came from another site",
                "Nothing was changed. Open latchkey's own page and try again.".to_owned(),
            ),
            PageError::StaleForm => page(
                StatusCode::FORBIDDEN,
                "This form has expired",
                "Nothing was changed. Go back, reload the page and try again.".to_owned(),
            ),
        }
    }
}

pub fn not_found_page() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no page at this address. Check the address, or start from the home page."
            .to_owned(),
    )
}

pub async fn method_not_allowed() -> Response {
    page(
        StatusCode::METHOD_NOT_ALLOWED,
        "This page cannot do that",
        "Use the page's own buttons and forms.".to_owned(),
    )
}
