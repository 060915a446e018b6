//! Live events: what `GET /api/v1/stream` sends. The audit log is the source: every event a
//! stream carries is a committed log event, its `seq` is the stream's event id, and a client
//! that reconnects with the last id it saw is sent what it missed from the log itself.
//!
//! One follower per process reads the log after its last `seq` whenever something may be new —
//! at once after this process's own commits, on PostgreSQL's `NOTIFY latchkey_events` (sent by
//! every append, from any process), and every 50 ms on SQLite (where the other processes are
//! terminal commands) — and hands every event, in order, to this process's streams. Each
//! stream keeps what its caller may read (see [`View`]) and turns it into a [`LiveKind`].
//!
//! A stream ends when its session or token is revoked (the revocation is a log event, so every
//! replica hears it within moments), and re-checks its grant every [`RECHECK`] for expiry.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use latchkey_core::{DoorId, LockoutCaseId, PropertyId};
use latchkey_store::audit;
use latchkey_store::lockout as case_repo;
use latchkey_store::records::Event;
use latchkey_store::recovery as spare_keys;
use tokio::sync::{Notify, OnceCell, broadcast};

use crate::authz::{Principal, Via};
use crate::devices::RemoteAction;
use crate::directory::member_doors;
use crate::events::Visibility;
use crate::{App, AppError, Inner, Result};

/// How far back a client may resume: at most this many log events (of every kind, for every
/// property) after the id it names. Older ids get [`LiveItem::Reset`].
pub const REPLAY_MAX: i64 = 10_000;
/// How often a stream checks that its session or token is still valid (expiry; a revocation
/// ends it at once).
pub const RECHECK: Duration = Duration::from_secs(30);
/// Events buffered per process for streams that fall behind; a stream further behind catches up
/// from the log.
const BUFFER: usize = 4_096;
/// Rows read per query by the follower.
const PAGE: i64 = 1_000;

/// What a door's lock reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DoorState {
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

impl DoorState {
    pub fn as_str(self) -> &'static str {
        match self {
            DoorState::Locked => "locked",
            DoorState::Unlocked => "unlocked",
            DoorState::Open => "open",
            DoorState::Closed => "closed",
            DoorState::Jammed => "jammed",
            DoorState::JamCleared => "jam_cleared",
            DoorState::Offline => "offline",
            DoorState::Online => "online",
            DoorState::BatteryLow => "battery_low",
        }
    }
}

/// How far a remote command got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandStatus {
    /// Recorded and sent to the lock.
    Sent,
    /// The lock reported the position the command asked for.
    Confirmed,
    /// It could not be sent, or the lock refused it.
    Failed,
    /// The lock has not reported within the wait; a late report still confirms it.
    Unconfirmed,
    /// Zigbee2MQTT said the lock refused a command (it names no command).
    Rejected,
}

impl CommandStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandStatus::Sent => "sent",
            CommandStatus::Confirmed => "confirmed",
            CommandStatus::Failed => "failed",
            CommandStatus::Unconfirmed => "unconfirmed",
            CommandStatus::Rejected => "rejected",
        }
    }
}

/// What one live event says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveKind {
    /// A door's state changed (`battery`: the percentage, for a low battery when reported).
    Door {
        door_id: DoorId,
        state: DoorState,
        battery: Option<i64>,
    },
    /// A remote command's progress.
    Command {
        door_id: DoorId,
        command_id: Option<i64>,
        action: Option<RemoteAction>,
        status: CommandStatus,
        /// Why it failed, or what the lock said.
        detail: Option<String>,
    },
    /// An alarm that is not a door state: forced entry, duress, too many wrong codes, a door
    /// left open…
    Alarm {
        door_id: DoorId,
        alarm: String,
        severity: String,
    },
    /// A code slot of a door's lock changed as the lock confirmed it (`set`, `removed`), or
    /// could not be (`failed`, `lost`): what a move-out receipt waits for. The credential is
    /// named by id, never its code.
    Slot {
        door_id: DoorId,
        slot: i64,
        credential_id: Option<i64>,
        status: String,
    },
    /// A step of a lockout case (`lockout.proven` → `proven`); its details are read with the
    /// case.
    Case {
        case_id: LockoutCaseId,
        step: String,
    },
    /// Staff acknowledged a group of alarms (`alarm_id` is the group's, as the alarms API
    /// names it); who and the note are read with the alarms.
    AlarmAcknowledged { alarm_id: i64, alarms: i64 },
}

/// A live event: the log event's `seq` and time, and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveEvent {
    pub seq: i64,
    pub at: jiff::Timestamp,
    pub kind: LiveKind,
}

/// Why a stream starts over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetReason {
    /// The id asked for is more than [`REPLAY_MAX`] log events old.
    TooOld,
    /// The id asked for is not one this server gave (ahead of its log, or negative).
    Unknown,
}

/// Why a stream ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The session or token was revoked (or signed out).
    Revoked,
    /// The session expired, or the account is gone.
    Expired,
}

/// What a stream yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveItem {
    Event(LiveEvent),
    /// Some events could not be replayed: read the current state again. Live events follow.
    Reset(ResetReason),
    /// The last item: the caller may no longer read.
    End(EndReason),
}

fn door_of(subject: &str) -> Option<DoorId> {
    subject.strip_prefix("door:")?.parse().ok().map(DoorId)
}

fn str_field(e: &Event, key: &str) -> Option<String> {
    e.data.get(key)?.as_str().map(str::to_owned)
}

/// What a log event says to a live client, if anything.
pub fn classify(e: &Event) -> Option<LiveKind> {
    if e.kind == "alarm.acknowledged" {
        return Some(LiveKind::AlarmAcknowledged {
            alarm_id: e.subject.strip_prefix("alarm:")?.parse().ok()?,
            alarms: e
                .data
                .get("alarms")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(1),
        });
    }
    if let Some(case) = e.subject.strip_prefix("lockout:") {
        let step = e.kind.strip_prefix("lockout.")?;
        return Some(LiveKind::Case {
            case_id: LockoutCaseId(case.parse().ok()?),
            step: step.to_owned(),
        });
    }
    let door_id = door_of(&e.subject)?;
    let door = |state| {
        Some(LiveKind::Door {
            door_id,
            state,
            battery: e.data.get("battery").and_then(serde_json::Value::as_i64),
        })
    };
    let action = || match e.data.get("action").and_then(|a| a.as_str()) {
        Some("lock") => Some(RemoteAction::Lock),
        Some("unlock") => Some(RemoteAction::Unlock),
        _ => None,
    };
    let command_id = e.data.get("command").and_then(serde_json::Value::as_i64);
    let slot = |status: &str| {
        Some(LiveKind::Slot {
            door_id,
            slot: e.data.get("slot").and_then(serde_json::Value::as_i64)?,
            credential_id: e
                .data
                .get("credential_id")
                .and_then(serde_json::Value::as_i64),
            status: status.to_owned(),
        })
    };
    match e.kind.as_str() {
        "lock.locked" => door(DoorState::Locked),
        "lock.unlocked" => door(DoorState::Unlocked),
        "door.opened" => door(DoorState::Open),
        "door.closed" => door(DoorState::Closed),
        "lock.online" => door(DoorState::Online),
        "lock.slot_set" => slot(
            match e.data.get("held").and_then(serde_json::Value::as_str) {
                Some("assumed") => "assumed",
                _ => "set",
            },
        ),
        "lock.slot_removed" => slot("removed"),
        "lock.slot_failed" => slot("failed"),
        "lock.slot_lost" => slot("lost"),
        "lock.jammed" => door(DoorState::Jammed),
        "lock.jam_cleared" => door(DoorState::JamCleared),
        "lock.alarm" => {
            let alarm = str_field(e, "alarm").unwrap_or_default();
            match alarm.as_str() {
                "jammed" => door(DoorState::Jammed),
                "offline" => door(DoorState::Offline),
                "low_battery" => door(DoorState::BatteryLow),
                _ => Some(LiveKind::Alarm {
                    door_id,
                    severity: str_field(e, "severity").unwrap_or_default(),
                    alarm,
                }),
            }
        }
        kind => {
            let status = match kind.strip_prefix("lock.command_") {
                Some("confirmed") => CommandStatus::Confirmed,
                Some("failed") => CommandStatus::Failed,
                Some("unconfirmed") => CommandStatus::Unconfirmed,
                Some("rejected") => CommandStatus::Rejected,
                // Every command's own event (a resident's, an emergency, an opening under an
                // entry notice or for a lockout case) names the command it recorded.
                _ if command_id.is_some() => CommandStatus::Sent,
                _ => return None,
            };
            Some(LiveKind::Command {
                door_id,
                command_id,
                action: action(),
                status,
                detail: str_field(e, "detail").or_else(|| str_field(e, "error")),
            })
        }
    }
}

/// The process's follower and the channel it feeds.
pub(crate) struct Hub {
    tx: broadcast::Sender<Arc<Event>>,
    wake: Arc<Notify>,
    started: OnceCell<()>,
}

impl Hub {
    pub(crate) fn new() -> Hub {
        Hub {
            tx: broadcast::channel(BUFFER).0,
            wake: Arc::new(Notify::new()),
            started: OnceCell::new(),
        }
    }

    /// After a commit of this process: look now rather than at the next poll.
    pub(crate) fn committed(&self) {
        self.wake.notify_one();
    }
}

/// Turns the store's waker (`NOTIFY latchkey_events`, or SQLite's poll) into wake-ups of the
/// follower, on a task of its own: the listener's receive is never cancelled midway by a
/// wake-up from this process's commits. Stops when the follower is gone.
async fn listen(mut waker: latchkey_store::feed::Waker, wake: Weak<Notify>) {
    loop {
        waker.wait().await;
        let Some(wake) = wake.upgrade() else { return };
        wake.notify_one();
    }
}

/// Reads the log after `last` whenever woken, and sends every event on. Stops when the app is
/// gone.
async fn follow(app: Weak<Inner>, wake: Arc<Notify>, mut last: i64) {
    loop {
        wake.notified().await;
        let Some(inner) = app.upgrade() else { return };
        loop {
            let read = async {
                let mut conn = inner.store.read().await?;
                audit::after(&mut conn, last, PAGE).await
            }
            .await;
            match read {
                Ok(rows) => {
                    let full = rows.len() as i64 == PAGE;
                    for e in rows {
                        last = e.seq;
                        inner.bridge.answer_from_log(&e);
                        inner.readiness.observe(&e);
                        // Nobody listening is fine.
                        let _ = inner.live.tx.send(Arc::new(e));
                    }
                    if !full {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading new events for live streams failed; retrying");
                    break;
                }
            }
        }
    }
}

/// What one caller may see of the live events: the events API's rule for commands and alarms
/// (`Visibility`), the doors whose state the caller may read for door states (the doors of
/// their home page, every door of a property they staff), and the cases they may read.
struct View {
    log: Visibility,
    /// Doors at the properties the caller does not staff whose state they may read.
    doors: BTreeSet<DoorId>,
    cases: HashMap<LockoutCaseId, bool>,
}

impl View {
    async fn of(app: &App, who: &Principal) -> Result<View> {
        let mut conn = app.store().read().await?;
        let log = Visibility::of(&mut conn, who, None).await?;
        let mut doors = BTreeSet::new();
        for p in &log.others {
            let m = who.member(*p)?;
            doors.extend(member_doors(&mut conn, &m).await?);
        }
        Ok(View {
            log,
            doors,
            cases: HashMap::new(),
        })
    }

    fn staffs(&self, property: Option<PropertyId>) -> bool {
        self.log.all || property.is_some_and(|p| self.log.staff.contains(&p))
    }

    async fn admits(
        &mut self,
        app: &App,
        who: &Principal,
        e: &Event,
        kind: &LiveKind,
    ) -> Result<bool> {
        Ok(match kind {
            // Staff follow a unit's door only as far as the log's rule lets them read its
            // events: its alarms and faults, not its household's comings and goings.
            LiveKind::Door { door_id, .. } => {
                (self.staffs(e.property_id) && self.log.admits(e)) || self.doors.contains(door_id)
            }
            LiveKind::Command { .. } | LiveKind::Alarm { .. } | LiveKind::Slot { .. } => {
                self.log.admits(e)
            }
            // The property's staff, who read its alarms.
            LiveKind::AlarmAcknowledged { .. } => self.staffs(e.property_id),
            LiveKind::Case { case_id, .. } => match self.cases.get(case_id) {
                Some(may) => *may,
                None => {
                    let mut conn = app.store().read().await?;
                    let case = case_repo::get_case(&mut conn, *case_id).await?;
                    let may = match case {
                        None => false,
                        Some(c) if app.may_see_case(who, &c) => true,
                        // A spare-key holder of the unit follows the case once it is proven;
                        // not remembered before, so the proof's own event finds them.
                        Some(c) => {
                            let proven = matches!(c.state.as_str(), "proven" | "resolved");
                            let keys = match c.property_id {
                                Some(p) if proven => {
                                    spare_keys::list_spare_keys(&mut conn, p, c.unit_id).await?
                                }
                                _ => Vec::new(),
                            };
                            if !who.follows_case(&c, &keys, proven) {
                                return Ok(false);
                            }
                            true
                        }
                    };
                    self.cases.insert(*case_id, may);
                    may
                }
            },
        })
    }
}

/// Events that change who may see what: the view is read again after them.
fn changes_views(e: &Event) -> bool {
    ["membership.", "unit.", "door_group.", "person."]
        .iter()
        .any(|p| e.kind.starts_with(p))
        || matches!(e.kind.as_str(), "door.created" | "door.updated")
}

/// One caller's live events, in order; see the module's description.
pub struct LiveStream {
    app: App,
    who: Principal,
    view: View,
    rx: broadcast::Receiver<Arc<Event>>,
    /// The newest log event this stream has dealt with.
    last: i64,
    queue: VecDeque<LiveItem>,
    checked: Instant,
    over: bool,
}

impl App {
    /// Starts this process's follower of the log, once (streams need it; so do remote commands
    /// when another replica may ingest the lock's answer, see
    /// [`App::hear_answers_from_other_replicas`]).
    ///
    /// # Errors
    /// `Store` when the log cannot be read.
    pub(crate) async fn follow_log(&self) -> Result<()> {
        let hub = &self.inner.live;
        hub.started
            .get_or_try_init(|| async {
                let waker = self.store().events_waker().await?;
                let mut conn = self.store().read().await?;
                let (head, _) = audit::read_head(&mut conn).await?;
                self.inner.readiness.start(head);
                tokio::spawn(listen(waker, Arc::downgrade(&hub.wake)));
                tokio::spawn(follow(Arc::downgrade(&self.inner), hub.wake.clone(), head));
                Ok::<(), AppError>(())
            })
            .await?;
        Ok(())
    }

    /// Starts a live stream for `who`. With `after` (the last event id a client saw), the
    /// events it missed since are sent first, up to [`REPLAY_MAX`] log events back; an older
    /// or unknown id starts with a [`LiveItem::Reset`].
    ///
    /// # Errors
    /// `Store` when the log cannot be read.
    pub async fn live(&self, who: Principal, after: Option<i64>) -> Result<LiveStream> {
        let hub = &self.inner.live;
        self.follow_log().await?;
        // Subscribed before the head is read: whatever commits after it reaches this stream.
        let rx = hub.tx.subscribe();
        let head = {
            let mut conn = self.store().read().await?;
            audit::read_head(&mut conn).await?.0
        };
        let view = View::of(self, &who).await?;
        let mut stream = LiveStream {
            app: self.clone(),
            who,
            view,
            rx,
            last: head,
            queue: VecDeque::new(),
            checked: Instant::now(),
            over: false,
        };
        match after {
            None => {}
            Some(a) if a < 0 || a > head => stream
                .queue
                .push_back(LiveItem::Reset(ResetReason::Unknown)),
            Some(a) => {
                stream.last = a;
                stream.catch_up().await?;
            }
        }
        Ok(stream)
    }
}

impl LiveStream {
    /// The id of the newest log event this stream has dealt with (sent or not the caller's).
    pub fn position(&self) -> i64 {
        self.last
    }

    /// The next item. After [`LiveItem::End`] nothing more comes (`None`).
    ///
    /// # Errors
    /// `Store` when the log cannot be read.
    pub async fn next(&mut self) -> Result<Option<LiveItem>> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                if matches!(item, LiveItem::End(_)) {
                    self.over = true;
                    self.queue.clear();
                }
                return Ok(Some(item));
            }
            if self.over {
                return Ok(None);
            }
            if self.checked.elapsed() >= RECHECK {
                self.recheck().await?;
                continue;
            }
            let left = RECHECK.saturating_sub(self.checked.elapsed());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Err(_) => {}
                Ok(Ok(e)) if e.seq <= self.last => {}
                Ok(Ok(e)) if e.seq == self.last + 1 => self.handle(&e).await?,
                // A gap (the follower started after this stream) or a stream that fell behind
                // the buffer: the log has everything.
                Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                    self.catch_up().await?
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => {
                    return Err(AppError::Internal("the live event follower stopped".into()));
                }
            }
        }
    }

    /// Reads the caller's grant again: ends the stream when it is gone, else refreshes the view.
    async fn recheck(&mut self) -> Result<()> {
        self.checked = Instant::now();
        match self.app.recheck(&self.who).await {
            Ok(who) => {
                self.view = View::of(&self.app, &who).await?;
                self.who = who;
            }
            Err(AppError::Unauthenticated(_)) => {
                self.queue.push_back(LiveItem::End(EndReason::Expired));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Deals with the log's events after `last` from the log itself, at most [`REPLAY_MAX`].
    async fn catch_up(&mut self) -> Result<()> {
        let rows = {
            let mut conn = self.app.store().read().await?;
            audit::after(&mut conn, self.last, REPLAY_MAX + 1).await?
        };
        if rows.len() as i64 > REPLAY_MAX {
            let mut conn = self.app.store().read().await?;
            self.last = audit::read_head(&mut conn).await?.0;
            self.queue.push_back(LiveItem::Reset(ResetReason::TooOld));
            return Ok(());
        }
        for e in &rows {
            if self.over || self.queue.iter().any(|i| matches!(i, LiveItem::End(_))) {
                break;
            }
            self.handle(e).await?;
        }
        Ok(())
    }

    async fn handle(&mut self, e: &Event) -> Result<()> {
        self.last = e.seq;
        let mine = match self.who.via() {
            Via::Session(id) => {
                e.kind == "auth.session_revoked" && e.subject == format!("session:{id}")
            }
            Via::ApiToken(id) => {
                e.kind == "auth.token_revoked" && e.subject == format!("token:{id}")
            }
            Via::Terminal => false,
        };
        if mine {
            self.queue.push_back(LiveItem::End(EndReason::Revoked));
            return Ok(());
        }
        if changes_views(e) {
            self.recheck().await?;
        }
        if let Some(kind) = classify(e)
            && self.view.admits(&self.app, &self.who, e, &kind).await?
        {
            self.queue.push_back(LiveItem::Event(LiveEvent {
                seq: e.seq,
                at: e.at,
                kind,
            }));
        }
        Ok(())
    }
}
