//! The console's on-call roster and locksmith registry: who of the staff answers when (and who
//! answers now), and the locksmith companies a lockout case may book, each verified by staff
//! before it is offered.
//!
//! Staff of the property only; every change through the API's use cases: `set_on_call` with
//! the `Staff` capability, `add_locksmith` with it, and `may_set_locksmith_status` then
//! `set_locksmith_status` for a verification.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_app::AppError;
use latchkey_app::recovery::LocksmithInput;
use latchkey_core::model::Role;
use latchkey_core::schedule::{Schedule, ScheduleCheck};
use latchkey_core::{LocksmithId, PersonId, PropertyId};
use serde::Deserialize;

use crate::WebState;
use crate::error::PageError;
use crate::guard::{Signed, staff_property};
#[allow(unused_imports)] // The base template names the tabs.
use crate::layout::{Layout, Tab};
use crate::week::{schedule_words, weekly_schedule};

#[derive(Deserialize)]
pub(crate) struct PropertyQuery {
    property: Option<i64>,
}

pub struct OnCallRow {
    pub name: String,
    pub hours: String,
    pub now: bool,
}

pub struct LocksmithRow {
    pub id: i64,
    pub company: String,
    pub licence: String,
    pub phone: String,
    pub hours: String,
    pub callout: String,
    pub status: String,
    pub verified: bool,
}

pub struct Choice {
    pub value: String,
    pub label: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "roster.html")]
struct RosterPage {
    layout: Layout,
    css: String,
    csrf: String,
    property: i64,
    name: String,
    on_call: Vec<OnCallRow>,
    answering_now: usize,
    staff: Vec<Choice>,
    locksmiths: Vec<LocksmithRow>,
    days: Vec<(&'static str, &'static str)>,
}

/// The day boxes of the schedule forms: field name and label.
const DAYS: [(&str, &str); 7] = [
    ("mon", "Mon"),
    ("tue", "Tue"),
    ("wed", "Wed"),
    ("thu", "Thu"),
    ("fri", "Fri"),
    ("sat", "Sat"),
    ("sun", "Sun"),
];

fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

pub(crate) async fn page(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<PropertyQuery>,
) -> Result<Response, PageError> {
    let p = staff_property(&who, q.property, "The on-call roster")?;
    who.principal.staff(p)?;
    let property = state.app.get_property(&who.principal, p).await?;
    let tz = jiff::tz::TimeZone::get(&property.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let now = state.app.now();
    let people: HashMap<PersonId, String> = state
        .app
        .list_people(&who.principal, p)
        .await?
        .into_iter()
        .map(|x| (x.id, x.name))
        .collect();
    let mut staff: Vec<Choice> = state
        .app
        .list_memberships(&who.principal, p)
        .await?
        .into_iter()
        .filter(|m| matches!(m.role, Role::Manager | Role::Installer) && m.is_active_at(now))
        .filter_map(|m| {
            people.get(&m.person_id).map(|n| Choice {
                value: m.person_id.0.to_string(),
                label: n.clone(),
            })
        })
        .collect();
    staff.sort_by(|a, b| a.label.cmp(&b.label));
    staff.dedup_by(|a, b| a.value == b.value);
    let on_call: Vec<OnCallRow> = state
        .app
        .list_on_call(&who.principal, p)
        .await?
        .into_iter()
        .map(|o| OnCallRow {
            name: people
                .get(&o.person_id)
                .cloned()
                .unwrap_or_else(|| "Someone who left".to_owned()),
            hours: schedule_words(&o.schedule),
            now: o.schedule.compile(&tz).check(now, &tz) == ScheduleCheck::Inside,
        })
        .collect();
    let locksmiths = state
        .app
        .list_locksmiths(&who.principal, p)
        .await?
        .into_iter()
        .map(|l| LocksmithRow {
            id: l.id.0,
            company: l.company,
            licence: l.licence,
            phone: l.phone,
            hours: schedule_words(&l.hours),
            callout: money(l.callout_cents),
            verified: l.status == "verified",
            status: match l.status.as_str() {
                "verified" => "Verified: offered to lockout cases".to_owned(),
                "suspended" => "Suspended: not offered".to_owned(),
                _ => "Not verified yet: not offered".to_owned(),
            },
        })
        .collect();
    Ok(RosterPage {
        layout: Layout::signed("On call and locksmiths", Some(Tab::OnCall), &who),
        css: crate::assets::assets().url("console.css"),
        csrf: who.csrf.clone(),
        property: p.0,
        name: property.name,
        answering_now: on_call.iter().filter(|o| o.now).count(),
        on_call,
        staff,
        locksmiths,
        days: DAYS.to_vec(),
    }
    .into_response())
}

/// A schedule from a form: every hour when `always` is ticked, else one weekly window.
#[derive(Deserialize)]
pub(crate) struct HoursForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    property: String,
    always: Option<String>,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    mon: Option<String>,
    tue: Option<String>,
    wed: Option<String>,
    thu: Option<String>,
    fri: Option<String>,
    sat: Option<String>,
    sun: Option<String>,
    // The on-call form's person; the locksmith form's company.
    #[serde(default)]
    person: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    licence: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    callout: String,
}

impl HoursForm {
    fn schedule(&self) -> Result<Schedule, AppError> {
        if self.always.is_some() {
            return Ok(Schedule::Always);
        }
        weekly_schedule(
            [
                &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
            ],
            &self.from,
            &self.until,
        )
    }

    fn property(&self) -> Result<PropertyId, AppError> {
        self.property
            .trim()
            .parse()
            .map(PropertyId)
            .map_err(|_| AppError::invalid("property", "is missing"))
    }
}

fn back(p: PropertyId) -> Response {
    Redirect::to(&format!("/on-call?property={}", p.0)).into_response()
}

/// Puts a manager or installer on call for the hours given (replacing their earlier hours).
pub(crate) async fn set_on_call(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<HoursForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let p = form.property()?;
    let staff = who.principal.staff(p)?;
    let person: i64 = form
        .person
        .trim()
        .parse()
        .map_err(|_| AppError::invalid("person", "must be chosen from the list"))?;
    let schedule = form.schedule()?;
    state
        .app
        .set_on_call(staff, PersonId(person), schedule)
        .await?;
    Ok(back(p))
}

/// Registers a locksmith company; it is offered to cases once verified.
pub(crate) async fn add_locksmith(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<HoursForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let p = form.property()?;
    let staff = who.principal.staff(p)?;
    let callout = parse_money(&form.callout)?;
    let input = LocksmithInput {
        company: form.company.clone(),
        licence: form.licence.clone(),
        phone: form.phone.clone(),
        hours: form.schedule()?,
        callout_cents: callout,
    };
    state.app.add_locksmith(staff, input).await?;
    Ok(back(p))
}

/// An amount like `95`, `95.5` or `95.50` in cents.
fn parse_money(raw: &str) -> Result<i64, AppError> {
    let bad = || AppError::invalid("callout", "must be an amount like 95 or 95.50");
    let raw = raw.trim();
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
    if whole.is_empty()
        || whole.len() > 7
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let cents = format!("{frac:0<2}");
    Ok(whole.parse::<i64>().map_err(|_| bad())? * 100 + cents.parse::<i64>().map_err(|_| bad())?)
}

#[derive(Deserialize)]
pub(crate) struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
}

/// Verifies, suspends or un-verifies a locksmith (after checking their licence and identity).
pub(crate) async fn locksmith_status(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<StatusForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let may = state
        .app
        .may_set_locksmith_status(&who.principal, LocksmithId(id), form.status.trim())
        .await?;
    let l = state
        .app
        .set_locksmith_status(may, form.status.trim())
        .await?;
    Ok(back(l.property_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_to_the_cent_and_nothing_else_is() {
        assert_eq!(parse_money("95").ok(), Some(9_500));
        assert_eq!(parse_money("95.5").ok(), Some(9_550));
        assert_eq!(parse_money(" 95.05 ").ok(), Some(9_505));
        assert_eq!(parse_money("0").ok(), Some(0));
        for bad in [
            "", ".5", "-5", "95.555", "9,50", "1e3", "12345678", "ninety",
        ] {
            assert!(parse_money(bad).is_err(), "{bad:?}");
        }
    }
}
