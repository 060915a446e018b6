//! Virtual Z-Wave locks behind a virtual Z-Wave JS UI MQTT gateway: the device side of latchkey's
//! Z-Wave path, for tests and the demo.
//!
//! - [`Gateway`] is a pure state machine (the caller passes the instant and the gateway's
//!   wall-clock milliseconds) that answers the gateway's MQTT API (`getNodes`, `writeValue`,
//!   `pollValue`, `pingNode`, `refreshCCValues`, User Code `sendCommand set`) and publishes
//!   value, status, notification and event topics, with the quirks its module docs list.
//! - [`run`] puts one on a broker under the gateway's own client id, with its last will.
//!
//! Written from the protocol as docs/DEVICES.md ("Z-Wave JS UI") describes it; it shares no code
//! with latchkey's Z-Wave codec (`latchkey-zwave`), so that a mistake in one is not mirrored in
//! the other. Control topics `latchkey-sim/<prefix>/<node id>/<op>` drive the locks: `keypad`
//! (payload: the code), `program` (`<user id>:<code>`, a code set at the keypad with the master
//! code), `drop` (the next code write is lost), `manual` (`lock`/`unlock`, the thumb turn), `dead`
//! (`on`/`off`, or `marked`: dead and so reported by the controller), `alive`, `jam` (`on`/`off`,
//! or `motor`: jams at its next move), `battery` (percent), `door` (`open`/`close`).

mod gateway;
mod node;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rumqttc::{AsyncClient, Event, Incoming, LastWill, MqttOptions, NetworkOptions, QoS};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

pub use gateway::{Gateway, GatewaySettings, Publish};
pub use node::{Quirks, ZwaveLockConfig, ZwaveSlot};

/// Everything [`run`] needs.
#[derive(Clone, Debug)]
pub struct ZwaveSimConfig {
    pub mqtt_host: String,
    pub mqtt_port: u16,
    /// Broker login (user, password), if the broker asks for one.
    pub login: Option<(String, String)>,
    pub settings: GatewaySettings,
    pub locks: Vec<ZwaveLockConfig>,
    /// How often pending answers, actuations and wake-ups are checked.
    pub tick_interval: Duration,
}

impl ZwaveSimConfig {
    /// A gateway on `127.0.0.1:<port>` with default settings and these locks.
    pub fn new(port: u16, locks: Vec<ZwaveLockConfig>) -> Self {
        ZwaveSimConfig {
            mqtt_host: "127.0.0.1".into(),
            mqtt_port: port,
            login: None,
            settings: GatewaySettings::default(),
            locks,
            tick_interval: Duration::from_millis(20),
        }
    }
}

/// Reads the running gateway's locks and stops it.
#[derive(Clone)]
pub struct ZwaveSimHandle {
    gateway: Arc<Mutex<Gateway>>,
    out: mpsc::UnboundedSender<Publish>,
    stop: watch::Sender<bool>,
    connected: watch::Receiver<bool>,
}

impl ZwaveSimHandle {
    fn gateway(&self) -> MutexGuard<'_, Gateway> {
        self.gateway
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What the lock itself holds in a slot.
    pub fn slot(&self, node: u16, slot: u16) -> Option<ZwaveSlot> {
        self.gateway().slot(node, slot)
    }

    /// The lock's Door Lock mode (255 secured, 0 unsecured).
    pub fn mode(&self, node: u16) -> Option<u8> {
        self.gateway().mode(node)
    }

    /// Runs a control on `node` (`keypad`, `program`, `jam`, `door`... as on the control
    /// topics) and publishes what the gateway says of it.
    pub fn control(&self, node: u16, op: &str, arg: &str) {
        let msgs = self
            .gateway()
            .control(node, op, arg, Instant::now(), now_ms());
        for m in msgs {
            let _ = self.out.send(m);
        }
    }

    /// The user id `pin` would open `node` by, without typing it.
    pub fn opens(&self, node: u16, pin: &str) -> Option<u16> {
        self.gateway().opens(node, pin)
    }

    /// Types `pin` at `node`'s keypad: the user id it opened by, or `None` when the lock
    /// stayed shut.
    pub fn keypad(&self, node: u16, pin: &str) -> Option<u16> {
        let opened = self.opens(node, pin);
        self.control(node, "keypad", pin);
        opened
    }

    /// Waits until the gateway has announced itself on the broker and its subscriptions are
    /// in place (or `timeout` passes).
    pub async fn connected(&self, timeout: Duration) -> bool {
        let mut rx = self.connected.clone();
        tokio::time::timeout(timeout, rx.wait_for(|c| *c))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Stops the gateway (its connection drops without a clean disconnect, so the broker
    /// publishes its last will).
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Starts the gateway on the broker.
pub fn run(cfg: ZwaveSimConfig) -> (ZwaveSimHandle, JoinHandle<()>) {
    let gateway = Gateway::new(cfg.settings.clone(), cfg.locks.clone());
    let mut opts = MqttOptions::new(gateway.client_id(), &cfg.mqtt_host, cfg.mqtt_port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_max_packet_size(16 << 20, 16 << 20);
    if let Some((user, password)) = &cfg.login {
        opts.set_credentials(user, password);
    }
    opts.set_last_will(LastWill::new(
        gateway.status_topic(),
        br#"{"value":false}"#.to_vec(),
        QoS::AtLeastOnce,
        cfg.settings.retain,
    ));
    let (client, mut eventloop) = AsyncClient::new(opts, 1024);
    let mut net = NetworkOptions::new();
    net.set_tcp_nodelay(true);
    eventloop.set_network_options(net);
    let subscriptions = gateway.subscriptions();
    let gateway = Arc::new(Mutex::new(gateway));
    let (stop, mut stop_rx) = watch::channel(false);
    let (connected_tx, connected) = watch::channel(false);
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Publish>();
    let handle = ZwaveSimHandle {
        gateway: Arc::clone(&gateway),
        out: out_tx.clone(),
        stop,
        connected,
    };
    let task = tokio::spawn(async move {
        let publisher = {
            let client = client.clone();
            tokio::spawn(async move {
                while let Some(p) = out_rx.recv().await {
                    let bytes = p.payload.to_string().into_bytes();
                    if let Err(e) = client
                        .publish(p.topic, QoS::AtLeastOnce, p.retain, bytes)
                        .await
                    {
                        warn!(error = %e, "virtual gateway publish not queued");
                    }
                }
            })
        };
        let ticker = {
            let gateway = Arc::clone(&gateway);
            let out = out_tx.clone();
            let every = cfg.tick_interval;
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(every.max(Duration::from_millis(1)));
                loop {
                    interval.tick().await;
                    let msgs = with(&gateway, |g| g.tick(Instant::now(), now_ms()));
                    for m in msgs {
                        let _ = out.send(m);
                    }
                }
            })
        };
        let mut acks = 0;
        loop {
            let event = tokio::select! {
                _ = stop_rx.wait_for(|s| *s) => break,
                e = eventloop.poll() => e,
            };
            match event {
                Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                    for s in &subscriptions {
                        if let Err(e) = client.subscribe(s.as_str(), QoS::AtLeastOnce).await {
                            warn!(error = %e, "virtual gateway subscribe not queued");
                        }
                    }
                    for m in with(&gateway, |g| g.announce(now_ms())) {
                        let _ = out_tx.send(m);
                    }
                    acks = 0;
                }
                Ok(Event::Incoming(Incoming::SubAck(_))) => {
                    // Ready once every subscription is in place: a call sent earlier is lost.
                    acks += 1;
                    if acks == subscriptions.len() {
                        connected_tx.send_replace(true);
                    }
                }
                Ok(Event::Incoming(Incoming::Publish(p))) => {
                    let msgs = with(&gateway, |g| {
                        g.on_message(&p.topic, &p.payload, Instant::now(), now_ms())
                    });
                    for m in msgs {
                        let _ = out_tx.send(m);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    debug!(error = %e, "virtual gateway lost the broker");
                    connected_tx.send_replace(false);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        ticker.abort();
        publisher.abort();
    });
    (handle, task)
}

fn with<T>(gateway: &Arc<Mutex<Gateway>>, f: impl FnOnce(&mut Gateway) -> T) -> T {
    let mut g = gateway
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(&mut g)
}

#[cfg(test)]
#[path = "zwave/tests.rs"]
mod tests;
