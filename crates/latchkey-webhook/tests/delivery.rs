//! Webhooks end to end on every backend: the app's outbox worker, the real HTTP sender and a
//! real receiver on port 0 that checks each request the way the Standard Webhooks convention
//! says (its verifier is written here from the convention, not borrowed from the server).

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use data_encoding::BASE64;
use hmac::{Hmac, KeyInit, Mac};
use jiff::SignedDuration;
use latchkey_app::authz::Principal;
use latchkey_app::outbox::{Channels, OutboxConfig, WebhookSender};
use latchkey_app::webhooks::{EndpointChange, EndpointInput, WithSecret};
use latchkey_app::{App, AppConfig, AppError, ManualClock, NoDevices, secrets::Keys};
use latchkey_core::model::{DoorKind, DoorMode, Role};
use latchkey_webhook::{HttpConfig, HttpSender};
use sha2::Sha256;

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
struct Seen {
    id: String,
    timestamp: i64,
    signatures: Vec<String>,
    body: serde_json::Value,
    raw: Vec<u8>,
}

#[derive(Default)]
struct Receiver {
    /// Answer 503 to this many requests first.
    down_for: AtomicUsize,
    /// Answer this status to everything (0: none).
    status: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
    /// What the handler acted on: each id once, in arrival order.
    handled: Mutex<Vec<Seen>>,
}

async fn hook(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let seen = Seen {
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp").parse().unwrap_or(0),
        signatures: h("webhook-signature")
            .split(' ')
            .map(str::to_owned)
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        raw: body.to_vec(),
    };
    r.seen.lock().unwrap().push(seen.clone());
    let fixed = r.status.load(Ordering::SeqCst);
    if fixed != 0 {
        return StatusCode::from_u16(u16::try_from(fixed).unwrap()).unwrap();
    }
    if r.down_for
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let mut handled = r.handled.lock().unwrap();
    if !handled.iter().any(|s| s.id == seen.id) {
        handled.push(seen);
    }
    StatusCode::NO_CONTENT
}

async fn receiver() -> (String, Arc<Receiver>) {
    let r = Arc::new(Receiver::default());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), r)
}

/// The receiver's check, from the convention: the base64 key after `whsec_`, an HMAC-SHA256
/// of `{id}.{timestamp}.{body}`, compared with each `v1,` entry; and a timestamp no further
/// than five minutes from `now`.
fn verifies(secret: &str, s: &Seen, now: i64) -> bool {
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").unwrap().as_bytes())
        .unwrap();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", s.id, s.timestamp).as_bytes());
    mac.update(&s.raw);
    let expected = format!("v1,{}", BASE64.encode(&mac.finalize().into_bytes()));
    (s.timestamp - now).abs() <= 300 && s.signatures.contains(&expected)
}

struct World {
    app: App,
    store: latchkey_store::Store,
    clock: Arc<ManualClock>,
    admin: Principal,
    manager: Principal,
    resident: Principal,
    property: latchkey_core::PropertyId,
}

async fn world(db: &latchkey_testkit::TestDb) -> World {
    let store = db.open().await;
    let clock = Arc::new(ManualClock::new(
        jiff::Timestamp::from_second(1_767_600_000).unwrap(),
    ));
    let app = App::new(
        store.clone(),
        Keys::from_master(&[7; 32]),
        clock.clone(),
        Arc::new(NoDevices),
        AppConfig::default(),
    );
    let admin = app
        .create_admin("Ada Admin", "admin@example.org", "admin's long password")
        .await
        .unwrap();
    let admin = app.terminal_principal(admin.id).await.unwrap();
    let property = app
        .create_property(
            admin.admin().unwrap(),
            latchkey_app::directory::PropertyInput {
                name: "Linden House".into(),
                address: "1 Lock Lane".into(),
                timezone: "Europe/Berlin".into(),
                policy: latchkey_core::model::Policy::default(),
                office_hours: latchkey_core::schedule::Schedule::Always,
            },
        )
        .await
        .unwrap()
        .id;
    let unit = app
        .create_unit(admin.staff(property).unwrap(), "4071", 4, None)
        .await
        .unwrap();
    let mut people = Vec::new();
    for (name, email, role, unit) in [
        ("Max Manager", "max@example.org", Role::Manager, None),
        (
            "Rosa Resident",
            "rosa@example.org",
            Role::Resident,
            Some(unit.id),
        ),
    ] {
        let input = latchkey_app::people::PersonInput {
            name: name.into(),
            email: Some(email.into()),
            phone: None,
            password: None,
            membership: latchkey_app::people::MembershipInput {
                role,
                unit_id: unit,
                valid_from: None,
                valid_until: None,
            },
        };
        let (p, _) = app
            .create_person(
                app.may_create_person(&admin, property, &input).unwrap(),
                input,
            )
            .await
            .unwrap();
        people.push(app.terminal_principal(p.id).await.unwrap());
    }
    let resident = people.pop().unwrap();
    let manager = people.pop().unwrap();
    World {
        app,
        store,
        clock,
        admin,
        manager,
        resident,
        property,
    }
}

impl World {
    async fn endpoint(&self, url: &str, kinds: &[&str]) -> WithSecret {
        self.app
            .create_webhook(
                self.manager.webhook_manager(self.property).unwrap(),
                EndpointInput {
                    url: url.into(),
                    description: "the front desk's system".into(),
                    kinds: kinds.iter().map(|k| (*k).to_owned()).collect(),
                },
            )
            .await
            .unwrap()
    }

    async fn door(&self, name: &str) {
        self.app
            .create_door(
                self.admin.staff(self.property).unwrap(),
                latchkey_app::directory::DoorInput {
                    name: name.into(),
                    kind: DoorKind::BuildingEntrance,
                    unit_id: None,
                    mode: DoorMode::Normal,
                    pin_slots: 10,
                },
            )
            .await
            .unwrap();
    }

    fn worker(&self) -> latchkey_app::outbox::OutboxWorker {
        let sender = Arc::new(HttpSender::new(HttpConfig {
            timeout: Duration::from_secs(5),
            ..HttpConfig::default()
        }));
        self.app.outbox_worker(
            OutboxConfig {
                first_backoff: Duration::from_secs(1),
                max_backoff: Duration::from_secs(4),
                worker: "test".into(),
                ..OutboxConfig::default()
            },
            Channels {
                webhook: Some(sender as Arc<dyn WebhookSender>),
                ..Channels::default()
            },
        )
    }

    fn now(&self) -> i64 {
        self.app.now().as_second()
    }
}

#[tokio::test]
async fn a_receiver_down_at_first_gets_each_event_once_in_order_after_retries() {
    latchkey_testkit::each_backend("webhook_retries", |db| async move {
        let w = world(&db).await;
        let (url, rx) = receiver().await;
        let created = w.endpoint(&url, &["door.created"]).await;
        rx.down_for.store(3, Ordering::SeqCst);
        for i in 0..5 {
            w.door(&format!("Entrance {i}")).await;
        }
        let worker = w.worker();
        for _ in 0..30 {
            worker.pass().await.unwrap();
            if rx.handled.lock().unwrap().len() == 5 {
                break;
            }
            // Past any backoff of the test's configuration (at most 4 s).
            w.clock.advance(SignedDuration::from_secs(5));
        }
        let seen = rx.seen.lock().unwrap().clone();
        let handled = rx.handled.lock().unwrap().clone();
        assert_eq!(handled.len(), 5, "{seen:?}");
        assert_eq!(
            seen.len(),
            8,
            "three refusals, then five deliveries: {seen:?}"
        );
        // The first delivery was tried four times before anything after it was sent.
        assert!(seen[..4].iter().all(|s| s.id == seen[0].id), "{seen:?}");
        let ids: Vec<i64> = handled.iter().map(|s| s.id.parse().unwrap()).collect();
        assert!(ids.windows(2).all(|p| p[0] < p[1]), "in order: {ids:?}");
        let seqs: Vec<i64> = handled
            .iter()
            .map(|s| s.body["data"]["seq"].as_i64().unwrap())
            .collect();
        assert!(
            seqs.windows(2).all(|p| p[0] < p[1]),
            "events in order: {seqs:?}"
        );
        for s in &seen {
            assert!(
                verifies(&created.secret, s, s.timestamp),
                "signature of {s:?}"
            );
            assert_eq!(s.signatures.len(), 1);
            assert_eq!(s.body["type"], "door.created");
            assert!(s.body["timestamp"].is_string());
        }
        for s in &handled {
            assert!((s.timestamp - w.now()).abs() <= 300, "a fresh timestamp");
        }
        // Nothing is left to send, and another pass sends nothing again.
        let again = worker.pass().await.unwrap();
        assert_eq!(again.sent, 0);
        assert_eq!(rx.seen.lock().unwrap().len(), 8);
        db.remove().await;
    })
    .await;
}

#[tokio::test]
async fn during_a_rotation_both_secrets_sign_and_after_it_only_the_new_one() {
    latchkey_testkit::each_backend("webhook_rotation", |db| async move {
        let w = world(&db).await;
        let (url, rx) = receiver().await;
        let old = w.endpoint(&url, &["door.created"]).await;
        let cap = w
            .app
            .may_change_webhook(&w.manager, old.endpoint.id)
            .await
            .unwrap();
        let new = w.app.rotate_webhook_secret(cap).await.unwrap();
        assert_ne!(new.secret, old.secret);
        let worker = w.worker();
        w.door("During").await;
        worker.pass().await.unwrap();
        w.clock.advance(SignedDuration::from_hours(25));
        w.door("After").await;
        worker.pass().await.unwrap();
        let seen = rx.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "{seen:?}");
        let (during, after) = (&seen[0], &seen[1]);
        assert_eq!(during.signatures.len(), 2);
        assert!(verifies(&new.secret, during, during.timestamp));
        assert!(verifies(&old.secret, during, during.timestamp));
        assert_eq!(after.signatures.len(), 1);
        assert!(verifies(&new.secret, after, after.timestamp));
        assert!(!verifies(&old.secret, after, after.timestamp));
        db.remove().await;
    })
    .await;
}

#[tokio::test]
async fn a_410_disables_the_endpoint_and_tells_its_owner_and_the_staff() {
    latchkey_testkit::each_backend("webhook_gone", |db| async move {
        let w = world(&db).await;
        let (url, rx) = receiver().await;
        let e = w.endpoint(&url, &["door.created"]).await;
        rx.status.store(410, Ordering::SeqCst);
        w.door("One").await;
        w.door("Two").await;
        let worker = w.worker();
        worker.pass().await.unwrap();
        w.clock.advance(SignedDuration::from_secs(60));
        worker.pass().await.unwrap();
        assert_eq!(rx.seen.lock().unwrap().len(), 1, "nothing after the 410");
        let list = w
            .app
            .webhooks(w.manager.webhook_manager(w.property).unwrap())
            .await
            .unwrap();
        assert!(!list[0].enabled);
        assert!(list[0].disabled_reason.as_deref().unwrap().contains("410"));
        let mut conn = w.store.read().await.unwrap();
        let told = latchkey_store::lockout::notifications_of_person_kind(
            &mut conn,
            w.manager.id(),
            "webhook.disabled",
        )
        .await
        .unwrap();
        assert_eq!(told.len(), 1);
        drop(conn);
        // Enabled again, the receiver back: both events arrive, the first one first.
        rx.status.store(0, Ordering::SeqCst);
        let cap = w
            .app
            .may_change_webhook(&w.manager, e.endpoint.id)
            .await
            .unwrap();
        w.app
            .update_webhook(
                cap,
                EndpointChange {
                    enabled: Some(true),
                    ..EndpointChange::default()
                },
            )
            .await
            .unwrap();
        w.clock.advance(SignedDuration::from_secs(60));
        worker.pass().await.unwrap();
        let handled = rx.handled.lock().unwrap().clone();
        assert_eq!(handled.len(), 2, "{handled:?}");
        assert!(handled[0].id.parse::<i64>().unwrap() < handled[1].id.parse::<i64>().unwrap());
        db.remove().await;
    })
    .await;
}

#[tokio::test]
async fn a_day_of_failures_disables_the_endpoint() {
    latchkey_testkit::each_backend("webhook_failing_day", |db| async move {
        let w = world(&db).await;
        let (url, rx) = receiver().await;
        w.endpoint(&url, &["door.created"]).await;
        rx.status.store(500, Ordering::SeqCst);
        w.door("One").await;
        let worker = w.worker();
        for _ in 0..30 {
            worker.pass().await.unwrap();
            w.clock.advance(SignedDuration::from_hours(1));
        }
        let list = w
            .app
            .webhooks(w.manager.webhook_manager(w.property).unwrap())
            .await
            .unwrap();
        assert!(!list[0].enabled, "{list:?}");
        assert!(
            list[0]
                .disabled_reason
                .as_deref()
                .unwrap()
                .contains("failed since")
        );
        db.remove().await;
    })
    .await;
}

#[tokio::test]
async fn refused_inputs_and_callers_change_nothing() {
    latchkey_testkit::each_backend("webhook_refusals", |db| async move {
        let w = world(&db).await;
        let input = |url: &str, kinds: &[&str], description: &str| EndpointInput {
            url: url.into(),
            description: description.into(),
            kinds: kinds.iter().map(|k| (*k).to_owned()).collect(),
        };
        let cases = [
            (input("ftp://example.org/x", &["lock.jammed"], ""), "url"),
            (input("not a url", &["lock.jammed"], ""), "url"),
            (
                input("https://u:p@example.org/", &["lock.jammed"], ""),
                "url",
            ),
            (input("https://example.org/", &[], ""), "kinds"),
            (
                input("https://example.org/", &["no.such_kind"], ""),
                "kinds",
            ),
            // A household's comings and goings: never a webhook's.
            (input("https://example.org/", &["door.opened"], ""), "kinds"),
            (
                input("https://example.org/", &["access.granted"], ""),
                "kinds",
            ),
            (
                input("https://example.org/", &["lock.unlocked"], ""),
                "kinds",
            ),
            (
                input("https://example.org/", &["lock.jammed"], "a\nb"),
                "description",
            ),
        ];
        for (i, field) in cases {
            let cap = w.manager.webhook_manager(w.property).unwrap();
            match w.app.create_webhook(cap, i.clone()).await {
                Err(AppError::Invalid { field: f, .. }) => assert_eq!(f, field, "{i:?}"),
                other => panic!("{i:?} gave {other:?}"),
            }
        }
        assert!(matches!(
            w.resident.webhook_manager(w.property),
            Err(AppError::Forbidden(_))
        ));
        let e = w
            .endpoint("https://example.org/hook", &["lock.jammed"])
            .await;
        let list = w
            .app
            .webhooks(w.admin.webhook_manager(w.property).unwrap())
            .await
            .unwrap();
        assert_eq!(list.len(), 1, "only the good one was written");
        assert!(matches!(
            w.app.may_change_webhook(&w.resident, e.endpoint.id).await,
            Err(AppError::Forbidden(_))
        ));
        let cap = w
            .app
            .may_change_webhook(&w.manager, e.endpoint.id)
            .await
            .unwrap();
        let refused = w
            .app
            .update_webhook(
                cap,
                EndpointChange {
                    kinds: Some(vec!["sensor.opened".into()]),
                    ..EndpointChange::default()
                },
            )
            .await;
        assert!(matches!(refused, Err(AppError::Invalid { .. })));
        let after = w
            .app
            .webhooks(w.manager.webhook_manager(w.property).unwrap())
            .await
            .unwrap();
        assert_eq!(after[0].kinds, vec!["lock.jammed".to_owned()]);
        db.remove().await;
    })
    .await;
}
