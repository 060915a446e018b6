//! A lockout case in the console, and what staff do on it — each through the API's use case and
//! capability, each a plain form that works without a script, each refused with nothing
//! changed on bad input (docs/LOCKOUT.md, "In the staff console"):
//!
//! - record an ID check (`may_record_id_check` → `record_id_check`);
//! - open a door: first a page naming the fee for this hour (`staff_opening_quote`, nothing
//!   charged), then the confirmation, which charges exactly that fee or nothing
//!   (`staff_open_at_fee` refuses when the fee changed meanwhile; decision 67);
//! - book a verified locksmith (`may_book_locksmith` → `book_locksmith`): the check word, the
//!   window and the job token, shown once;
//! - record the locksmith's work and cost (`may_complete_locksmith_job` →
//!   `complete_locksmith_job`);
//! - record a forced entry (`may_record_forced_entry` → `record_forced_entry`).

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_app::AppError;
use latchkey_app::lockout::{BookLocksmith, CompleteJob};
use latchkey_core::{DoorId, LockoutCaseId, LocksmithId};
use serde::Deserialize;

use crate::WebState;
use crate::console_cases::{Live, companies, live, load, local, money};
use crate::error::PageError;
use crate::guard::Signed;
#[allow(unused_imports)] // The base template names the tabs.
use crate::layout::{Layout, Tab};

/// How long an opening waits for the lock before the page shows "sent".
const OPEN_WAIT: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
pub(crate) struct CaseQuery {
    done: Option<String>,
    command: Option<i64>,
}

pub struct SmithChoice {
    pub id: i64,
    pub label: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console_case.html")]
struct CasePage {
    layout: Layout,
    css: String,
    csrf: String,
    after: i64,
    id: i64,
    property: i64,
    heading: String,
    opened: String,
    notice: String,
    live: Live,
    smiths: Vec<SmithChoice>,
}

/// What an action's redirect says on the page.
fn notice(done: Option<&str>, command: Option<&str>) -> String {
    let what = match done {
        Some("id_check") => "ID check recorded.",
        Some("opened") => "Opening recorded and charged as shown.",
        Some("completed") => "The locksmith's work and cost are recorded.",
        Some("forced") => {
            "Forced entry recorded: the door is marked compromised, its PINs are replaced and the household is told."
        }
        _ => "",
    };
    match command {
        Some(c) => format!("{what} {c}"),
        None => what.to_owned(),
    }
}

pub(crate) async fn page(
    State(state): State<WebState>,
    who: Signed,
    Path(id): Path<i64>,
    Query(q): Query<CaseQuery>,
) -> Result<Response, PageError> {
    let after = state.app.audit_head().await?.0;
    let l = load(&state, &who, LockoutCaseId(id)).await?;
    let p = l
        .case
        .case
        .property_id
        .ok_or_else(|| AppError::not_found("lockout case"))?;
    let command = match q.command {
        Some(c) => {
            let cmd = state.app.get_lock_command(&who.principal, c).await?;
            Some(match cmd.status.as_str() {
                "confirmed" => "The lock confirmed the door is open.".to_owned(),
                "failed" => format!(
                    "The lock did not open: {}.",
                    cmd.detail.as_deref().unwrap_or("no reason given")
                ),
                _ => "Sent to the lock; it has not confirmed yet.".to_owned(),
            })
        }
        None => None,
    };
    let c = &l.case.case;
    let person = c
        .person_id
        .and_then(|p| l.people.get(&p).cloned())
        .unwrap_or_else(|| format!("{} (matched nobody)", c.claimed_identity));
    let names = companies(&state, &who, Some(p)).await?;
    Ok(CasePage {
        layout: Layout::signed_at(format!("Lockout case {id}"), Some(Tab::Cases), &who, p),
        css: crate::assets::assets().url("console.css"),
        csrf: who.csrf.clone(),
        after,
        id,
        property: p.0,
        heading: format!("Case {id}: {person}, unit {}", c.claimed_unit),
        opened: local(&l.tz, c.created_at),
        notice: notice(q.done.as_deref(), command.as_deref()),
        smiths: l
            .case
            .locksmiths
            .iter()
            .map(|s| SmithChoice {
                id: s.id.0,
                label: format!("{} (call-out {})", s.company, money(s.callout_cents)),
            })
            .collect(),
        live: live(&l, &names),
    }
    .into_response())
}

fn back(id: i64, done: &str) -> Response {
    Redirect::to(&format!("/console/cases/{id}?done={done}")).into_response()
}

#[derive(Deserialize)]
pub(crate) struct IdCheckForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    document: String,
}

pub(crate) async fn id_check(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<IdCheckForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let staff = state
        .app
        .may_record_id_check(&who.principal, LockoutCaseId(id), &form.document)
        .await?;
    state.app.record_id_check(staff, &form.document).await?;
    Ok(back(id, "id_check"))
}

#[derive(Deserialize)]
pub(crate) struct OpenQuery {
    door: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "console_open.html")]
struct ConfirmPage {
    layout: Layout,
    css: String,
    csrf: String,
    id: i64,
    door: i64,
    door_name: String,
    heading: String,
    hours: &'static str,
    fee: String,
    due: String,
    due_cents: i64,
    reason: String,
    evidence: String,
}

fn door_of_case(
    l: &crate::console_cases::Loaded,
    door: Option<i64>,
) -> Result<(DoorId, String), AppError> {
    let want = door.ok_or_else(|| AppError::invalid("door", "choose the door to open"))?;
    l.case
        .doors
        .iter()
        .find(|(d, _)| d.0 == want)
        .cloned()
        .ok_or_else(|| AppError::invalid("door", "is not a door of the case's unit with a lock"))
}

/// The fee for this hour, before anything is charged: nothing is written here.
pub(crate) async fn confirm_open(
    State(state): State<WebState>,
    who: Signed,
    Path(id): Path<i64>,
    Query(q): Query<OpenQuery>,
) -> Result<Response, PageError> {
    let l = load(&state, &who, LockoutCaseId(id)).await?;
    let (door, door_name) = door_of_case(&l, q.door)?;
    let opener = state
        .app
        .may_staff_open(&who.principal, LockoutCaseId(id))
        .await?;
    let quote = state.app.staff_opening_quote(&opener, door).await?;
    let c = &l.case.case;
    Ok(ConfirmPage {
        layout: Layout::signed(format!("Open the {door_name}?"), Some(Tab::Cases), &who),
        css: crate::assets::assets().url("console.css"),
        csrf: who.csrf.clone(),
        id,
        door: door.0,
        door_name,
        heading: format!("Case {id}: {}, unit {}", c.claimed_identity, c.claimed_unit),
        hours: if quote.office_hours {
            "office hours"
        } else {
            "after hours"
        },
        fee: money(quote.fee_cents),
        due: money(quote.due_cents),
        due_cents: quote.due_cents,
        reason: crate::error::capitalise(&quote.reason),
        evidence: quote
            .evidence
            .iter()
            .map(|s| format!("#{s}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct OpenForm {
    #[serde(default)]
    csrf: String,
    door: Option<String>,
    fee_cents: Option<String>,
}

fn whole(field: &'static str, v: Option<&str>) -> Result<i64, AppError> {
    v.map(str::trim)
        .filter(|v| !v.is_empty())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| AppError::invalid(field, "is missing; open the door from the case page"))
}

/// The confirmed opening: charged only as shown.
pub(crate) async fn open(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<OpenForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let door = DoorId(whole("door", form.door.as_deref())?);
    let fee = whole("fee_cents", form.fee_cents.as_deref())?;
    let opener = state
        .app
        .may_staff_open(&who.principal, LockoutCaseId(id))
        .await?;
    let done = state
        .app
        .staff_open_at_fee(opener, door, fee, OPEN_WAIT)
        .await?;
    Ok(Redirect::to(&format!(
        "/console/cases/{id}?done=opened&command={}",
        done.command.id
    ))
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct BookForm {
    #[serde(default)]
    csrf: String,
    locksmith: Option<String>,
    door: Option<String>,
    window: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "console_booked.html")]
struct BookedPage {
    layout: Layout,
    css: String,
    id: i64,
    company: String,
    check_word: String,
    window: String,
    lock_failed: bool,
    quoted: String,
    token: String,
}

pub(crate) async fn book(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<BookForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    // This is the staff's page (the household books from the API).
    let l = load(&state, &who, LockoutCaseId(id)).await?;
    let locksmith = whole("locksmith", form.locksmith.as_deref())
        .map_err(|_| AppError::invalid("locksmith", "choose a verified locksmith"))?;
    let door = match form.door.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) => Some(DoorId(d.parse().map_err(|_| {
            AppError::invalid("door", "choose one of the unit's doors")
        })?)),
    };
    let window_minutes = match form.window.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(w) => Some(w.parse().map_err(|_| {
            AppError::invalid("window", "give the window in minutes, from 15 to 480")
        })?),
    };
    let input = BookLocksmith {
        locksmith_id: LocksmithId(locksmith),
        door_id: door,
        window_minutes,
    };
    let party = state
        .app
        .may_book_locksmith(&who.principal, LockoutCaseId(id), &input)
        .await?;
    let booked = state.app.book_locksmith(party, input).await?;
    let j = &booked.job;
    Ok(BookedPage {
        layout: Layout::signed("Locksmith booked", Some(Tab::Cases), &who),
        css: crate::assets::assets().url("console.css"),
        id,
        company: booked.company,
        check_word: j.check_word.clone(),
        window: format!(
            "{} – {}",
            local(&l.tz, j.window_from),
            l.tz.to_datetime(j.window_until).strftime("%H:%M")
        ),
        lock_failed: j.lock_failed,
        quoted: money(j.quoted_cents),
        token: booked.job_token,
    }
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct CompleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    cost: String,
    #[serde(default)]
    work: String,
}

/// An amount typed as `150`, `150.5`, `150.50` or `150,50`, in cents.
pub fn parse_money(typed: &str) -> Result<i64, AppError> {
    let bad = || {
        AppError::invalid(
            "cost",
            "give the amount like 150.00 (digits, up to 2 decimals)",
        )
    };
    let t = typed.trim().replace(',', ".");
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty()
        || whole.len() > 7
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let units: i64 = whole.parse().map_err(|_| bad())?;
    let cents: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    Ok(units * 100 + cents)
}

pub(crate) async fn complete(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path((id, job)): Path<(i64, i64)>,
    Form(form): Form<CompleteForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let input = CompleteJob {
        cost_cents: parse_money(&form.cost)?,
        work: form.work.trim().to_owned(),
    };
    let completer = state
        .app
        .may_complete_locksmith_job(&who.principal, job, &input)
        .await?;
    if completer.case().id != LockoutCaseId(id) {
        return Err(AppError::not_found("locksmith job").into());
    }
    state.app.complete_locksmith_job(completer, input).await?;
    Ok(back(id, "completed"))
}

#[derive(Deserialize)]
pub(crate) struct ForcedForm {
    #[serde(default)]
    csrf: String,
    door: Option<String>,
    #[serde(default)]
    how: String,
}

pub(crate) async fn forced_entry(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<ForcedForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    // This is the staff's page: the household records a forced entry elsewhere.
    let l = load(&state, &who, LockoutCaseId(id)).await?;
    let door = whole("door", form.door.as_deref())
        .map_err(|_| AppError::invalid("door", "choose the door that was forced"))?;
    let (door, _) = door_of_case(&l, Some(door))?;
    let party = state
        .app
        .may_record_forced_entry(&who.principal, LockoutCaseId(id), &form.how)
        .await?;
    state
        .app
        .record_forced_entry(party, door, &form.how)
        .await?;
    Ok(back(id, "forced"))
}

#[cfg(test)]
mod tests {
    use super::parse_money;

    #[test]
    fn amounts_are_read_in_cents_and_anything_else_is_refused() {
        for (typed, cents) in [
            ("150", 15_000),
            ("150.5", 15_050),
            ("150,50", 15_050),
            (" 0.07 ", 7),
            ("0", 0),
            ("5.", 500),
        ] {
            assert_eq!(parse_money(typed).ok(), Some(cents), "{typed}");
        }
        for bad in ["", "-5", "1.234", "abc", "1e3", "12345678", ".5", "1 000"] {
            assert!(parse_money(bad).is_err(), "{bad}");
        }
    }
}
