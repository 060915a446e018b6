//! Two server replicas on one database and one Mosquitto: MQTT 5 shared subscriptions split the
//! lock's messages between them, each is applied once, and only the replica holding the
//! reconciler lease writes to the locks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::connected;
use latchkey_app::credentials::CredentialInput;
use latchkey_app::devices::reconcile;
use latchkey_app::directory::{DoorInput, PropertyInput};
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, SystemClock};
use latchkey_bridge::{BridgeStats, IngestOptions, MqttLink, run_ingest};
use latchkey_core::model::{CredentialKind, DoorKind, DoorMode, Role};
use latchkey_core::schedule::Schedule;
use latchkey_mqtt::{MqttUrl, QoS, Session, SessionOptions};
use latchkey_sim::{FleetConfig, KeypadOutcome};
use latchkey_z2m::Topics;

async fn replica(url: &str, mqtt: MqttUrl, name: &str) -> (App, Arc<BridgeStats>) {
    let store = latchkey_store::Store::open(url).await.unwrap();
    let (port, rx_rec) = latchkey_bridge::BridgePort::new();
    let app = App::new(
        store,
        Keys::from_master(&[5; 32]),
        Arc::new(SystemClock),
        port.clone(),
        AppConfig::default(),
    );
    let mut opts = SessionOptions::new(mqtt, format!("latchkey-{name}"));
    opts.subscriptions = vec![("zigbee2mqtt/#".into(), QoS::AtLeastOnce)];
    opts.shared_group = Some("latchkey".into());
    opts.manual_acks = true;
    let (handle, rx) = Session::start(opts).unwrap();
    connected(&mut handle.state()).await;
    let stats = Arc::new(BridgeStats::default());
    port.connect(MqttLink::new(
        handle.clone(),
        Topics::default(),
        QoS::AtLeastOnce,
        stats.clone(),
    ));
    tokio::spawn(run_ingest(
        app.clone(),
        rx,
        handle,
        IngestOptions::default(),
        stats.clone(),
    ));
    tokio::spawn(reconcile::run(
        app.clone(),
        rx_rec,
        reconcile::ReconcileOptions {
            tick: Duration::from_millis(50),
            confirm_after: Duration::from_millis(500),
            sweep_every: Duration::from_secs(1),
            holder: name.into(),
            ..Default::default()
        },
    ));
    (app, stats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_apply_each_lock_message_once_and_only_the_lease_holder_writes_to_locks() {
    let Some(mosquitto) = latchkey_testkit::mosquitto::Mosquitto::start() else {
        return;
    };
    // PostgreSQL when the suite has one (as in production), else a shared SQLite file.
    let db = latchkey_testkit::backends("replicas").await.pop().unwrap();
    let url = MqttUrl::tcp(mosquitto.addr());
    let (a, stats_a) = replica(&db.url, url.clone(), "replica-a").await;
    let (b, stats_b) = replica(&db.url, url, "replica-b").await;
    let (fleet, _task) = latchkey_sim::run(FleetConfig {
        mqtt_host: "127.0.0.1".into(),
        mqtt_port: mosquitto.port,
        client_id: "sim-replicas".into(),
        locks: 1,
        actuation: Duration::ZERO,
        qos: 1,
        ..FleetConfig::default()
    })
    .await
    .unwrap();
    assert!(fleet.wait_connected(Duration::from_secs(10)).await);

    let admin = a
        .create_admin("Ada", "ada@example.org", "ada-password-1")
        .await
        .unwrap();
    let root = a.terminal_principal(admin.id).await.unwrap();
    let prop = a
        .create_property(
            root.admin().unwrap(),
            PropertyInput {
                name: "Replica House".into(),
                address: String::new(),
                timezone: "Europe/Berlin".into(),
                policy: Default::default(),
                office_hours: Schedule::Always,
            },
        )
        .await
        .unwrap();
    let unit = a
        .create_unit(root.staff(prop.id).unwrap(), "1A", 1, None)
        .await
        .unwrap();
    let door = a
        .create_door(
            root.staff(prop.id).unwrap(),
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
            email: None,
            phone: None,
            password: None,
            membership: MembershipInput {
                role: Role::Resident,
                unit_id: Some(unit.id),
                valid_from: None,
                valid_until: None,
            },
        };
        a.create_person(a.may_create_person(&root, prop.id, &input).unwrap(), input)
    }
    .await
    .unwrap();
    a.pair_lock(
        a.may_pair_lock(&root, door.id).await.unwrap(),
        Some("lock-0"),
    )
    .await
    .unwrap();
    // Rita chooses her PIN on replica A (her own door, nobody else's); the replica holding the
    // lease (either) writes it.
    let cred = {
        let input = CredentialInput {
            person_id: rita.id,
            kind: CredentialKind::Pin,
            label: None,
            unit_id: Some(unit.id),
            doors: None,
            schedule: Schedule::Always,
            max_uses: None,
            duress: false,
            pin: Some("480261".into()),
            card_uid: None,
        };
        let rita = a.terminal_principal(rita.id).await.unwrap();
        a.create_credential(
            rita.credential_issuer(prop.id, input.unit_id).unwrap(),
            input,
        )
        .await
        .unwrap()
        .credential
    };
    // Replica B learns of the door only through the database: its sweep plans it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let s = b
            .credential_locks(&b.terminal_principal(admin.id).await.unwrap(), cred.id)
            .await
            .unwrap();
        if s.iter().all(|l| l.status == "set") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never set: {s:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..20 {
        assert!(matches!(
            fleet.keypad("lock-0", "480261").unwrap(),
            KeypadOutcome::Opened { .. }
        ));
    }
    let filter = || latchkey_app::store::audit::EventFilter {
        kind_prefix: Some("access.granted".into()),
        limit: 500,
        ..Default::default()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let granted = a.list_events(&root, None, filter()).await.unwrap();
        if granted.len() >= 20 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let granted = a.list_events(&root, None, filter()).await.unwrap();
            assert_eq!(
                granted.len(),
                20,
                "each keypad opening is recorded exactly once"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of 20 openings recorded",
            granted.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (ra, rb) = (
        stats_a.received.load(Ordering::Relaxed),
        stats_b.received.load(Ordering::Relaxed),
    );
    assert!(
        ra > 0 && rb > 0,
        "both replicas received a share of the messages: {ra} and {rb}"
    );
    let (ca, cb) = (
        stats_a.commands_sent.load(Ordering::Relaxed),
        stats_b.commands_sent.load(Ordering::Relaxed),
    );
    assert!(
        (ca == 0) != (cb == 0),
        "exactly one replica wrote to the lock: {ca} and {cb}"
    );
}
