//! Home: the person's doors with what each lock last reported, one large Unlock or Lock button
//! each (the same use case as the API's remote command), the command's progress from *sent* to
//! *confirmed by the lock* or the failure and why, and the modes a resident may set.

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use latchkey_app::AppError;
use latchkey_app::devices::RemoteAction;
use latchkey_app::directory::DoorPatch;
use latchkey_app::pages::{DoorCondition, DoorStatus};
use latchkey_app::passkeys::Proof;
use latchkey_app::store::devices::LockCommand;
use latchkey_core::DoorId;
use latchkey_core::model::DoorMode;
use serde::Deserialize;

use crate::WebState;
use crate::error::{PageError, describe};
use crate::guard::Signed;
#[allow(unused_imports)] // named by the templates
use crate::layout::{Layout, Tab};

/// How long an unlock waits for the lock before the page polls instead.
const COMMAND_WAIT: Duration = Duration::from_secs(3);

/// A command's progress, in words.
pub struct CommandView {
    pub id: i64,
    /// `sent`, `confirmed` or `failed`.
    pub class: &'static str,
    pub words: String,
    /// Still waiting for the lock: the card asks again shortly.
    pub pending: bool,
}

/// One door's card.
pub struct Card {
    pub id: i64,
    pub name: String,
    pub state_class: &'static str,
    pub state_words: &'static str,
    pub battery_low: Option<i64>,
    /// `unlock` or `lock`: the one large button.
    pub action: &'static str,
    pub action_label: &'static str,
    /// A unit's own door: its resident may set privacy or vacation.
    pub unit_door: bool,
    pub mode: &'static str,
    pub mode_words: &'static str,
    pub command: Option<CommandView>,
    pub failure: Option<String>,
}

fn mode_words(mode: DoorMode) -> &'static str {
    match mode {
        DoorMode::Normal => "Normal",
        DoorMode::Privacy => "Privacy: nobody gets in from outside",
        DoorMode::Vacation => "Vacation: only your household, and staff in an emergency",
        DoorMode::Passage => "Passage: open to everyone",
        DoorMode::NoRemote => "No remote opening",
    }
}

fn card(d: &DoorStatus) -> Card {
    let (state_class, state_words) = match d.condition {
        DoorCondition::Locked => ("locked", "Locked"),
        DoorCondition::Unlocked => ("unlocked", "Unlocked"),
        DoorCondition::Open => ("open", "Open"),
        DoorCondition::Jammed => ("jammed", "Jammed: the bolt is stuck"),
        DoorCondition::Offline => ("offline", "Offline: the lock does not answer"),
        DoorCondition::Unknown => ("unknown", "No report from the lock yet"),
    };
    let (action, action_label) = match d.condition {
        DoorCondition::Unlocked | DoorCondition::Open => ("lock", "Lock"),
        _ => ("unlock", "Unlock"),
    };
    Card {
        id: d.door.id.0,
        name: d.door.name.clone(),
        state_class,
        state_words,
        battery_low: d.battery_low,
        action,
        action_label,
        unit_door: d.door.unit_id.is_some(),
        mode: d.door.mode.as_str(),
        mode_words: mode_words(d.door.mode),
        command: None,
        failure: None,
    }
}

/// A unit's own door first: it is the one a resident opens most.
fn cards(doors: &[DoorStatus]) -> Vec<Card> {
    let mut cards: Vec<Card> = doors.iter().map(card).collect();
    cards.sort_by_key(|c| !c.unit_door);
    cards
}

fn command_view(
    c: &LockCommand,
    now: jiff::Timestamp,
    tz_time: impl Fn(jiff::Timestamp) -> String,
) -> CommandView {
    let what = if c.action == "lock" {
        "Locked"
    } else {
        "Unlocked"
    };
    match c.status.as_str() {
        "confirmed" => CommandView {
            id: c.id,
            class: "confirmed",
            words: format!(
                "{what}, confirmed by the lock at {}.",
                c.completed_at.map(&tz_time).unwrap_or_default()
            ),
            pending: false,
        },
        "failed" => CommandView {
            id: c.id,
            class: "failed",
            words: format!(
                "The lock did not do it: {}.",
                c.detail.as_deref().unwrap_or("no reason given")
            ),
            pending: false,
        },
        "unconfirmed" => CommandView {
            id: c.id,
            class: "sent",
            words: "Sent, but the lock has not confirmed yet. It may still act: check the door."
                .to_owned(),
            // A late report still confirms it; the page stops asking a minute after the deadline.
            pending: now < c.deadline_at + jiff::SignedDuration::from_secs(60),
        },
        _ => CommandView {
            id: c.id,
            class: "sent",
            words: "Sent to the lock; waiting for it to confirm…".to_owned(),
            pending: true,
        },
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    csrf: String,
    /// The log's position before the doors were read: the live stream starts after it, so
    /// nothing between this page's render and the stream's start is missed.
    after: i64,
    /// What an unlock asks for first: "", "passkey" or "password".
    proof: &'static str,
    properties: Vec<(String, Vec<Card>)>,
    /// Lockout cases the person is asked about (see `cases`).
    cases: Vec<crate::cases::PromptView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "door_card_fragment.html")]
struct CardFragment {
    card: Card,
    csrf: String,
    proof: &'static str,
}

pub(crate) async fn page(
    State(state): State<WebState>,
    who: Signed,
) -> Result<Response, PageError> {
    let after = state.app.audit_head().await?.0;
    let home = state.app.home(&who.principal).await?;
    let properties = home
        .iter()
        .map(|p| (p.property.name.clone(), cards(&p.doors)))
        .collect();
    Ok(HomePage {
        layout: Layout::signed("Your doors", Some(Tab::Home), &who),
        csrf: who.csrf.clone(),
        after,
        proof: proof_kind(&state, &who).await?,
        properties,
        cases: crate::cases::prompts(&state, &who).await?,
    }
    .into_response())
}

/// What the unlock buttons ask for first (ARCHITECTURE.md, "Fresh proof to unlock").
async fn proof_kind(state: &WebState, who: &Signed) -> Result<&'static str, PageError> {
    Ok(match state.app.unlock_proof_kind(&who.principal).await? {
        None => "",
        Some(true) => "passkey",
        Some(false) => "password",
    })
}

/// The current card of one of the caller's doors, and its property's time zone.
async fn door_card(
    state: &WebState,
    who: &Signed,
    door: DoorId,
) -> Result<(Card, jiff::tz::TimeZone), PageError> {
    let home = state.app.home(&who.principal).await?;
    home.iter()
        .find_map(|p| {
            p.doors.iter().find(|d| d.door.id == door).map(|d| {
                let tz = jiff::tz::TimeZone::get(&p.property.timezone)
                    .unwrap_or(jiff::tz::TimeZone::UTC);
                (card(d), tz)
            })
        })
        .ok_or_else(|| PageError::App(AppError::not_found("door")))
}

/// A clock time in the property's zone, as the lock's neighbours read it.
fn local_time(tz: jiff::tz::TimeZone) -> impl Fn(jiff::Timestamp) -> String {
    move |t: jiff::Timestamp| tz.to_datetime(t).strftime("%H:%M:%S").to_string()
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    csrf: String,
}

fn htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

async fn command(
    state: WebState,
    who: Signed,
    headers: HeaderMap,
    id: i64,
    form: TokenForm,
    action: RemoteAction,
    proof: Option<UnlockProof>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let door = DoorId(id);
    let proven = match proof {
        Some(p) => give_proof(&state, &who, &p).await,
        None => Ok(()),
    };
    let outcome = match proven {
        Ok(()) => {
            match state
                .app
                .may_remote_command(&who.principal, door, action, None)
                .await
            {
                Ok(allowed) => state.app.remote_command(allowed, COMMAND_WAIT).await,
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    let (mut card, tz) = door_card(&state, &who, door).await?;
    let (command, failure) = match outcome {
        Ok(c) => (
            Some(command_view(&c, state.app.now(), local_time(tz))),
            None,
        ),
        Err(e @ (AppError::Store(_) | AppError::Internal(_) | AppError::Unauthenticated(_))) => {
            return Err(e.into());
        }
        Err(e) => {
            let (_, _, message) = describe(&e);
            (None, Some(message))
        }
    };
    card.command = command;
    card.failure = failure;
    let proof = proof_kind(&state, &who).await?;
    if htmx(&headers) {
        Ok(CardFragment {
            card,
            csrf: who.csrf.clone(),
            proof,
        }
        .into_response())
    } else {
        // Without script: the whole page, with this door's outcome on its card.
        let after = state.app.audit_head().await?.0;
        let home = state.app.home(&who.principal).await?;
        let mut card = Some(card);
        let properties = home
            .iter()
            .map(|p| {
                let cards = cards(&p.doors)
                    .into_iter()
                    .map(|c| match &card {
                        Some(mine) if mine.id == c.id => card.take().unwrap_or(c),
                        _ => c,
                    })
                    .collect();
                (p.property.name.clone(), cards)
            })
            .collect();
        Ok(HomePage {
            layout: Layout::signed("Your doors", Some(Tab::Home), &who),
            csrf: who.csrf.clone(),
            after,
            proof,
            properties,
            cases: crate::cases::prompts(&state, &who).await?,
        }
        .into_response())
    }
}

/// The proof an unlock form may carry: a passkey assertion (filled in by the script) or the
/// password of a person without a passkey.
#[derive(Deserialize)]
pub(crate) struct UnlockProof {
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    password: String,
}

/// Gives the proof the form carries, if any. A wrong one refuses the unlock in words (it is not
/// a reason to sign the person out).
async fn give_proof(state: &WebState, who: &Signed, p: &UnlockProof) -> Result<(), AppError> {
    let proof = if !p.credential.is_empty() {
        Proof::Passkey {
            ceremony: &p.ceremony,
            credential: &p.credential,
        }
    } else if !p.password.is_empty() {
        Proof::Password(&p.password)
    } else {
        return Ok(());
    };
    let own = state.app.may_use_session(&who.principal)?;
    match state.app.give_unlock_proof(own, proof).await {
        Err(AppError::Unauthenticated(why)) => Err(AppError::forbidden(why)),
        other => other,
    }
}

pub(crate) async fn unlock(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<UnlockForm>,
) -> Result<Response, PageError> {
    let token = TokenForm { csrf: form.csrf };
    command(
        state,
        who,
        headers,
        id,
        token,
        RemoteAction::Unlock,
        Some(form.proof),
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct UnlockForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    proof: UnlockProof,
}

pub(crate) async fn lock(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    command(state, who, headers, id, form, RemoteAction::Lock, None).await
}

#[derive(Deserialize)]
pub(crate) struct CardQuery {
    command: Option<i64>,
}

/// A door's card, with a command's progress: what the page polls while the lock has not
/// confirmed yet.
pub(crate) async fn card_fragment(
    State(state): State<WebState>,
    who: Signed,
    Path(id): Path<i64>,
    Query(q): Query<CardQuery>,
) -> Result<Response, PageError> {
    let (mut card, tz) = door_card(&state, &who, DoorId(id)).await?;
    if let Some(c) = q.command {
        let cmd = state.app.get_lock_command(&who.principal, c).await?;
        if cmd.door_id != DoorId(id) {
            return Err(AppError::not_found("command").into());
        }
        card.command = Some(command_view(&cmd, state.app.now(), local_time(tz)));
    }
    Ok(CardFragment {
        card,
        csrf: who.csrf.clone(),
        proof: proof_kind(&state, &who).await?,
    }
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct ModeForm {
    #[serde(default)]
    csrf: String,
    mode: String,
}

pub(crate) async fn set_mode(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<ModeForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let mode: DoorMode = form
        .mode
        .parse()
        .map_err(|_| AppError::invalid("mode", "choose normal, privacy or vacation"))?;
    {
        let patch = DoorPatch {
            mode: Some(mode),
            ..DoorPatch::default()
        };
        state.app.update_door(
            state
                .app
                .may_update_door(&who.principal, DoorId(id), &patch)
                .await?,
            patch,
        )
    }
    .await?;
    Ok(Redirect::to("/").into_response())
}
