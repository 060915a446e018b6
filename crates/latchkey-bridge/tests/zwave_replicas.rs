//! Two server replicas on one database, each with its own Z-Wave gateway session on one broker,
//! and one virtual Z-Wave lock: every session hears every lock, yet each keypad opening is
//! recorded once (by the replica holding the lease); when that replica dies, the other takes
//! the lease over, asks the lock where its bolt is, and records what the lock says from then on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use latchkey_app::authz::Principal;
use latchkey_app::credentials::CredentialInput;
use latchkey_app::devices::reconcile;
use latchkey_app::directory::DoorInput;
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, SystemClock};
use latchkey_bridge::BridgePort;
use latchkey_bridge::zwave::link::{ZwaveLink, run_events};
use latchkey_bridge::zwave::{ZwaveOptions, session_options, start};
use latchkey_core::CredentialId;
use latchkey_core::model::{CredentialKind, DoorKind, DoorMode, Role};
use latchkey_core::schedule::Schedule;
use latchkey_mqtt::{BrokerOptions, EmbeddedBroker, MqttUrl, Session, SessionHandle};
use latchkey_sim::zwave::{GatewaySettings, ZwaveLockConfig, ZwaveSimConfig};
use latchkey_zwave::Topics;

use common::{connected, events_of, eventually};

/// One replica: its app (own pool), Z-Wave session, link and reconciler.
struct Replica {
    app: App,
    session: SessionHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Replica {
    async fn start(db: &str, mqtt: MqttUrl, name: &str) -> Replica {
        let store = latchkey_store::Store::open(db).await.unwrap();
        let (port, reconcile_rx) = BridgePort::new();
        let app = App::new(
            store,
            Keys::from_master(&[5; 32]),
            Arc::new(SystemClock),
            port.clone(),
            AppConfig::default(),
        );
        let (session, inbound) = Session::start(session_options(
            mqtt,
            &format!("latchkey-zwave-{name}"),
            &Topics::default(),
        ))
        .unwrap();
        connected(&mut session.state()).await;
        let opts = ZwaveOptions {
            settle: Duration::from_millis(500),
            retry_backoff: Duration::from_millis(200),
            ..ZwaveOptions::default()
        };
        let (gateway, events, session_task) = start(session.clone(), inbound, opts);
        let (link, jobs) = ZwaveLink::new(gateway, session.state());
        port.connect_zwave(link);
        let follower = app.clone();
        let tasks = vec![
            session_task,
            tokio::spawn(run_events(app.clone(), events, jobs)),
            // Pairings made through the other replica reach this one's caches.
            tokio::spawn(async move {
                let _ = follower.follow_changes().await;
            }),
            tokio::spawn(reconcile::run(
                app.clone(),
                reconcile_rx,
                reconcile::ReconcileOptions {
                    tick: Duration::from_millis(50),
                    confirm_after: Duration::from_secs(10),
                    sweep_every: Duration::from_secs(1),
                    holder: name.into(),
                    ..Default::default()
                },
            )),
        ];
        Replica {
            app,
            session,
            tasks,
        }
    }

    /// Dies as a killed process would: nothing more is sent, heard or renewed.
    async fn kill(self) {
        for t in &self.tasks {
            t.abort();
        }
        self.session.close().await;
    }

    fn holds_lease(&self) -> bool {
        *self.app.device_lease().borrow() == Some(true)
    }
}

async fn granted_to(app: &App, admin: &Principal, id: CredentialId) -> usize {
    events_of(app, admin, "access.granted")
        .await
        .iter()
        .filter(|d| d["credential_id"] == serde_json::json!(id.0))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_opening_is_recorded_once_and_a_new_lease_holder_asks_and_takes_over() {
    let db = latchkey_testkit::backends("zwave_replicas")
        .await
        .pop()
        .unwrap();
    let broker = EmbeddedBroker::start(BrokerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_payload: 16 << 20,
        ..BrokerOptions::default()
    })
    .unwrap();
    let mut lock = ZwaveLockConfig::new(5, "door_5");
    lock.capacity = 10;
    let (sim, _sim_task) = latchkey_sim::zwave::run(ZwaveSimConfig {
        settings: GatewaySettings {
            retain: false,
            ..GatewaySettings::default()
        },
        ..ZwaveSimConfig::new(broker.listen_addr().port(), vec![lock])
    });
    assert!(sim.connected(Duration::from_secs(10)).await);
    let a = Replica::start(&db.url, broker.internal_url(), "replica-a").await;
    let b = Replica::start(&db.url, broker.internal_url(), "replica-b").await;
    eventually("one replica holds the lease", || async {
        a.holds_lease() != b.holds_lease()
    })
    .await;

    let (admin, prop, unit) = common::house(&a.app, "Z-Wave Replicas", "3C").await;
    let door = a
        .app
        .create_door(
            admin.staff(prop.id).unwrap(),
            DoorInput {
                name: "3C entry".into(),
                kind: DoorKind::UnitEntry,
                unit_id: Some(unit.id),
                mode: DoorMode::Normal,
                pin_slots: 10,
            },
        )
        .await
        .unwrap();
    let input = PersonInput {
        name: "Ravi".into(),
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
    let (ravi, _) = a
        .app
        .create_person(
            a.app.may_create_person(&admin, prop.id, &input).unwrap(),
            input,
        )
        .await
        .unwrap();
    a.app
        .pair_lock(
            a.app.may_pair_lock(&admin, door.id).await.unwrap(),
            Some("zwave/5"),
        )
        .await
        .unwrap();
    let resident = a.app.terminal_principal(ravi.id).await.unwrap();
    let input = CredentialInput {
        person_id: ravi.id,
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
    let id = a
        .app
        .create_credential(
            resident.credential_issuer(prop.id, input.unit_id).unwrap(),
            input,
        )
        .await
        .unwrap()
        .credential
        .id;
    common::until_on_locks(&a.app, &admin, id, &[("zwave/5", "set")]).await;

    // Both sessions hear the opening; it is recorded once.
    assert_eq!(sim.keypad(5, "480261"), Some(1));
    eventually("the opening is recorded", || async {
        granted_to(&a.app, &admin, id).await >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(granted_to(&a.app, &admin, id).await, 1, "recorded once");

    // The holder dies. While no replica holds the lease someone turns the thumb turn: the
    // other replica hears it but does not record it yet. Once it holds the lease it asks the
    // lock, and the change is recorded as having happened while nobody listened.
    let (dead, alive) = if a.holds_lease() { (a, b) } else { (b, a) };
    dead.kill().await;
    sim.control(5, "manual", "lock");
    eventually("the other replica takes the lease over", || async {
        alive.holds_lease()
    })
    .await;
    eventually(
        "the new holder asked the lock and recorded the gap",
        || async {
            events_of(&alive.app, &admin, "lock.changed_while_away")
                .await
                .iter()
                .any(|d| d["why"] == "takeover" && d["to"] == "locked")
        },
    )
    .await;
    assert_eq!(sim.keypad(5, "480261"), Some(1));
    eventually("the new holder records the next opening", || async {
        granted_to(&alive.app, &admin, id).await >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        granted_to(&alive.app, &admin, id).await,
        2,
        "each opening recorded once"
    );
    alive.kill().await;
    db.remove().await;
}
