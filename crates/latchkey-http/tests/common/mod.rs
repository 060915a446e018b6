//! A building with one person of every role, each holding an API token, served in-process on
//! a database from `latchkey-testkit` (any backend).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use latchkey_app::access::AccessQuery;
use latchkey_app::credentials::CredentialInput;
use latchkey_app::directory::{DoorInput, PropertyInput, SensorInput};
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, ManualClock, NoDevices};
use latchkey_core::model::{CredentialKind, DoorKind, Role, SensorKind};
use latchkey_core::schedule::Schedule;
use latchkey_http::{HttpConfig, router};
use latchkey_testkit::TestDb;
use tower::ServiceExt;

pub const ROLES: [&str; 8] = [
    "anon",
    "outsider",
    "guest",
    "household",
    "resident",
    "manager",
    "installer",
    "admin",
];

pub struct Fixture {
    pub app: App,
    /// The test's own handle on the database, to look at what the use cases wrote.
    pub store: latchkey_store::Store,
    pub router: axum::Router,
    pub tokens: std::collections::HashMap<&'static str, (String, i64)>,
    pub property: i64,
    pub other_property: i64,
    pub unit: i64,
    pub door: i64,
    pub other_door: i64,
    pub group: i64,
    pub sensor: i64,
    pub household: i64,
    pub resident: i64,
    pub household_membership: i64,
    pub credential: i64,
    pub resident_session: i64,
    /// A remote command on the unit's door.
    pub command: i64,
    pub manager: i64,
    /// A spare key to the unit, held by the household member.
    pub spare_key: i64,
    pub locksmith: i64,
    /// An open lockout case for the resident of the unit.
    pub lockout: i64,
    /// The clock the app reads.
    pub clock: Arc<ManualClock>,
    /// An entry notice for the unit, two days ahead.
    pub entry_notice: i64,
    /// The gateway login `hall-stick` of the embedded broker.
    pub broker_login: i64,
    /// A dead letter at the property: the e-mail telling the resident of the lockout case,
    /// refused for good by the relay.
    pub dead_letter: i64,
    /// The resident's Web Push subscription, at [`RESIDENT_PUSH_ENDPOINT`].
    pub resident_push: i64,
    /// A webhook endpoint of the property, created by the admin.
    pub webhook: i64,
}

/// The endpoint of the resident's push subscription.
pub const RESIDENT_PUSH_ENDPOINT: &str = "https://push.example.net/send/rita";

/// A browser's subscription keys (the RFC 8291 example's): a point on P-256 and 16 bytes.
pub const PUSH_KEYS: &str = r#"{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"BTBZMqHH6r4Tts7J_aSIgg"}"#;

/// A relay that refuses every message for good.
struct Refusing;

impl latchkey_app::outbox::Mailer for Refusing {
    fn send<'a>(
        &'a self,
        _email: &'a latchkey_app::outbox::Email,
    ) -> latchkey_app::outbox::Sending<'a> {
        Box::pin(async {
            Err(latchkey_app::outbox::SendError::Permanent(
                "550 mailbox unavailable".into(),
            ))
        })
    }
}

fn membership(role: Role, unit: Option<i64>) -> MembershipInput {
    MembershipInput {
        role,
        unit_id: unit.map(latchkey_core::UnitId),
        valid_from: None,
        valid_until: None,
    }
}

/// Builds the building on `db`; the caller removes `db` afterwards (`each_backend` does).
pub async fn fixture(db: &TestDb) -> Fixture {
    let store = db.open().await;
    let clock = Arc::new(ManualClock::new("2026-11-26T12:00:00Z".parse().unwrap()));
    let app = App::new(
        store.clone(),
        Keys::from_master(&[3; 32]),
        clock.clone(),
        Arc::new(NoDevices),
        AppConfig::default(),
    );
    let admin = app
        .create_admin("Ada Admin", "admin@example.org", "admin-password-1")
        .await
        .unwrap();
    let root = app.terminal_principal(admin.id).await.unwrap();
    let prop = |name: &str| PropertyInput {
        name: name.into(),
        address: String::new(),
        timezone: "Europe/Berlin".into(),
        policy: Default::default(),
        office_hours: Schedule::Always,
    };
    let a = app
        .create_property(root.admin().unwrap(), prop("Alpha House"))
        .await
        .unwrap()
        .id;
    let b = app
        .create_property(root.admin().unwrap(), prop("Beta House"))
        .await
        .unwrap()
        .id;
    let u1 = app
        .create_unit(root.staff(a).unwrap(), "1A", 1, None)
        .await
        .unwrap();
    let u2 = app
        .create_unit(root.staff(a).unwrap(), "2A", 2, None)
        .await
        .unwrap();
    let ub = app
        .create_unit(root.staff(b).unwrap(), "B1", 1, None)
        .await
        .unwrap();
    let door = |name: &str, unit: Option<latchkey_core::UnitId>, kind| DoorInput {
        name: name.into(),
        kind,
        unit_id: unit,
        mode: latchkey_core::model::DoorMode::Normal,
        pin_slots: 30,
    };
    let d1 = app
        .create_door(
            root.staff(a).unwrap(),
            door("1A entry", Some(u1.id), DoorKind::UnitEntry),
        )
        .await
        .unwrap();
    let lobby = app
        .create_door(
            root.staff(a).unwrap(),
            door("Lobby", None, DoorKind::BuildingEntrance),
        )
        .await
        .unwrap();
    let db = app
        .create_door(
            root.staff(b).unwrap(),
            door("B1 entry", Some(ub.id), DoorKind::UnitEntry),
        )
        .await
        .unwrap();
    let g = app
        .create_door_group(root.staff(a).unwrap(), "1A doors", &[d1.id, lobby.id])
        .await
        .unwrap();
    app.update_unit(
        app.may_update_unit(&root, u1.id).await.unwrap(),
        None,
        None,
        Some(Some(g.id)),
    )
    .await
    .unwrap();
    let sensor = app
        .create_sensor(
            root.staff(a).unwrap(),
            SensorInput {
                name: "1A window".into(),
                kind: SensorKind::Window,
                unit_id: Some(u1.id),
                door_id: None,
                floor: 1,
            },
        )
        .await
        .unwrap();
    let person = |name: &str, email: &str, role, unit: Option<i64>| PersonInput {
        name: name.into(),
        email: Some(email.into()),
        phone: None,
        password: None,
        membership: membership(role, unit),
    };
    // Staff add each person in two steps: the check (a capability), then the use case.
    let add = |property, input: PersonInput| {
        let app = &app;
        let root = &root;
        async move {
            app.create_person(
                app.may_create_person(root, property, &input).unwrap(),
                input,
            )
            .await
            .unwrap()
        }
    };
    let (outsider, _) = add(
        b,
        person(
            "Otto Outside",
            "otto@example.org",
            Role::Resident,
            Some(ub.id.0),
        ),
    )
    .await;
    let (resident, _) = add(
        a,
        person(
            "Rita Resident",
            "rita@example.org",
            Role::Resident,
            Some(u1.id.0),
        ),
    )
    .await;
    let (household, hm) = add(
        a,
        person(
            "Hugo House",
            "hugo@example.org",
            Role::Household,
            Some(u1.id.0),
        ),
    )
    .await;
    let (guest, _) = add(
        a,
        person("Gina Guest", "gina@example.org", Role::Guest, Some(u1.id.0)),
    )
    .await;
    let (manager, _) = add(
        a,
        person("Mona Manager", "mona@example.org", Role::Manager, None),
    )
    .await;
    let (installer, _) = add(
        a,
        person("Ivan Installer", "ivan@example.org", Role::Installer, None),
    )
    .await;
    let (_r2, _) = add(
        a,
        person(
            "Rolf Second",
            "rolf@example.org",
            Role::Resident,
            Some(u2.id.0),
        ),
    )
    .await;
    let cred = {
        let input = CredentialInput {
            person_id: household.id,
            kind: CredentialKind::Pin,
            label: None,
            unit_id: Some(u1.id),
            doors: None,
            schedule: Schedule::Always,
            max_uses: None,
            duress: false,
            pin: None,
            card_uid: None,
        };
        app.create_credential(root.credential_issuer(a, input.unit_id).unwrap(), input)
    }
    .await
    .unwrap();
    assert!(
        cred.pin.is_none(),
        "an admin creating a PIN for someone else never sees it"
    );
    let mut tokens = std::collections::HashMap::new();
    for (role, id) in [
        ("outsider", outsider.id),
        ("guest", guest.id),
        ("household", household.id),
        ("resident", resident.id),
        ("manager", manager.id),
        ("installer", installer.id),
        ("admin", admin.id),
    ] {
        let p = app.terminal_principal(id).await.unwrap();
        let (token, grant) = app.create_api_token(p.own_account(), role).await.unwrap();
        tokens.insert(role, (token, grant.id));
    }
    let rp = app.terminal_principal(resident.id).await.unwrap();
    app.set_password(rp.password_setter(resident.id).unwrap(), "rita-password-1")
        .await
        .unwrap();
    let session = app
        .login("rita@example.org", "rita-password-1", "test")
        .await
        .unwrap();
    let _ = AccessQuery {
        credential_id: None,
        person_id: None,
        door_id: d1.id,
        at: None,
        method: None,
        emergency_override: false,
    };
    // The unit's door has a lock (no bridge runs in these tests) and the resident a phone key.
    app.pair_lock(
        app.may_pair_lock(&root, d1.id).await.unwrap(),
        Some("lock-1a"),
    )
    .await
    .unwrap();
    {
        let input = CredentialInput {
            person_id: resident.id,
            kind: CredentialKind::PhoneKey,
            label: None,
            unit_id: Some(u1.id),
            doors: None,
            schedule: Schedule::Always,
            max_uses: None,
            duress: false,
            pin: None,
            card_uid: None,
        };
        app.create_credential(root.credential_issuer(a, input.unit_id).unwrap(), input)
    }
    .await
    .unwrap();
    // A command on record (it fails: there is no bridge).
    let failed = app
        .remote_command(
            app.may_remote_command(
                &root,
                d1.id,
                latchkey_app::devices::RemoteAction::Lock,
                Some("fixture emergency"),
            )
            .await
            .unwrap(),
            std::time::Duration::from_secs(1),
        )
        .await;
    assert!(failed.is_err(), "without a bridge a command cannot be sent");
    let spare_key = app
        .grant_spare_key(
            root.unit_admin(a, u1.id).unwrap(),
            household.id,
            Schedule::Always,
        )
        .await
        .unwrap();
    let locksmith = app
        .add_locksmith(
            root.staff(a).unwrap(),
            latchkey_app::recovery::LocksmithInput {
                company: "Keys & Sons".into(),
                licence: "LS-1".into(),
                phone: "+1 555 0100".into(),
                hours: Schedule::Always,
                callout_cents: 9_000,
            },
        )
        .await
        .unwrap();
    let (lockout, _) = app
        .start_lockout_for(root.case_starter(a, resident.id).unwrap(), u1.id)
        .await
        .unwrap();
    let entry_notice = app
        .create_entry_notice(
            root.staff(a).unwrap(),
            latchkey_app::entry::EntryNoticeInput {
                unit_id: u1.id,
                doors: None,
                purpose: "annual smoke alarm test".into(),
                window_from: "2026-11-28T09:00:00Z".parse().unwrap(),
                window_until: "2026-11-28T11:00:00Z".parse().unwrap(),
            },
        )
        .await
        .unwrap()
        .id;
    app.outbox_worker(
        latchkey_app::outbox::OutboxConfig::default(),
        latchkey_app::outbox::Channels {
            email: Some(std::sync::Arc::new(Refusing)),
            ..latchkey_app::outbox::Channels::default()
        },
    )
    .pass()
    .await
    .unwrap();
    let dead_letter = {
        let mut conn = store.read().await.unwrap();
        latchkey_store::outbox::troubled(
            &mut conn,
            store.backend(),
            Some(a),
            latchkey_store::outbox::Trouble::Dead,
            1,
        )
        .await
        .unwrap()
        .first()
        .expect("the lockout case left a dead letter")
        .id
    };
    let resident_push = app
        .add_push_subscription(
            rp.own_account(),
            latchkey_app::push::SubscriptionInput {
                endpoint: RESIDENT_PUSH_ENDPOINT.into(),
                p256dh: "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4".into(),
                auth: "BTBZMqHH6r4Tts7J_aSIgg".into(),
                name: "Rita's phone".into(),
            },
        )
        .await
        .unwrap()
        .0
        .id;
    let broker_login = app
        .create_broker_login(
            &root.admin().unwrap(),
            "hall-stick",
            latchkey_app::broker_logins::BrokerRole::Gateway,
        )
        .await
        .unwrap()
        .login
        .id;
    let webhook = app
        .create_webhook(
            root.webhook_manager(a).unwrap(),
            latchkey_app::webhooks::EndpointInput {
                url: "https://hooks.example.org/latchkey".into(),
                description: "the front desk".into(),
                kinds: vec!["lock.jammed".into()],
            },
        )
        .await
        .unwrap()
        .endpoint
        .id;
    let router = router(
        app.clone(),
        HttpConfig {
            broker: Some(latchkey_app::broker_settings::BrokerAddress {
                base_topic: "zigbee2mqtt".into(),
                listen: "0.0.0.0:1883".parse().unwrap(),
                tls_cert: None,
            }),
            ..HttpConfig::default()
        },
    );
    Fixture {
        dead_letter,
        resident_push,
        webhook,
        app,
        store,
        router,
        tokens,
        property: a.0,
        other_property: b.0,
        unit: u1.id.0,
        door: d1.id.0,
        other_door: db.id.0,
        group: g.id.0,
        sensor: sensor.id.0,
        household: household.id.0,
        resident: resident.id.0,
        household_membership: hm.id.0,
        credential: cred.credential.id.0,
        resident_session: session.session.id,
        command: 1,
        manager: manager.id.0,
        spare_key: spare_key.id.0,
        locksmith: locksmith.id.0,
        lockout: lockout.id.0,
        clock,
        entry_notice,
        broker_login,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub json: serde_json::Value,
}

impl Fixture {
    pub async fn call(&self, role: &str, method: &str, path: &str, body: Option<String>) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some((token, _)) = self.tokens.get(role) {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b)),
            None => req.body(Body::empty()),
        }
        .unwrap();
        self.raw(req).await
    }

    pub async fn raw(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Reply {
            status,
            content_type,
            json,
        }
    }

    pub async fn event_count(&self) -> i64 {
        self.app.audit_len().await.unwrap()
    }
}
