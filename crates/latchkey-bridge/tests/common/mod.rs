//! A whole device path in one process: the embedded broker (or a Mosquitto of the test's own),
//! the MQTT session, the bridge, the reconciler and a fleet of simulated Zigbee2MQTT locks.

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
use latchkey_sim::{FleetConfig, FleetHandle};
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
    test: String,
    clock: Arc<dyn latchkey_app::Clock>,
    sweep_every: Duration,
    _db: latchkey_testkit::TestDb,
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

pub async fn rig(test: &str) -> Rig {
    rig_with(test, Duration::ZERO).await
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
        actuation,
        clock,
        sensors,
        fleet_qos,
        sweep_every,
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
        Duration::ZERO,
        Arc::new(SystemClock),
        Vec::new(),
        fleet_qos,
        Duration::from_secs(2),
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

/// As [`rig_sweeping`], on the database `db`.
#[allow(clippy::too_many_arguments)] // Test set-up: each is one knob of the rig.
async fn rig_in(
    db: latchkey_testkit::TestDb,
    test: &str,
    broker: Broker,
    actuation: Duration,
    clock: Arc<dyn latchkey_app::Clock>,
    sensors: Vec<String>,
    fleet_qos: u8,
    sweep_every: Duration,
) -> Rig {
    let store = db.open().await;
    let Server {
        app,
        session: handle,
        stats,
        tasks,
    } = start_server_sweeping(test, &store, &broker, clock.clone(), sweep_every).await;
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
    app.pair_lock(
        app.may_pair_lock(&admin, door.id).await.unwrap(),
        Some("lock-0"),
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
        test: test.to_owned(),
        clock,
        sweep_every,
        _db: db,
    }
}

impl Rig {
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
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }

    /// Starts the server side again on the same database, as a new `serve` process would.
    pub async fn start_server(&mut self) {
        let s = start_server_sweeping(
            &self.test,
            &self.store,
            &self.broker,
            self.clock.clone(),
            self.sweep_every,
        )
        .await;
        self.app = s.app;
        self.session = s.session;
        self.stats = s.stats;
        self.tasks = s.tasks;
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
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
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
        let filter = latchkey_app::store::audit::EventFilter {
            kind_prefix: Some(kind.into()),
            limit: 500,
            ..Default::default()
        };
        self.app
            .list_events(&self.admin, None, filter)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.data)
            .collect()
    }
}
