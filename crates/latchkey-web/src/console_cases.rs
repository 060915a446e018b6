//! The console's lockout cases: every case of the property with its state and age, open ones
//! first, and a case's page — its timeline, the ways back in for this hour, its locksmith jobs
//! and the staff's actions (docs/LOCKOUT.md, "In the staff console"). Staff of the property
//! only: the list through `App::lockout_cases` (the `Staff` capability, as the API's list), a
//! case through `App::staff_case` (`CaseStaff`). Both follow the live stream: a case's step
//! makes the page fetch its changing part again (decision 68); the actions are in
//! `console_actions`.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use latchkey_app::lockout::StaffCase;
use latchkey_app::store::lockout::{LockoutCase, Step};
use latchkey_core::{LockoutCaseId, PersonId, PropertyId};
use serde::Deserialize;

use crate::WebState;
use crate::error::PageError;
use crate::guard::Signed;
#[allow(unused_imports)] // The base template names the tabs.
use crate::layout::{Layout, Tab};

/// An amount in the property's currency, from its smallest unit: `75.00`.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

/// A time in the property's zone, as the console writes it.
pub fn local(tz: &TimeZone, t: Timestamp) -> String {
    tz.to_datetime(t).strftime("%a %d %b, %H:%M").to_string()
}

/// How long ago, in words: `4 min`, `2 h 5 min`, `3 days`.
pub fn age(now: Timestamp, then: Timestamp) -> String {
    let mins = now.duration_since(then).as_secs().max(0) / 60;
    match mins {
        0 => "just now".to_owned(),
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} days", m / (24 * 60)),
    }
}

pub fn state_words(state: &str) -> &'static str {
    match state {
        "open" => "Open: not proven yet",
        "proven" => "Proven: identity checked",
        "resolved" => "Resolved: they are in",
        "cancelled" => "Cancelled",
        _ => "Unknown",
    }
}

fn via_words(via: &str) -> &'static str {
    match via {
        "public" => "from the public page",
        "staff" => "by staff, for a caller",
        "resident" => "by the resident",
        _ => "",
    }
}

/// Open and proven cases first, then the newest.
fn rank(state: &str) -> u8 {
    match state {
        "open" | "proven" => 0,
        _ => 1,
    }
}

/// One row of the list.
pub struct CaseRow {
    pub id: i64,
    pub unit: String,
    pub who: String,
    pub state: String,
    pub state_words: &'static str,
    pub opened: String,
    pub age: String,
    pub via: &'static str,
}

fn row(c: &LockoutCase, tz: &TimeZone, now: Timestamp) -> CaseRow {
    let matched = if c.person_id.is_some() {
        ""
    } else {
        " (matched nobody)"
    };
    CaseRow {
        id: c.id.0,
        unit: c.claimed_unit.clone(),
        who: format!("{}{matched}", c.claimed_identity),
        state: c.state.clone(),
        state_words: state_words(&c.state),
        opened: local(tz, c.created_at),
        age: age(now, c.created_at),
        via: via_words(&c.opened_via),
    }
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    property: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "console_cases_rows.html")]
struct Rows {
    active: Vec<CaseRow>,
    closed: Vec<CaseRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "console_cases.html")]
struct ListPage {
    layout: Layout,
    css: String,
    property: i64,
    name: String,
    after: i64,
    rows: Rows,
}

/// The property's zone and name, for a page staff of it see (`App::get_property`).
pub(crate) async fn property_of(
    state: &WebState,
    who: &Signed,
    p: PropertyId,
) -> Result<(String, TimeZone), PageError> {
    let prop = state.app.get_property(&who.principal, p).await?;
    let tz = TimeZone::get(&prop.timezone).unwrap_or(TimeZone::UTC);
    Ok((prop.name, tz))
}

async fn rows(state: &WebState, who: &Signed, p: PropertyId) -> Result<Rows, PageError> {
    let (_, tz) = property_of(state, who, p).await?;
    let now = state.app.now();
    let mut cases = state.app.lockout_cases(&who.principal, p).await?;
    cases.sort_by_key(|c| (rank(&c.state), std::cmp::Reverse(c.created_at)));
    let (active, closed): (Vec<_>, Vec<_>) = cases.iter().partition(|c| rank(&c.state) == 0);
    Ok(Rows {
        active: active.iter().map(|c| row(c, &tz, now)).collect(),
        closed: closed.iter().take(100).map(|c| row(c, &tz, now)).collect(),
    })
}

pub(crate) async fn list(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let p = crate::guard::staff_property(&who, q.property, "the lockout cases")?;
    who.principal.staff(p)?;
    let after = state.app.audit_head().await?.0;
    let (name, _) = property_of(&state, &who, p).await?;
    Ok(ListPage {
        layout: Layout::signed(format!("Lockout cases: {name}"), Some(Tab::Cases), &who),
        css: crate::assets::assets().url("console.css"),
        property: p.0,
        name,
        after,
        rows: rows(&state, &who, p).await?,
    }
    .into_response())
}

/// The list's tables alone: what the page fetches when the stream says a case moved.
pub(crate) async fn list_rows(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let p = crate::guard::staff_property(&who, q.property, "the lockout cases")?;
    Ok(rows(&state, &who, p).await?.into_response())
}

/// One step of the timeline.
pub struct StepRow {
    pub at: String,
    pub words: String,
}

/// One way back in.
pub struct WayRow {
    pub title: String,
    pub available: bool,
    pub why_not: String,
    pub warning: String,
    pub minutes: u32,
    pub cost: String,
    pub damage: &'static str,
}

/// A locksmith job of the case.
pub struct JobRow {
    pub id: i64,
    pub company: String,
    pub door: String,
    pub check_word: String,
    pub window: String,
    pub lock_failed: bool,
    pub quoted: String,
    pub status: String,
    pub done: String,
    /// Work can still be recorded.
    pub open: bool,
}

fn text(detail: &serde_json::Value, key: &str) -> Option<String> {
    detail.get(key)?.as_str().map(str::to_owned)
}

fn number(detail: &serde_json::Value, key: &str) -> Option<i64> {
    detail.get(key)?.as_i64()
}

/// A timeline step in words, with who did it.
pub fn step_words(s: &Step, people: &HashMap<PersonId, String>) -> String {
    let d = &s.detail;
    let by = s
        .actor_id
        .and_then(|p| people.get(&p))
        .map(|n| format!(" by {n}"))
        .unwrap_or_default();
    let what = match s.kind.as_str() {
        "opened" => format!(
            "Case opened {}",
            via_words(&text(d, "via").unwrap_or_default())
        ),
        "proof_id_check" => "ID checked in person".to_owned(),
        "proof_totp" => "Authenticator code given".to_owned(),
        "proof_recovery_code" => "Recovery card code given".to_owned(),
        "proof_passkey" => "Passkey given".to_owned(),
        "proof_guardians" | "proof_guardian" => "A guardian vouched".to_owned(),
        "proof_presence" => "Presence code typed at the door".to_owned(),
        "proven" => format!(
            "Proven ({})",
            text(d, "by").unwrap_or_default().replace('_', " ")
        ),
        "proof_refused" => "A code was refused".to_owned(),
        "presence_challenge" => "A presence code was given to type at the door".to_owned(),
        "guardians_asked" => "Guardians were asked to vouch".to_owned(),
        "spare_key_released" => "A spare-key holder helped".to_owned(),
        "staff_opened" => {
            let door = text(d, "door_name").unwrap_or_else(|| "the door".to_owned());
            let fee = match (number(d, "fee_cents"), d.get("waived")) {
                (Some(c), Some(serde_json::Value::Bool(true))) => {
                    format!("; fee {} waived", money(c))
                }
                (Some(c), _) => format!("; charged {}", money(c)),
                (None, _) => "; no further charge".to_owned(),
            };
            format!("Staff opened the {door}{fee}")
        }
        "code_used" => "The released code was used at the door".to_owned(),
        "resolved" => "Resolved: they are in".to_owned(),
        "cancelled" => "Cancelled".to_owned(),
        "locksmith_booked" => format!(
            "Locksmith booked: {}, check word {}",
            text(d, "company").unwrap_or_default(),
            text(d, "check_word").unwrap_or_default()
        ),
        "locksmith_code_released" => {
            "The locksmith checked the ID and fetched the one-time code".to_owned()
        }
        "locksmith_done" => format!(
            "Locksmith's work recorded: {}, {} paid by the {}{}",
            text(d, "work").unwrap_or_default().replace('_', " "),
            money(number(d, "cost_cents").unwrap_or(0)),
            text(d, "payer").unwrap_or_default(),
            if d.get("marked_for_service") == Some(&serde_json::Value::Bool(true)) {
                "; the lock is marked for service"
            } else {
                ""
            }
        ),
        "forced_entry" => format!(
            "Forced entry recorded; {} PINs replaced",
            number(d, "rotated").unwrap_or(0)
        ),
        "credential_change" => "A new PIN was asked for".to_owned(),
        "credential_changed" => "The new PIN was collected".to_owned(),
        other => crate::error::capitalise(&other.replace('_', " ")),
    };
    format!("{what}{by}")
}

/// The part of a case page that changes as the case moves.
#[derive(Template, WebTemplate)]
#[template(path = "console_case_live.html")]
pub(crate) struct Live {
    pub id: i64,
    pub state: String,
    pub state_words: &'static str,
    pub steps: Vec<StepRow>,
    pub ways: Vec<WayRow>,
    pub jobs: Vec<JobRow>,
    /// The unit's doors with a lock, for the opening buttons.
    pub doors: Vec<(i64, String)>,
}

pub(crate) struct Loaded {
    pub case: StaffCase,
    pub tz: TimeZone,
    pub people: HashMap<PersonId, String>,
    pub doors: HashMap<latchkey_core::DoorId, String>,
}

pub(crate) async fn load(
    state: &WebState,
    who: &Signed,
    id: LockoutCaseId,
) -> Result<Loaded, PageError> {
    let case = state.app.staff_case(&who.principal, id).await?;
    let tz = TimeZone::get(&case.timezone).unwrap_or(TimeZone::UTC);
    let mut people: Vec<PersonId> = case
        .view
        .timeline
        .iter()
        .filter_map(|s| s.actor_id)
        .collect();
    people.extend(case.case.person_id);
    people.sort_unstable();
    people.dedup();
    let door_ids: Vec<_> = case.view.locksmith_jobs.iter().map(|j| j.door_id).collect();
    let p = case
        .case
        .property_id
        .ok_or_else(|| latchkey_app::AppError::not_found("lockout case"))?;
    let names = state
        .app
        .names_at(&who.principal, p, &people, &door_ids)
        .await?;
    Ok(Loaded {
        case,
        tz,
        people: names.people,
        doors: names.doors,
    })
}

pub(crate) fn live(l: &Loaded, companies: &HashMap<i64, String>) -> Live {
    let c = &l.case;
    Live {
        id: c.case.id.0,
        state: c.view.state.clone(),
        state_words: state_words(&c.view.state),
        steps: c
            .view
            .timeline
            .iter()
            .map(|s| StepRow {
                at: local(&l.tz, s.at),
                words: step_words(s, &l.people),
            })
            .collect(),
        ways: c
            .view
            .ways
            .iter()
            .map(|w| WayRow {
                title: w.title.clone(),
                available: w.available == Some(true),
                why_not: w.why_not.clone().unwrap_or_default(),
                warning: w.warning.clone().unwrap_or_default(),
                minutes: w.minutes,
                cost: if w.cost_cents == 0 {
                    "free".to_owned()
                } else {
                    money(w.cost_cents)
                },
                damage: w.damage,
            })
            .collect(),
        jobs: c
            .view
            .locksmith_jobs
            .iter()
            .map(|j| JobRow {
                id: j.id,
                company: companies
                    .get(&j.locksmith_id.0)
                    .cloned()
                    .unwrap_or_else(|| format!("locksmith {}", j.locksmith_id.0)),
                door: l.doors.get(&j.door_id).cloned().unwrap_or_default(),
                check_word: j.check_word.clone(),
                window: format!(
                    "{} – {}",
                    local(&l.tz, j.window_from),
                    l.tz.to_datetime(j.window_until).strftime("%H:%M")
                ),
                lock_failed: j.lock_failed,
                quoted: money(j.quoted_cents),
                status: j.status.replace('_', " "),
                done: match (&j.work, j.cost_cents) {
                    (Some(w), Some(cost)) => format!("{}, {}", w.replace('_', " "), money(cost)),
                    _ => String::new(),
                },
                open: matches!(j.status.as_str(), "booked" | "code_released"),
            })
            .collect(),
        doors: c.doors.iter().map(|(d, n)| (d.0, n.clone())).collect(),
    }
}

/// The locksmiths' companies by id, for naming a case's jobs.
pub(crate) async fn companies(
    state: &WebState,
    who: &Signed,
    p: Option<PropertyId>,
) -> Result<HashMap<i64, String>, PageError> {
    let Some(p) = p else {
        return Ok(HashMap::new());
    };
    Ok(state
        .app
        .list_locksmiths(&who.principal, p)
        .await?
        .into_iter()
        .map(|l| (l.id.0, l.company))
        .collect())
}

/// The changing part of a case page alone.
pub(crate) async fn live_part(
    State(state): State<WebState>,
    who: Signed,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let l = load(&state, &who, LockoutCaseId(id)).await?;
    let names = companies(&state, &who, l.case.case.property_id).await?;
    Ok(live(&l, &names).into_response())
}
