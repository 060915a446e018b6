//! "I'm locked out": public, no sign-in. A visitor starts a case with the same use case as the
//! API; the case token goes into an `HttpOnly` cookie scoped to the case page's path, never into
//! a URL (so no server or proxy log holds it). Until proven, the case page is the same for a real
//! resident and a made-up one: the use case tells the token holder only the kinds of steps and
//! the general order of the ways back in.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_app::AppError;
use latchkey_app::lockout::{CaseView, PublicStart};
use serde::Deserialize;

use crate::WebState;
use crate::error::{PageError, describe};
use crate::guard::{self, CASE_COOKIE, CASE_PATH, PRE_COOKIE, Source};
#[allow(unused_imports)] // named by the templates
use crate::layout::{Layout, Tab};
use crate::signin::{pre_session, with_cookie};

/// How long the case cookie lives: a case is a matter of hours.
const CASE_COOKIE_SECS: i64 = 24 * 3600;

#[derive(Template, WebTemplate)]
#[template(path = "locked_out.html")]
struct StartPage {
    layout: Layout,
    csrf: String,
    properties: Vec<(i64, String)>,
    chosen: i64,
    unit: String,
    identity: String,
    error: Option<String>,
}

async fn start_page(
    state: &WebState,
    headers: &HeaderMap,
    status: StatusCode,
    form: Option<&StartForm>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let (binding, set) = pre_session(headers, state.config.secure_cookies);
    let properties: Vec<(i64, String)> = state
        .app
        .public_properties()
        .await?
        .into_iter()
        .map(|(id, name)| (id.0, name))
        .collect();
    let page = StartPage {
        layout: Layout::public("I'm locked out"),
        csrf: state.app.form_token(&binding),
        chosen: form
            .map(|f| f.property)
            .or_else(|| properties.first().map(|p| p.0))
            .unwrap_or_default(),
        properties,
        unit: form.map(|f| f.unit.clone()).unwrap_or_default(),
        identity: form.map(|f| f.identity.clone()).unwrap_or_default(),
        error,
    };
    Ok(with_cookie((status, page).into_response(), set))
}

pub(crate) async fn page(
    State(state): State<WebState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    start_page(&state, &headers, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
pub(crate) struct StartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    property: i64,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    identity: String,
}

pub(crate) async fn start(
    State(state): State<WebState>,
    Source(source): Source,
    headers: HeaderMap,
    Form(form): Form<StartForm>,
) -> Result<Response, PageError> {
    let Some(pre) = guard::cookie(&headers, PRE_COOKIE) else {
        return Err(PageError::StaleForm);
    };
    guard::check_form(&state, &headers, &format!("pre:{pre}"), &form.csrf)?;
    let input = PublicStart {
        property_id: form.property,
        unit: form.unit.clone(),
        identity: form.identity.clone(),
    };
    match state.app.start_lockout_public(input, &source).await {
        Ok(started) => {
            let cookie = guard::set_cookie(
                CASE_COOKIE,
                &started.token,
                CASE_PATH,
                CASE_COOKIE_SECS,
                state.config.secure_cookies,
            );
            Ok(with_cookie(
                Redirect::to(CASE_PATH).into_response(),
                Some(cookie),
            ))
        }
        Err(e @ (AppError::Invalid { .. } | AppError::RateLimited { .. })) => {
            let (status, _, message) = describe(&e);
            start_page(&state, &headers, status, Some(&form), Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A way back in, in words.
struct Way {
    title: String,
    status: String,
    minutes: String,
    cost: String,
    damage: &'static str,
    warning: Option<String>,
}

/// A step of the case, in words.
struct StepView {
    at: String,
    words: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "case.html")]
struct CasePage {
    layout: Layout,
    csrf: String,
    state: &'static str,
    state_words: &'static str,
    steps: Vec<StepView>,
    ways: Vec<Way>,
    proven: bool,
    error: Option<String>,
    /// Locksmiths on the way: the check word each will say, and their window.
    jobs: Vec<(String, String)>,
}

fn step_words(kind: &str) -> String {
    match kind {
        "opened" => "You asked for help getting back in.".to_owned(),
        "proof_failed" => "A code was typed that did not prove this case.".to_owned(),
        "proven" => "Your identity was proven.".to_owned(),
        "presence_challenge" => "A code to type at the door was asked for.".to_owned(),
        "guardians_asked" => {
            "Your household and spare-key holders were asked to confirm it is you.".to_owned()
        }
        "proof_refused" => "A proof was refused.".to_owned(),
        "proof_totp" => "A code from your authenticator app was accepted.".to_owned(),
        "proof_passkey" => "Your passkey was accepted.".to_owned(),
        "proof_recovery_code" => "A code from your recovery card was accepted.".to_owned(),
        "proof_id_check" => "Staff checked your identity document.".to_owned(),
        "proof_guardians" => "Your household and spare-key holders confirmed it is you.".to_owned(),
        "proof_presence" => "The code typed at the door was accepted.".to_owned(),
        "spare_key_released" => {
            "A spare-key holder helped: a one-time PIN or a remote opening.".to_owned()
        }
        "code_used" => "The one-time PIN was used at the door.".to_owned(),
        "staff_opened" => "Staff opened the door.".to_owned(),
        "resolved" => "You are back in. The case is closed.".to_owned(),
        "cancelled" => "The case was cancelled.".to_owned(),
        other => crate::error::capitalise(&other.replace('_', " ")) + ".",
    }
}

fn case_state(state: &str) -> (&'static str, &'static str) {
    match state {
        "open" => (
            "open",
            "Open: prove who you are to see what can open for you now.",
        ),
        "proven" => ("proven", "Proven: follow one of the ways back in below."),
        "resolved" => ("resolved", "Resolved: you are back in."),
        "cancelled" => ("cancelled", "Cancelled."),
        _ => ("other", "In progress."),
    }
}

fn money(cents: i64) -> String {
    if cents == 0 {
        "free".to_owned()
    } else {
        format!("about {}.{:02}", cents / 100, cents % 100)
    }
}

fn case_page(view: &CaseView, csrf: String, error: Option<String>) -> CasePage {
    let (state, state_words) = case_state(&view.state);
    CasePage {
        layout: Layout::public("Your lockout case"),
        csrf,
        state,
        state_words,
        steps: view
            .timeline
            .iter()
            .map(|s| StepView {
                at: s.at.strftime("%H:%M").to_string(),
                words: step_words(&s.kind),
            })
            .collect(),
        ways: view
            .ways
            .iter()
            .map(|w| Way {
                title: w.title.clone(),
                status: match (w.available, &w.why_not) {
                    (Some(true), _) => "Available now".to_owned(),
                    (Some(false), Some(why)) => format!("Not now: {why}"),
                    (Some(false), None) => "Not now".to_owned(),
                    (None, _) => "Shown once you have proven who you are".to_owned(),
                },
                minutes: match w.minutes {
                    1 => "About a minute".to_owned(),
                    m => format!("About {m} minutes"),
                },
                cost: money(w.cost_cents),
                damage: match w.damage {
                    "none" => "no damage",
                    "minor" => "minor damage",
                    _ => "major damage",
                },
                warning: w
                    .warning
                    .as_deref()
                    .map(|t| format!("{}.", crate::error::capitalise(t.trim_end_matches('.')))),
            })
            .collect(),
        proven: view.state == "proven",
        error,
        jobs: view
            .locksmith_jobs
            .iter()
            .filter(|j| matches!(j.status.as_str(), "booked" | "code_released"))
            .map(|j| {
                (
                    j.check_word.clone(),
                    format!(
                        "{} to {}",
                        j.window_from.strftime("%H:%M UTC"),
                        j.window_until.strftime("%H:%M UTC")
                    ),
                )
            })
            .collect(),
    }
}

fn no_case() -> Response {
    Redirect::to("/locked-out").into_response()
}

pub(crate) async fn case(
    State(state): State<WebState>,
    Source(source): Source,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(token) = guard::cookie(&headers, CASE_COOKIE) else {
        return Ok(no_case());
    };
    match state.app.lockout_by_token(&token, &source).await {
        Ok(view) => {
            let csrf = state.app.form_token(&format!("case:{token}"));
            Ok(case_page(&view, csrf, None).into_response())
        }
        Err(AppError::NotFound(_)) => Ok(no_case()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(crate) struct TotpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

pub(crate) async fn prove_totp(
    State(state): State<WebState>,
    Source(source): Source,
    headers: HeaderMap,
    Form(form): Form<TotpForm>,
) -> Result<Response, PageError> {
    prove(&state, &source, &headers, &form, Code::Authenticator).await
}

/// A code from the recovery card.
pub(crate) async fn prove_card(
    State(state): State<WebState>,
    Source(source): Source,
    headers: HeaderMap,
    Form(form): Form<TotpForm>,
) -> Result<Response, PageError> {
    prove(&state, &source, &headers, &form, Code::Card).await
}

#[derive(Clone, Copy)]
enum Code {
    Authenticator,
    Card,
}

async fn prove(
    state: &WebState,
    source: &str,
    headers: &HeaderMap,
    form: &TotpForm,
    kind: Code,
) -> Result<Response, PageError> {
    let Some(token) = guard::cookie(headers, CASE_COOKIE) else {
        return Ok(no_case());
    };
    let binding = format!("case:{token}");
    guard::check_form(state, headers, &binding, &form.csrf)?;
    let csrf = state.app.form_token(&binding);
    let code = form.code.trim();
    let proven = match kind {
        Code::Authenticator => state.app.prove_with_totp(&token, code, source).await,
        Code::Card => {
            state
                .app
                .prove_with_recovery_code(&token, code, source)
                .await
        }
    };
    match proven {
        Ok(_) => Ok(Redirect::to(CASE_PATH).into_response()),
        Err(AppError::NotFound(_)) => Ok(no_case()),
        Err(
            e @ (AppError::Forbidden(_) | AppError::RateLimited { .. } | AppError::Invalid { .. }),
        ) => {
            let (status, _, message) = describe(&e);
            let view = state.app.lockout_by_token(&token, source).await?;
            let message = match (e, kind) {
                (AppError::Forbidden(_), Code::Authenticator) => {
                    "That code does not prove this case. Check the six digits in your authenticator app and try again.".to_owned()
                }
                (AppError::Forbidden(_), Code::Card) => {
                    "That code does not prove this case. Check it against your recovery card (each code works once) and try again.".to_owned()
                }
                _ => message,
            };
            Ok((status, case_page(&view, csrf, Some(message))).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
