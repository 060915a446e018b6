//! Pages opened from a link: a guardian's (signed in as themselves, to confirm or deny that the
//! person locked out is who they say) and a locksmith's job (no sign-in: the job token is the
//! key; at the door, the check word first, then the window's one-time code).
//!
//! As with invitations, the link's token leaves the address bar at once: it is kept in an
//! `HttpOnly` cookie scoped to its page's path, so no server or proxy log holds it.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_app::AppError;
use serde::Deserialize;

use crate::WebState;
use crate::error::{PageError, describe};
use crate::guard::{self, Signed, Source};
#[allow(unused_imports)] // named by the templates
use crate::layout::{Layout, Tab};
use crate::signin::{pre_session, with_cookie};

const GUARDIAN_COOKIE: &str = "latchkey_guardian";
const GUARDIAN_PATH: &str = "/guardian";
const JOB_COOKIE: &str = "latchkey_job";
const JOB_PATH: &str = "/job";
/// A guardian link lives 30 minutes; a job a working day.
const GUARDIAN_COOKIE_SECS: i64 = 3600;
const JOB_COOKIE_SECS: i64 = 12 * 3600;

#[derive(Deserialize)]
pub(crate) struct LinkQuery {
    t: Option<String>,
}

/// Keeps the link's token in a cookie for `path` and sends the browser there without it.
fn keep(state: &WebState, name: &str, path: &str, token: &str, secs: i64) -> Response {
    let cookie = guard::set_cookie(name, token, path, secs, state.config.secure_cookies);
    with_cookie(Redirect::to(path).into_response(), Some(cookie))
}

fn local(t: jiff::Timestamp) -> String {
    t.strftime("%H:%M UTC").to_string()
}

// ---- Guardian ------------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "guardian.html")]
struct GuardianPage {
    layout: Layout,
    csrf: String,
    heading: String,
    words: String,
    /// The link may still be answered.
    open: bool,
    done: Option<String>,
}

async fn guardian_page(
    state: &WebState,
    who: &Signed,
    token: &str,
    status: StatusCode,
    done: Option<String>,
) -> Result<Response, PageError> {
    let guardian = state
        .app
        .may_answer_guardian_link(&who.principal, token)
        .await?;
    let r = state.app.guardian_request(&guardian).await?;
    let expired = r.expires_at <= state.app.now();
    let (open, words) = match (&r.answered, r.case_state.as_str()) {
        (Some(a), _) => (false, format!("You already answered this link: {a}.")),
        (None, "open") if expired => (
            false,
            "This link has expired. If they still need help, they can ask again from their case page."
                .to_owned(),
        ),
        (None, "open") => (
            true,
            format!(
                "Someone at the door of {} says they are {} and is locked out. Only confirm if \
                 you know it is them (a call, a video, you are there). If it is not them, say so: \
                 the household is told and nothing opens.",
                r.unit, r.claimed_identity
            ),
        ),
        (None, state) => (false, format!("The case is already {state}: nothing to answer.")),
    };
    Ok((
        status,
        GuardianPage {
            layout: Layout::signed("Is it really them?", None, who),
            csrf: who.csrf.clone(),
            heading: format!("Is it really {}?", r.claimed_identity),
            words,
            open,
            done,
        },
    )
        .into_response())
}

/// `/guardian?t=…` keeps the link; `/guardian` shows it to the person it was sent to.
pub(crate) async fn guardian(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(q): Query<LinkQuery>,
    who: Result<Signed, Response>,
) -> Result<Response, PageError> {
    if let Some(token) = q.t {
        return Ok(keep(
            &state,
            GUARDIAN_COOKIE,
            GUARDIAN_PATH,
            &token,
            GUARDIAN_COOKIE_SECS,
        ));
    }
    let who = match who {
        Ok(w) => w,
        Err(sign_in) => return Ok(sign_in),
    };
    let Some(token) = guard::cookie(&headers, GUARDIAN_COOKIE) else {
        return Err(AppError::not_found("guardian link").into());
    };
    guardian_page(&state, &who, &token, StatusCode::OK, None).await
}

#[derive(Deserialize)]
pub(crate) struct AnswerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    answer: String,
}

pub(crate) async fn guardian_answer(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<AnswerForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let Some(token) = guard::cookie(&headers, GUARDIAN_COOKIE) else {
        return Err(AppError::not_found("guardian link").into());
    };
    let confirm = match form.answer.as_str() {
        "confirm" => true,
        "deny" => false,
        _ => return Err(AppError::invalid("answer", "choose confirm or deny").into()),
    };
    let answered = async {
        let guardian = state
            .app
            .may_answer_guardian_link(&who.principal, &token)
            .await?;
        state.app.answer_guardian_link(guardian, confirm).await
    }
    .await;
    match answered {
        Ok(()) => {
            let done = if confirm {
                "Thank you: you confirmed it is them."
            } else {
                "Thank you: you said it is not them. The household is told and nothing opens."
            };
            guardian_page(&state, &who, &token, StatusCode::OK, Some(done.to_owned())).await
        }
        Err(e @ AppError::Conflict(_)) => {
            let (status, _, message) = describe(&e);
            guardian_page(&state, &who, &token, status, Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---- Locksmith -----------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "job.html")]
struct JobPage {
    layout: Layout,
    csrf: String,
    company: String,
    door: String,
    unit: String,
    check_word: String,
    window: String,
    /// The code may be fetched now (booked, lock working).
    may_fetch: bool,
    status_words: &'static str,
    code: Option<(String, String)>,
    error: Option<String>,
}

async fn job_page(
    state: &WebState,
    headers: &HeaderMap,
    token: &str,
    source: &str,
    status: StatusCode,
    code: Option<(String, String)>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let (binding, set) = pre_session(headers, state.config.secure_cookies);
    let job = state.app.locksmith_job_by_token(token, source).await?;
    let status_words = match (job.status.as_str(), job.lock_failed) {
        ("booked", false) => "Booked: at the door, fetch the one-time code here.",
        ("booked", true) => {
            "Booked: the lock itself has failed, so there is no code; open it by hand."
        }
        ("code_released", _) => "The code was fetched.",
        ("done", _) => "Done.",
        ("cancelled", _) => "Cancelled: do not open the door.",
        _ => "In progress.",
    };
    let page = JobPage {
        layout: Layout::public("Locksmith job"),
        csrf: state.app.form_token(&binding),
        company: job.company,
        door: job.door,
        unit: job.unit,
        check_word: job.check_word,
        window: format!("{} to {}", local(job.window_from), local(job.window_until)),
        may_fetch: job.status == "booked" && !job.lock_failed && code.is_none(),
        status_words,
        code,
        error,
    };
    Ok(with_cookie((status, page).into_response(), set))
}

/// `/job?t=…` keeps the job token; `/job` shows the job to whoever holds it.
pub(crate) async fn job(
    State(state): State<WebState>,
    Source(source): Source,
    headers: HeaderMap,
    Query(q): Query<LinkQuery>,
) -> Result<Response, PageError> {
    if let Some(token) = q.t {
        return Ok(keep(&state, JOB_COOKIE, JOB_PATH, &token, JOB_COOKIE_SECS));
    }
    let Some(token) = guard::cookie(&headers, JOB_COOKIE) else {
        return Err(AppError::not_found("locksmith job").into());
    };
    job_page(
        &state,
        &headers,
        &token,
        &source,
        StatusCode::OK,
        None,
        None,
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct CodeForm {
    #[serde(default)]
    csrf: String,
    /// "1": the resident matched the check word.
    #[serde(default)]
    said: String,
    #[serde(default)]
    document: String,
}

/// At the door: the resident matched the check word and showed an ID; the code for the
/// window.
pub(crate) async fn job_code(
    State(state): State<WebState>,
    Source(source): Source,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    let Some(pre) = guard::cookie(&headers, guard::PRE_COOKIE) else {
        return Err(PageError::StaleForm);
    };
    guard::check_form(&state, &headers, &format!("pre:{pre}"), &form.csrf)?;
    let Some(token) = guard::cookie(&headers, JOB_COOKIE) else {
        return Err(AppError::not_found("locksmith job").into());
    };
    if form.said != "1" {
        let msg = "Say the check word first and let the resident match it with their case page. If it does not match, do not open the door.";
        return job_page(
            &state,
            &headers,
            &token,
            &source,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(msg.to_owned()),
        )
        .await;
    }
    match state
        .app
        .locksmith_code(&token, &form.document, &source)
        .await
    {
        Ok(c) => {
            let until = local(c.valid_until);
            job_page(
                &state,
                &headers,
                &token,
                &source,
                StatusCode::OK,
                Some((c.pin, until)),
                None,
            )
            .await
        }
        Err(
            e @ (AppError::Invalid { .. }
            | AppError::Forbidden(_)
            | AppError::Conflict(_)
            | AppError::RateLimited { .. }),
        ) => {
            let (status, _, message) = describe(&e);
            job_page(
                &state,
                &headers,
                &token,
                &source,
                status,
                None,
                Some(message),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
