//! Two replicas on one database and one Mosquitto, 100 virtual locks. First a PIN is created
//! and then revoked through the replica without the lease, and reaches and leaves every lock
//! (the change feed hands it to the lease holder); then the lease holder dies without releasing
//! anything in the middle of a burst of PIN writes; the other takes the lease over, sends what
//! was left, and every lock converges — and no lock ever hears from both replicas at once.
//! Prints how long the PIN took to reach and leave the locks, the takeover and the convergence.
//!
//! Each replica runs on its own Tokio runtime, so that killing one drops all of its tasks and
//! connections at once, as `kill -9` would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::connected;
use latchkey_app::DevicePort;
use latchkey_app::authz::Principal;
use latchkey_app::credentials::CredentialInput;
use latchkey_app::devices::reconcile;
use latchkey_app::directory::{DoorInput, PropertyInput};
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, SystemClock};
use latchkey_bridge::{BridgePort, BridgeStats, IngestOptions, MqttLink, run_ingest};
use latchkey_core::lock::LockCommand;
use latchkey_core::model::CredentialStatus;
use latchkey_core::model::{CredentialKind, DoorKind, DoorMode, Role};
use latchkey_core::schedule::Schedule;
use latchkey_core::{CredentialId, DoorId, PropertyId};
use latchkey_mqtt::{MqttUrl, QoS, Session, SessionOptions};
use latchkey_sim::FleetConfig;
use latchkey_z2m::Topics;
use tokio::runtime::Runtime;

const LOCKS: usize = 100;
const PINS: usize = 5;

/// A manager named `name` with a PIN on every door, made through `app`.
async fn manager_pin(
    app: &App,
    root: &Principal,
    prop: PropertyId,
    doors: &[DoorId],
    name: &str,
) -> CredentialId {
    let input = PersonInput {
        name: name.into(),
        email: None,
        phone: None,
        password: None,
        membership: MembershipInput {
            role: Role::Manager,
            unit_id: None,
            valid_from: None,
            valid_until: None,
        },
    };
    let (person, _) = app
        .create_person(app.may_create_person(root, prop, &input).unwrap(), input)
        .await
        .unwrap();
    let input = CredentialInput {
        person_id: person.id,
        kind: CredentialKind::Pin,
        label: None,
        unit_id: None,
        doors: Some(doors.to_vec()),
        schedule: Schedule::Always,
        max_uses: None,
        duress: false,
        pin: None,
        card_uid: None,
    };
    app.create_credential(root.credential_issuer(prop, None).unwrap(), input)
        .await
        .unwrap()
        .credential
        .id
}

/// Waits (up to 30 s, polling every 5 ms) until every lock of `pin` shows `status`.
async fn until_locks(app: &App, root: &Principal, pin: CredentialId, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let locks = app.credential_locks(root, pin).await.unwrap();
        if locks.len() == LOCKS && locks.iter().all(|l| l.status == status) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not every lock showed {status} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How many PINs virtual lock `i` holds.
fn held(fleet: &latchkey_sim::FleetHandle, i: usize) -> usize {
    fleet
        .slots(&format!("lock-{i}"))
        .unwrap()
        .iter()
        .filter(|s| !s.pin.expose_secret().is_empty())
        .count()
}

/// Every command each replica sent, with the lock and the instant.
#[derive(Default)]
struct Record {
    sent: Mutex<Vec<(&'static str, String, Instant)>>,
}

impl Record {
    fn by(&self, who: &str) -> Vec<(String, Instant)> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(w, _, _)| *w == who)
            .map(|(_, l, t)| (l.clone(), *t))
            .collect()
    }
}

/// The replica's device port, recording what leaves for the broker. A PIN command takes `slow`
/// microseconds (a busy broker link), so that the burst is still going when the replica is
/// killed; once `dead`, nothing leaves any more, as from a killed process.
struct Recording {
    who: &'static str,
    inner: Arc<BridgePort>,
    record: Arc<Record>,
    dead: Arc<AtomicBool>,
    slow: Arc<AtomicU64>,
}

impl DevicePort for Recording {
    fn desired_state_changed(&self, door: DoorId) {
        self.inner.desired_state_changed(door);
    }

    fn credential_changed(&self, credential: CredentialId, doors: &[DoorId]) {
        self.inner.credential_changed(credential, doors);
    }

    fn drives_devices(&self) -> bool {
        true
    }

    fn send(&self, name: &str, command: &LockCommand) -> Result<(), String> {
        if self.dead.load(Ordering::SeqCst) {
            return Err("the process is gone".into());
        }
        if matches!(
            command,
            LockCommand::SetCode { .. } | LockCommand::ClearSlot { .. }
        ) {
            std::thread::sleep(Duration::from_micros(self.slow.load(Ordering::SeqCst)));
        }
        if self.dead.load(Ordering::SeqCst) {
            return Err("the process is gone".into());
        }
        self.record
            .sent
            .lock()
            .unwrap()
            .push((self.who, name.to_owned(), Instant::now()));
        self.inner.send(name, command)
    }

    fn connected(&self) -> bool {
        self.inner.connected()
    }
}

struct Replica {
    rt: Runtime,
    app: App,
    dead: Arc<AtomicBool>,
    slow: Arc<AtomicU64>,
}

fn replica(who: &'static str, db: &str, mqtt: MqttUrl, record: Arc<Record>) -> Replica {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dead = Arc::new(AtomicBool::new(false));
    let slow = Arc::new(AtomicU64::new(0));
    let app = rt.block_on(async {
        let store = latchkey_store::Store::open(db).await.unwrap();
        let (port, rx_rec) = BridgePort::new();
        let recording = Arc::new(Recording {
            who,
            inner: port.clone(),
            record,
            dead: dead.clone(),
            slow: slow.clone(),
        });
        let app = App::new(
            store,
            Keys::from_master(&[5; 32]),
            Arc::new(SystemClock),
            recording,
            AppConfig::default(),
        );
        let mut opts = SessionOptions::new(mqtt, format!("latchkey-{who}"));
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
            stats,
        ));
        let follower = app.clone();
        tokio::spawn(async move {
            let _ = follower.follow_changes().await;
        });
        // The lease as `serve` runs it (3 s); quicker confirmations than the default.
        tokio::spawn(reconcile::run(
            app.clone(),
            rx_rec,
            reconcile::ReconcileOptions {
                confirm_after: Duration::from_millis(1000),
                holder: who.into(),
                ..Default::default()
            },
        ));
        app
    });
    Replica {
        rt,
        app,
        dead,
        slow,
    }
}

#[test]
fn a_change_through_either_replica_reaches_every_lock_even_when_the_lease_holder_dies_mid_burst() {
    let Some(mosquitto) = latchkey_testkit::mosquitto::Mosquitto::start() else {
        return;
    };
    let main = tokio::runtime::Runtime::new().unwrap();
    // PostgreSQL when the suite has one (as in production), else a shared SQLite file.
    let db = main
        .block_on(latchkey_testkit::backends("failover"))
        .pop()
        .unwrap();
    println!("failover on {:?}", db.backend);
    let url = MqttUrl::tcp(mosquitto.addr());
    let record = Arc::new(Record::default());
    let fleet = main.block_on(async {
        let (fleet, _task) = latchkey_sim::run(FleetConfig {
            mqtt_host: "127.0.0.1".into(),
            mqtt_port: mosquitto.port,
            client_id: "sim-failover".into(),
            locks: LOCKS,
            actuation: Duration::ZERO,
            qos: 1,
            ..FleetConfig::default()
        })
        .await
        .unwrap();
        assert!(fleet.wait_connected(Duration::from_secs(10)).await);
        fleet
    });

    // A starts alone, so it holds the lease, and sets the building up.
    let a = replica("a", &db.url, url.clone(), record.clone());
    let (root, doors) = a.rt.block_on(async {
        let app = &a.app;
        let admin = app
            .create_admin("Ada", "ada@example.org", "ada-password-1")
            .await
            .unwrap();
        let root = app.terminal_principal(admin.id).await.unwrap();
        let prop = app
            .create_property(
                root.admin().unwrap(),
                PropertyInput {
                    name: "Failover House".into(),
                    address: String::new(),
                    timezone: "Europe/Berlin".into(),
                    policy: Default::default(),
                    office_hours: Schedule::Always,
                },
            )
            .await
            .unwrap();
        let mut doors = Vec::new();
        for i in 0..LOCKS {
            let door = app
                .create_door(
                    root.staff(prop.id).unwrap(),
                    DoorInput {
                        name: format!("gate {i}"),
                        kind: DoorKind::BuildingEntrance,
                        unit_id: None,
                        mode: DoorMode::Normal,
                        pin_slots: 10,
                    },
                )
                .await
                .unwrap();
            app.pair_lock(
                app.may_pair_lock(&root, door.id).await.unwrap(),
                Some(&format!("lock-{i}")),
            )
            .await
            .unwrap();
            doors.push(door.id);
        }
        (root, (prop.id, doors))
    });
    let (prop, doors) = doors;
    // A wrote the locks' settings: it holds the lease.
    let deadline = Instant::now() + Duration::from_secs(20);
    while record.by("a").len() < LOCKS {
        assert!(
            Instant::now() < deadline,
            "A never wrote the locks' settings"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let b = replica("b", &db.url, url, record.clone());
    let root_b = b.rt.block_on(b.app.terminal_principal(root.id())).unwrap();
    // Timed: one PIN on every lock, created and then revoked through B, which does not hold
    // the lease; B's change feed hands each change to A, which sends it.
    let (set_in, removed_in) = b.rt.block_on(async {
        let started = Instant::now();
        let pin = manager_pin(&b.app, &root_b, prop, &doors, "Timed").await;
        until_locks(&b.app, &root_b, pin, "set").await;
        let set_in = started.elapsed();
        let started = Instant::now();
        b.app
            .set_credential_status(
                b.app
                    .may_set_credential_status(&root_b, pin, CredentialStatus::Revoked)
                    .await
                    .unwrap(),
            )
            .await
            .unwrap();
        until_locks(&b.app, &root_b, pin, "removed").await;
        (set_in, started.elapsed())
    });
    for i in 0..LOCKS {
        assert_eq!(
            held(&fleet, i),
            0,
            "lock-{i} no longer holds the revoked PIN"
        );
    }
    println!(
        "through the replica without the lease: a PIN set on all {LOCKS} locks in {:.2} s, \
         revoked from all of them in {:.2} s",
        set_in.as_secs_f64(),
        removed_in.as_secs_f64()
    );

    // The burst, through B: five managers' PINs on every door. A's link is slowed so that it
    // is still sending when it is killed.
    a.slow.store(3_000, Ordering::SeqCst);
    let creds: Vec<CredentialId> = b.rt.block_on(async {
        let mut creds = Vec::new();
        for i in 0..PINS {
            creds.push(manager_pin(&b.app, &root_b, prop, &doors, &format!("Manager {i}")).await);
        }
        creds
    });
    let settings = record.by("a").len();
    // Kill A once it is well into the burst.
    let deadline = Instant::now() + Duration::from_secs(20);
    while record.by("a").len() < settings + 50 {
        assert!(Instant::now() < deadline, "A never started the burst");
        std::thread::sleep(Duration::from_millis(5));
    }
    a.dead.store(true, Ordering::SeqCst);
    let killed = Instant::now();
    a.rt.shutdown_background();
    let a_sent = record.by("a").len() - settings;
    println!(
        "killed the lease holder after it sent {a_sent} of {} PIN writes",
        PINS * LOCKS
    );

    // B takes over and every PIN reaches every lock.
    let deadline = killed + Duration::from_secs(30);
    let converged = loop {
        let done = b.rt.block_on(async {
            for c in &creds {
                let locks = b.app.credential_locks(&root_b, *c).await.unwrap();
                if locks.len() != LOCKS || locks.iter().any(|l| l.status != "set") {
                    return false;
                }
            }
            true
        });
        if done {
            break killed.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "not every lock converged within 30 s of the kill"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    for i in 0..LOCKS {
        assert_eq!(held(&fleet, i), PINS, "lock-{i} holds every PIN");
    }

    // No lock heard from both at once: everything A sent precedes everything B sent.
    let mut last_a: HashMap<String, Instant> = HashMap::new();
    for (lock, t) in record.by("a") {
        let e = last_a.entry(lock).or_insert(t);
        *e = (*e).max(t);
    }
    let b_sent = record.by("b");
    assert!(!b_sent.is_empty(), "B sent what was left");
    for (lock, t) in &b_sent {
        if let Some(a_last) = last_a.get(lock) {
            assert!(a_last < t, "{lock} heard from A after B had begun");
        }
    }
    let first_b = b_sent.iter().map(|(_, t)| *t).min().unwrap();
    let takeover = first_b.duration_since(killed);
    println!(
        "failover: B's first command {:.2} s after the kill; every lock converged {:.2} s after it \
         ({} commands from B)",
        takeover.as_secs_f64(),
        converged.as_secs_f64(),
        b_sent.len()
    );
    b.rt.shutdown_background();
    main.block_on(db.remove());
}
