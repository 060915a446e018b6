//! Failover: two replicas on one database and one Mosquitto, 100 virtual locks. The lease holder
//! dies without releasing anything in the middle of a burst of PIN writes; the other takes the
//! lease over, sends what was left, and every lock converges — and no lock ever hears from both
//! replicas at once. Prints how long the takeover and the convergence took.
//!
//! Each replica runs on its own Tokio runtime, so that killing one drops all of its tasks and
//! connections at once, as `kill -9` would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::connected;
use latchkey_app::credentials::CredentialInput;
use latchkey_app::devices::{DeviceLink, reconcile};
use latchkey_app::directory::{DoorInput, PropertyInput};
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, SystemClock};
use latchkey_bridge::{BridgeStats, IngestOptions, MqttLink, run_ingest};
use latchkey_core::CredentialId;
use latchkey_core::model::{CredentialKind, DoorKind, DoorMode, Role};
use latchkey_core::schedule::Schedule;
use latchkey_mqtt::{MqttUrl, QoS, Session, SessionOptions};
use latchkey_sim::FleetConfig;
use latchkey_z2m::{Command, Topics};
use tokio::runtime::Runtime;

const LOCKS: usize = 100;
const PINS: usize = 5;

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

/// The replica's link to the broker, recording what leaves. A PIN command takes `slow` (a busy
/// broker link), so that the burst is still going when the replica is killed; once `dead`,
/// nothing leaves any more, as from a killed process.
struct Recording {
    who: &'static str,
    inner: MqttLink,
    record: Arc<Record>,
    dead: Arc<AtomicBool>,
    slow: Duration,
}

impl DeviceLink for Recording {
    fn send(&self, name: &str, command: &Command) -> Result<(), String> {
        if self.dead.load(Ordering::SeqCst) {
            return Err("the process is gone".into());
        }
        if matches!(command, Command::SetPin { .. } | Command::ClearPin { .. }) {
            std::thread::sleep(self.slow);
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
}

fn replica(
    who: &'static str,
    db: &str,
    mqtt: MqttUrl,
    record: Arc<Record>,
    slow: Duration,
) -> Replica {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dead = Arc::new(AtomicBool::new(false));
    let app = rt.block_on(async {
        let store = latchkey_store::Store::open(db).await.unwrap();
        let (notifier, rx_rec) = reconcile::channel();
        let app = App::new(
            store,
            Keys::from_master(&[5; 32]),
            Arc::new(SystemClock),
            Arc::new(notifier),
            AppConfig::default(),
        );
        let mut opts = SessionOptions::new(mqtt, format!("latchkey-{who}"));
        opts.subscriptions = vec![("zigbee2mqtt/#".into(), QoS::AtLeastOnce)];
        opts.shared_group = Some("latchkey".into());
        opts.manual_acks = true;
        let (handle, rx) = Session::start(opts).unwrap();
        connected(&mut handle.state()).await;
        let stats = Arc::new(BridgeStats::default());
        app.attach_link(Arc::new(Recording {
            who,
            inner: MqttLink::new(
                handle.clone(),
                Topics::default(),
                QoS::AtLeastOnce,
                stats.clone(),
            ),
            record,
            dead: dead.clone(),
            slow,
        }));
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
    Replica { rt, app, dead }
}

#[test]
fn when_the_lease_holder_dies_mid_burst_the_other_replica_takes_over_and_every_lock_converges() {
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
    let a = replica(
        "a",
        &db.url,
        url.clone(),
        record.clone(),
        Duration::from_millis(3),
    );
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

    let b = replica("b", &db.url, url, record.clone(), Duration::ZERO);
    let root_b = b.rt.block_on(b.app.terminal_principal(root.id())).unwrap();
    // The burst, through B (which does not hold the lease): five managers' PINs on every
    // door; B's change feed hands them to A.
    let creds: Vec<CredentialId> = b.rt.block_on(async {
        let mut creds = Vec::new();
        for i in 0..PINS {
            let input = PersonInput {
                name: format!("Manager {i}"),
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
            let (person, _) = b
                .app
                .create_person(
                    b.app.may_create_person(&root_b, prop, &input).unwrap(),
                    input,
                )
                .await
                .unwrap();
            let input = CredentialInput {
                person_id: person.id,
                kind: CredentialKind::Pin,
                label: None,
                unit_id: None,
                doors: Some(doors.clone()),
                schedule: Schedule::Always,
                max_uses: None,
                duress: false,
                pin: None,
                card_uid: None,
            };
            let c = b
                .app
                .create_credential(
                    root_b.credential_issuer(prop, input.unit_id).unwrap(),
                    input,
                )
                .await
                .unwrap();
            creds.push(c.credential.id);
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
        let held = fleet
            .slots(&format!("lock-{i}"))
            .unwrap()
            .iter()
            .filter(|s| !s.pin.expose_secret().is_empty())
            .count();
        assert_eq!(held, PINS, "lock-{i} holds every PIN");
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
    let mut hist = std::collections::BTreeMap::new();
    for (_, t) in &b_sent {
        *hist
            .entry(t.duration_since(killed).as_millis() / 250)
            .or_insert(0) += 1;
    }
    eprintln!("DEBUG {hist:?}");
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
