//! The console's door page: the door's state (live), its settings, its slots (never a PIN), its
//! recent events, its entry notices, and the emergency open. Staff of the door's property only
//! (`App::door_view`); everything goes through the API's use cases:
//!
//! - Events through `list_events`, so the privacy rule is the API's (decision 40): on a unit's
//!   door staff read its security events, and its household's comings and goings only when they
//!   name an open reason (`?reason=case:42`, `incident:7`, `alarm:<seq>`, `entry_notice:3`),
//!   through `may_read_activity` and `list_events_with_reason`, which records the read for the
//!   household.
//! - The emergency open through `may_remote_command` with the reason (at least 5 characters,
//!   told to the residents) and `remote_command`, after the fresh proof an unlock from a browser
//!   needs (a password here; a person with a passkey gives it on the home page first).

use std::collections::HashMap;
use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_app::AppError;
use latchkey_app::devices::RemoteAction;
use latchkey_app::events::ReasonRef;
use latchkey_app::passkeys::Proof;
use latchkey_app::store::audit::EventFilter;
use latchkey_app::store::devices::LockSettings;
use latchkey_core::{DoorId, PersonId};
use serde::Deserialize;

use crate::WebState;
use crate::building::{kind_words, place_of, state_of, sync_words};
use crate::error::PageError;
use crate::guard::Signed;
#[allow(unused_imports)] // The base template names the tabs.
use crate::layout::{Layout, Tab};
use crate::mine::{door_of, event_words};

/// How long the emergency open waits for the lock before the page shows "sent".
const COMMAND_WAIT: Duration = Duration::from_secs(3);
/// Events shown.
const EVENTS: u32 = 30;

#[derive(Deserialize)]
pub(crate) struct DoorQuery {
    reason: Option<String>,
    command: Option<i64>,
}

pub struct Fact {
    pub term: &'static str,
    pub value: String,
}

pub struct SlotRow {
    pub slot: i64,
    pub status: &'static str,
    pub desired: &'static str,
    pub credential: String,
    pub attempts: i64,
    pub reason: String,
    pub updated: String,
}

pub struct EventRow {
    pub at: String,
    pub words: String,
}

pub struct NoticeRow {
    pub window: String,
    pub purpose: String,
    pub state: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "door.html")]
struct DoorPage {
    layout: Layout,
    css: String,
    csrf: String,
    after: i64,
    id: i64,
    property: i64,
    name: String,
    place: String,
    kind: &'static str,
    state_class: &'static str,
    state_words: &'static str,
    battery_low: bool,
    sync: String,
    facts: Vec<Fact>,
    slots: Vec<SlotRow>,
    events: Vec<EventRow>,
    /// The reason the personal events were read for, when one was named.
    reason: String,
    unit_door: bool,
    notices: Vec<NoticeRow>,
    /// `password` when the emergency open asks for the password as its proof.
    proof: &'static str,
    command: Option<String>,
}

fn seconds(v: Option<i64>) -> String {
    v.map_or_else(|| "not reported".to_owned(), |s| format!("{s} s"))
}

fn settings_facts(desired: LockSettings, reported: LockSettings) -> Vec<Fact> {
    let pair = |d: Option<i64>, r: Option<i64>, unit: &str| {
        let d = d.map_or_else(|| "—".to_owned(), |v| format!("{v}{unit}"));
        let r = r.map_or_else(|| "not reported".to_owned(), |v| format!("{v}{unit}"));
        format!("{d} (the lock says {r})")
    };
    vec![
        Fact {
            term: "Relocks after",
            value: pair(
                desired.auto_relock_seconds,
                reported.auto_relock_seconds,
                " s",
            ),
        },
        Fact {
            term: "Wrong codes before the keypad stops",
            value: pair(desired.wrong_code_limit, reported.wrong_code_limit, ""),
        },
        Fact {
            term: "Keypad stopped for",
            value: pair(
                desired.keypad_disable_seconds,
                reported.keypad_disable_seconds,
                " s",
            ),
        },
    ]
}

pub(crate) async fn page(
    State(state): State<WebState>,
    who: Signed,
    Path(id): Path<i64>,
    Query(q): Query<DoorQuery>,
) -> Result<Response, PageError> {
    render(&state, &who, DoorId(id), q).await
}

async fn render(
    state: &WebState,
    who: &Signed,
    id: DoorId,
    q: DoorQuery,
) -> Result<Response, PageError> {
    let after = state.app.audit_head().await?.0;
    let v = state.app.door_view(&who.principal, id).await?;
    let p = v.property.id;
    let tz = jiff::tz::TimeZone::get(&v.property.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let local = |t: jiff::Timestamp| tz.to_datetime(t).strftime("%a %d %b, %H:%M").to_string();
    let slots = state
        .app
        .door_slots(&who.principal, id)
        .await?
        .into_iter()
        .map(|s| SlotRow {
            slot: s.slot,
            status: s.status.as_str(),
            desired: s.desired.as_str(),
            credential: s
                .credential_id
                .map_or_else(|| "—".to_owned(), |c| format!("code {}", c.0)),
            attempts: s.attempts,
            reason: s.reason.unwrap_or_default(),
            updated: local(s.updated_at),
        })
        .collect();
    let filter = EventFilter {
        subject: Some(format!("door:{}", id.0)),
        limit: EVENTS,
        ..EventFilter::default()
    };
    let reason = q.reason.filter(|r| !r.trim().is_empty());
    let page = match &reason {
        None => {
            state
                .app
                .list_events(&who.principal, Some(p), filter)
                .await?
        }
        Some(r) => {
            let r: ReasonRef = r.trim().parse()?;
            let read = state.app.may_read_activity(&who.principal, r).await?;
            state
                .app
                .list_events_with_reason(read, Some(p), filter)
                .await?
        }
    };
    let mut actors: Vec<PersonId> = page.iter().filter_map(|e| e.actor_id).collect();
    actors.sort_unstable();
    actors.dedup();
    let names = state
        .app
        .names_at(&who.principal, p, &actors, &[id])
        .await?;
    let doors: HashMap<i64, String> = names.doors.into_iter().map(|(d, n)| (d.0, n)).collect();
    let events = page
        .iter()
        .filter(|e| door_of(&e.subject) == Some(id))
        .filter_map(|e| {
            event_words(e, &names.people, &doors).map(|words| EventRow {
                at: local(e.at),
                words,
            })
        })
        .collect();
    let now = state.app.now();
    let notices = state
        .app
        .list_entry_notices(&who.principal, p)
        .await?
        .into_iter()
        .filter(|n| n.doors.contains(&id))
        .take(10)
        .map(|n| NoticeRow {
            window: format!("{} – {}", local(n.window_from), local(n.window_until)),
            purpose: n.purpose,
            state: if n.cancelled_at.is_some() {
                "cancelled"
            } else if n.window_until <= now {
                "over"
            } else if n.window_from <= now {
                "open now"
            } else {
                "coming"
            },
        })
        .collect();
    let command = match q.command {
        Some(c) => {
            let cmd = state.app.get_lock_command(&who.principal, c).await?;
            if cmd.door_id != id {
                return Err(AppError::not_found("command").into());
            }
            Some(match cmd.status.as_str() {
                "confirmed" => "Opened: the lock confirmed it.".to_owned(),
                "failed" => format!(
                    "The lock did not open: {}.",
                    cmd.detail.as_deref().unwrap_or("no reason given")
                ),
                _ => "Sent to the lock; it has not confirmed yet. The state above changes when it does."
                    .to_owned(),
            })
        }
        None => None,
    };
    let d = &v.door;
    let (state_class, state_words) = state_of(d.condition);
    let (sync, _) = sync_words(d);
    let mut facts = vec![
        Fact {
            term: "Mode",
            value: d.door.mode.as_str().replace('_', " "),
        },
        Fact {
            term: "PIN slots",
            value: d.door.pin_slots.to_string(),
        },
        Fact {
            term: "Lock",
            value: d
                .door
                .lock_name
                .clone()
                .unwrap_or_else(|| "none paired".to_owned()),
        },
        Fact {
            term: "Battery",
            value: d
                .battery
                .map_or_else(|| "not reported".to_owned(), |b| format!("{b} %")),
        },
    ];
    if let Some(dev) = &v.device {
        facts.push(Fact {
            term: "Last heard",
            value: dev.last_seen.map_or_else(|| "never".to_owned(), &local),
        });
        facts.push(Fact {
            term: "Model",
            value: dev.model.clone().unwrap_or_else(|| "unknown".to_owned()),
        });
    }
    if let Some(s) = v.settings {
        facts.extend(settings_facts(s.desired, s.reported));
    } else {
        facts.push(Fact {
            term: "Relocks after",
            value: seconds(None),
        });
    }
    let proof = match state.app.unlock_proof_kind(&who.principal).await? {
        Some(false) => "password",
        Some(true) => "passkey",
        None => "",
    };
    Ok(DoorPage {
        layout: Layout::signed_at(
            d.door.name.clone(),
            Some(Tab::Building),
            who,
            d.door.property_id,
        ),
        css: crate::assets::assets().url("console.css"),
        csrf: who.csrf.clone(),
        after,
        id: id.0,
        property: p.0,
        name: d.door.name.clone(),
        place: place_of(d),
        kind: kind_words(d.door.kind),
        state_class,
        state_words,
        battery_low: d.battery_low,
        sync,
        facts,
        slots,
        events,
        reason: reason.unwrap_or_default(),
        unit_door: d.door.unit_id.is_some(),
        notices,
        proof,
        command,
    }
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct EmergencyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    password: String,
}

/// The emergency open: the fresh proof, then the API's use case with the reason, which tells
/// the residents.
pub(crate) async fn emergency(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<EmergencyForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let door = DoorId(id);
    // Only staff of the door's property get further (others: not found / not allowed).
    state.app.door_view(&who.principal, door).await?;
    let reason = form.reason.trim();
    if reason.is_empty() {
        return Err(AppError::invalid(
            "reason",
            "say why this is an emergency; the residents are told",
        )
        .into());
    }
    if !form.password.is_empty() {
        let own = state.app.may_use_session(&who.principal)?;
        match state
            .app
            .give_unlock_proof(own, Proof::Password(&form.password))
            .await
        {
            Err(AppError::Unauthenticated(why)) => return Err(AppError::forbidden(why).into()),
            other => other?,
        }
    }
    let allowed = state
        .app
        .may_remote_command(&who.principal, door, RemoteAction::Unlock, Some(reason))
        .await?;
    let cmd = state.app.remote_command(allowed, COMMAND_WAIT).await?;
    Ok(Redirect::to(&format!("/building/doors/{id}?command={}", cmd.id)).into_response())
}
