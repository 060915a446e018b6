//! The invitation link's page: a person added by staff or from the terminal sets their first
//! password, is signed in, and is offered a passkey.
//!
//! The link (`/welcome?t=lki_…`) is checked without changing anything; when it is usable its
//! token moves into a cookie scoped to `/welcome` and the browser is sent to `/welcome`, so the
//! token leaves the address bar and the history. A used, withdrawn, expired or unknown link gets
//! a page that says which, in words, and changes nothing.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_app::AppError;
use latchkey_app::invitations::LinkState;
use serde::Deserialize;

use crate::WebState;
use crate::error::{PageError, capitalise, describe};
use crate::guard::{self, SESSION_COOKIE, Source};
#[allow(unused_imports)] // named by the templates
use crate::layout::{Layout, Tab};
use crate::signin::with_cookie;

/// The invitation's token between the link and the form.
const INVITE_COOKIE: &str = "latchkey_invite";
const INVITE_PATH: &str = "/welcome";

#[derive(Template, WebTemplate)]
#[template(path = "welcome.html")]
struct WelcomePage {
    layout: Layout,
    /// Set when the link can be used.
    form: Option<WelcomeForm>,
    error: Option<String>,
}

struct WelcomeForm {
    csrf: String,
    name: String,
    email: String,
}

#[derive(Deserialize)]
pub(crate) struct LinkQuery {
    t: Option<String>,
}

fn binding(token: &str) -> String {
    format!("invite:{token}")
}

fn refused(status: StatusCode, why: &str) -> Response {
    (
        status,
        WelcomePage {
            layout: Layout::public("Invitation"),
            form: None,
            error: Some(format!("{}.", capitalise(why))),
        },
    )
        .into_response()
}

async fn show(
    state: &WebState,
    token: &str,
    source: &str,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    match state.app.invitation_state(token, source).await {
        Ok(LinkState::Valid { name, email }) => (
            status,
            WelcomePage {
                layout: Layout::public("Welcome"),
                form: Some(WelcomeForm {
                    csrf: state.app.form_token(&binding(token)),
                    name,
                    email: email.unwrap_or_default(),
                }),
                error,
            },
        )
            .into_response(),
        Ok(other) => refused(StatusCode::GONE, other.refusal().unwrap_or_default()),
        Err(e) => PageError::from(e).into_response(),
    }
}

pub(crate) async fn page(
    State(state): State<WebState>,
    Source(source): Source,
    headers: HeaderMap,
    Query(q): Query<LinkQuery>,
) -> Response {
    let secure = state.config.secure_cookies;
    if let Some(token) = q.t {
        // The link itself: check it, keep its token in a cookie, and drop it from the address.
        return match state.app.invitation_state(&token, &source).await {
            Ok(LinkState::Valid { .. }) => {
                let cookie = guard::set_cookie(INVITE_COOKIE, &token, INVITE_PATH, 3600, secure);
                with_cookie(Redirect::to(INVITE_PATH).into_response(), Some(cookie))
            }
            Ok(other) => refused(StatusCode::GONE, other.refusal().unwrap_or_default()),
            Err(e) => PageError::from(e).into_response(),
        };
    }
    match guard::cookie(&headers, INVITE_COOKIE) {
        Some(token) => show(&state, &token, &source, None, StatusCode::OK).await,
        None => refused(
            StatusCode::NOT_FOUND,
            LinkState::Unknown.refusal().unwrap_or_default(),
        ),
    }
}

#[derive(Deserialize)]
pub(crate) struct SetPassword {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn submit(
    State(state): State<WebState>,
    Source(source): Source,
    headers: HeaderMap,
    Form(form): Form<SetPassword>,
) -> Response {
    let Some(token) = guard::cookie(&headers, INVITE_COOKIE) else {
        return refused(
            StatusCode::NOT_FOUND,
            LinkState::Unknown.refusal().unwrap_or_default(),
        );
    };
    if let Err(e) = guard::check_form(&state, &headers, &binding(&token), &form.csrf) {
        return e.into_response();
    }
    let secure = state.config.secure_cookies;
    match state
        .app
        .accept_invitation(&token, &form.password, &source)
        .await
    {
        Ok(signed) => {
            let secs = state.app.config().session_ttl.as_secs();
            let session = guard::set_cookie(SESSION_COOKIE, &signed.token, "/", secs, secure);
            let clear = guard::set_cookie(INVITE_COOKIE, "", INVITE_PATH, 0, secure);
            let res = with_cookie(
                Redirect::to("/security?welcome=1").into_response(),
                Some(session),
            );
            with_cookie(res, Some(clear))
        }
        Err(e @ AppError::Invalid { .. }) => {
            let (status, _, message) = describe(&e);
            show(&state, &token, &source, Some(message), status).await
        }
        Err(AppError::Conflict(why)) => refused(StatusCode::GONE, &why),
        Err(AppError::NotFound(_)) => refused(
            StatusCode::NOT_FOUND,
            LinkState::Unknown.refusal().unwrap_or_default(),
        ),
        Err(e) => PageError::from(e).into_response(),
    }
}
