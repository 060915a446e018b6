//! A whole device path in one process: the embedded broker (or a Mosquitto of the test's own),
//! the MQTT session, the bridge, the reconciler and a fleet of simulated Zigbee2MQTT locks;
//! for a Z-Wave rig also the virtual Z-Wave JS UI gateway with one lock node and latchkey's
//! Z-Wave gateway session, the door's lock being that node. The rig's hand ([`Rig::keypad`],
//! [`Rig::jam`]...) works the door's lock whichever protocol it speaks.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::Arc;
use std::time::Duration;

use latchkey_app::authz::Principal;
use latchkey_app::credentials::CredentialInput;
use latchkey_app::devices::reconcile;
use latchkey_app::directory::{DoorInput, PropertyInput};
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::secrets::Keys;
use latchkey_app::store::records::{Property, Unit};
use latchkey_app::{App, AppConfig, SystemClock};
use latchkey_bridge::{BridgeStats, IngestOptions, MqttLink, run_ingest};
use latchkey_core::model::{CredentialKind, DoorKind, DoorMode, Role};
use latchkey_core::schedule::Schedule;
use latchkey_core::{CredentialId, DoorId};
use latchkey_mqtt::{
    BrokerOptions, ConnState, EmbeddedBroker, MqttUrl, QoS, Session, SessionOptions,
};
use latchkey_sim::zwave::{ZwaveLockConfig, ZwaveSimConfig, ZwaveSimHandle};
use latchkey_sim::{FleetConfig, FleetHandle, KeypadOutcome};
use latchkey_z2m::Topics;

pub struct Rig {
    pub app: App,
    /// The test's own handle on the database, to look at what the use cases wrote.
    pub store: latchkey_store::Store,
    pub admin: Principal,
    pub resident: Principal,
    pub property: latchkey_core::PropertyId,
    pub unit: latchkey_core::UnitId,
    pub door: DoorId,
    pub fleet: FleetHandle,
    /// The server side: the MQTT session, the bridge and the reconciler.
    pub session: latchkey_mqtt::SessionHandle,
    pub stats: Arc<BridgeStats>,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
    pub broker: Broker,
    /// What the door's lock speaks.
    pub protocol: Protocol,
    /// The virtual Z-Wave gateway of a Z-Wave rig.
    pub zwave: Option<ZwaveSimHandle>,
    /// The server's Z-Wave gateway session's MQTT session (a Z-Wave rig).
    zwave_session: Option<latchkey_mqtt::SessionHandle>,
    test: String,
    clock: Arc<dyn latchkey_app::Clock>,
    sweep_every: Duration,
    _db: latchkey_testkit::TestDb,
}

/// The protocol of a rig's door lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Zigbee,
    ZWave,
}

/// The Z-Wave node a Z-Wave rig's door is paired with.
pub const ZWAVE_NODE: u16 = 5;

/// Runs a scenario `async fn(Protocol)` as one test per protocol:
/// `both!(scenario_name)` makes `scenario_name::zigbee` and `scenario_name::zwave`.
#[macro_export]
macro_rules! both {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn zigbee() {
                super::$scenario($crate::common::Protocol::Zigbee).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn zwave() {
                super::$scenario($crate::common::Protocol::ZWave).await;
            }
        }
    };
}

/// Where the locks and the server meet.
pub enum Broker {
    Embedded(EmbeddedBroker),
    /// A Mosquitto of the test's own, so that it can be killed and started again.
    Mosquitto {
        instance: Option<latchkey_testkit::mosquitto::Mosquitto>,
        port: u16,
    },
}

impl Broker {
    pub fn server_url(&self) -> MqttUrl {
        match self {
            Broker::Embedded(b) => b.internal_url(),
            Broker::Mosquitto { port, .. } => MqttUrl::tcp(([127, 0, 0, 1], *port).into()),
        }
    }

    pub fn device_port(&self) -> u16 {
        match self {
            Broker::Embedded(b) => b.listen_addr().port(),
            Broker::Mosquitto { port, .. } => *port,
        }
    }

    pub fn mosquitto() -> Option<Broker> {
        let m = latchkey_testkit::mosquitto::Mosquitto::start()?;
        Some(Broker::Mosquitto {
            port: m.port,
            instance: Some(m),
        })
    }

    /// Kills the Mosquitto (kill -9).
    pub fn kill(&mut self) {
        if let Broker::Mosquitto { instance, .. } = self
            && let Some(m) = instance.take()
        {
            m.kill();
        }
    }

    /// Starts the Mosquitto again on the same port.
    pub fn restart(&mut self) {
        if let Broker::Mosquitto { instance, port } = self {
            *instance = latchkey_testkit::mosquitto::Mosquitto::start_on(*port);
            assert!(instance.is_some(), "mosquitto restarts on port {port}");
        }
    }
}

/// Waits for the session to connect. Generous: on a loaded machine a first attempt can fail,
/// and the session then backs off (100 ms, doubling up to 5 s); the rig only needs it connected.
pub async fn connected(state: &mut tokio::sync::watch::Receiver<ConnState>) {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if matches!(*state.borrow(), ConnState::Connected) {
                return;
            }
            if state.changed().await.is_err() {
                return;
            }
        }
    })
    .await
    .expect("the session connects");
}

/// Generous: a loaded machine must not fail a test by being slow.
pub const WAIT: Duration = Duration::from_secs(60);

/// Waits (up to [`WAIT`]) until `check` holds, saying `what` if it never does.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn rig(test: &str) -> Rig {
    rig_with(test, Duration::ZERO).await
}

/// The embedded broker and a door whose lock speaks `protocol`.
pub async fn rig_for(test: &str, protocol: Protocol) -> Rig {
    rig_full_for(
        test,
        protocol,
        Duration::ZERO,
        Arc::new(SystemClock),
        Vec::new(),
    )
    .await
}

/// As [`rig_full`] on the embedded broker, with the door's lock speaking `protocol` (the
/// Zigbee fleet runs either way: its contact sensors stand beside a Z-Wave lock).
pub async fn rig_full_for(
    test: &str,
    protocol: Protocol,
    actuation: Duration,
    clock: Arc<dyn latchkey_app::Clock>,
    sensors: Vec<String>,
) -> Rig {
    let broker = EmbeddedBroker::start(BrokerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_payload: 16 << 20,
        ..BrokerOptions::default()
    })
    .unwrap();
    let db = latchkey_testkit::TestDb::sqlite(test);
    rig_in(
        db,
        test,
        Broker::Embedded(broker),
        Setup {
            actuation,
            clock,
            sensors,
            fleet_qos: 0,
            sweep_every: Duration::from_secs(2),
            protocol,
        },
    )
    .await
}

/// With a lock actuation time (the time from a command to the new position's report).
pub async fn rig_with(test: &str, actuation: Duration) -> Rig {
    let broker = EmbeddedBroker::start(BrokerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..BrokerOptions::default()
    })
    .unwrap();
    rig_on(test, Broker::Embedded(broker), actuation).await
}

/// As the server runs against an external broker: QoS 1, acknowledged after the commit.
pub async fn rig_on(test: &str, broker: Broker, actuation: Duration) -> Rig {
    rig_full(test, broker, actuation, Arc::new(SystemClock), Vec::new()).await
}

/// The embedded broker, a clock that runs from `clock`'s instant, and contact sensors.
pub async fn rig_full(
    test: &str,
    broker: Broker,
    actuation: Duration,
    clock: Arc<dyn latchkey_app::Clock>,
    sensors: Vec<String>,
) -> Rig {
    let fleet_qos = if matches!(broker, Broker::Mosquitto { .. }) {
        1
    } else {
        0
    };
    rig_fleet(test, broker, actuation, clock, sensors, fleet_qos).await
}

/// The server side of a rig: the app, its MQTT session, the bridge (with the asker) and the
/// reconciler.
pub struct Server {
    pub app: App,
    pub session: latchkey_mqtt::SessionHandle,
    /// The Z-Wave gateway session's own MQTT session, when the server runs Z-Wave locks.
    pub zwave_session: Option<latchkey_mqtt::SessionHandle>,
    pub stats: Arc<BridgeStats>,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts the server side as `serve` does: against the embedded broker QoS 0 and a clean
/// session; against a Mosquitto QoS 1, a persistent session (clean start off, one hour's
/// expiry) and acks after the commit.
pub async fn start_server(
    test: &str,
    store: &latchkey_store::Store,
    broker: &Broker,
    clock: Arc<dyn latchkey_app::Clock>,
) -> Server {
    start_server_sweeping(test, store, broker, clock, Duration::from_secs(2)).await
}

/// As [`start_server`], with the reconciler's safety-net sweep every `sweep_every`.
pub async fn start_server_sweeping(
    test: &str,
    store: &latchkey_store::Store,
    broker: &Broker,
    clock: Arc<dyn latchkey_app::Clock>,
    sweep_every: Duration,
) -> Server {
    start_server_for(test, store, broker, clock, sweep_every, Protocol::Zigbee).await
}

/// As [`start_server_sweeping`]; for [`Protocol::ZWave`] it also runs the Z-Wave gateway
/// session (as `serve` does with `zwave_prefix` set), linked to the same device port.
pub async fn start_server_for(
    test: &str,
    store: &latchkey_store::Store,
    broker: &Broker,
    clock: Arc<dyn latchkey_app::Clock>,
    sweep_every: Duration,
    protocol: Protocol,
) -> Server {
    let external = matches!(broker, Broker::Mosquitto { .. });
    let qos = if external {
        QoS::AtLeastOnce
    } else {
        QoS::AtMostOnce
    };
    let (port, reconcile_rx) = latchkey_bridge::BridgePort::new();
    let app = App::new(
        store.clone(),
        Keys::from_master(&[9; 32]),
        clock,
        port.clone(),
        AppConfig::default(),
    );
    let mut opts = SessionOptions::new(broker.server_url(), format!("latchkey-{test}"));
    opts.subscriptions = vec![("zigbee2mqtt/#".into(), qos)];
    opts.manual_acks = external;
    if external {
        // As `serve` does against an external broker (crates/latchkey/src/mqtt.rs).
        opts.clean_start = false;
        opts.session_expiry_secs = 3600;
        opts.shared_group = Some("latchkey".into());
    }
    let (handle, rx) = Session::start(opts).unwrap();
    connected(&mut handle.state()).await;
    let stats = Arc::new(BridgeStats::default());
    port.connect(MqttLink::new(
        handle.clone(),
        Topics::default(),
        qos,
        stats.clone(),
    ));
    let mut tasks = vec![tokio::spawn(run_ingest(
        app.clone(),
        rx,
        handle.clone(),
        IngestOptions::default(),
        stats.clone(),
    ))];
    // As `serve` does, the Z-Wave link is in place before the asker's first round.
    let zwave_session = if protocol == Protocol::ZWave {
        let (zhandle, inbound) = Session::start(latchkey_bridge::zwave::session_options(
            broker.server_url(),
            &format!("latchkey-zwave-{test}"),
            &latchkey_zwave::Topics::default(),
        ))
        .unwrap();
        connected(&mut zhandle.state()).await;
        let opts = latchkey_bridge::zwave::ZwaveOptions {
            settle: Duration::from_millis(500),
            retry_backoff: Duration::from_millis(200),
            position_timeout: Duration::from_secs(5),
            answer_timeout: Duration::from_secs(20),
            ..latchkey_bridge::zwave::ZwaveOptions::default()
        };
        let (gateway, events, session) =
            latchkey_bridge::zwave::start(zhandle.clone(), inbound, opts);
        let (link, jobs) = latchkey_bridge::zwave::link::ZwaveLink::new(gateway, zhandle.state());
        port.connect_zwave(link);
        tasks.push(session);
        tasks.push(tokio::spawn(latchkey_bridge::zwave::link::run_events(
            app.clone(),
            events,
            jobs,
        )));
        Some(zhandle)
    } else {
        None
    };
    tasks.push(tokio::spawn(latchkey_bridge::run_asker(
        app.clone(),
        handle.state(),
        Duration::from_millis(10),
    )));
    tasks.push(tokio::spawn(reconcile::run(
        app.clone(),
        reconcile_rx,
        reconcile::ReconcileOptions {
            tick: Duration::from_millis(50),
            confirm_after: Duration::from_millis(500),
            sweep_every,
            ..Default::default()
        },
    )));
    Server {
        app,
        session: handle,
        zwave_session,
        stats,
        tasks,
    }
}

/// As [`rig_full`], with the virtual locks publishing at `fleet_qos` (0 as Zigbee2MQTT does by
/// default, or 1).
pub async fn rig_fleet(
    test: &str,
    broker: Broker,
    actuation: Duration,
    clock: Arc<dyn latchkey_app::Clock>,
    sensors: Vec<String>,
    fleet_qos: u8,
) -> Rig {
    rig_sweeping(
        test,
        broker,
        actuation,
        clock,
        sensors,
        fleet_qos,
        Duration::from_secs(2),
    )
    .await
}

/// As [`rig_fleet`], with the reconciler's safety-net sweep every `sweep_every` (long, to see
/// that something happens without it).
pub async fn rig_sweeping(
    test: &str,
    broker: Broker,
    actuation: Duration,
    clock: Arc<dyn latchkey_app::Clock>,
    sensors: Vec<String>,
    fleet_qos: u8,
    sweep_every: Duration,
) -> Rig {
    let db = latchkey_testkit::TestDb::sqlite(test);
    rig_in(
        db,
        test,
        broker,
        Setup {
            actuation,
            clock,
            sensors,
            fleet_qos,
            sweep_every,
            protocol: Protocol::Zigbee,
        },
    )
    .await
}

/// The embedded broker and locks that answer at once, on the database `db` (any backend).
pub async fn rig_on_db(test: &str, db: latchkey_testkit::TestDb, broker: Broker) -> Rig {
    let fleet_qos = u8::from(matches!(broker, Broker::Mosquitto { .. }));
    rig_in(
        db,
        test,
        broker,
        Setup {
            actuation: Duration::ZERO,
            clock: Arc::new(SystemClock),
            sensors: Vec::new(),
            fleet_qos,
            sweep_every: Duration::from_secs(2),
            protocol: Protocol::Zigbee,
        },
    )
    .await
}

/// An admin, Ada, and a property `name` in Berlin with one unit `unit` on the first floor.
pub async fn house(app: &App, name: &str, unit: &str) -> (Principal, Property, Unit) {
    let a = app
        .create_admin("Ada", "ada@example.org", "ada-password-1")
        .await
        .unwrap();
    let admin = app.terminal_principal(a.id).await.unwrap();
    let prop = app
        .create_property(
            admin.admin().unwrap(),
            PropertyInput {
                name: name.into(),
                address: String::new(),
                timezone: "Europe/Berlin".into(),
                policy: Default::default(),
                office_hours: Schedule::Always,
            },
        )
        .await
        .unwrap();
    let unit = app
        .create_unit(admin.staff(prop.id).unwrap(), unit, 1, None)
        .await
        .unwrap();
    (admin, prop, unit)
}

/// The knobs of a rig.
struct Setup {
    /// The virtual Zigbee locks' time from a command to the new position's report.
    actuation: Duration,
    clock: Arc<dyn latchkey_app::Clock>,
    /// Contact sensors in the Zigbee fleet.
    sensors: Vec<String>,
    /// The QoS the virtual Zigbee devices publish at.
    fleet_qos: u8,
    /// The reconciler's safety-net sweep.
    sweep_every: Duration,
    /// What the door's lock speaks.
    protocol: Protocol,
}

/// A well-behaved virtual Z-Wave lock with ten slots.
fn zwave_lock() -> ZwaveLockConfig {
    let mut l = ZwaveLockConfig::new(ZWAVE_NODE, format!("door_{ZWAVE_NODE}"));
    l.capacity = 10;
    l
}

/// A rig as `setup` says, on the database `db`.
async fn rig_in(db: latchkey_testkit::TestDb, test: &str, broker: Broker, setup: Setup) -> Rig {
    let Setup {
        actuation,
        clock,
        sensors,
        fleet_qos,
        sweep_every,
        protocol,
    } = setup;
    let store = db.open().await;
    // The Z-Wave gateway first, so that the session's first node list has the lock.
    let zwave = if protocol == Protocol::ZWave {
        // Retain off, as docs/DEVICES.md asks of a real gateway: what the lock said while
        // latchkey was away is not waiting on the broker.
        let (sim, _task) = latchkey_sim::zwave::run(ZwaveSimConfig {
            settings: latchkey_sim::zwave::GatewaySettings {
                retain: false,
                ..latchkey_sim::zwave::GatewaySettings::default()
            },
            ..ZwaveSimConfig::new(broker.device_port(), vec![zwave_lock()])
        });
        assert!(
            sim.connected(Duration::from_secs(10)).await,
            "the virtual Z-Wave gateway connects"
        );
        Some(sim)
    } else {
        None
    };
    let Server {
        app,
        session: handle,
        zwave_session,
        stats,
        tasks,
    } = start_server_for(test, &store, &broker, clock.clone(), sweep_every, protocol).await;
    let (fleet, _task) = latchkey_sim::run(FleetConfig {
        mqtt_host: "127.0.0.1".into(),
        mqtt_port: broker.device_port(),
        client_id: format!("sim-{test}"),
        locks: 2,
        actuation,
        qos: fleet_qos,
        sensors,
        ..FleetConfig::default()
    })
    .await
    .unwrap();
    assert!(fleet.wait_connected(Duration::from_secs(10)).await);

    let (admin, prop, unit) = house(&app, "Test House", "1A").await;
    let door = app
        .create_door(
            admin.staff(prop.id).unwrap(),
            DoorInput {
                name: "1A entry".into(),
                kind: DoorKind::UnitEntry,
                unit_id: Some(unit.id),
                mode: DoorMode::Normal,
                pin_slots: 10,
            },
        )
        .await
        .unwrap();
    let (rita, _) = {
        let input = PersonInput {
            name: "Rita".into(),
            email: Some("rita@example.org".into()),
            phone: None,
            password: None,
            membership: MembershipInput {
                role: Role::Resident,
                unit_id: Some(unit.id),
                valid_from: None,
                valid_until: None,
            },
        };
        app.create_person(
            app.may_create_person(&admin, prop.id, &input).unwrap(),
            input,
        )
    }
    .await
    .unwrap();
    let resident = app.terminal_principal(rita.id).await.unwrap();
    let lock = match protocol {
        Protocol::Zigbee => "lock-0".to_owned(),
        Protocol::ZWave => latchkey_bridge::zwave::translate::address(ZWAVE_NODE),
    };
    app.pair_lock(
        app.may_pair_lock(&admin, door.id).await.unwrap(),
        Some(&lock),
    )
    .await
    .unwrap();
    Rig {
        app,
        store,
        admin,
        resident,
        property: prop.id,
        unit: unit.id,
        door: door.id,
        fleet,
        session: handle,
        stats,
        tasks,
        broker,
        protocol,
        zwave,
        zwave_session,
        test: test.to_owned(),
        clock,
        sweep_every,
        _db: db,
    }
}

/// A hand at the door's lock, whichever protocol it speaks.
impl Rig {
    /// The door's lock's address (`lock-0`, or `zwave/5`).
    pub fn lock(&self) -> String {
        match self.protocol {
            Protocol::Zigbee => "lock-0".to_owned(),
            Protocol::ZWave => latchkey_bridge::zwave::translate::address(ZWAVE_NODE),
        }
    }

    fn zwave_sim(&self) -> &ZwaveSimHandle {
        self.zwave.as_ref().expect("a Z-Wave rig")
    }

    /// Types `pin` at the door's keypad: latchkey's slot it opened by, or `None` when the lock
    /// stayed shut.
    pub fn keypad(&self, pin: &str) -> Option<u16> {
        match self.protocol {
            Protocol::Zigbee => match self.fleet.keypad("lock-0", pin).unwrap() {
                KeypadOutcome::Opened { slot } => Some(slot),
                _ => None,
            },
            // Z-Wave user id n is latchkey's slot n - 1.
            Protocol::ZWave => self.zwave_sim().keypad(ZWAVE_NODE, pin).map(|u| u - 1),
        }
    }

    /// Puts `code` in latchkey's slot `slot` without latchkey: another controller's write on
    /// Zigbee, the master code at the keypad on Z-Wave.
    pub fn code_behind_latchkeys_back(&self, slot: u16, code: &str) {
        match self.protocol {
            Protocol::Zigbee => self
                .fleet
                .with_lock("lock-0", |l, now| {
                    let set = serde_json::json!({"pin_code": {
                        "user": slot, "user_type": "unrestricted",
                        "user_enabled": true, "pin_code": code,
                    }});
                    ((), l.handle_set(&set, now))
                })
                .unwrap(),
            Protocol::ZWave => {
                self.zwave_sim()
                    .control(ZWAVE_NODE, "program", &format!("{}:{code}", slot + 1));
            }
        }
    }

    /// The lock's next code write is lost on its way.
    pub fn drop_next_write(&self) {
        match self.protocol {
            Protocol::Zigbee => self
                .fleet
                .with_lock("lock-0", |l, _| {
                    l.drop_next_pin_write();
                    ((), Vec::new())
                })
                .unwrap(),
            Protocol::ZWave => self.zwave_sim().control(ZWAVE_NODE, "drop", ""),
        }
    }

    /// Makes the bolt jam at its next move (or frees it): the lock says so when it tries.
    pub fn jam(&self, on: bool) {
        match self.protocol {
            Protocol::Zigbee => self.fleet.set_jam("lock-0", on).unwrap(),
            Protocol::ZWave => {
                self.zwave_sim()
                    .control(ZWAVE_NODE, "jam", if on { "motor" } else { "off" });
            }
        }
    }

    /// Opens the door with the bolt thrown: a forced door.
    pub fn force_door(&self) {
        match self.protocol {
            Protocol::Zigbee => self.fleet.force_door("lock-0").unwrap(),
            Protocol::ZWave => self.zwave_sim().control(ZWAVE_NODE, "door", "open"),
        }
    }

    /// Takes the lock off the network (or brings it back).
    pub fn set_offline(&self, offline: bool) {
        match self.protocol {
            Protocol::Zigbee => self.fleet.set_offline("lock-0", offline).unwrap(),
            Protocol::ZWave if offline => self.zwave_sim().control(ZWAVE_NODE, "dead", "on"),
            Protocol::ZWave => self.zwave_sim().control(ZWAVE_NODE, "alive", ""),
        }
    }

    /// The battery's charge.
    pub fn set_battery(&self, percent: u8) {
        match self.protocol {
            Protocol::Zigbee => self.fleet.set_battery("lock-0", percent).unwrap(),
            Protocol::ZWave => {
                self.zwave_sim()
                    .control(ZWAVE_NODE, "battery", &percent.to_string());
            }
        }
    }

    /// A flat battery: the lock says nothing more and its gateway marks it unreachable.
    pub fn dies(&self) {
        match self.protocol {
            Protocol::Zigbee => {
                self.fleet.set_battery("lock-0", 0).unwrap();
                self.fleet.set_offline("lock-0", true).unwrap();
            }
            Protocol::ZWave => self.zwave_sim().control(ZWAVE_NODE, "dead", "marked"),
        }
    }

    /// Turns the thumb turn: thrown (`true`) or drawn.
    pub fn manual(&self, locked: bool) {
        match self.protocol {
            Protocol::Zigbee => self.fleet.manual("lock-0", locked).unwrap(),
            Protocol::ZWave => {
                self.zwave_sim().control(
                    ZWAVE_NODE,
                    "manual",
                    if locked { "lock" } else { "unlock" },
                );
            }
        }
    }

    /// Whether the lock holds `code` in any slot, whatever its status.
    pub fn holds(&self, code: &str) -> bool {
        match self.protocol {
            Protocol::Zigbee => self.fleet.slots("lock-0").unwrap().iter().any(|s| {
                s.status != latchkey_sim::SlotStatus::Available && s.pin.expose_secret() == code
            }),
            Protocol::ZWave => (1..=zwave_lock().capacity).any(|n| {
                self.zwave_sim()
                    .slot(ZWAVE_NODE, n)
                    .is_some_and(|s| s.status != 0 && s.code == code)
            }),
        }
    }

    /// Whether the bolt is thrown.
    pub fn bolt_locked(&self) -> bool {
        match self.protocol {
            Protocol::Zigbee => self.fleet.bolt("lock-0").unwrap() == latchkey_sim::Bolt::Locked,
            Protocol::ZWave => self.zwave_sim().mode(ZWAVE_NODE) == Some(255),
        }
    }

    /// Stops the server side, closes the database and deletes it.
    pub async fn remove(mut self) {
        self.stop_server().await;
        self.app.close().await;
        self.store.close().await;
        self._db.clone().remove().await;
    }

    /// Stops the server side as a stopped `serve` would be: its session closes (a persistent
    /// session stays with the broker), ingestion and the reconciler end. The locks keep running.
    pub async fn stop_server(&mut self) {
        self.session.close().await;
        if let Some(z) = self.zwave_session.take() {
            z.close().await;
        }
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }

    /// Starts the server side again on the same database, as a new `serve` process would.
    pub async fn start_server(&mut self) {
        let s = start_server_for(
            &self.test,
            &self.store,
            &self.broker,
            self.clock.clone(),
            self.sweep_every,
            self.protocol,
        )
        .await;
        self.app = s.app;
        self.session = s.session;
        self.stats = s.stats;
        self.tasks = s.tasks;
        self.zwave_session = s.zwave_session;
    }

    /// The lock's position and door as latchkey last stored them.
    pub async fn stored_state(&self, lock: &str) -> (String, String) {
        let d = self
            .app
            .list_devices(&self.admin)
            .await
            .unwrap()
            .into_iter()
            .find(|d| d.device.friendly_name == lock)
            .expect("the lock is known");
        (d.device.lock_state, d.device.door_state)
    }

    pub async fn pin(&self, pin: &str) -> CredentialId {
        self.pin_on(pin, Schedule::Always, None).await
    }

    /// A PIN of the resident's on the rig's door with a schedule and a use limit.
    pub async fn pin_on(
        &self,
        pin: &str,
        schedule: Schedule,
        max_uses: Option<i64>,
    ) -> CredentialId {
        let unit = self
            .app
            .get_door(&self.admin, self.door)
            .await
            .unwrap()
            .unit_id;
        {
            let input = CredentialInput {
                person_id: self.resident.id(),
                kind: CredentialKind::Pin,
                label: None,
                unit_id: unit,
                doors: Some(vec![self.door]),
                schedule,
                max_uses,
                duress: false,
                pin: Some(pin.into()),
                card_uid: None,
            };
            self.app.create_credential(
                self.resident
                    .credential_issuer(
                        self.app
                            .get_door(&self.admin, self.door)
                            .await
                            .unwrap()
                            .property_id,
                        input.unit_id,
                    )
                    .unwrap(),
                input,
            )
        }
        .await
        .unwrap()
        .credential
        .id
    }

    /// Waits until the credential's status on the door's lock is `want`.
    pub async fn until_status(&self, id: CredentialId, want: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let s = self.app.credential_locks(&self.admin, id).await.unwrap();
            if s.iter().all(|l| l.status == want) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "credential {id} never reached `{want}`: {s:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn events(&self, kind: &str) -> Vec<serde_json::Value> {
        events_of(&self.app, &self.admin, kind).await
    }
}

/// The data of the audit events whose kind starts with `kind`, as `admin` sees them.
pub async fn events_of(app: &App, admin: &Principal, kind: &str) -> Vec<serde_json::Value> {
    let filter = latchkey_app::store::audit::EventFilter {
        kind_prefix: Some(kind.into()),
        limit: 500,
        ..Default::default()
    };
    app.list_events(admin, None, filter)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.data)
        .collect()
}

/// Revokes credential `id` as `by`.
pub async fn revoke(app: &App, by: &Principal, id: CredentialId) {
    app.set_credential_status(
        app.may_set_credential_status(by, id, latchkey_core::model::CredentialStatus::Revoked)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
}

/// Waits until a keypad opening by credential `id` is in the audit log.
pub async fn attributed(app: &App, admin: &Principal, id: CredentialId) {
    eventually("the keypad opening is attributed", || async {
        events_of(app, admin, "access.granted")
            .await
            .iter()
            .any(|d| d["credential_id"] == serde_json::json!(id.0) && d["method"] == "keypad")
    })
    .await;
}

/// Waits until credential `id`'s status on each named lock is as given: `(lock, status)`.
pub async fn until_on_locks(app: &App, admin: &Principal, id: CredentialId, want: &[(&str, &str)]) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let on = app.credential_locks(admin, id).await.unwrap();
        let ok = want.iter().all(|(lock, status)| {
            on.iter()
                .any(|l| l.lock.as_deref() == Some(*lock) && l.status == *status)
        });
        if ok {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reached {want:?}: {on:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
