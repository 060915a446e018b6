//! The console's audit log page: the property's events searched by door, person, kind and
//! time, newest first, with the chain's head, the last anchor this server wrote, a freshly
//! signed anchor to keep elsewhere, and a verification of the whole chain.
//!
//! Staff of the property only. The events come from `list_events`, so the privacy rule is the
//! API's (decision 40): a unit's comings and goings are not in it without a reason (the door
//! page reads them with one). Verifying goes through `verify_audit_for`, which takes the
//! `Staff` capability and runs one verification at a time.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_app::AppError;
use latchkey_app::store::audit::EventFilter;
use latchkey_core::{PersonId, PropertyId};
use serde::Deserialize;

use crate::WebState;
use crate::error::PageError;
use crate::guard::{Signed, staff_property};
#[allow(unused_imports)] // The base template names the tabs.
use crate::layout::{Layout, Tab};
use crate::mine::event_words;

/// Events on one page.
const PAGE: u32 = 100;
/// The families of event kinds offered in the filter (a kind's prefix before the dot).
const FAMILIES: &[(&str, &str)] = &[
    ("", "Every kind"),
    ("access.", "Access at the doors"),
    ("lock.", "Locks"),
    ("door.", "Doors"),
    ("sensor.", "Sensors"),
    ("credential.", "Codes and keys"),
    ("membership.", "Memberships"),
    ("person.", "People"),
    ("lockout.", "Lockout cases"),
    ("incident.", "Incidents"),
    ("privacy.", "Privacy"),
    ("auth.", "Sign-in"),
];

#[derive(Deserialize, Default)]
pub(crate) struct AuditQuery {
    property: Option<i64>,
    door: Option<String>,
    person: Option<String>,
    kind: Option<String>,
    since: Option<String>,
    until: Option<String>,
    /// Older than this event (the next page).
    before: Option<i64>,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct EventRow {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub words: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    css: String,
    csrf: String,
    property: i64,
    name: String,
    doors: Vec<Choice>,
    people: Vec<Choice>,
    kinds: Vec<Choice>,
    since: String,
    until: String,
    rows: Vec<EventRow>,
    /// The query string of the next (older) page, when there is one.
    older: Option<String>,
    head_seq: i64,
    head_hash: String,
    anchor_now: String,
    last_anchor: Option<String>,
    /// A verification's result, when one was just run.
    verified: Option<Verdict>,
}

pub struct Verdict {
    pub intact: bool,
    pub words: String,
}

fn number(field: &'static str, raw: Option<&str>) -> Result<Option<i64>, AppError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) => r
            .parse()
            .map(Some)
            .map_err(|_| AppError::invalid(field, "must be chosen from the list")),
    }
}

/// A day `YYYY-MM-DD` in the property's zone: its first instant, or with `end` the first
/// instant of the next day.
fn day(
    field: &'static str,
    raw: Option<&str>,
    tz: &jiff::tz::TimeZone,
    end: bool,
) -> Result<Option<jiff::Timestamp>, AppError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let date: jiff::civil::Date = raw
        .parse()
        .map_err(|_| AppError::invalid(field, "must be a date, YYYY-MM-DD"))?;
    let date = if end {
        date.tomorrow()
            .map_err(|_| AppError::invalid(field, "is too far in the future"))?
    } else {
        date
    };
    tz.to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .map(Some)
        .map_err(|_| AppError::invalid(field, "is not a day latchkey can name"))
}

fn kind_prefix(raw: Option<&str>) -> Result<Option<String>, AppError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(k) if FAMILIES.iter().any(|(f, _)| *f == k) => Ok(Some(k.to_owned())),
        Some(_) => Err(AppError::invalid("kind", "must be chosen from the list")),
    }
}

pub(crate) async fn page(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    render(&state, &who, q, None).await
}

async fn render(
    state: &WebState,
    who: &Signed,
    q: AuditQuery,
    verified: Option<Verdict>,
) -> Result<Response, PageError> {
    let p = staff_property(who, q.property, "The audit log")?;
    who.principal.staff(p)?;
    let property = state.app.get_property(&who.principal, p).await?;
    let tz = jiff::tz::TimeZone::get(&property.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let door = number("door", q.door.as_deref())?;
    let person = number("person", q.person.as_deref())?;
    let kind = kind_prefix(q.kind.as_deref())?;
    let since = day("since", q.since.as_deref(), &tz, false)?;
    let until = day("until", q.until.as_deref(), &tz, true)?;
    if let (Some(s), Some(u)) = (since, until)
        && u <= s
    {
        return Err(AppError::invalid("until", "must not be before since").into());
    }
    if q.before.is_some_and(|b| b < 1) {
        return Err(AppError::invalid("before", "must be an event's number").into());
    }
    let all_doors = state.app.list_doors(&who.principal, p).await?;
    if door.is_some_and(|d| !all_doors.iter().any(|x| x.id.0 == d)) {
        return Err(AppError::invalid("door", "is not a door of this property").into());
    }
    let everyone = state.app.list_people(&who.principal, p).await?;
    if person.is_some_and(|x| !everyone.iter().any(|y| y.id.0 == x)) {
        return Err(AppError::invalid("person", "is not someone at this property").into());
    }
    let filter = EventFilter {
        kind_prefix: kind.clone(),
        actor_id: person.map(PersonId),
        subject: door.map(|d| format!("door:{d}")),
        since,
        until,
        before: q.before,
        limit: PAGE,
        ..EventFilter::default()
    };
    let events = state
        .app
        .list_events(&who.principal, Some(p), filter)
        .await?;
    let people_names: HashMap<PersonId, String> =
        everyone.iter().map(|x| (x.id, x.name.clone())).collect();
    let door_names: HashMap<i64, String> =
        all_doors.iter().map(|d| (d.id.0, d.name.clone())).collect();
    let local = |t: jiff::Timestamp| tz.to_datetime(t).strftime("%Y-%m-%d %H:%M:%S").to_string();
    let rows: Vec<EventRow> = events
        .iter()
        .map(|e| EventRow {
            seq: e.seq,
            at: local(e.at),
            kind: e.kind.clone(),
            words: event_words(e, &people_names, &door_names).unwrap_or_default(),
        })
        .collect();
    let older = (rows.len() == PAGE as usize)
        .then(|| rows.last().map(|r| r.seq))
        .flatten()
        .map(|last| {
            let mut parts = vec![format!("property={}", p.0), format!("before={last}")];
            for (k, v) in [
                ("door", &q.door),
                ("person", &q.person),
                ("kind", &q.kind),
                ("since", &q.since),
                ("until", &q.until),
            ] {
                if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                    // Every accepted value is digits, a date, or a family like `lock.`.
                    parts.push(format!("{k}={v}"));
                }
            }
            parts.join("&")
        });
    let (head_seq, head_hash) = state.app.audit_head().await?;
    let anchor_now = state.app.audit_anchor().await?.to_line();
    let last_anchor = state
        .app
        .last_anchor()
        .map(|a| format!("event {} at {} ({})", a.seq, local(a.at), a.to_line()));
    let selected = |v: &Option<String>, x: &str| v.as_deref().map(str::trim) == Some(x);
    let mut doors = vec![Choice {
        value: String::new(),
        label: "Every door".into(),
        selected: door.is_none(),
    }];
    doors.extend(all_doors.iter().map(|d| Choice {
        value: d.id.0.to_string(),
        label: d.name.clone(),
        selected: selected(&q.door, &d.id.0.to_string()),
    }));
    let mut people = vec![Choice {
        value: String::new(),
        label: "Anyone".into(),
        selected: person.is_none(),
    }];
    people.extend(everyone.iter().map(|x| Choice {
        value: x.id.0.to_string(),
        label: x.name.clone(),
        selected: selected(&q.person, &x.id.0.to_string()),
    }));
    let kinds = FAMILIES
        .iter()
        .map(|(v, l)| Choice {
            value: (*v).to_owned(),
            label: (*l).to_owned(),
            selected: kind.as_deref().unwrap_or("") == *v,
        })
        .collect();
    Ok(AuditPage {
        layout: Layout::signed("Audit log", Some(Tab::Audit), who),
        css: crate::assets::assets().url("console.css"),
        csrf: who.csrf.clone(),
        property: p.0,
        name: property.name,
        doors,
        people,
        kinds,
        since: q.since.unwrap_or_default(),
        until: q.until.unwrap_or_default(),
        rows,
        older,
        head_seq,
        head_hash: hex::encode(head_hash),
        anchor_now,
        last_anchor,
        verified,
    }
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct VerifyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    property: String,
}

/// Verifies the whole chain and shows the page with the result.
pub(crate) async fn verify(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<VerifyForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let p = PropertyId(
        number("property", Some(&form.property))?
            .ok_or_else(|| AppError::invalid("property", "is missing"))?,
    );
    let done = state.app.verify_audit_for(who.principal.staff(p)?).await?;
    let took = if done.took.as_secs() >= 1 {
        format!("{:.1} s", done.took.as_secs_f64())
    } else {
        format!("{} ms", done.took.as_millis().max(1))
    };
    let verdict = match done.outcome {
        Ok(s) => Verdict {
            intact: true,
            words: format!(
                "Intact: all {} events up to event {} hold together, verified in {took}.",
                s.events, s.last_seq
            ),
        },
        Err(brk) => Verdict {
            intact: false,
            words: format!(
                "Broken: {brk}. Keep the database as it is and follow docs/OPERATIONS.md \
                 (\"The audit log\")."
            ),
        },
    };
    let q = AuditQuery {
        property: Some(p.0),
        ..AuditQuery::default()
    };
    render(&state, &who, q, Some(verdict)).await
}
