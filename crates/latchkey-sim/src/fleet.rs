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
mod handle;
mod shared;
mod state_file;
mod tasks;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{AsyncClient, LastWill, MqttOptions, NetworkOptions, QoS, SubscribeFilter};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use crate::lock::{LockConfig, VirtualLock};
use crate::sensor::VirtualSensor;
use tasks::{drive, publisher, saver, ticker};

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
    /// How far the fleet's clock runs ahead of the real one, in milliseconds
    /// ([`FleetHandle::advance`]): auto-relock and keypad lockouts are counted on it.
    ahead_ms: std::sync::atomic::AtomicU64,
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
        ahead_ms: std::sync::atomic::AtomicU64::new(0),
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
    // Nagle meeting delayed ACK costs ≈ 44 ms per QoS 1 exchange, measured on loopback.
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
