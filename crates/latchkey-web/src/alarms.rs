//! The console's Alarms page: a live feed of the property's alarms, newest first, with their
//! severity in words, a storm shown as one item (decision 66), and an acknowledge form with a
//! note that works without script. Staff of the property only (`Staff` to read,
//! `may_acknowledge_alarms` to acknowledge). New alarms arrive from the live stream: the page
//! fetches its feed again (`/alarms/feed`) when the stream carries an alarm or a lock's fault,
//! when it carries an acknowledgement (`alarm_acknowledged`, by anyone on duty), and when an
//! offline lock's grace ends.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use latchkey_app::AppError;
use latchkey_app::alarms::console::{
    Alarm, AlarmFilter, AlarmGroup, AlarmsView, NOTE_MAX, Severity,
};
use latchkey_app::alarms::digest::phrase;
use serde::Deserialize;

use crate::WebState;
use crate::error::PageError;
use crate::guard::Signed;
#[allow(unused_imports)] // The base template names the tabs.
use crate::layout::{Layout, Tab};

#[derive(Deserialize)]
pub(crate) struct AlarmsQuery {
    property: Option<i64>,
    /// `open` (the default) or `all`.
    show: Option<String>,
}

fn filter_of(show: Option<&str>) -> Result<AlarmFilter, AppError> {
    match show {
        None | Some("") | Some("open") => Ok(AlarmFilter::Open),
        Some("all") => Ok(AlarmFilter::All),
        Some(_) => Err(AppError::invalid("show", "show must be `open` or `all`")),
    }
}

/// What an alarm is, for one door.
pub fn kind_words(kind: &str) -> &'static str {
    match kind {
        "forced_entry" => "Door forced",
        "offline" => "Lock offline",
        "jammed" => "Lock jammed",
        "wrong_code_limit" => "Too many wrong codes",
        "low_battery" => "Battery low",
        "door_ajar" => "Door left open",
        "left_unlocked" => "Door left unlocked",
        "duress" => "Duress code entered",
        "unexpected_opening" => "Door opened unexpectedly",
        "unmanaged_code" => "Unknown code on the lock",
        k if k.starts_with("tamper") => "Lock tampered with",
        _ => "Alarm",
    }
}

fn severity_words(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
    }
}

/// One alarm of a group, in words.
pub struct Line {
    pub door: String,
    pub door_id: Option<i64>,
    pub at: String,
    pub state: String,
}

/// One item of the feed.
pub struct Item {
    pub id: i64,
    pub kind: String,
    /// The newest alarm's instant (RFC 3339), for the page's tests.
    pub at: String,
    pub severity: &'static str,
    pub severity_words: &'static str,
    pub title: String,
    pub when: String,
    /// `open`, `acknowledged` or `cleared`: the group's state for the test and the style.
    pub state: &'static str,
    pub state_words: String,
    pub note: String,
    pub open: usize,
    pub count: usize,
    pub lines: Vec<Line>,
    pub door_id: Option<i64>,
    pub door_name: String,
}

struct Clock {
    tz: TimeZone,
    today: jiff::civil::Date,
}

impl Clock {
    fn of(v: &AlarmsView, now: Timestamp) -> Clock {
        let tz = TimeZone::get(&v.property.timezone).unwrap_or(TimeZone::UTC);
        let today = tz.to_datetime(now).date();
        Clock { tz, today }
    }

    fn at(&self, t: Timestamp) -> String {
        let dt = self.tz.to_datetime(t);
        if dt.date() == self.today {
            dt.strftime("%H:%M").to_string()
        } else {
            dt.strftime("%a %d %b, %H:%M").to_string()
        }
    }
}

fn line_state(a: &Alarm, clock: &Clock) -> String {
    match a.state.as_str() {
        "cleared" if a.kind == "offline" => match a.cleared_at {
            Some(t) => format!("Back online at {}", clock.at(t)),
            None => "Back online".to_owned(),
        },
        "cleared" => "Cleared".to_owned(),
        "acknowledged" => "Acknowledged".to_owned(),
        _ if a.kind == "offline" => "Open: still offline".to_owned(),
        _ => "Open".to_owned(),
    }
}

fn item(g: &AlarmGroup, place: &str, clock: &Clock) -> Item {
    let count = g.alarms.len();
    let first = &g.alarms[0];
    let door = |a: &Alarm| a.door_name.clone().unwrap_or_else(|| "A door".to_owned());
    let title = if count == 1 {
        format!("{}: {}", kind_words(&g.kind), door(first))
    } else {
        format!("{} in {place}", phrase(&g.kind, count))
    };
    let (from, until) = (clock.at(g.first_at), clock.at(g.last_at));
    let when = if from == until {
        format!("At {from}")
    } else {
        format!("Between {from} and {until}")
    };
    let acked = g.alarms.iter().rev().find(|a| a.acknowledged_at.is_some());
    let mut parts = Vec::new();
    if g.open > 0 {
        parts.push(if count == 1 {
            "Open".to_owned()
        } else {
            format!("{} open", g.open)
        });
    }
    if let Some(a) = acked {
        let by = a
            .acknowledged_by_name
            .clone()
            .unwrap_or_else(|| "someone".to_owned());
        let at = a.acknowledged_at.map(|t| clock.at(t)).unwrap_or_default();
        parts.push(if count == 1 || g.acknowledged + g.cleared == count {
            format!("Acknowledged by {by} at {at}")
        } else {
            format!("{} acknowledged by {by} at {at}", g.acknowledged)
        });
    }
    if g.cleared > 0 {
        parts.push(match (count, first.cleared_at) {
            (1, Some(t)) if g.kind == "offline" => format!("back online at {}", clock.at(t)),
            (1, _) => "cleared".to_owned(),
            _ if g.kind == "offline" => format!("{} back online", g.cleared),
            _ => format!("{} cleared", g.cleared),
        });
    }
    let state = if g.open > 0 {
        "open"
    } else if g.acknowledged > 0 {
        "acknowledged"
    } else {
        "cleared"
    };
    let mut state_words = parts.join("; ");
    if let Some(c) = state_words.get(..1) {
        state_words = c.to_uppercase() + &state_words[1..];
    }
    Item {
        id: g.id,
        kind: g.kind.clone(),
        at: g.last_at.to_string(),
        severity: g.severity.as_str(),
        severity_words: severity_words(g.severity),
        title,
        when,
        state,
        state_words,
        note: acked.and_then(|a| a.note.clone()).unwrap_or_default(),
        open: g.open,
        count,
        lines: g
            .alarms
            .iter()
            .map(|a| Line {
                door: door(a),
                door_id: a.door_id.map(|d| d.0),
                at: clock.at(a.at),
                state: line_state(a, clock),
            })
            .collect(),
        door_id: first.door_id.map(|d| d.0),
        door_name: door(first),
    }
}

/// The feed's part of the page (also what `/alarms/feed` answers).
#[derive(Template, WebTemplate)]
#[template(path = "alarms_feed.html")]
struct Feed {
    csrf: String,
    property: i64,
    show: &'static str,
    items: Vec<Item>,
    /// Milliseconds until an alarm not shown yet is due, or empty.
    next_due_ms: String,
    note_max: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "alarms.html")]
struct AlarmsPage {
    layout: Layout,
    css: String,
    alarms_css: String,
    name: String,
    after: i64,
    property: i64,
    show: &'static str,
    all: bool,
    /// The feed, rendered.
    feed: String,
}

async fn feed(
    state: &WebState,
    who: &Signed,
    q: AlarmsQuery,
) -> Result<(Feed, AlarmsView), PageError> {
    let property = crate::guard::staff_property(who, q.property, "the alarms page")?;
    let filter = filter_of(q.show.as_deref())?;
    let staff = who.principal.staff(property)?;
    let v = state.app.alarms(staff, filter).await?;
    let now = state.app.now();
    let clock = Clock::of(&v, now);
    let items = v
        .groups
        .iter()
        .map(|g| item(g, &v.property.name, &clock))
        .collect();
    let next_due_ms = v.next_due.map_or_else(String::new, |t| {
        t.duration_since(now).as_millis().max(0).to_string()
    });
    Ok((
        Feed {
            csrf: who.csrf.clone(),
            property: property.0,
            show: match filter {
                AlarmFilter::Open => "open",
                AlarmFilter::All => "all",
            },
            items,
            next_due_ms,
            note_max: NOTE_MAX,
        },
        v,
    ))
}

pub(crate) async fn page(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<AlarmsQuery>,
) -> Result<Response, PageError> {
    // The log position first: whatever is raised after it reaches the page through the stream.
    let after = state.app.audit_head().await?.0;
    let (feed, v) = feed(&state, &who, q).await?;
    let assets = crate::assets::assets();
    Ok(AlarmsPage {
        layout: Layout::signed(
            format!("Alarms: {}", v.property.name),
            Some(Tab::Alarms),
            &who,
        ),
        css: assets.url("console.css"),
        alarms_css: assets.url("alarms.css"),
        name: v.property.name.clone(),
        after,
        property: feed.property,
        show: feed.show,
        all: feed.show == "all",
        feed: feed
            .render()
            .map_err(|e| AppError::Internal(format!("rendering the alarms: {e}")))?,
    }
    .into_response())
}

/// The feed alone, for the page's live refresh.
pub(crate) async fn fragment(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<AlarmsQuery>,
) -> Result<Response, PageError> {
    Ok(feed(&state, &who, q).await?.0.into_response())
}

#[derive(Deserialize)]
pub(crate) struct AckForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

/// Acknowledges a group of alarms with the note, then shows the feed again at that item.
pub(crate) async fn acknowledge(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<AckForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let allowed = state.app.may_acknowledge_alarms(&who.principal, id).await?;
    let property = allowed.record().property_id;
    state
        .app
        .acknowledge_alarms(allowed, Some(form.note.as_str()))
        .await?;
    // The acknowledged item stays in view: every alarm is listed.
    Ok(Redirect::to(&format!(
        "/alarms?property={}&show=all#alarm-{id}",
        property.0
    ))
    .into_response())
}
