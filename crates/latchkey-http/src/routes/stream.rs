//! Live events as Server-Sent Events: door states, command progress, alarms and lockout case
//! steps that the caller may read, with resumption by `Last-Event-ID` (see `latchkey_app::live`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use latchkey_app::live::{
    EndReason, LiveEvent, LiveItem, LiveKind, LiveStream, REPLAY_MAX, ResetReason,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiQuery, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

/// How often an idle stream sends a comment, so that proxies keep it open and clients notice a
/// dead connection.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Start after this event id, as `Last-Event-ID` does (the header wins when both are
    /// given): a page passes the log position it was rendered at.
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

/// A door's state, as its lock reported it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DoorStateDto {
    Locked,
    Unlocked,
    Open,
    Closed,
    Jammed,
    /// A jam cleared: the bolt moved fully again (which way is not said).
    JamCleared,
    Offline,
    Online,
    BatteryLow,
}

/// `event: door` — a door's lock or contact reported a new state.
#[derive(Serialize, ToSchema)]
pub struct DoorEventDto {
    pub door_id: i64,
    pub state: DoorStateDto,
    /// With `battery_low`: the percentage, when the lock reported one.
    pub battery: Option<i64>,
    /// When latchkey received the report.
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandStatusDto {
    /// Recorded and sent to the lock.
    Sent,
    /// The lock reported the position asked for.
    Confirmed,
    /// Could not be sent or was refused; `detail` says why.
    Failed,
    /// No report within the wait; a late report still confirms it.
    Unconfirmed,
    /// Zigbee2MQTT said the lock refused a command; `detail` has its words.
    Rejected,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionDto {
    Lock,
    Unlock,
}

/// `event: command` — a remote lock or unlock moved on.
#[derive(Serialize, ToSchema)]
pub struct CommandEventDto {
    pub door_id: i64,
    /// The command (`GET /api/v1/commands/{id}`); absent for `rejected`.
    pub command_id: Option<i64>,
    pub action: Option<ActionDto>,
    pub status: CommandStatusDto,
    pub detail: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
}

/// `event: alarm` — an alarm that is not a door state (`forced_entry`, `duress`,
/// `wrong_code_limit`, `left_open`, …).
#[derive(Serialize, ToSchema)]
pub struct AlarmEventDto {
    pub door_id: i64,
    pub alarm: String,
    /// `warning` or `critical`.
    pub severity: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
}

/// `event: case` — a lockout case the caller may read took a step; read it with
/// `GET /api/v1/lockouts/{id}`.
#[derive(Serialize, ToSchema)]
pub struct CaseEventDto {
    pub case_id: i64,
    /// e.g. `opened`, `proof`, `proven`, `guardians_asked`, `spare_pin`, `cancelled`.
    pub step: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
}

/// `event: alarm_acknowledged` — staff of the property acknowledged a group of alarms; read
/// who and the note with `GET /api/v1/properties/{id}/alarms`.
#[derive(Serialize, ToSchema)]
pub struct AlarmAcknowledgedEventDto {
    /// The group's id, as the alarms API names it.
    pub alarm_id: i64,
    /// How many alarms of the group were acknowledged.
    pub alarms: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
}

/// A code slot of a door's lock as the lock confirmed it (staff of the property): what a
/// move-out receipt waits for. Never the code.
#[derive(Serialize, ToSchema)]
pub struct SlotEventDto {
    pub door_id: i64,
    pub slot: i64,
    /// The credential the slot holds or held, when latchkey manages it.
    pub credential_id: Option<i64>,
    /// `set`, `removed`, `failed` (latchkey could not get the lock to confirm; it may still be
    /// trying) or `lost` (the lock no longer holds a code it had confirmed).
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResetReasonDto {
    TooOld,
    Unknown,
}

/// `event: reset` — the events after the id asked for cannot be replayed: read the current
/// state again. Live events follow.
#[derive(Serialize, ToSchema)]
pub struct ResetEventDto {
    pub reason: ResetReasonDto,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndReasonDto {
    Revoked,
    Expired,
}

/// `event: end` — the last event: the session or token no longer signs anyone in. The server
/// then closes the stream; reconnecting is answered 401.
#[derive(Serialize, ToSchema)]
pub struct EndEventDto {
    pub reason: EndReasonDto,
    pub message: String,
}

/// One Server-Sent Event, documented as `{event, data}`: `event` is the SSE event name and
/// `data` the JSON on its `data:` line. `door`, `command`, `alarm`, `alarm_acknowledged`, `slot`
/// and `case` carry an `id:`
/// (resume with `Last-Event-ID`); `reset` and `end` do not. Idle streams get a `:` comment
/// every 15 s.
#[derive(Serialize, ToSchema)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum StreamEventDto {
    Door(DoorEventDto),
    Command(CommandEventDto),
    Alarm(AlarmEventDto),
    AlarmAcknowledged(AlarmAcknowledgedEventDto),
    Case(CaseEventDto),
    Slot(SlotEventDto),
    Reset(ResetEventDto),
    End(EndEventDto),
}

fn dto(e: LiveEvent) -> StreamEventDto {
    use latchkey_app::live::{CommandStatus as C, DoorState as D};
    let at = e.at;
    match e.kind {
        LiveKind::Door {
            door_id,
            state,
            battery,
        } => StreamEventDto::Door(DoorEventDto {
            door_id: door_id.0,
            state: match state {
                D::Locked => DoorStateDto::Locked,
                D::Unlocked => DoorStateDto::Unlocked,
                D::Open => DoorStateDto::Open,
                D::Closed => DoorStateDto::Closed,
                D::Jammed => DoorStateDto::Jammed,
                D::JamCleared => DoorStateDto::JamCleared,
                D::Offline => DoorStateDto::Offline,
                D::Online => DoorStateDto::Online,
                D::BatteryLow => DoorStateDto::BatteryLow,
            },
            battery,
            at,
        }),
        LiveKind::Command {
            door_id,
            command_id,
            action,
            status,
            detail,
        } => StreamEventDto::Command(CommandEventDto {
            door_id: door_id.0,
            command_id,
            action: action.map(|a| match a {
                latchkey_app::devices::RemoteAction::Lock => ActionDto::Lock,
                latchkey_app::devices::RemoteAction::Unlock => ActionDto::Unlock,
            }),
            status: match status {
                C::Sent => CommandStatusDto::Sent,
                C::Confirmed => CommandStatusDto::Confirmed,
                C::Failed => CommandStatusDto::Failed,
                C::Unconfirmed => CommandStatusDto::Unconfirmed,
                C::Rejected => CommandStatusDto::Rejected,
            },
            detail,
            at,
        }),
        LiveKind::Alarm {
            door_id,
            alarm,
            severity,
        } => StreamEventDto::Alarm(AlarmEventDto {
            door_id: door_id.0,
            alarm,
            severity,
            at,
        }),
        LiveKind::Slot {
            door_id,
            slot,
            credential_id,
            status,
        } => StreamEventDto::Slot(SlotEventDto {
            door_id: door_id.0,
            slot,
            credential_id,
            status,
            at,
        }),
        LiveKind::Case { case_id, step } => StreamEventDto::Case(CaseEventDto {
            case_id: case_id.0,
            step,
            at,
        }),
        LiveKind::AlarmAcknowledged { alarm_id, alarms } => {
            StreamEventDto::AlarmAcknowledged(AlarmAcknowledgedEventDto {
                alarm_id,
                alarms,
                at,
            })
        }
    }
}

/// The SSE frame of one item.
fn frame(item: LiveItem) -> Event {
    let (id, body) = match item {
        LiveItem::Event(e) => (Some(e.seq), dto(e)),
        LiveItem::Reset(r) => (
            None,
            StreamEventDto::Reset(ResetEventDto {
                reason: match r {
                    ResetReason::TooOld => ResetReasonDto::TooOld,
                    ResetReason::Unknown => ResetReasonDto::Unknown,
                },
                message: match r {
                    ResetReason::TooOld => format!(
                        "more than {REPLAY_MAX} events happened since that id; read the current state again"
                    ),
                    ResetReason::Unknown => {
                        "this server never gave that event id; read the current state again"
                            .to_owned()
                    }
                },
            }),
        ),
        LiveItem::End(r) => (
            None,
            StreamEventDto::End(EndEventDto {
                reason: match r {
                    EndReason::Revoked => EndReasonDto::Revoked,
                    EndReason::Expired => EndReasonDto::Expired,
                },
                message: match r {
                    EndReason::Revoked => "this session or token was revoked; sign in again",
                    EndReason::Expired => "this session has expired; sign in again",
                }
                .to_owned(),
            }),
        ),
    };
    let (name, data) = match serde_json::to_value(&body) {
        Ok(serde_json::Value::Object(mut o)) => (
            o.remove("event")
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            o.remove("data").unwrap_or_default(),
        ),
        _ => (String::new(), serde_json::Value::Null),
    };
    let ev = Event::default().event(name).data(data.to_string());
    match id {
        Some(id) => ev.id(id.to_string()),
        None => ev,
    }
}

fn items(stream: LiveStream) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(Some(stream), |state| async move {
        let mut stream = state?;
        match stream.next().await {
            Ok(Some(item)) => Some((Ok(frame(item)), Some(stream))),
            Ok(None) => None,
            Err(e) => {
                // The client reconnects with its last id and loses nothing.
                tracing::warn!(error = %e, "a live stream failed; closing it");
                None
            }
        }
    })
}

/// Live events the caller may read, as Server-Sent Events, by the same rules as
/// `GET /api/v1/events` (door states: the doors the caller may open, every door for staff; lockout
/// case steps: the cases the caller may read). Each event's `id` is its place in the audit log:
/// reconnect with `Last-Event-ID` (or `?after=`) to be sent what was missed, up to 10,000 log
/// events back; an older or unknown id starts with `event: reset`. A revoked session or token
/// ends the stream with `event: end`.
#[utoipa::path(get, path = "/api/v1/stream", tag = "events", params(StreamQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "The last event id the client saw: the stream starts after it.")),
    responses(
        (status = 200, description = "A stream of Server-Sent Events, each one of `StreamEventDto`'s variants: `event:` its name, `data:` its JSON.",
            content_type = "text/event-stream", body = StreamEventDto),
        (status = 422, body = Problem)))]
pub async fn stream(
    State(s): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let last_event_id = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|v| *v >= 0)
                .ok_or_else(|| {
                    latchkey_app::AppError::invalid(
                        "Last-Event-ID",
                        "must be an event id this stream sent (a whole number)",
                    )
                })?,
        ),
    };
    if q.after.is_some_and(|a| a < 0) {
        return Err(latchkey_app::AppError::invalid("after", "must be 0 or more").into());
    }
    let live = s.app.live(who, last_event_id.or(q.after)).await?;
    Ok(Sse::new(items(live)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
