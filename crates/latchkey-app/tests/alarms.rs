//! Alarms reach the property's staff as digests, on every backend: a storm of a thousand locks
//! going offline is one message per manager and channel with the right count, a blip within
//! the grace is no message at all, a forced entry is told at once and never to the residents,
//! a later alarm waits for the window, and pruning removes old sent deliveries but keeps dead
//! letters.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use common::{World, membership, person};
use jiff::SignedDuration;
use latchkey_app::devices::IngestItem;
use latchkey_app::outbox::{Channels, Email, Mailer, OutboxConfig, SendError, Sending, Trouble};
use latchkey_core::lock::{Availability, DeviceMessage};
use latchkey_core::model::{DoorKind, DoorMode, Role};
use latchkey_z2m::limits::Limits;
use latchkey_z2m::{Topics, parse_inbound};

/// A relay that records what it is given, or refuses everything.
#[derive(Default)]
struct Relay {
    got: Mutex<Vec<Email>>,
    refuse: bool,
}

impl Mailer for Relay {
    fn send<'a>(&'a self, email: &'a Email) -> Sending<'a> {
        Box::pin(async move {
            if self.refuse {
                return Err(SendError::Permanent("550 no such mailbox".into()));
            }
            self.got.lock().unwrap().push(email.clone());
            Ok(())
        })
    }
}

impl Relay {
    fn got(&self) -> Vec<Email> {
        self.got.lock().unwrap().clone()
    }

    fn to(&self, address: &str) -> Vec<Email> {
        self.got().into_iter().filter(|e| e.to == address).collect()
    }
}

fn worker(w: &World, relay: &Arc<Relay>) -> latchkey_app::outbox::OutboxWorker {
    w.app.outbox_worker(
        OutboxConfig {
            web_url: "https://latchkey.example.org".into(),
            worker: "alarms".into(),
            ..OutboxConfig::default()
        },
        Channels {
            email: Some(relay.clone() as Arc<dyn Mailer>),
            ..Channels::default()
        },
    )
}

/// A second member of staff (an installer) and a household member, both reachable by e-mail.
async fn more_people(w: &World) {
    for (name, email, role, unit) in [
        ("Ida Installer", "ida@example.org", Role::Installer, None),
        (
            "Hugo Household",
            "hugo@example.org",
            Role::Household,
            Some(w.unit.id),
        ),
    ] {
        let input = person(name, Some(email), None, membership(role, unit));
        w.app
            .create_person(
                w.app
                    .may_create_person(&w.admin, w.property.id, &input)
                    .unwrap(),
                input,
            )
            .await
            .unwrap();
    }
}

/// `n` amenity doors, door `i` paired with lock `storm/<i>`; returns the locks' names.
async fn locks(w: &World, n: usize) -> Vec<String> {
    let mut names = Vec::with_capacity(n);
    for i in 0..n {
        let d = w
            .app
            .create_door(
                w.admin.staff(w.property.id).unwrap(),
                latchkey_app::directory::DoorInput {
                    name: format!("Storm door {i}"),
                    kind: DoorKind::Amenity,
                    unit_id: None,
                    mode: DoorMode::Normal,
                    pin_slots: 10,
                },
            )
            .await
            .unwrap();
        let name = format!("storm/{i}");
        w.app
            .pair_lock(
                w.app.may_pair_lock(&w.admin, d.id).await.unwrap(),
                Some(&name),
            )
            .await
            .unwrap();
        names.push(name);
    }
    names
}

/// Every lock of `names` reports `a`, in batches of 250 (one transaction each, as the bridge
/// ingests).
async fn availability(w: &World, names: &[String], a: Availability) {
    for chunk in names.chunks(250) {
        let items = chunk
            .iter()
            .map(|name| IngestItem {
                identity: None,
                message: DeviceMessage::availability(name.clone(), a),
            })
            .collect();
        w.app.ingest(items).await.unwrap();
    }
}

async fn report(w: &World, lock: &str, payload: &str) {
    let message = parse_inbound(
        &Topics::default(),
        &format!("zigbee2mqtt/{lock}"),
        payload.as_bytes(),
        &Limits::default(),
    )
    .unwrap()
    .unwrap();
    w.app
        .ingest(vec![IngestItem {
            identity: None,
            message: latchkey_bridge::zigbee::message(message),
        }])
        .await
        .unwrap();
}

const STAFF: [&str; 2] = ["max@example.org", "ida@example.org"];

#[tokio::test]
async fn a_thousand_locks_offline_at_once_reach_each_manager_as_one_message_per_channel() {
    latchkey_testkit::each_backend("alarm_storm", |db| async move {
        let w = World::build(&db).await;
        more_people(&w).await;
        let names = locks(&w, 1_000).await;
        availability(&w, &names, Availability::Online).await;
        let relay = Arc::new(Relay::default());
        let worker = worker(&w, &relay);
        worker.pass().await.unwrap();
        let before = relay.got().len();

        // The broker restarts: every lock goes offline within a second.
        availability(&w, &names, Availability::Offline).await;
        w.clock.advance(SignedDuration::from_secs(1));
        worker.pass().await.unwrap();
        assert_eq!(relay.got().len(), before, "nothing is told within the grace");
        // Past the grace, the storm is held for the window, then told whole.
        w.clock.advance(SignedDuration::from_secs(60));
        worker.pass().await.unwrap();
        assert_eq!(relay.got().len(), before, "held for the window");
        w.clock.advance(SignedDuration::from_secs(30));
        worker.pass().await.unwrap();
        worker.pass().await.unwrap();
        for staff in STAFF {
            let got = relay.to(staff);
            assert_eq!(got.len(), 1, "one message for {staff}: {got:#?}");
            let e = &got[0];
            assert_eq!(e.subject, "Alarms at Linden House: 1000 offline");
            assert!(
                e.text
                    .contains("1000 locks went offline in Linden House at 08:00: Storm door 0, Storm door 1, Storm door 2 and 997 more."),
                "{}",
                e.text
            );
        }
        for resident in ["rosa@example.org", "hugo@example.org"] {
            assert!(relay.to(resident).is_empty(), "{resident} runs no building");
        }
        for staff in [w.manager.id] {
            assert_eq!(w.app.alarm_notices_waiting(staff).await.unwrap(), 0);
        }

        // The locks come back and a few go again: told in the next window, not before.
        let sent = relay.got().len();
        availability(&w, &names, Availability::Online).await;
        availability(&w, &names[..5], Availability::Offline).await;
        w.clock.advance(SignedDuration::from_secs(61));
        worker.pass().await.unwrap();
        w.clock.advance(SignedDuration::from_secs(30));
        worker.pass().await.unwrap();
        assert_eq!(relay.got().len(), sent + STAFF.len(), "one more each");
        assert!(relay.to(STAFF[0])[1].text.starts_with("Hello Max Manager,\n\n5 locks went offline"));
    })
    .await;
}

#[tokio::test]
async fn a_lock_offline_then_online_within_the_grace_tells_nobody() {
    latchkey_testkit::each_backend("alarm_blip", |db| async move {
        let w = World::build(&db).await;
        let names = locks(&w, 2).await;
        availability(&w, &names, Availability::Online).await;
        let relay = Arc::new(Relay::default());
        let worker = worker(&w, &relay);
        availability(&w, &names[..1], Availability::Offline).await;
        w.clock.advance(SignedDuration::from_secs(20));
        availability(&w, &names[..1], Availability::Online).await;
        assert_eq!(w.app.alarm_notices_waiting(w.manager.id).await.unwrap(), 0);
        for _ in 0..4 {
            w.clock.advance(SignedDuration::from_secs(60));
            worker.pass().await.unwrap();
        }
        assert!(relay.got().is_empty(), "{:#?}", relay.got());

        // Offline past the grace is told, even when the lock comes back later.
        availability(&w, &names[1..], Availability::Offline).await;
        w.clock.advance(SignedDuration::from_secs(61));
        worker.pass().await.unwrap();
        availability(&w, &names[1..], Availability::Online).await;
        w.clock.advance(SignedDuration::from_secs(30));
        worker.pass().await.unwrap();
        let got = relay.to("max@example.org");
        assert_eq!(got.len(), 1);
        assert!(
            got[0].text.contains("1 lock went offline in Linden House"),
            "{}",
            got[0].text
        );
    })
    .await;
}

#[tokio::test]
async fn a_forced_entry_is_told_to_staff_at_once_without_the_residents_data() {
    latchkey_testkit::each_backend("alarm_forced", |db| async move {
        let w = World::build(&db).await;
        more_people(&w).await;
        let names = locks(&w, 3).await;
        availability(&w, &names, Availability::Online).await;
        let relay = Arc::new(Relay::default());
        let worker = worker(&w, &relay);
        report(
            &w,
            &names[0],
            r#"{"lock_state":"locked","door_state":"closed"}"#,
        )
        .await;
        report(&w, &names[0], r#"{"door_state":"error_forced_open"}"#).await;
        // No clock moves: a security alarm has no hold.
        worker.pass().await.unwrap();
        for staff in STAFF {
            let got: Vec<Email> = relay
                .to(staff)
                .into_iter()
                .filter(|e| e.subject.starts_with("Security alarm"))
                .collect();
            assert_eq!(got.len(), 1, "{staff}: {:#?}", relay.got());
            let e = &got[0];
            assert_eq!(e.subject, "Security alarm at Linden House: 1 forced");
            assert!(
                e.text
                    .contains("1 door was forced in Linden House at 08:00: Storm door 0.")
            );
            for personal in ["Rosa", "rosa@example.org", "Hugo", "hugo@", "4071"] {
                assert!(
                    !e.text.contains(personal) && !e.html.contains(personal),
                    "{personal} in {}",
                    e.text
                );
            }
        }
        // A second forced door within the window waits for it: one message per window.
        let told = relay.got().len();
        report(
            &w,
            &names[1],
            r#"{"lock_state":"locked","door_state":"closed"}"#,
        )
        .await;
        report(&w, &names[1], r#"{"door_state":"error_forced_open"}"#).await;
        report(&w, &names[2], r#"{"battery":9}"#).await;
        w.clock.advance(SignedDuration::from_secs(10));
        worker.pass().await.unwrap();
        let security_now = |r: &Relay| {
            r.got()
                .iter()
                .filter(|e| e.subject.starts_with("Security alarm"))
                .count()
        };
        let after_first = security_now(&relay);
        w.clock.advance(SignedDuration::from_secs(21));
        worker.pass().await.unwrap();
        assert_eq!(
            security_now(&relay),
            after_first + STAFF.len(),
            "told when the window ends"
        );
        let last = relay.to(STAFF[0]).into_iter().last().unwrap();
        assert!(
            last.text
                .contains("1 door was forced in Linden House at 08:00: Storm door 1."),
            "{}",
            last.text
        );
        assert!(
            last.text
                .contains("1 lock has a low battery in Linden House"),
            "{}",
            last.text
        );
        assert!(relay.got().len() >= told + STAFF.len());
    })
    .await;
}

#[tokio::test]
async fn pruning_removes_old_sent_deliveries_and_keeps_dead_letters() {
    latchkey_testkit::each_backend("alarm_prune", |db| async move {
        let w = World::build(&db).await;
        let names = locks(&w, 1).await;
        availability(&w, &names, Availability::Online).await;
        // Max hears of a low battery.
        let relay = Arc::new(Relay::default());
        report(&w, &names[0], r#"{"battery":9}"#).await;
        w.clock.advance(SignedDuration::from_secs(31));
        worker(&w, &relay).pass().await.unwrap();
        assert_eq!(relay.to("max@example.org").len(), 1, "{:#?}", relay.got());
        // Then of tampering, with Ida, through a relay that refuses both for good.
        let input = person(
            "Ida Installer",
            Some("ida@example.org"),
            None,
            membership(Role::Installer, None),
        );
        w.app
            .create_person(
                w.app
                    .may_create_person(&w.admin, w.property.id, &input)
                    .unwrap(),
                input,
            )
            .await
            .unwrap();
        w.clock.advance(SignedDuration::from_secs(31));
        report(
            &w,
            &names[0],
            r#"{"alarm":"tamper_alarm_front_escutcheon"}"#,
        )
        .await;
        let refusing = Arc::new(Relay {
            refuse: true,
            ..Relay::default()
        });
        let p = worker(&w, &refusing).pass().await.unwrap();
        assert_eq!(p.dead, 2, "{p:?}");
        let dead = || async {
            let admin = w.admin.outbox_reader(None).unwrap();
            w.app
                .deliveries_in_trouble(admin, Trouble::Dead)
                .await
                .unwrap()
                .len()
        };
        assert_eq!(dead().await, 2);

        // Within the retention nothing goes.
        w.clock.advance(SignedDuration::from_hours(24 * 29));
        let r = w.app.apply_retention().await.unwrap();
        assert_eq!(r.outbox, Default::default(), "{r:?}");
        // Past it, the sent delivery and its notification go; dead letters stay.
        w.clock.advance(SignedDuration::from_hours(48));
        let r = w.app.apply_retention().await.unwrap();
        assert_eq!((r.outbox.sent, r.outbox.dead), (1, 0), "{r:?}");
        assert_eq!(r.outbox.notifications, 1, "{r:?}");
        assert_eq!(dead().await, 2);
        // Dead letters go when personal data would (90 days by default).
        w.clock.advance(SignedDuration::from_hours(24 * 60));
        let r = w.app.apply_retention().await.unwrap();
        assert_eq!(r.outbox.dead, 2, "{r:?}");
        assert_eq!(dead().await, 0);
    })
    .await;
}
