//! The device bridge: the one place where MQTT meets the application. It subscribes to the
//! Zigbee2MQTT base topic, parses every message with `latchkey-z2m` (hostile input is counted,
//! logged once per device and dropped), hands batches to [`App::ingest`], and acknowledges
//! QoS 1 messages only after the batch is committed — a message is never acknowledged before it
//! is durable. It also gives the app its [`DevicePort`] ([`BridgePort`]): the reconciler is told
//! through it what changed, and the app's lock commands, in the core's vocabulary
//! (`latchkey_core::lock`), go through it to the MQTT session, translated to Zigbee2MQTT's
//! ([`zigbee`]).
//!
//! [`hass`] is the other side of the same bridge: Home Assistant's MQTT discovery, state and
//! commands, through the same use cases.
//!
//! Depends on `latchkey-app`, `latchkey-core` (ids), `latchkey-mqtt` and `latchkey-z2m`; nothing
//! depends on it but the binary.

pub mod hass;
pub mod zigbee;
pub mod zwave;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use latchkey_app::devices::reconcile::{self, Input, Notifier};
use latchkey_app::devices::{AskWhy, IngestItem};
use latchkey_app::{App, DevicePort};
use latchkey_core::lock::{DeviceAddress, LockCommand};
use latchkey_core::{CredentialId, DoorId};
use latchkey_mqtt::{ConnState, Inbound, QoS, SessionHandle};
use latchkey_z2m::{Limits, ParseError, Topics, parse_inbound};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};

/// Counters a person can read to see what the bridge dropped and why.
#[derive(Debug, Default)]
pub struct BridgeStats {
    pub received: AtomicU64,
    pub applied: AtomicU64,
    pub duplicates: AtomicU64,
    pub rejected: AtomicU64,
    pub unknown_devices: AtomicU64,
    pub ignored_topics: AtomicU64,
    pub batches: AtomicU64,
    pub commands_sent: AtomicU64,
}

/// Sends commands through the MQTT session.
pub struct MqttLink {
    handle: SessionHandle,
    topics: Topics,
    qos: QoS,
    state: watch::Receiver<ConnState>,
    stats: Arc<BridgeStats>,
}

impl MqttLink {
    pub fn new(
        handle: SessionHandle,
        topics: Topics,
        qos: QoS,
        stats: Arc<BridgeStats>,
    ) -> MqttLink {
        let state = handle.state();
        MqttLink {
            handle,
            topics,
            qos,
            state,
            stats,
        }
    }
}

impl MqttLink {
    /// Publishes the Zigbee2MQTT commands that carry out `command` for the device `name`, and
    /// stops at the first that cannot be queued.
    ///
    /// # Errors
    /// A sentence saying why: the name is not addressable, the command cannot be encoded, or
    /// the session cannot take it (the broker is unreachable).
    pub fn send(&self, name: &str, command: &LockCommand) -> Result<(), String> {
        for c in zigbee::commands(command) {
            let (topic, payload) = c
                .encode(&self.topics, name)
                .map_err(|e| format!("cannot address `{name}`: {e}"))?;
            self.handle
                .try_publish(topic, payload, self.qos, false)
                .map_err(|e| e.to_string())?;
            self.stats.commands_sent.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Whether the session is connected to the broker.
    pub fn connected(&self) -> bool {
        matches!(*self.state.borrow(), ConnState::Connected)
    }
}

/// The app's device port when a bridge runs: it tells the reconciler what changed, and sends
/// commands through the MQTT session once [`BridgePort::connect`] has given it one. The port is
/// made before the app (which is built with it) and the session after it, because the embedded
/// broker asks the app who may log in; until then a command is refused as not sent, which the
/// reconciler treats as a broker outage (it delays, it uses up no attempt).
pub struct BridgePort {
    notifier: Notifier,
    link: OnceLock<MqttLink>,
    /// The Z-Wave gateway's session, when one is configured: every `zwave/<node>` address
    /// goes there (docs/DEVICES.md, "Z-Wave JS UI").
    zwave: OnceLock<zwave::link::ZwaveLink>,
}

impl BridgePort {
    /// A port, and the receiver to hand to [`reconcile::run`].
    pub fn new() -> (Arc<BridgePort>, mpsc::UnboundedReceiver<Input>) {
        let (notifier, rx) = reconcile::channel();
        (
            Arc::new(BridgePort {
                notifier,
                link: OnceLock::new(),
                zwave: OnceLock::new(),
            }),
            rx,
        )
    }

    /// Gives the port its MQTT session. Only the first call takes effect.
    pub fn connect(&self, link: MqttLink) {
        let _ = self.link.set(link);
    }

    /// Gives the port its Z-Wave gateway session. Only the first call takes effect.
    pub fn connect_zwave(&self, link: zwave::link::ZwaveLink) {
        let _ = self.zwave.set(link);
    }
}

impl DevicePort for BridgePort {
    fn desired_state_changed(&self, door: DoorId) {
        self.notifier.desired_state_changed(door);
    }

    fn credential_changed(&self, credential: CredentialId, doors: &[DoorId]) {
        self.notifier.credential_changed(credential, doors);
    }

    fn drives_devices(&self) -> bool {
        true
    }

    fn connected(&self) -> bool {
        self.link.get().is_some_and(MqttLink::connected)
            || self
                .zwave
                .get()
                .is_some_and(zwave::link::ZwaveLink::connected)
    }

    fn send(&self, device: &str, command: &LockCommand) -> Result<(), String> {
        let node = DeviceAddress::parse(device)
            .ok()
            .and_then(|a| zwave::translate::node_of(&a));
        match (node, self.link.get(), self.zwave.get()) {
            (Some(node), _, Some(z)) => z.send(node, command),
            (Some(_), _, None) => Err(format!(
                "`{device}` is a Z-Wave lock and no Z-Wave gateway is configured"
            )),
            (None, Some(link), _) => link.send(device, command),
            (None, None, _) => Err("the MQTT session has not started yet".to_owned()),
        }
    }
}

/// Options of the ingestion loop.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    pub topics: Topics,
    pub limits: Limits,
    /// Most messages applied in one transaction.
    pub batch_max: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            topics: Topics::default(),
            limits: Limits::DEFAULT,
            batch_max: 1_000,
        }
    }
}

/// How far apart [`run_asker`] sends its `get`s: 20 locks a second, so a building of 500 locks
/// is asked in 25 s and its Zigbee network never sees a burst.
pub const ASK_SPACING: Duration = Duration::from_millis(50);

/// Asks every paired lock for its state each time the session connects: the first time as
/// `start`, every later time as `reconnect` (docs/DEVICES.md, "After an outage, ask"). Runs
/// until the session closes.
pub async fn run_asker(app: App, mut state: watch::Receiver<ConnState>, spacing: Duration) {
    let mut why = AskWhy::Start;
    loop {
        let connected = state.wait_for(|s| matches!(s, ConnState::Connected | ConnState::Closed));
        match connected.await.map(|s| s.clone()) {
            Ok(ConnState::Connected) => {}
            _ => return,
        }
        // Asked in the background: a disconnect during a long round must not be missed.
        let round = {
            let app = app.clone();
            tokio::spawn(async move {
                if let Err(e) = app.ask_locks(why, spacing).await {
                    tracing::error!(error = %e, why = why.as_str(), "asking the locks for their state failed");
                }
            })
        };
        let lost =
            state.wait_for(|s| matches!(s, ConnState::Disconnected { .. } | ConnState::Closed));
        let closed = !matches!(
            lost.await.map(|s| s.clone()),
            Ok(ConnState::Disconnected { .. })
        );
        // A round cut off by the disconnect starts over after the reconnect.
        round.abort();
        if closed {
            return;
        }
        why = AskWhy::Reconnect;
    }
}

/// The identity used to apply a message once. Zigbee2MQTT's `last_seen` (an option worth
/// enabling) makes every message unique; without it, two identical reports in a row are
/// indistinguishable from a redelivery, so only messages that carry it are deduplicated.
fn identity(topic: &str, payload: &[u8]) -> Option<[u8; 32]> {
    let has_last_seen = payload.windows(11).any(|w| w == b"\"last_seen\"");
    has_last_seen.then(|| {
        let mut h = Sha256::new();
        h.update(topic.as_bytes());
        h.update([0]);
        h.update(payload);
        h.finalize().into()
    })
}

/// The device a topic is about, for logging a rejection once per device.
fn device_of<'a>(topics: &Topics, topic: &'a str) -> &'a str {
    topic
        .strip_prefix(topics.base())
        .and_then(|t| t.strip_prefix('/'))
        .map_or(topic, |rest| rest.rsplit_once('/').map_or(rest, |(d, _)| d))
}

/// Receives, parses, applies and acknowledges device messages until the session ends.
pub async fn run_ingest(
    app: App,
    mut rx: mpsc::Receiver<Inbound>,
    handle: SessionHandle,
    opts: IngestOptions,
    stats: Arc<BridgeStats>,
) {
    let mut logged: HashMap<String, ParseError> = HashMap::new();
    while let Some(first) = rx.recv().await {
        let mut raw = vec![first];
        while raw.len() < opts.batch_max {
            match rx.try_recv() {
                Ok(m) => raw.push(m),
                Err(_) => break,
            }
        }
        stats
            .received
            .fetch_add(raw.len() as u64, Ordering::Relaxed);
        let mut items = Vec::with_capacity(raw.len());
        let mut acks = Vec::with_capacity(raw.len());
        for m in raw {
            if let Some(a) = m.ack {
                acks.push(a);
            }
            match parse_inbound(&opts.topics, &m.topic, &m.payload, &opts.limits) {
                Ok(Some(message)) => items.push(IngestItem {
                    identity: identity(&m.topic, &m.payload),
                    message: zigbee::message(message),
                }),
                Ok(None) => {
                    stats.ignored_topics.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    stats.rejected.fetch_add(1, Ordering::Relaxed);
                    let device = device_of(&opts.topics, &m.topic).to_owned();
                    if logged.len() < 10_000 && !logged.contains_key(&device) {
                        tracing::warn!(%device, topic = %m.topic, error = %e, "ignoring a malformed device message (logged once per device)");
                        logged.insert(device, e);
                    }
                }
            }
        }
        let mut delay = Duration::from_millis(200);
        let mut applied = false;
        for attempt in 1..=5 {
            let batch: Vec<IngestItem> = items
                .iter()
                .map(|i| IngestItem {
                    identity: i.identity,
                    message: i.message.clone(),
                })
                .collect();
            let started = std::time::Instant::now();
            match app.ingest(batch).await {
                Ok(s) => {
                    tracing::debug!(
                        messages = items.len(),
                        applied = s.applied,
                        ms = started.elapsed().as_secs_f64() * 1e3,
                        "device messages ingested"
                    );
                    stats.applied.fetch_add(s.applied as u64, Ordering::Relaxed);
                    stats
                        .duplicates
                        .fetch_add(s.duplicates as u64, Ordering::Relaxed);
                    stats
                        .unknown_devices
                        .fetch_add(s.unknown_devices as u64, Ordering::Relaxed);
                    stats.batches.fetch_add(1, Ordering::Relaxed);
                    applied = true;
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, attempt, "applying device messages failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
        if !applied {
            // Not acknowledged: the broker delivers these again when the session reconnects.
            tracing::error!(
                messages = items.len(),
                "device messages left unacknowledged for redelivery"
            );
            continue;
        }
        for a in acks {
            if handle.ack(a).await.is_err() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_messages_with_last_seen_have_an_identity() {
        assert!(identity("z/lock", br#"{"state":"LOCK"}"#).is_none());
        let a = identity(
            "z/lock",
            br#"{"state":"LOCK","last_seen":"2026-11-26T10:00:00.001Z"}"#,
        );
        let b = identity(
            "z/lock",
            br#"{"state":"LOCK","last_seen":"2026-11-26T10:00:00.002Z"}"#,
        );
        assert!(a.is_some() && a != b);
        assert_eq!(
            a,
            identity(
                "z/lock",
                br#"{"state":"LOCK","last_seen":"2026-11-26T10:00:00.001Z"}"#
            )
        );
    }

    #[test]
    fn rejections_are_filed_under_their_device() {
        let t = Topics::default();
        assert_eq!(
            device_of(&t, "zigbee2mqtt/front door/availability"),
            "front door"
        );
        assert_eq!(device_of(&t, "zigbee2mqtt/front_door"), "front_door");
    }
}
