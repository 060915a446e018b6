//! Home Assistant: latchkey's doors announced by MQTT discovery, their state kept current, and
//! lock and unlock commands from Home Assistant run through latchkey's own authorization and
//! audit (docs/OPERATIONS.md, "Home Assistant"; docs/ARCHITECTURE.md, decisions 57 and 58).
//!
//! Home Assistant acts as one **service account**: an API token of a person latchkey knows
//! (`latchkey home-assistant account` makes one). The doors announced are the doors that
//! person's home page lists; every command is that person's remote command, checked by
//! [`App::may_remote_command`] against the token as it stands at that moment (a revoked token
//! or an ended membership refuses the next command), sent and confirmed by
//! [`App::remote_command`] exactly as one from the API. A refused command changes nothing and is
//! recorded as `lock.command_refused`.
//!
//! One task owns the loop: it announces and re-reads the doors every `resync` (and when Home
//! Assistant says it started), follows the account's live events for state, and hands each
//! command to a task of its own so a lock's slow answer never holds the others up.

pub mod discovery;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use latchkey_app::authz::Principal;
use latchkey_app::devices::RemoteAction;
use latchkey_app::live::{CommandStatus, DoorState, LiveItem, LiveKind, LiveStream};
use latchkey_app::pages::DoorCondition;
use latchkey_app::store::auth::GrantKind;
use latchkey_app::{App, AppError};
use latchkey_core::DoorId;
use latchkey_mqtt::{ConnState, Inbound, QoS, SessionHandle};
use tokio::sync::mpsc;

use discovery::{AlarmEvent, OFFLINE, ONLINE, PAYLOAD_LOCK, PAYLOAD_UNLOCK};
pub use discovery::{DoorInfo, Entity, HassTopics, LockState};

/// A topic filter and its QoS, as a session subscribes to it.
pub type Filter = (String, QoS);

/// The `via` latchkey records for a command that came from Home Assistant.
pub const VIA: &str = "home_assistant";

/// How the Home Assistant link runs.
#[derive(Clone)]
pub struct HassOptions {
    pub topics: HassTopics,
    /// The service account's API token (`lkt_…`). Never logged.
    pub token: String,
    /// How often the doors are read again (pairings, names, battery); live events carry the
    /// rest at once.
    pub resync: Duration,
    /// How long a command waits for the lock's confirmation.
    pub command_wait: Duration,
    pub qos: QoS,
}

impl std::fmt::Debug for HassOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HassOptions")
            .field("topics", &self.topics)
            .field("token", &"****")
            .field("resync", &self.resync)
            .field("command_wait", &self.command_wait)
            .finish()
    }
}

/// The subscriptions the link's session needs, as (shared, unshared): the command topics,
/// shared among replicas so that each command is carried out once; Home Assistant's birth
/// message and this latchkey's own retained configurations (to take back what an earlier run
/// announced), which every replica reads itself (a shared subscription gets no retained
/// message).
pub fn subscriptions(topics: &HassTopics) -> (Vec<Filter>, Vec<Filter>) {
    (
        vec![(topics.command_filter(), QoS::AtLeastOnce)],
        vec![
            (topics.ha_status(), QoS::AtLeastOnce),
            (topics.config_filter(), QoS::AtLeastOnce),
        ],
    )
}

/// What was last published for a door.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Published {
    name: String,
    lock: Option<LockState>,
    online: bool,
    open: Option<bool>,
    battery: Option<i64>,
}

struct Link {
    app: App,
    handle: SessionHandle,
    opts: HassOptions,
    doors: BTreeMap<DoorId, Published>,
    /// Configuration topics seen on the broker (retained from before, or our own echo).
    seen_configs: BTreeSet<String>,
    live: Option<LiveStream>,
    /// Doors whose state a finished command asks to publish again.
    again_tx: mpsc::Sender<DoorId>,
}

/// Runs the link until the session closes: announces the account's doors, keeps their state,
/// and carries out Home Assistant's commands.
pub async fn run(
    app: App,
    handle: SessionHandle,
    mut inbound: mpsc::Receiver<Inbound>,
    opts: HassOptions,
) {
    let mut state = handle.state();
    let (again_tx, mut again_rx) = mpsc::channel(64);
    let mut link = Link {
        app,
        handle,
        opts,
        doors: BTreeMap::new(),
        seen_configs: BTreeSet::new(),
        live: None,
        again_tx,
    };
    let mut tick = tokio::time::interval(link.opts.resync);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut was_connected = false;
    loop {
        tokio::select! {
            changed = state.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = state.borrow().clone();
                match now {
                    ConnState::Connected if !was_connected => {
                        was_connected = true;
                        // Retained state may have been lost with the broker: say it all again.
                        link.doors.clear();
                        link.resync().await;
                    }
                    ConnState::Connected => {}
                    ConnState::Closed => return,
                    _ => was_connected = false,
                }
            }
            _ = tick.tick() => link.resync().await,
            Some(door) = again_rx.recv() => link.publish_again(door).await,
            message = inbound.recv() => {
                let Some(m) = message else { return };
                link.inbound(m).await;
            }
            item = next_live(&mut link.live) => match item {
                Ok(Some(LiveItem::Event(e))) => link.live_event(e.kind),
                Ok(Some(LiveItem::Reset(_))) => link.resync().await,
                Ok(Some(LiveItem::End(_)) | None) => {
                    link.live = None;
                    link.resync().await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Home Assistant: following the live events failed; reading the doors again");
                    link.live = None;
                }
            },
        }
    }
}

/// The next live item, or never when there is no stream.
async fn next_live(live: &mut Option<LiveStream>) -> latchkey_app::Result<Option<LiveItem>> {
    match live {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// The account behind the token, as of now.
async fn account(app: &App, token: &str) -> latchkey_app::Result<Principal> {
    app.authenticate(GrantKind::ApiToken, token).await
}

impl Link {
    fn publish(&self, topic: String, payload: impl Into<Vec<u8>>, retain: bool) {
        if let Err(e) =
            self.handle
                .try_publish(topic.clone(), payload.into(), self.opts.qos, retain)
        {
            tracing::warn!(%topic, error = %e, "Home Assistant: a message could not be queued");
        }
    }

    /// Reads the account's doors and brings Home Assistant in line: new doors announced,
    /// changed ones announced again, gone ones (unpaired, or the account may no longer see them)
    /// removed, and every state published when it changed.
    async fn resync(&mut self) {
        if !matches!(*self.handle.state().borrow(), ConnState::Connected) {
            return;
        }
        self.publish(self.opts.topics.status(), ONLINE, true);
        let now = match self.current().await {
            Ok(doors) => doors,
            Err(e) => {
                // A failure is not an absence: keep what Home Assistant has until a read works.
                tracing::error!(error = %e, "Home Assistant: cannot read the account's doors");
                return;
            }
        };
        let gone: Vec<DoorId> = self
            .doors
            .keys()
            .filter(|d| !now.contains_key(d))
            .copied()
            .collect();
        for door in gone {
            self.remove(door);
        }
        for (door, status) in now {
            let info = DoorInfo {
                id: door,
                name: status.name.clone(),
            };
            let before = self.doors.get(&door).cloned();
            if before.as_ref().map(|b| &b.name) != Some(&status.name) {
                for entity in Entity::ALL {
                    match serde_json::to_vec(&self.opts.topics.entity_config(entity, &info)) {
                        Ok(body) => self.publish(self.opts.topics.config(entity, door), body, true),
                        Err(e) => {
                            tracing::error!(error = %e, "Home Assistant: a configuration did not encode")
                        }
                    }
                }
            }
            self.publish_state(door, before.as_ref(), &status);
            self.doors.insert(door, status);
        }
        self.take_back_strays();
    }

    /// The doors the account's home page lists that have a lock; `Ok(empty)` when the token
    /// no longer signs anyone in (revoked, or its person erased).
    async fn current(&mut self) -> latchkey_app::Result<BTreeMap<DoorId, Published>> {
        let who = match account(&self.app, &self.opts.token).await {
            Ok(who) => who,
            Err(AppError::Unauthenticated(why)) => {
                tracing::warn!(%why, "Home Assistant: the service account's token signs nobody in; its doors are withdrawn");
                self.live = None;
                return Ok(BTreeMap::new());
            }
            Err(e) => return Err(e),
        };
        let mut out = BTreeMap::new();
        for property in self.app.home(&who).await? {
            for d in property.doors {
                if d.door.lock_name.is_none() {
                    continue;
                }
                let lock = match d.position {
                    DoorCondition::Locked => Some(LockState::Locked),
                    DoorCondition::Unlocked => Some(LockState::Unlocked),
                    DoorCondition::Jammed => Some(LockState::Jammed),
                    _ => None,
                };
                out.insert(
                    d.door.id,
                    Published {
                        name: d.door.name.clone(),
                        lock,
                        online: d.position != DoorCondition::Offline,
                        open: d.door_open,
                        battery: d.battery,
                    },
                );
            }
        }
        if self.live.is_none() {
            self.live = Some(self.app.live(who, None).await?);
        }
        Ok(out)
    }

    /// Publishes what changed between `before` and `now` (everything without `before`).
    fn publish_state(&self, door: DoorId, before: Option<&Published>, now: &Published) {
        let t = &self.opts.topics;
        let changed = |f: &dyn Fn(&Published) -> String| before.is_none_or(|b| f(b) != f(now));
        if changed(&|p| p.online.to_string()) {
            let a = if now.online { ONLINE } else { OFFLINE };
            self.publish(t.door(door, "availability"), a, true);
        }
        if let Some(l) = now.lock
            && changed(&|p| format!("{:?}", p.lock))
        {
            self.publish(t.door(door, "lock"), l.payload(), true);
        }
        if let Some(o) = now.open
            && changed(&|p| format!("{:?}", p.open))
        {
            self.publish(t.door(door, "contact"), if o { "ON" } else { "OFF" }, true);
        }
        if let Some(b) = now.battery
            && changed(&|p| format!("{:?}", p.battery))
        {
            self.publish(t.door(door, "battery"), b.to_string(), true);
        }
    }

    /// Removes a door's entities (empty retained configurations) and its retained state.
    fn remove(&mut self, door: DoorId) {
        let t = self.opts.topics.clone();
        for entity in Entity::ALL {
            self.publish(t.config(entity, door), Vec::new(), true);
        }
        for leaf in ["availability", "lock", "contact", "battery"] {
            self.publish(t.door(door, leaf), Vec::new(), true);
        }
        self.doors.remove(&door);
    }

    /// Configurations an earlier run left on the broker for doors no longer announced.
    fn take_back_strays(&mut self) {
        let expected: BTreeSet<String> = self
            .doors
            .keys()
            .flat_map(|d| Entity::ALL.map(|e| self.opts.topics.config(e, *d)))
            .collect();
        let strays: Vec<String> = self
            .seen_configs
            .iter()
            .filter(|t| !expected.contains(*t))
            .cloned()
            .collect();
        for topic in strays {
            self.publish(topic.clone(), Vec::new(), true);
            self.seen_configs.remove(&topic);
        }
    }

    /// Reads one door again after a command that did not end where it started.
    async fn publish_again(&mut self, door: DoorId) {
        let Ok(now) = self.current().await else {
            return;
        };
        if let Some(status) = now.get(&door) {
            // Everything, as if new: the command's LOCKING/UNLOCKING must be replaced.
            self.publish_state(door, None, status);
            self.doors.insert(door, status.clone());
        }
    }

    async fn inbound(&mut self, m: Inbound) {
        let t = &self.opts.topics;
        if m.topic == t.ha_status() {
            if m.payload.as_ref() == ONLINE.as_bytes() {
                // Home Assistant started again: announce everything again.
                self.doors.clear();
                self.resync().await;
            }
            return;
        }
        if m.topic.ends_with("/config") {
            if m.payload.is_empty() {
                self.seen_configs.remove(&m.topic);
            } else {
                self.seen_configs.insert(m.topic);
            }
            return;
        }
        let Some(door) = t.door_of_command(&m.topic) else {
            return;
        };
        if m.retain {
            // A retained command would open the door again on every reconnect.
            tracing::warn!(topic = %m.topic, "Home Assistant: ignored a retained command");
            return;
        }
        let action = match m.payload.as_ref() {
            p if p == PAYLOAD_LOCK.as_bytes() => RemoteAction::Lock,
            p if p == PAYLOAD_UNLOCK.as_bytes() => RemoteAction::Unlock,
            _ => {
                tracing::warn!(topic = %m.topic, "Home Assistant: ignored a command that is neither LOCK nor UNLOCK");
                return;
            }
        };
        let (app, handle, opts, again) = (
            self.app.clone(),
            self.handle.clone(),
            self.opts.clone(),
            self.again_tx.clone(),
        );
        tokio::spawn(async move { command(app, handle, opts, door, action, again).await });
    }

    fn live_event(&mut self, kind: LiveKind) {
        match kind {
            LiveKind::Door {
                door_id,
                state,
                battery,
            } => {
                let Some(before) = self.doors.get(&door_id).cloned() else {
                    return;
                };
                let mut now = before.clone();
                match state {
                    DoorState::Locked => now.lock = Some(LockState::Locked),
                    DoorState::Unlocked => now.lock = Some(LockState::Unlocked),
                    DoorState::Jammed => {
                        now.lock = Some(LockState::Jammed);
                        self.alarm(door_id, "jammed", "critical");
                    }
                    DoorState::Open => now.open = Some(true),
                    DoorState::Closed => now.open = Some(false),
                    // The position that cleared it comes as its own event, to whoever may
                    // follow the door's locking.
                    DoorState::JamCleared => {}
                    DoorState::Offline => now.online = false,
                    DoorState::Online => now.online = true,
                    DoorState::BatteryLow => {
                        now.battery = battery.or(now.battery);
                        self.alarm(door_id, "low_battery", "warning");
                    }
                }
                // A command's LOCKING/UNLOCKING is not in `before`: publish the position even
                // when latchkey already knew it.
                let force_lock = matches!(state, DoorState::Locked | DoorState::Unlocked);
                let mut was = before;
                if force_lock {
                    was.lock = None;
                }
                self.publish_state(door_id, Some(&was), &now);
                self.doors.insert(door_id, now);
            }
            LiveKind::Alarm {
                door_id,
                alarm,
                severity,
            } if self.doors.contains_key(&door_id) => self.alarm(door_id, &alarm, &severity),
            LiveKind::Command {
                door_id,
                status: CommandStatus::Failed | CommandStatus::Unconfirmed | CommandStatus::Rejected,
                ..
            } => {
                let _ = self.again_tx.try_send(door_id);
            }
            _ => {}
        }
    }

    fn alarm(&self, door: DoorId, alarm: &str, severity: &str) {
        let Some(event_type) = discovery::event_type(alarm) else {
            return;
        };
        let event = AlarmEvent {
            event_type,
            severity: severity.to_owned(),
        };
        if let Ok(body) = serde_json::to_vec(&event) {
            // An event, not a state: never retained, or Home Assistant would fire it again on
            // every restart.
            self.publish(self.opts.topics.door(door, "alarm"), body, false);
        }
    }
}

/// Carries out one command from Home Assistant as the service account's remote command:
/// authorised now, recorded and sent, confirmed by the lock. A refusal is recorded
/// (`lock.command_refused`) and nothing is sent.
async fn command(
    app: App,
    handle: SessionHandle,
    opts: HassOptions,
    door: DoorId,
    action: RemoteAction,
    again: mpsc::Sender<DoorId>,
) {
    let who = match account(&app, &opts.token).await {
        Ok(who) => who,
        Err(e) => {
            tracing::warn!(%door, error = %e, "Home Assistant: a command was refused: the service account's token signs nobody in");
            return;
        }
    };
    let allowed = match app.may_remote_command(&who, door, action, None).await {
        Ok(allowed) => allowed,
        Err(e) => {
            tracing::warn!(%door, action = action.as_str(), reason = %e, "Home Assistant: a command was refused");
            let recorded = match &e {
                // Storage failures are logged, not recorded; a flood past the limit is not
                // written to the log one by one.
                AppError::Store(_) | AppError::Internal(_) | AppError::RateLimited { .. } => Ok(()),
                _ => {
                    app.record_refused_command(who.own_account(), door, action, VIA, &e.to_string())
                        .await
                }
            };
            if let Err(e) = recorded {
                tracing::error!(%door, error = %e, "Home Assistant: a refused command could not be recorded");
            }
            return;
        }
    };
    let moving = match action {
        RemoteAction::Lock => LockState::Locking,
        RemoteAction::Unlock => LockState::Unlocking,
    };
    if let Err(e) = handle.try_publish(
        opts.topics.door(door, "lock"),
        moving.payload(),
        opts.qos,
        true,
    ) {
        tracing::warn!(%door, error = %e, "Home Assistant: the command's progress could not be queued");
    }
    match app.remote_command(allowed, opts.command_wait).await {
        Ok(outcome) if outcome.status == "confirmed" => {}
        Ok(outcome) => {
            tracing::warn!(%door, status = %outcome.status, "Home Assistant: a command was not confirmed by the lock");
            let _ = again.send(door).await;
        }
        Err(e) => {
            tracing::warn!(%door, error = %e, "Home Assistant: a command could not be sent");
            let _ = again.send(door).await;
        }
    }
}
