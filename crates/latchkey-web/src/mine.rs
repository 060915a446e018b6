//! A signed-in person's own things: My codes (reveal a PIN once, freeze a lost phone key or card
//! in one tap), Household (the people of their units, guest codes with a weekly schedule shown
//! once, revoke) and Activity (their unit's events in plain words). Each action is one use case,
//! the same as the API's.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_app::AppError;
use latchkey_app::credentials::CredentialInput;
use latchkey_app::store::audit::EventFilter;
use latchkey_app::store::records::{Credential, Event};
use latchkey_core::model::{CredentialKind, CredentialStatus, Role};
use latchkey_core::schedule::Schedule;
use latchkey_core::{CredentialId, DoorId, PersonId, PropertyId};
use serde::Deserialize;

use crate::WebState;
use crate::error::PageError;
use crate::guard::Signed;
#[allow(unused_imports)] // named by the templates
use crate::layout::{Layout, Tab};
use crate::week::{schedule_words, weekly_schedule};

/// A credential, in words.
pub struct CodeView {
    pub id: i64,
    pub label: String,
    pub kind: &'static str,
    pub holder: String,
    pub status: &'static str,
    pub when: String,
    pub is_pin: bool,
    pub freezable: bool,
    pub revocable: bool,
}

/// A code shown once.
pub struct Shown {
    pub label: String,
    pub pin: String,
}

fn kind_words(k: CredentialKind) -> &'static str {
    match k {
        CredentialKind::PhoneKey => "Phone key",
        CredentialKind::Pin => "Keypad code",
        CredentialKind::RfidCard => "Card",
        CredentialKind::PhysicalKey => "Physical key",
    }
}

fn code_view(c: &Credential, me: PersonId, names: &HashMap<PersonId, String>) -> CodeView {
    let status = match c.status {
        CredentialStatus::Active => "Active",
        CredentialStatus::Frozen => "Frozen",
        CredentialStatus::Revoked => "Revoked",
    };
    let mut when = schedule_words(&c.schedule);
    if let Some(max) = c.max_uses {
        when.push_str(&format!(" · used {} of {max} times", c.uses));
    }
    CodeView {
        id: c.id.0,
        label: c.label.clone(),
        kind: kind_words(c.kind),
        holder: if c.person_id == me {
            "You".to_owned()
        } else {
            names
                .get(&c.person_id)
                .cloned()
                .unwrap_or_else(|| "Someone of your household".to_owned())
        },
        status,
        when,
        is_pin: c.kind == CredentialKind::Pin && c.status != CredentialStatus::Revoked,
        freezable: matches!(c.kind, CredentialKind::PhoneKey | CredentialKind::RfidCard)
            && c.status == CredentialStatus::Active,
        revocable: c.status != CredentialStatus::Revoked,
    }
}

/// The caller's properties (where they have standing).
fn properties(who: &Signed) -> Vec<PropertyId> {
    who.principal.visible_properties().unwrap_or_else(|| {
        let mut v: Vec<PropertyId> = who.principal.active().map(|m| m.property_id).collect();
        v.sort_unstable();
        v.dedup();
        v
    })
}

async fn names(
    state: &WebState,
    who: &Signed,
    property: PropertyId,
) -> Result<HashMap<PersonId, String>, PageError> {
    Ok(state
        .app
        .list_people(&who.principal, property)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect())
}

// ---- My codes ----

#[derive(Template, WebTemplate)]
#[template(path = "codes.html")]
struct CodesPage {
    layout: Layout,
    csrf: String,
    codes: Vec<CodeView>,
    shown: Option<Shown>,
    notice: Option<String>,
}

async fn codes_page(
    state: &WebState,
    who: &Signed,
    shown: Option<Shown>,
    notice: Option<String>,
) -> Result<Response, PageError> {
    let mut codes = Vec::new();
    for p in properties(who) {
        let names = names(state, who, p).await?;
        for c in state
            .app
            .list_credentials(&who.principal, p, Some(who.principal.id()))
            .await?
        {
            codes.push(code_view(&c, who.principal.id(), &names));
        }
    }
    Ok(CodesPage {
        layout: Layout::signed("My codes", Some(Tab::Codes), who),
        csrf: who.csrf.clone(),
        codes,
        shown,
        notice,
    }
    .into_response())
}

pub(crate) async fn codes(
    State(state): State<WebState>,
    who: Signed,
) -> Result<Response, PageError> {
    codes_page(&state, &who, None, None).await
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    back: Option<String>,
}

pub(crate) async fn reveal(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let c = state
        .app
        .get_credential(&who.principal, CredentialId(id))
        .await?;
    let pin = state
        .app
        .reveal_pin(
            state
                .app
                .may_reveal_pin(&who.principal, CredentialId(id))
                .await?,
        )
        .await?;
    codes_page(
        &state,
        &who,
        Some(Shown {
            label: c.label,
            pin,
        }),
        None,
    )
    .await
}

fn back_to(form: &TokenForm) -> &'static str {
    match form.back.as_deref() {
        Some("household") => "/household",
        _ => "/codes",
    }
}

pub(crate) async fn freeze(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    state
        .app
        .set_credential_status(
            state
                .app
                .may_set_credential_status(
                    &who.principal,
                    CredentialId(id),
                    CredentialStatus::Frozen,
                )
                .await?,
        )
        .await?;
    Ok(Redirect::to(back_to(&form)).into_response())
}

pub(crate) async fn revoke(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    state
        .app
        .set_credential_status(
            state
                .app
                .may_set_credential_status(
                    &who.principal,
                    CredentialId(id),
                    CredentialStatus::Revoked,
                )
                .await?,
        )
        .await?;
    Ok(Redirect::to(back_to(&form)).into_response())
}

// ---- Household ----

pub struct Member {
    pub id: i64,
    pub name: String,
    pub role: &'static str,
    pub guest: bool,
}

fn role_words(r: Role) -> &'static str {
    match r {
        Role::Resident => "Resident",
        Role::Household => "Household member",
        Role::TrustedContact => "Trusted contact",
        Role::Guest => "Guest",
        Role::Installer => "Installer",
        Role::Manager => "Building manager",
        Role::Locksmith => "Locksmith",
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "household.html")]
struct HouseholdPage {
    layout: Layout,
    csrf: String,
    members: Vec<Member>,
    codes: Vec<CodeView>,
    shown: Option<Shown>,
    may_issue: bool,
    error: Option<String>,
}

async fn household_page(
    state: &WebState,
    who: &Signed,
    shown: Option<Shown>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let mut members = Vec::new();
    let mut codes = Vec::new();
    let mut may_issue = false;
    for p in properties(who) {
        let units = who.principal.units(p);
        if units.is_empty() {
            continue;
        }
        may_issue |= !who.principal.resident_units(p).is_empty();
        let names = names(state, who, p).await?;
        let memberships = state.app.list_memberships(&who.principal, p).await?;
        for m in memberships
            .iter()
            .filter(|m| m.unit_id.is_some_and(|u| units.contains(&u)))
        {
            if members
                .iter()
                .any(|x: &Member| x.id == m.person_id.0 && x.role == role_words(m.role))
            {
                continue;
            }
            members.push(Member {
                id: m.person_id.0,
                name: names
                    .get(&m.person_id)
                    .cloned()
                    .unwrap_or_else(|| format!("Person {}", m.person_id.0)),
                role: role_words(m.role),
                guest: m.person_id != who.principal.id(),
            });
        }
        for c in state.app.list_credentials(&who.principal, p, None).await? {
            if c.unit_id.is_some_and(|u| units.contains(&u)) && c.person_id != who.principal.id() {
                codes.push(code_view(&c, who.principal.id(), &names));
            }
        }
    }
    Ok(HouseholdPage {
        layout: Layout::signed("Household", Some(Tab::Household), who),
        csrf: who.csrf.clone(),
        members,
        codes,
        shown,
        may_issue,
        error,
    }
    .into_response())
}

pub(crate) async fn household(
    State(state): State<WebState>,
    who: Signed,
) -> Result<Response, PageError> {
    household_page(&state, &who, None, None).await
}

#[derive(Deserialize)]
pub(crate) struct GuestCodeForm {
    #[serde(default)]
    csrf: String,
    person: i64,
    #[serde(default)]
    label: String,
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
}

fn guest_schedule(f: &GuestCodeForm) -> Result<Schedule, AppError> {
    weekly_schedule(
        [&f.mon, &f.tue, &f.wed, &f.thu, &f.fri, &f.sat, &f.sun],
        &f.from,
        &f.until,
    )
}

pub(crate) async fn create_guest_code(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<GuestCodeForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let made = async {
        let schedule = guest_schedule(&form)?;
        // The unit the guest belongs to, where the caller lives.
        let person = PersonId(form.person);
        let mut target = None;
        for p in properties(&who) {
            let mine = who.principal.resident_units(p);
            for m in state.app.list_memberships(&who.principal, p).await? {
                if m.person_id == person && m.unit_id.is_some_and(|u| mine.contains(&u)) {
                    target = Some((p, m.unit_id));
                }
            }
        }
        let (property, unit) = target
            .ok_or_else(|| AppError::invalid("person", "choose someone of your own household"))?;
        let _ = property;
        {
            let input = CredentialInput {
                person_id: person,
                kind: CredentialKind::Pin,
                label: Some(form.label.trim().to_owned()).filter(|l| !l.is_empty()),
                unit_id: unit,
                doors: None,
                schedule,
                max_uses: None,
                duress: false,
                pin: None,
                card_uid: None,
            };
            state.app.create_credential(
                who.principal.credential_issuer(property, input.unit_id)?,
                input,
            )
        }
        .await
    }
    .await;
    match made {
        Ok(created) => {
            let shown = created.pin.map(|pin| Shown {
                label: created.credential.label.clone(),
                pin,
            });
            household_page(&state, &who, shown, None).await
        }
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict(_))) => {
            let (_, _, message) = crate::error::describe(&e);
            household_page(&state, &who, None, Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---- Activity ----

pub struct EventView {
    pub at: String,
    pub words: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "activity.html")]
struct ActivityPage {
    layout: Layout,
    events: Vec<EventView>,
}

/// The door an event is about, from its subject (`door:N`).
pub(crate) fn door_of(subject: &str) -> Option<DoorId> {
    subject
        .strip_prefix("door:")
        .and_then(|d| d.parse().ok())
        .map(DoorId)
}

pub(crate) fn event_words(
    e: &Event,
    people: &HashMap<PersonId, String>,
    doors: &HashMap<i64, String>,
) -> Option<String> {
    let who = e.actor_id.map(|a| {
        people
            .get(&a)
            .cloned()
            .unwrap_or_else(|| "Someone".to_owned())
    });
    let who = who.as_deref().unwrap_or("The system");
    let door = e
        .subject
        .strip_prefix("door:")
        .and_then(|d| d.parse::<i64>().ok())
        .and_then(|d| doors.get(&d).cloned())
        .unwrap_or_else(|| "a door".to_owned());
    let action = e.data.get("action").and_then(|a| a.as_str()).unwrap_or("");
    Some(match e.kind.as_str() {
        "lock.command" => format!("{who} asked the {door} to {action} from the app."),
        "lock.emergency_command" => format!("Staff sent an emergency {action} to the {door}."),
        "lock.command_confirmed" => format!("The {door} confirmed: {action}ed."),
        "lock.command_unconfirmed" => format!("The {door} did not confirm in time."),
        "lock.command_failed" | "lock.command_rejected" => format!("The {door} did not {action}."),
        "lock.operated" | "lock.event" => format!(
            "The {door} was operated{}.",
            e.data
                .get("source")
                .and_then(|s| s.as_str())
                .map(|s| format!(" ({s})"))
                .unwrap_or_default()
        ),
        "lock.jammed" => format!("The {door} is jammed: the bolt did not move fully."),
        "lock.changed_while_away" => format!(
            "The {door} was found {} after a break in contact with the lock.",
            e.data
                .get("to")
                .and_then(|s| s.as_str())
                .unwrap_or("changed")
        ),
        "lock.alarm" => format!(
            "Alarm at the {door}: {}.",
            e.data
                .get("alarm")
                .or_else(|| e.data.get("kind"))
                .and_then(|s| s.as_str())
                .unwrap_or("see the building manager")
                .replace('_', " ")
        ),
        "access.granted" => format!("{who} opened the {door}."),
        "access.denied" => format!("Someone was refused at the {door}."),
        "door.mode_changed" => format!(
            "{who} set the {door} to {}.",
            e.data
                .get("to")
                .and_then(|s| s.as_str())
                .unwrap_or("another mode")
        ),
        "credential.created" => format!("{who} issued a code."),
        "credential.revoked" => format!("{who} revoked a code."),
        "credential.updated" => format!("{who} changed a code."),
        "credential.pin_revealed" => format!("{who} looked at their keypad code."),
        "lockout.opened" => "Someone asked for help getting in (a lockout case).".to_owned(),
        "lockout.proven" => "A lockout case was proven.".to_owned(),
        "lockout.cancelled" => "A lockout case was cancelled.".to_owned(),
        "auth.login" => format!("{who} signed in."),
        "auth.login_failed" => "A sign-in failed.".to_owned(),
        "spare_key.granted" => format!("{who} gave someone a spare key."),
        "spare_key.revoked" => format!("{who} took back a spare key."),
        // docs/OPERATIONS.md, "Privacy": staff read a unit's door activity only for an open
        // reason, and the household is shown that they did.
        "privacy.activity_viewed" => format!(
            "{who} (building staff) viewed your door's activity for {} {}.",
            e.data
                .get("reason")
                .and_then(|s| s.as_str())
                .unwrap_or("a reason")
                .replace('_', " "),
            e.data
                .get("reason_id")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or_default()
        ),
        other => {
            let (area, what) = other.split_once('.').unwrap_or((other, ""));
            format!(
                "{} {} ({who}).",
                crate::error::capitalise(area),
                what.replace('_', " ")
            )
        }
    })
}

pub(crate) async fn activity(
    State(state): State<WebState>,
    who: Signed,
) -> Result<Response, PageError> {
    let mut events = Vec::new();
    for p in properties(&who) {
        let zone = state.app.get_property(&who.principal, p).await?.timezone;
        let tz = jiff::tz::TimeZone::get(&zone).unwrap_or(jiff::tz::TimeZone::UTC);
        let filter = EventFilter {
            limit: 50,
            ..EventFilter::default()
        };
        let page = state
            .app
            .list_events(&who.principal, Some(p), filter)
            .await?;
        // Only the names these events show are read, not the building's.
        let mut actors: Vec<PersonId> = page.iter().filter_map(|e| e.actor_id).collect();
        let mut subjects: Vec<DoorId> = page.iter().filter_map(|e| door_of(&e.subject)).collect();
        actors.sort_unstable();
        actors.dedup();
        subjects.sort_unstable();
        subjects.dedup();
        let names = state
            .app
            .names_at(&who.principal, p, &actors, &subjects)
            .await?;
        let people = names.people;
        let doors: HashMap<i64, String> = names.doors.into_iter().map(|(d, n)| (d.0, n)).collect();
        for e in page {
            if let Some(words) = event_words(&e, &people, &doors) {
                events.push(EventView {
                    at: tz.to_datetime(e.at).strftime("%a %d %b, %H:%M").to_string(),
                    words,
                });
            }
        }
    }
    Ok(ActivityPage {
        layout: Layout::signed("Activity", Some(Tab::Activity), &who),
        events,
    }
    .into_response())
}
