//! The delivery outbox on every backend: a lockout case reaches the household by e-mail, a
//! failing relay is retried and then dead-lettered, a killed worker loses nothing, two workers
//! never send the same delivery, and preferences are checked before anything is written.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{World, membership, person};
use latchkey_app::outbox::{
    Channels, Email, Mailer, OutboxConfig, Preferences, QuietHours, SendError, Sending, Trouble,
};
use latchkey_app::{App, AppConfig, AppError, secrets::Keys};
use latchkey_core::model::Role;

/// A relay that records what it is given, refuses the first `refuse` attempts, and can hang.
#[derive(Default)]
struct Relay {
    got: Mutex<Vec<Email>>,
    refuse: Mutex<usize>,
    hang: bool,
}

impl Mailer for Relay {
    fn send<'a>(&'a self, email: &'a Email) -> Sending<'a> {
        Box::pin(async move {
            {
                let mut r = self.refuse.lock().expect("lock");
                if *r > 0 {
                    *r -= 1;
                    return Err(SendError::Transient("451 try again later".into()));
                }
            }
            self.got.lock().expect("lock").push(email.clone());
            if self.hang {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok(())
        })
    }
}

impl Relay {
    fn got(&self) -> Vec<Email> {
        self.got.lock().expect("lock").clone()
    }
}

fn config(name: &str) -> OutboxConfig {
    OutboxConfig {
        horizon: jiff::SignedDuration::from_hours(24),
        first_backoff: Duration::from_secs(60),
        max_backoff: Duration::from_secs(3600),
        lease: Duration::from_secs(300),
        web_url: "https://latchkey.example.org".into(),
        worker: name.into(),
        ..OutboxConfig::default()
    }
}

fn channels(relay: &Arc<Relay>) -> Channels {
    Channels {
        email: Some(relay.clone() as Arc<dyn Mailer>),
        ..Default::default()
    }
}

async fn household(w: &World) {
    let input = person(
        "Paul Partner",
        Some("paul@example.org"),
        None,
        membership(Role::Household, Some(w.unit.id)),
    );
    w.app
        .create_person(
            w.app
                .may_create_person(&w.admin, w.property.id, &input)
                .expect("the caller may do this"),
            input,
        )
        .await
        .expect("household member");
}

async fn open_case(w: &World) -> String {
    w.app
        .start_lockout_public(
            latchkey_app::lockout::PublicStart {
                property_id: w.property.id.0,
                unit: "4071".into(),
                identity: "Rosa Resident".into(),
            },
            "203.0.113.9",
        )
        .await
        .expect("case")
        .token
}

fn no_secret(e: &Email, token: &str) {
    for part in [&e.text, &e.html, &e.subject] {
        assert!(!part.contains(token), "the case token leaked: {part}");
        assert!(!part.contains("sealed"), "a sealed value leaked: {part}");
        assert!(!part.contains("lkc_"), "a case token leaked: {part}");
    }
}

#[tokio::test]
async fn a_lockout_case_reaches_every_household_member_once_with_a_stable_id() {
    latchkey_testkit::each_backend("outbox_household", |db| async move {
        let w = World::build(&db).await;
        household(&w).await;
        let relay = Arc::new(Relay::default());
        let worker = w.app.outbox_worker(config("a"), channels(&relay));
        let token = open_case(&w).await;
        let pass = worker.pass().await.expect("pass");
        assert_eq!(pass.sent, 2, "{pass:?}");
        let got = relay.got();
        let mut to: Vec<&str> = got.iter().map(|e| e.to.as_str()).collect();
        to.sort_unstable();
        assert_eq!(to, ["paul@example.org", "rosa@example.org"]);
        for e in &got {
            no_secret(e, &token);
            assert!(e.text.contains("locked out") || e.subject.contains("locked out"));
            assert!(
                e.message_id.starts_with("<delivery-")
                    && e.message_id.ends_with("@latchkey.example.org>")
            );
        }
        // Nothing is sent twice by further passes.
        assert_eq!(worker.pass().await.expect("pass").sent, 0);
        assert_eq!(relay.got().len(), 2);
        // The guardians are asked: the partner's e-mail carries their own link, opened for them.
        w.app.ask_guardians(&token).await.expect("ask");
        worker.pass().await.expect("pass");
        let asked: Vec<Email> = relay.got().into_iter().skip(2).collect();
        assert_eq!(asked.len(), 1, "only the partner is a guardian");
        assert_eq!(asked[0].to, "paul@example.org");
        assert!(
            asked[0]
                .text
                .contains("https://latchkey.example.org/guardian?t=lkg_")
        );
        no_secret(&asked[0], &token);
    })
    .await;
}

#[tokio::test]
async fn a_refusing_relay_is_retried_with_backoff_and_each_delivery_is_sent_once() {
    latchkey_testkit::each_backend("outbox_retry", |db| async move {
        let w = World::build(&db).await;
        household(&w).await;
        let relay = Arc::new(Relay {
            refuse: Mutex::new(3),
            ..Relay::default()
        });
        let worker = w.app.outbox_worker(config("a"), channels(&relay));
        open_case(&w).await;
        let p = worker.pass().await.expect("pass");
        assert_eq!((p.sent, p.retried), (0, 2), "{p:?}");
        // Not due yet: nothing is tried before the backoff ends.
        assert_eq!(worker.pass().await.expect("pass"), Default::default());
        let mut sent = 0;
        for _ in 0..6 {
            w.clock.advance(jiff::SignedDuration::from_mins(10));
            sent += worker.pass().await.expect("pass").sent;
        }
        assert_eq!(sent, 2);
        let got = relay.got();
        assert_eq!(got.len(), 2);
        let mut ids: Vec<&str> = got.iter().map(|e| e.message_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 2, "one e-mail per delivery");
    })
    .await;
}

#[tokio::test]
async fn past_the_horizon_a_delivery_is_dead_lettered_and_staff_redeliver_it() {
    latchkey_testkit::each_backend("outbox_dead", |db| async move {
        let w = World::build(&db).await;
        let relay = Arc::new(Relay {
            refuse: Mutex::new(1000),
            ..Relay::default()
        });
        let mut cfg = config("a");
        cfg.horizon = jiff::SignedDuration::from_mins(5);
        let worker = w.app.outbox_worker(cfg.clone(), channels(&relay));
        open_case(&w).await;
        let mut dead = 0;
        for _ in 0..10 {
            dead += worker.pass().await.expect("pass").dead;
            w.clock.advance(jiff::SignedDuration::from_mins(2));
        }
        assert_eq!(dead, 1, "the resident's e-mail is given up on");
        let manager = w
            .app
            .terminal_principal(w.manager.id)
            .await
            .expect("manager");
        let resident = w
            .app
            .terminal_principal(w.resident.id)
            .await
            .expect("resident");
        let listed = w
            .app
            .deliveries_in_trouble(
                manager
                    .outbox_reader(Some(w.property.id))
                    .expect("staff read"),
                Trouble::Dead,
            )
            .await
            .expect("list");
        assert_eq!(listed.len(), 1);
        assert!(
            listed[0]
                .last_error
                .as_deref()
                .unwrap_or("")
                .contains("451")
        );
        // Someone who is not staff sees nothing and cannot redeliver.
        assert!(matches!(
            resident.outbox_reader(Some(w.property.id)),
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            manager.outbox_reader(None),
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            w.app.may_redeliver(&resident, listed[0].id).await,
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            w.app.may_redeliver(&manager, 999_999).await,
            Err(AppError::NotFound(_))
        ));
        *relay.refuse.lock().expect("lock") = 0;
        let again = w
            .app
            .redeliver(
                w.app
                    .may_redeliver(&manager, listed[0].id)
                    .await
                    .expect("may"),
            )
            .await
            .expect("redeliver");
        assert_eq!(again.state, latchkey_app::outbox::DeliveryState::Pending);
        assert_eq!(worker.pass().await.expect("pass").sent, 1);
        assert_eq!(relay.got().len(), 1);
        // A sent delivery is not sent again.
        assert!(matches!(
            w.app
                .redeliver(
                    w.app
                        .may_redeliver(&manager, listed[0].id)
                        .await
                        .expect("may")
                )
                .await,
            Err(AppError::Conflict(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn a_worker_killed_mid_delivery_loses_nothing_and_the_stable_id_dedups() {
    latchkey_testkit::each_backend("outbox_killed", |db| async move {
        let w = World::build(&db).await;
        let hung = Arc::new(Relay {
            hang: true,
            ..Relay::default()
        });
        open_case(&w).await;
        let first = w.app.outbox_worker(config("first"), channels(&hung));
        let running = tokio::spawn(async move { first.pass().await });
        for _ in 0..500 {
            if !hung.got().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(hung.got().len(), 1, "the first worker was mid-delivery");
        running.abort();
        let _ = running.await;
        // A second process on the same database.
        let store = db.open().await;
        let second = App::new(
            store,
            Keys::from_master(&[1; 32]),
            w.clock.clone(),
            Arc::new(latchkey_app::NoDevices),
            AppConfig::default(),
        );
        let relay = Arc::new(Relay::default());
        let worker = second.outbox_worker(config("second"), channels(&relay));
        assert_eq!(
            worker.pass().await.expect("pass").sent,
            0,
            "the claim still holds"
        );
        w.clock.advance(jiff::SignedDuration::from_mins(6));
        assert_eq!(
            worker.pass().await.expect("pass").sent,
            1,
            "the lapsed claim is taken"
        );
        let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
        for e in hung.got().into_iter().chain(relay.got()) {
            *by_id.entry(e.message_id).or_default() += 1;
        }
        assert_eq!(
            by_id.len(),
            1,
            "one message, sent twice at most, under one id"
        );
        assert_eq!(by_id.values().sum::<usize>(), 2);
    })
    .await;
}

#[tokio::test]
async fn two_workers_on_one_database_send_disjoint_deliveries() {
    latchkey_testkit::each_backend("outbox_two", |db| async move {
        let w = World::build(&db).await;
        for i in 0..12 {
            let input = person(
                &format!("Member {i}"),
                Some(&format!("member{i}@example.org")),
                None,
                membership(Role::Household, Some(w.unit.id)),
            );
            w.app
                .create_person(
                    w.app
                        .may_create_person(&w.admin, w.property.id, &input)
                        .expect("may"),
                    input,
                )
                .await
                .expect("member");
        }
        for _ in 0..3 {
            open_case(&w).await;
        }
        let other = App::new(
            db.open().await,
            Keys::from_master(&[1; 32]),
            w.clock.clone(),
            Arc::new(latchkey_app::NoDevices),
            AppConfig::default(),
        );
        let (ra, rb) = (Arc::new(Relay::default()), Arc::new(Relay::default()));
        let mut ca = config("a");
        ca.batch = 2;
        let mut cb = config("b");
        cb.batch = 2;
        let a = w.app.outbox_worker(ca, channels(&ra));
        let b = other.outbox_worker(cb, channels(&rb));
        let (pa, pb) = tokio::join!(a.pass(), b.pass());
        let (pa, pb) = (pa.expect("a"), pb.expect("b"));
        // 3 cases × 13 people with an address.
        assert_eq!(pa.sent + pb.sent, 39, "{pa:?} {pb:?}");
        let ids_a: Vec<i64> = ra.got().iter().map(|e| e.delivery_id).collect();
        let ids_b: Vec<i64> = rb.got().iter().map(|e| e.delivery_id).collect();
        assert!(
            ids_a.iter().all(|i| !ids_b.contains(i)),
            "a delivery went out twice"
        );
        assert_eq!(ids_a.len() + ids_b.len(), 39);
    })
    .await;
}

#[tokio::test]
async fn bad_preferences_are_refused_and_change_nothing_and_quiet_hours_hold_what_can_wait() {
    latchkey_testkit::each_backend("outbox_prefs", |db| async move {
        let w = World::build(&db).await;
        let rosa = w.app.terminal_principal(w.resident.id).await.expect("rosa");
        let quiet = Preferences {
            quiet_hours: Some(QuietHours {
                from: "07:30".into(),
                until: "09:00".into(),
                timezone: "Europe/Berlin".into(),
            }),
            ..Preferences::default()
        };
        w.app
            .set_my_notification_preferences(rosa.own_account(), quiet.clone())
            .await
            .expect("good preferences");
        let bad = |f: fn(&mut Preferences)| {
            let mut p = quiet.clone();
            f(&mut p);
            p
        };
        for (field, p) in [
            (
                "quiet_hours.from",
                bad(|p| {
                    p.quiet_hours
                        .as_mut()
                        .map(|q| q.from = "25:00".into())
                        .unwrap_or(())
                }),
            ),
            (
                "quiet_hours.until",
                bad(|p| {
                    p.quiet_hours
                        .as_mut()
                        .map(|q| q.until = "7pm".into())
                        .unwrap_or(())
                }),
            ),
            (
                "quiet_hours.until",
                bad(|p| {
                    p.quiet_hours
                        .as_mut()
                        .map(|q| q.until = "07:30".into())
                        .unwrap_or(())
                }),
            ),
            (
                "quiet_hours.timezone",
                bad(|p| {
                    p.quiet_hours
                        .as_mut()
                        .map(|q| q.timezone = "Mars/Olympus".into())
                        .unwrap_or(())
                }),
            ),
            (
                "kinds.lockout.guardian_request",
                bad(|p| {
                    p.kinds.insert("lockout.guardian_request".into(), vec![]);
                }),
            ),
            (
                "kinds.Door Mode",
                bad(|p| {
                    p.kinds.insert("Door Mode".into(), vec![]);
                }),
            ),
            (
                "kinds",
                bad(|p| {
                    p.default_channels = vec![latchkey_app::outbox::Channel::Email; 2];
                }),
            ),
        ] {
            match w
                .app
                .set_my_notification_preferences(rosa.own_account(), p)
                .await
            {
                Err(AppError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
            assert_eq!(
                w.app
                    .my_notification_preferences(rosa.own_account())
                    .await
                    .expect("read"),
                quiet,
                "{field}: nothing changed"
            );
        }
        // 08:00 in Berlin is inside Rosa's quiet hours: a lockout notice goes at once (it is a
        // security notice); nothing else of hers would.
        let relay = Arc::new(Relay::default());
        let worker = w.app.outbox_worker(config("a"), channels(&relay));
        open_case(&w).await;
        assert_eq!(worker.pass().await.expect("pass").sent, 1);
    })
    .await;
}
