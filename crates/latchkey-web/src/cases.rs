//! Someone is locked out: the cases a signed-in person is asked about, at the top of their home
//! page and kept up to date by the live stream (a case step makes the page fetch this panel
//! again). The household follows its cases and may cancel one it did not expect; a spare-key
//! holder, once the case is proven, releases a one-time PIN (shown once, to pass on) or opens
//! the door remotely — each once per case, with the same use cases as the API.

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_app::AppError;
use latchkey_app::lockout::CasePrompt;
use latchkey_core::{DoorId, LockoutCaseId};
use serde::Deserialize;

use crate::WebState;
use crate::error::{PageError, describe};
use crate::guard::Signed;
#[allow(unused_imports)] // named by the templates
use crate::layout::{Layout, Tab};

/// How long a remote opening waits for the lock to confirm.
const OPEN_WAIT: Duration = Duration::from_secs(5);

/// One case, in words.
pub struct PromptView {
    pub id: i64,
    pub state: String,
    pub heading: String,
    pub words: &'static str,
    pub spare_key: bool,
    pub released_pin: bool,
    pub opened_remotely: bool,
    pub may_cancel: bool,
    /// The unit's doors with a lock, for "open it from here": id and name.
    pub doors: Vec<(i64, String)>,
}

fn view(p: &CasePrompt) -> PromptView {
    let words = match (p.state.as_str(), p.spare_key) {
        ("open", _) => {
            "Someone asked for help getting in. Nothing opens until they prove who they are. \
             If this is not someone of your household, cancel it and tell the building manager."
        }
        ("proven", true) => {
            "They proved who they are. You hold a spare key: release a one-time PIN to pass on \
             to them, or open the door from here."
        }
        ("proven", false) => "They proved who they are and are being helped back in.",
        ("resolved", _) => "Resolved: they are back in.",
        ("cancelled", _) => "Cancelled.",
        _ => "In progress.",
    };
    PromptView {
        id: p.id.0,
        state: p.state.clone(),
        heading: format!("Locked out at {}: {}", p.unit, p.claimed_identity),
        words,
        spare_key: p.spare_key,
        released_pin: p.released_pin,
        opened_remotely: p.opened_remotely,
        may_cancel: p.household && p.state == "open",
        doors: p
            .doors
            .iter()
            .map(|(id, name)| (id.0, name.clone()))
            .collect(),
    }
}

/// The panel's prompts for `who`.
pub(crate) async fn prompts(state: &WebState, who: &Signed) -> Result<Vec<PromptView>, PageError> {
    Ok(state
        .app
        .case_prompts(&who.principal)
        .await?
        .iter()
        .map(view)
        .collect())
}

#[derive(Template, WebTemplate)]
#[template(path = "cases_fragment.html")]
struct Panel {
    cases: Vec<PromptView>,
    csrf: String,
}

/// The panel alone: what the home page fetches when the stream says a case moved.
pub(crate) async fn panel(
    State(state): State<WebState>,
    who: Signed,
) -> Result<Response, PageError> {
    Ok(Panel {
        cases: prompts(&state, &who).await?,
        csrf: who.csrf.clone(),
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "case_help.html")]
struct HelpPage {
    layout: Layout,
    heading: String,
    /// A one-time PIN, shown this once.
    pin: Option<String>,
    valid_until: String,
    message: Option<String>,
    failed: bool,
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    csrf: String,
}

fn help_page(who: &Signed, heading: &str) -> HelpPage {
    HelpPage {
        layout: Layout::signed(heading, Some(Tab::Home), who),
        heading: heading.to_owned(),
        pin: None,
        valid_until: String::new(),
        message: None,
        failed: false,
    }
}

/// A refusal the holder can act on (not proven yet, done already, no lock) is told on the
/// page; anything else is an error page.
fn refused(who: &Signed, heading: &str, e: AppError) -> Result<Response, PageError> {
    match e {
        AppError::Forbidden(_)
        | AppError::Conflict(_)
        | AppError::Invalid { .. }
        | AppError::Unavailable(_) => {
            let (status, _, message) = describe(&e);
            let mut page = help_page(who, heading);
            page.message = Some(message);
            page.failed = true;
            Ok((status, page).into_response())
        }
        other => Err(other.into()),
    }
}

pub(crate) async fn release_pin(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let heading = "A one-time PIN";
    let released = async {
        let holder = state
            .app
            .may_use_spare_key(&who.principal, LockoutCaseId(id))
            .await?;
        state.app.release_spare_pin(holder).await
    }
    .await;
    match released {
        Ok(r) => {
            let tz = zone(&state, &who).await?;
            let mut page = help_page(&who, heading);
            page.valid_until = tz.to_datetime(r.valid_until).strftime("%H:%M").to_string();
            page.pin = Some(r.pin);
            Ok(page.into_response())
        }
        Err(e) => refused(&who, heading, e),
    }
}

#[derive(Deserialize)]
pub(crate) struct OpenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    door: i64,
}

pub(crate) async fn open_door(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<OpenForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let heading = "Opening the door";
    let opened = async {
        let holder = state
            .app
            .may_use_spare_key(&who.principal, LockoutCaseId(id))
            .await?;
        state
            .app
            .spare_key_unlock(holder, DoorId(form.door), OPEN_WAIT)
            .await
    }
    .await;
    match opened {
        Ok(outcome) => {
            let mut page = help_page(&who, heading);
            page.message = Some(
                match outcome.status.as_str() {
                    "confirmed" => "The lock confirmed: the door is unlocked. They can go in now.",
                    "failed" | "rejected" => {
                        "The lock did not open. Release a one-time PIN instead."
                    }
                    _ => "Sent to the lock; it has not confirmed yet. Ask them whether it opened.",
                }
                .to_owned(),
            );
            page.failed = !matches!(
                outcome.status.as_str(),
                "confirmed" | "sent" | "unconfirmed"
            );
            Ok(page.into_response())
        }
        Err(e) => refused(&who, heading, e),
    }
}

pub(crate) async fn cancel(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let party = state
        .app
        .may_cancel_lockout(&who.principal, LockoutCaseId(id))
        .await?;
    match state.app.cancel_lockout(party).await {
        Ok(()) | Err(AppError::Conflict(_)) => Ok(Redirect::to("/").into_response()),
        Err(e) => Err(e.into()),
    }
}

/// The time zone of the caller's first property, for the PIN's end time.
async fn zone(state: &WebState, who: &Signed) -> Result<jiff::tz::TimeZone, PageError> {
    let Some(p) = who.principal.active().next().map(|m| m.property_id) else {
        return Ok(jiff::tz::TimeZone::UTC);
    };
    let prop = state.app.get_property(&who.principal, p).await?;
    Ok(jiff::tz::TimeZone::get(&prop.timezone).unwrap_or(jiff::tz::TimeZone::UTC))
}
