//! A fleet of virtual devices behind one MQTT connection, the way one Zigbee2MQTT instance runs.
//!
//! Tasks (all owned by the task [`run`] returns):
//! - the MQTT event loop: reconnects with backoff, routes `<base>/<name>/set|get` and the control
//!   topics `latchkey-sim/<base>/<name>/<op>` to the devices, and on every connection announces the
//!   bridge (`bridge/state`, `bridge/devices`, availability);
//! - the publisher: the only caller of `AsyncClient::publish`, fed by an unbounded channel, so the
//!   event loop never waits on itself; while the broker is away, publishes are dropped and counted
//!   (Zigbee2MQTT does not queue device reports either);
//! - the ticker: actuation completion, auto-relock, keypad re-enable;
//! - the saver (with a state file): writes the slot tables after every change, atomically.
//!
//! The devices themselves live in memory behind a mutex, so keypad decisions go on with no broker,
//! and [`FleetHandle`] reads and drives them synchronously from tests.

mod bridge;
mod control;
mod state_file;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rumqttc::{
    AsyncClient, Event, EventLoop, Incoming, LastWill, MqttOptions, NetworkOptions, Outgoing, QoS,
    SubscribeFilter,
};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::lock::{Bolt, KeypadOutcome, LockConfig, LockStatus, Slot, VirtualLock};
use crate::message::{Message, Topic};
use crate::sensor::VirtualSensor;

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Everything [`run`] needs. `Default` gives a 10-lock demo fleet on `127.0.0.1:1883`.
#[derive(Clone, Debug)]
pub struct FleetConfig {
    /// Broker host.
    pub mqtt_host: String,
    /// Broker port.
    pub mqtt_port: u16,
    /// Optional broker user name.
    pub username: Option<String>,
    /// Optional broker password (used only with a user name).
    pub password: Option<String>,
    /// MQTT client id of the fleet's one connection.
    pub client_id: String,
    /// Zigbee2MQTT `mqtt.base_topic`.
    pub base_topic: String,
    /// Number of locks named `<lock_prefix><index>` (ignored when `names` is given).
    pub locks: usize,
    /// Prefix of generated lock names.
    pub lock_prefix: String,
    /// Explicit lock friendly names, instead of prefix + index.
    pub names: Option<Vec<String>>,
    /// Friendly names of door/window contact sensors.
    pub sensors: Vec<String>,
    /// Time from a command to the new position's report (0 for benchmarks: reported on receipt).
    pub actuation: Duration,
    /// PIN slots per lock.
    pub capacity: u16,
    /// QoS of state and event publishes (0, 1 or 2). Availability and bridge state always use 1.
    pub qos: u8,
    /// Publish availability and bridge state as plain `online`/`offline` (Zigbee2MQTT 1.x default).
    pub legacy_availability: bool,
    /// Where slot tables and settings survive the fleet's own restart.
    pub state_file: Option<PathBuf>,
    /// Battery percentage each actuation uses.
    pub battery_drain_per_actuation: f64,
    /// How often time-driven behaviour (actuation, auto-relock) is checked.
    pub tick_interval: Duration,
    /// MQTT keep-alive.
    pub keep_alive: Duration,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            mqtt_host: "127.0.0.1".into(),
            mqtt_port: 1883,
            username: None,
            password: None,
            client_id: "latchkey-sim".into(),
            base_topic: "zigbee2mqtt".into(),
            locks: 10,
            lock_prefix: "lock-".into(),
            names: None,
            sensors: Vec::new(),
            actuation: Duration::from_secs(2),
            capacity: 30,
            qos: 1,
            legacy_availability: false,
            state_file: None,
            battery_drain_per_actuation: 0.0,
            tick_interval: Duration::from_millis(50),
            keep_alive: Duration::from_secs(30),
        }
    }
}

impl FleetConfig {
    /// The lock friendly names this configuration yields, in order.
    pub fn lock_names(&self) -> Vec<String> {
        match &self.names {
            Some(names) => names.clone(),
            None => (0..self.locks)
                .map(|i| format!("{}{i}", self.lock_prefix))
                .collect(),
        }
    }
}

/// The control topic for one operation on one simulated device:
/// `latchkey-sim/<base>/<name>/<op>`. Ops: `keypad` (payload: PIN), `door` (`open`|`close`),
/// `manual` (`lock`|`unlock`|empty = toggle), `jam` (`on`|`off`), `battery` (percent), `offline`,
/// `online`, `duress` (`N` or `N off`), `force`.
pub fn control_topic(base_topic: &str, name: &str, op: &str) -> String {
    format!("latchkey-sim/{base_topic}/{name}/{op}")
}

/// Errors of the fleet and its handle.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// No device has this friendly name.
    #[error("no device named '{0}' in the fleet")]
    UnknownDevice(String),
    /// The device exists but is not a lock.
    #[error("'{0}' is a sensor, not a lock")]
    NotALock(String),
    /// The configuration cannot work (duplicate names, QoS above 2, no slots…).
    #[error("invalid fleet configuration: {0}")]
    Config(String),
    /// The state file could not be read or written.
    #[error("state file {path}: {source}")]
    StateFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The state file exists but is not a fleet state file.
    #[error("state file {path} is not valid: {source}")]
    StateFormat {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

/// Counters since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FleetStats {
    /// MQTT messages received.
    pub messages_in: u64,
    /// MQTT messages handed to the broker connection.
    pub messages_out: u64,
    /// Publishes dropped because the broker was away.
    pub dropped_while_disconnected: u64,
    /// `{"pin_code":""}` "read every slot" requests answered (one message per slot each).
    pub floods: u64,
    /// Successful connections to the broker (1 after start, +1 per reconnect).
    pub connects: u64,
}

#[derive(Clone, Copy, Debug)]
enum Dev {
    Lock(usize),
    Sensor(usize),
}

struct Devices {
    index: HashMap<String, Dev>,
    locks: Vec<VirtualLock>,
    sensors: Vec<VirtualSensor>,
}

impl Devices {
    fn find(&self, name: &str) -> Result<Dev, SimError> {
        self.index
            .get(name)
            .copied()
            .ok_or_else(|| SimError::UnknownDevice(name.to_owned()))
    }

    fn lock_index(&self, name: &str) -> Result<usize, SimError> {
        match self.find(name)? {
            Dev::Lock(i) => Ok(i),
            Dev::Sensor(_) => Err(SimError::NotALock(name.to_owned())),
        }
    }
}

enum Outbound {
    Publish {
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
    },
    Subscribe(Vec<SubscribeFilter>),
    Disconnect,
}

#[derive(Default)]
struct Counters {
    messages_in: AtomicU64,
    messages_out: AtomicU64,
    dropped: AtomicU64,
    connects: AtomicU64,
}

struct Shared {
    base: String,
    control_prefix: String,
    qos: QoS,
    legacy: bool,
    devices: Mutex<Devices>,
    out: mpsc::UnboundedSender<Outbound>,
    connected: watch::Sender<bool>,
    stopping: AtomicBool,
    stop: watch::Sender<bool>,
    stopped: watch::Sender<bool>,
    counters: Counters,
    state_file: Option<PathBuf>,
    save: Notify,
    /// Serialises snapshot-and-write, so that an older snapshot never lands after a newer one.
    save_lock: Mutex<()>,
}

/// In-process access to a running fleet. Cheap to clone.
#[derive(Clone)]
pub struct FleetHandle {
    shared: Arc<Shared>,
}

/// Starts the fleet: loads the state file if any, connects (retrying in the background), and
/// returns a handle plus the task that runs until [`FleetHandle::shutdown`].
///
/// # Errors
/// [`SimError::Config`] for an unusable configuration; [`SimError::StateFile`] or
/// [`SimError::StateFormat`] when the state file exists but cannot be read. An unreachable broker
/// is not an error: the fleet keeps retrying and works offline meanwhile.
/// Largest `bridge/devices` message the fleet publishes (the embedded broker takes 1 MiB).
const MAX_DEVICE_LIST_BYTES: usize = 900 * 1024;

pub async fn run(
    cfg: FleetConfig,
) -> Result<(FleetHandle, JoinHandle<Result<(), SimError>>), SimError> {
    let qos = match cfg.qos {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        2 => QoS::ExactlyOnce,
        n => return Err(SimError::Config(format!("qos must be 0, 1 or 2, not {n}"))),
    };
    if cfg.capacity == 0 {
        return Err(SimError::Config("a lock needs at least one slot".into()));
    }
    let devices = build_devices(&cfg)?;
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        base: cfg.base_topic.clone(),
        control_prefix: format!("latchkey-sim/{}/", cfg.base_topic),
        qos,
        legacy: cfg.legacy_availability,
        devices: Mutex::new(devices),
        out: out_tx,
        connected: watch::Sender::new(false),
        stopping: AtomicBool::new(false),
        stop: watch::Sender::new(false),
        stopped: watch::Sender::new(false),
        counters: Counters::default(),
        state_file: cfg.state_file.clone(),
        save: Notify::new(),
        save_lock: Mutex::new(()),
    });
    if let Some(path) = &cfg.state_file {
        state_file::load(path, &mut shared.devices())?;
    }

    let mut opts = MqttOptions::new(cfg.client_id.clone(), cfg.mqtt_host.clone(), cfg.mqtt_port);
    opts.set_keep_alive(cfg.keep_alive)
        .set_clean_session(true)
        .set_max_packet_size(1 << 20, 256 << 20)
        .set_last_will(LastWill::new(
            format!("{}/bridge/state", cfg.base_topic),
            shared.availability_bytes(false),
            QoS::AtLeastOnce,
            true,
        ));
    if let Some(user) = &cfg.username {
        opts.set_credentials(user.clone(), cfg.password.clone().unwrap_or_default());
    }
    let (client, mut eventloop) = AsyncClient::new(opts, 4096);
    let mut net = NetworkOptions::new();
    // Nagle meeting delayed ACK costs ≈ 44 ms per QoS 1 exchange (STACK-NOTES).
    net.set_tcp_nodelay(true);
    net.set_connection_timeout(5);
    eventloop.set_network_options(net);

    let handle = FleetHandle {
        shared: Arc::clone(&shared),
    };
    let tasks = vec![
        tokio::spawn(publisher(Arc::clone(&shared), client, out_rx)),
        tokio::spawn(ticker(Arc::clone(&shared), cfg.tick_interval)),
        tokio::spawn(saver(Arc::clone(&shared))),
    ];
    let main = tokio::spawn(async move {
        drive(&shared, &mut eventloop).await;
        for t in &tasks {
            t.abort();
        }
        let saved = shared.save_now();
        shared.connected.send_replace(false);
        shared.stopped.send_replace(true);
        saved
    });
    Ok((handle, main))
}

fn build_devices(cfg: &FleetConfig) -> Result<Devices, SimError> {
    let lock_cfg = LockConfig {
        capacity: cfg.capacity,
        actuation: cfg.actuation,
        battery_drain_per_actuation: cfg.battery_drain_per_actuation,
        ..LockConfig::default()
    };
    let mut devices = Devices {
        index: HashMap::new(),
        locks: Vec::new(),
        sensors: Vec::new(),
    };
    for name in cfg.lock_names() {
        let dev = Dev::Lock(devices.locks.len());
        if name.is_empty() || devices.index.insert(name.clone(), dev).is_some() {
            return Err(SimError::Config(format!(
                "device name '{name}' is empty or repeated"
            )));
        }
        devices.locks.push(VirtualLock::new(name, lock_cfg.clone()));
    }
    for name in &cfg.sensors {
        let dev = Dev::Sensor(devices.sensors.len());
        if name.is_empty() || devices.index.insert(name.clone(), dev).is_some() {
            return Err(SimError::Config(format!(
                "device name '{name}' is empty or repeated"
            )));
        }
        devices
            .sensors
            .push(VirtualSensor::new(name.clone(), lock_cfg.linkquality));
    }
    Ok(devices)
}

/// The event loop: connection, reconnection with backoff, incoming messages.
async fn drive(shared: &Arc<Shared>, eventloop: &mut EventLoop) {
    let mut stop = shared.stop.subscribe();
    let mut backoff = BACKOFF_MIN;
    loop {
        let event = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                backoff = BACKOFF_MIN;
                shared.counters.connects.fetch_add(1, Ordering::Relaxed);
                info!(base = %shared.base, "connected to the broker");
                shared.connected.send_replace(true);
                shared.announce();
            }
            Ok(Event::Incoming(Incoming::Publish(p))) => shared.on_publish(&p.topic, &p.payload),
            Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(e) => {
                if shared.stopping.load(Ordering::Relaxed) {
                    return;
                }
                if shared.connected.send_replace(false) {
                    warn!(error = %e, "lost the broker; devices keep working offline");
                } else {
                    debug!(error = %e, ?backoff, "broker unreachable");
                }
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// The only task that calls the client, so the event loop never blocks on its own request queue.
async fn publisher(
    shared: Arc<Shared>,
    client: AsyncClient,
    mut rx: mpsc::UnboundedReceiver<Outbound>,
) {
    while let Some(item) = rx.recv().await {
        if matches!(item, Outbound::Disconnect) {
            if let Err(e) = client.disconnect().await {
                debug!(error = %e, "disconnect request not delivered");
            }
            shared.stop.send_replace(true);
            continue;
        }
        if !*shared.connected.borrow() {
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let result = match item {
            Outbound::Publish {
                topic,
                payload,
                qos,
                retain,
            } => {
                let r = client.publish(topic, qos, retain, payload).await;
                if r.is_ok() {
                    shared.counters.messages_out.fetch_add(1, Ordering::Relaxed);
                }
                r
            }
            Outbound::Subscribe(filters) => client.subscribe_many(filters).await,
            Outbound::Disconnect => Ok(()),
        };
        if let Err(e) = result {
            warn!(error = %e, "MQTT request not queued");
        }
    }
}

async fn ticker(shared: Arc<Shared>, every: Duration) {
    let mut interval = tokio::time::interval(every.max(Duration::from_millis(1)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        let now = Instant::now();
        let mut devices = shared.devices();
        for lock in &mut devices.locks {
            if lock.next_deadline().is_some_and(|d| d <= now) {
                let msgs = lock.tick(now);
                shared.emit(lock.name(), msgs);
            }
        }
    }
}

async fn saver(shared: Arc<Shared>) {
    if shared.state_file.is_none() {
        return;
    }
    loop {
        shared.save.notified().await;
        let s = Arc::clone(&shared);
        let written = tokio::task::spawn_blocking(move || s.save_now()).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "could not save the fleet state"),
            Err(e) => warn!(error = %e, "state saver panicked"),
        }
    }
}

impl Shared {
    fn devices(&self) -> MutexGuard<'_, Devices> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Snapshots every lock and writes the state file (no-op without one).
    fn save_now(&self) -> Result<(), SimError> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let _writer = self
            .save_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let snapshot = state_file::snapshot(&self.devices());
        state_file::write(path, &snapshot)
    }

    fn availability_bytes(&self, online: bool) -> Vec<u8> {
        Message::availability_bytes(&Message::availability(online).payload, self.legacy)
    }

    fn send(&self, item: Outbound) {
        // The receiver lives as long as the fleet; after shutdown there is nobody to tell.
        let _ = self.out.send(item);
    }

    fn publish(&self, topic: String, payload: Vec<u8>, qos: QoS, retain: bool) {
        self.send(Outbound::Publish {
            topic,
            payload,
            qos,
            retain,
        });
    }

    /// Publishes a device's messages on the topics Zigbee2MQTT uses.
    fn emit(&self, name: &str, msgs: Vec<Message>) {
        for m in msgs {
            match m.topic {
                Topic::State => self.publish(
                    format!("{}/{name}", self.base),
                    m.payload.to_string().into_bytes(),
                    self.qos,
                    false,
                ),
                Topic::Availability => self.publish(
                    format!("{}/{name}/availability", self.base),
                    Message::availability_bytes(&m.payload, self.legacy),
                    QoS::AtLeastOnce,
                    true,
                ),
                Topic::BridgeLogging => self.publish(
                    format!("{}/bridge/logging", self.base),
                    m.payload.to_string().into_bytes(),
                    self.qos,
                    false,
                ),
            }
        }
    }

    /// What Zigbee2MQTT publishes when it (re)connects.
    fn announce(&self) {
        let devices = self.devices();
        let base = &self.base;
        let mut filters: Vec<SubscribeFilter> = ["+/set", "+/get", "+/set/+", "+/get/+"]
            .iter()
            .map(|f| SubscribeFilter::new(format!("{base}/{f}"), QoS::AtLeastOnce))
            .collect();
        // `+` does not match a name with a slash: subscribe to those one by one.
        for name in devices.index.keys().filter(|n| n.contains('/')) {
            for f in ["set", "get", "set/+", "get/+"] {
                filters.push(SubscribeFilter::new(
                    format!("{base}/{name}/{f}"),
                    QoS::AtLeastOnce,
                ));
            }
        }
        filters.push(SubscribeFilter::new(
            format!("{}#", self.control_prefix),
            QoS::AtLeastOnce,
        ));
        self.send(Outbound::Subscribe(filters));
        self.publish(
            format!("{base}/bridge/state"),
            self.availability_bytes(true),
            QoS::AtLeastOnce,
            true,
        );
        // A real Zigbee network holds a few hundred devices; the list of a benchmark-sized fleet
        // would be megabytes, more than brokers accept in one message. Past that size the list
        // is not published, and locks are paired by name.
        let list = bridge::devices_payload(&devices).to_string().into_bytes();
        if list.len() <= MAX_DEVICE_LIST_BYTES {
            self.publish(format!("{base}/bridge/devices"), list, self.qos, true);
        } else {
            tracing::info!(
                bytes = list.len(),
                "the device list is too large to publish; pair the locks by name"
            );
        }
        let now = Instant::now();
        for lock in &devices.locks {
            self.publish(
                format!("{base}/{}/availability", lock.name()),
                self.availability_bytes(lock.status(now).online),
                QoS::AtLeastOnce,
                true,
            );
        }
        for sensor in &devices.sensors {
            self.publish(
                format!("{base}/{}/availability", sensor.name()),
                self.availability_bytes(true),
                QoS::AtLeastOnce,
                true,
            );
        }
    }

    fn on_publish(self: &Arc<Self>, topic: &str, payload: &[u8]) {
        self.counters.messages_in.fetch_add(1, Ordering::Relaxed);
        let text = String::from_utf8_lossy(payload);
        if let Some(rest) = topic.strip_prefix(&self.control_prefix) {
            control::handle(self, rest, text.trim());
            return;
        }
        let Some(rest) = topic
            .strip_prefix(&self.base)
            .and_then(|r| r.strip_prefix('/'))
        else {
            return;
        };
        let Some((name, verb, attr)) = split_command(rest) else {
            return;
        };
        // Z2M: JSON if it parses, else the raw string (a bare `LOCK`).
        let value = serde_json::from_str::<Value>(&text)
            .unwrap_or_else(|_| Value::String(text.trim().to_owned()));
        let msg = match attr {
            Some(attr) if verb == Verb::Get => json!({ attr: "" }),
            Some(attr) => json!({ attr: value }),
            None => value,
        };
        let now = Instant::now();
        let mut devices = self.devices();
        let Ok(dev) = devices.find(name) else {
            return;
        };
        match dev {
            Dev::Lock(i) => {
                let lock = &mut devices.locks[i];
                let before = lock.persist_version();
                let out = match verb {
                    Verb::Set => lock.handle_set(&msg, now),
                    Verb::Get => lock.handle_get(&msg, now),
                };
                let changed = lock.persist_version() != before;
                self.emit(name, out);
                if changed {
                    self.save.notify_one();
                }
            }
            Dev::Sensor(i) => {
                let sensor = &devices.sensors[i];
                let out = match verb {
                    Verb::Set => sensor.handle_set(&msg),
                    Verb::Get => sensor.handle_get(&msg),
                };
                self.emit(name, out);
            }
        }
    }

    /// Runs `f` on a lock, publishes what it produced, and schedules a save if slots changed.
    fn with_lock<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut VirtualLock, Instant) -> (T, Vec<Message>),
    ) -> Result<T, SimError> {
        let mut devices = self.devices();
        let i = devices.lock_index(name)?;
        let lock = &mut devices.locks[i];
        let before = lock.persist_version();
        let (value, out) = f(lock, Instant::now());
        let changed = lock.persist_version() != before;
        self.emit(name, out);
        if changed {
            self.save.notify_one();
        }
        Ok(value)
    }

    fn with_sensor(
        &self,
        name: &str,
        f: impl FnOnce(&mut VirtualSensor) -> Vec<Message>,
    ) -> Result<(), SimError> {
        let mut devices = self.devices();
        match devices.find(name)? {
            Dev::Sensor(i) => {
                let out = f(&mut devices.sensors[i]);
                self.emit(name, out);
                Ok(())
            }
            Dev::Lock(_) => Err(SimError::UnknownDevice(name.to_owned())),
        }
    }

    fn is_sensor(&self, name: &str) -> bool {
        matches!(self.devices().find(name), Ok(Dev::Sensor(_)))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    Set,
    Get,
}

/// `<name>/set`, `<name>/get`, `<name>/set/<attr>`, `<name>/get/<attr>`; names may contain `/`.
fn split_command(rest: &str) -> Option<(&str, Verb, Option<&str>)> {
    if let Some(name) = rest.strip_suffix("/set") {
        return Some((name, Verb::Set, None));
    }
    if let Some(name) = rest.strip_suffix("/get") {
        return Some((name, Verb::Get, None));
    }
    let (head, attr) = rest.rsplit_once('/')?;
    if let Some(name) = head.strip_suffix("/set") {
        return Some((name, Verb::Set, Some(attr)));
    }
    head.strip_suffix("/get")
        .map(|name| (name, Verb::Get, Some(attr)))
}

impl FleetHandle {
    /// Types `pin` on a lock's keypad. Decided locally against the current slot table, with or
    /// without a broker; the resulting events are published if the broker is there.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn keypad(&self, name: &str, pin: &str) -> Result<KeypadOutcome, SimError> {
        self.shared.with_lock(name, |l, now| l.keypad(pin, now))
    }

    /// A copy of a lock's slot table (index = ZCL user id).
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn slots(&self, name: &str) -> Result<Vec<Slot>, SimError> {
        self.shared
            .with_lock(name, |l, _| (l.slots().to_vec(), Vec::new()))
    }

    /// A lock's physical state.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn lock_state(&self, name: &str) -> Result<LockStatus, SimError> {
        self.shared
            .with_lock(name, |l, now| (l.status(now), Vec::new()))
    }

    /// Opens the door of a lock (forced entry if the bolt is thrown) or a contact sensor.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] for a bad name.
    pub fn open_door(&self, name: &str) -> Result<(), SimError> {
        if self.shared.is_sensor(name) {
            return self.shared.with_sensor(name, |s| s.set_closed(false));
        }
        self.shared.with_lock(name, |l, now| ((), l.open_door(now)))
    }

    /// Closes the door of a lock or a contact sensor.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] for a bad name.
    pub fn close_door(&self, name: &str) -> Result<(), SimError> {
        if self.shared.is_sensor(name) {
            return self.shared.with_sensor(name, |s| s.set_closed(true));
        }
        self.shared
            .with_lock(name, |l, now| ((), l.close_door(now)))
    }

    /// Forces a lock's door open (`door_state: error_forced_open`).
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn force_door(&self, name: &str) -> Result<(), SimError> {
        self.shared
            .with_lock(name, |l, now| ((), l.force_door(now)))
    }

    /// Turns a lock's bolt by hand.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn manual(&self, name: &str, locked: bool) -> Result<(), SimError> {
        self.shared
            .with_lock(name, |l, now| ((), l.manual_set(locked, now)))
    }

    /// Jam mode on or off for a lock.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn set_jam(&self, name: &str, on: bool) -> Result<(), SimError> {
        self.shared.with_lock(name, |l, _| {
            l.set_jam(on);
            ((), Vec::new())
        })
    }

    /// Takes a device off the network (availability `offline`) or brings it back.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] for a bad name.
    pub fn set_offline(&self, name: &str, offline: bool) -> Result<(), SimError> {
        if self.shared.is_sensor(name) {
            return self.shared.with_sensor(name, |s| s.set_offline(offline));
        }
        self.shared
            .with_lock(name, |l, _| ((), l.set_offline(offline)))
    }

    /// Sets a device's battery percentage (0 = a flat lock that stops acting).
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] for a bad name.
    pub fn set_battery(&self, name: &str, percent: u8) -> Result<(), SimError> {
        if self.shared.is_sensor(name) {
            return self.shared.with_sensor(name, |s| s.set_battery(percent));
        }
        self.shared
            .with_lock(name, |l, _| ((), l.set_battery(percent)))
    }

    /// Marks or unmarks a lock slot as a duress code. Returns false for a slot out of range.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn set_duress(&self, name: &str, slot: u16, on: bool) -> Result<bool, SimError> {
        self.shared
            .with_lock(name, |l, _| (l.set_duress(slot, on), Vec::new()))
    }

    /// Runs `f` on a lock's state machine directly (failure modes and anything not wrapped here);
    /// what it returns is published.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn with_lock<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut VirtualLock, Instant) -> (T, Vec<Message>),
    ) -> Result<T, SimError> {
        self.shared.with_lock(name, f)
    }

    /// The bolt position of a lock, for quick assertions.
    ///
    /// # Errors
    /// [`SimError::UnknownDevice`] / [`SimError::NotALock`] for a bad name.
    pub fn bolt(&self, name: &str) -> Result<Bolt, SimError> {
        Ok(self.lock_state(name)?.bolt)
    }

    /// Every device name: locks first, then sensors.
    pub fn device_names(&self) -> Vec<String> {
        let devices = self.shared.devices();
        devices
            .locks
            .iter()
            .map(|l| l.name().to_owned())
            .chain(devices.sensors.iter().map(|s| s.name().to_owned()))
            .collect()
    }

    /// Counters since start.
    pub fn stats(&self) -> FleetStats {
        let c = &self.shared.counters;
        FleetStats {
            messages_in: c.messages_in.load(Ordering::Relaxed),
            messages_out: c.messages_out.load(Ordering::Relaxed),
            dropped_while_disconnected: c.dropped.load(Ordering::Relaxed),
            floods: self
                .shared
                .devices()
                .locks
                .iter()
                .map(VirtualLock::floods)
                .sum(),
            connects: c.connects.load(Ordering::Relaxed),
        }
    }

    /// True while the broker connection is up.
    pub fn is_connected(&self) -> bool {
        *self.shared.connected.borrow()
    }

    /// Waits until connected, up to `timeout`. Returns whether it is.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut rx = self.shared.connected.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|c| *c))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Writes the state file now (it is also written after every slot change).
    ///
    /// # Errors
    /// [`SimError::StateFile`] when the file cannot be written. Without a state file: `Ok`.
    pub fn save_state(&self) -> Result<(), SimError> {
        self.shared.save_now()
    }

    /// Stops the fleet like Zigbee2MQTT stops: `bridge/state` offline, then a clean disconnect.
    /// Returns once the fleet's task has finished (or after 5 s).
    pub async fn shutdown(&self) {
        let shared = &self.shared;
        shared.stopping.store(true, Ordering::Relaxed);
        if self.is_connected() {
            shared.publish(
                format!("{}/bridge/state", shared.base),
                shared.availability_bytes(false),
                QoS::AtLeastOnce,
                true,
            );
            shared.send(Outbound::Disconnect);
        } else {
            shared.stop.send_replace(true);
        }
        let mut stopped = shared.stopped.subscribe();
        if tokio::time::timeout(Duration::from_secs(5), stopped.wait_for(|s| *s))
            .await
            .is_err()
        {
            shared.stop.send_replace(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_into_name_verb_and_attribute() {
        assert_eq!(
            split_command("lock-0/set"),
            Some(("lock-0", Verb::Set, None))
        );
        assert_eq!(
            split_command("lock-0/get"),
            Some(("lock-0", Verb::Get, None))
        );
        assert_eq!(
            split_command("floor1/door/set/state"),
            Some(("floor1/door", Verb::Set, Some("state")))
        );
        assert_eq!(split_command("lock-0"), None);
        assert_eq!(split_command("bridge/state"), None);
    }

    #[test]
    fn generated_names_use_the_prefix_and_explicit_names_win() {
        let cfg = FleetConfig {
            locks: 2,
            ..FleetConfig::default()
        };
        assert_eq!(cfg.lock_names(), ["lock-0", "lock-1"]);
        let cfg = FleetConfig {
            names: Some(vec!["front".into()]),
            ..cfg
        };
        assert_eq!(cfg.lock_names(), ["front"]);
    }

    #[test]
    fn repeated_names_are_a_configuration_error() {
        let cfg = FleetConfig {
            names: Some(vec!["a".into()]),
            sensors: vec!["a".into()],
            ..FleetConfig::default()
        };
        assert!(matches!(build_devices(&cfg), Err(SimError::Config(_))));
    }

    #[test]
    fn the_control_topic_nests_under_the_base_topic() {
        assert_eq!(
            control_topic("zigbee2mqtt", "lock-3", "keypad"),
            "latchkey-sim/zigbee2mqtt/lock-3/keypad"
        );
    }
}
