//! E-mail over real SMTP to a receiver inside the test, on every backend: the household of a
//! lockout case is told with the right recipients and no secret in clear, a refusing relay is
//! retried, and each delivery arrives once under its stable id.

#![allow(clippy::unwrap_used)]

mod receiver;

use std::sync::Arc;
use std::time::Duration;

use latchkey_app::outbox::{Channels, Mailer, OutboxConfig};
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_app::{App, AppConfig, ManualClock, NoDevices, secrets::Keys};
use latchkey_core::model::{DoorKind, DoorMode, Policy, Role};
use latchkey_mail::{Security, Smtp, SmtpConfig};
use receiver::Receiver;

struct House {
    app: App,
    clock: Arc<ManualClock>,
    property: i64,
}

fn member(name: &str, email: &str, role: Role, unit: latchkey_core::UnitId) -> PersonInput {
    PersonInput {
        name: name.into(),
        email: Some(email.into()),
        phone: None,
        password: None,
        membership: MembershipInput {
            role,
            unit_id: Some(unit),
            valid_from: None,
            valid_until: None,
        },
    }
}

async fn house(db: &latchkey_testkit::TestDb) -> House {
    let start = jiff::civil::date(2026, 1, 5)
        .at(12, 0, 0, 0)
        .in_tz("Europe/Berlin")
        .unwrap()
        .timestamp();
    let clock = Arc::new(ManualClock::new(start));
    let app = App::new(
        db.open().await,
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
                policy: Policy::default(),
                office_hours: latchkey_core::schedule::Schedule::Always,
            },
        )
        .await
        .unwrap();
    let unit = app
        .create_unit(admin.staff(property.id).unwrap(), "4071", 4, None)
        .await
        .unwrap();
    app.create_door(
        admin.staff(property.id).unwrap(),
        latchkey_app::directory::DoorInput {
            name: "4071 entry".into(),
            kind: DoorKind::UnitEntry,
            unit_id: Some(unit.id),
            mode: DoorMode::Normal,
            pin_slots: 30,
        },
    )
    .await
    .unwrap();
    for (name, email, role) in [
        ("Rosa Resident", "rosa@example.org", Role::Resident),
        ("Paul Partner", "paul@example.org", Role::Household),
    ] {
        let input = member(name, email, role, unit.id);
        app.create_person(
            app.may_create_person(&admin, property.id, &input).unwrap(),
            input,
        )
        .await
        .unwrap();
    }
    House {
        app,
        clock,
        property: property.id.0,
    }
}

fn smtp(r: &Receiver) -> Arc<dyn Mailer> {
    Arc::new(
        Smtp::new(&SmtpConfig {
            host: "127.0.0.1".into(),
            port: r.addr.port(),
            security: Security::Plain,
            username: Some("lk".into()),
            password: Some("s3cret pass".into()),
            from: "latchkey <latchkey@example.org>".into(),
            timeout: Duration::from_secs(10),
        })
        .unwrap(),
    )
}

fn config() -> OutboxConfig {
    OutboxConfig {
        web_url: "https://latchkey.example.org".into(),
        ..OutboxConfig::default()
    }
}

async fn open_case(h: &House) -> String {
    h.app
        .start_lockout_public(
            latchkey_app::lockout::PublicStart {
                property_id: h.property,
                unit: "4071".into(),
                identity: "Rosa Resident".into(),
            },
            "203.0.113.9",
        )
        .await
        .unwrap()
        .token
}

#[tokio::test]
async fn the_household_of_a_lockout_case_gets_its_e_mails_with_no_secret_in_clear() {
    latchkey_testkit::each_backend("mail_household", |db| async move {
        let h = house(&db).await;
        let r = Receiver::start(0).await;
        let worker = h.app.outbox_worker(
            config(),
            Channels {
                email: Some(smtp(&r)),
                ..Default::default()
            },
        );
        let token = open_case(&h).await;
        h.app.ask_guardians(&token).await.unwrap();
        let pass = worker.pass().await.unwrap();
        assert_eq!(
            pass.sent, 3,
            "two case notices and one guardian request: {pass:?}"
        );
        let got = r.got();
        let mut to: Vec<String> = got.iter().map(|m| m.rcpt.join(",")).collect();
        to.sort_unstable();
        assert_eq!(
            to,
            ["paul@example.org", "paul@example.org", "rosa@example.org"]
        );
        for m in &got {
            // AUTH PLAIN of "\0lk\0s3cret pass".
            assert_eq!(m.auth.as_deref(), Some("AGxrAHMzY3JldCBwYXNz"));
            assert_eq!(m.from, "<latchkey@example.org>");
            assert!(
                !m.data
                    .to_ascii_lowercase()
                    .contains("content-transfer-encoding: base64"),
                "a base64 part would hide what this test looks for"
            );
            assert!(!m.data.contains(&token), "the case token is in clear");
            assert!(!m.data.contains("lkc_"));
            assert!(!m.data.contains("sealed"));
            assert!(m.header("Message-ID").unwrap().starts_with("<delivery-"));
            assert!(m.data.contains("text/plain") && m.data.contains("text/html"));
        }
        let guardian: Vec<_> = got
            .iter()
            .filter(|m| m.header("Subject").unwrap_or_default().contains("confirm"))
            .collect();
        assert_eq!(guardian.len(), 1);
        assert_eq!(guardian[0].rcpt, ["paul@example.org"]);
        assert!(
            guardian[0]
                .data
                .contains("https://latchkey.example.org/guardian?t=lkg_")
        );
    })
    .await;
}

#[tokio::test]
async fn a_relay_that_refuses_the_first_attempts_gets_each_message_once_after_retries() {
    latchkey_testkit::each_backend("mail_retry", |db| async move {
        let h = house(&db).await;
        let r = Receiver::start(3).await;
        let worker = h.app.outbox_worker(
            config(),
            Channels {
                email: Some(smtp(&r)),
                ..Default::default()
            },
        );
        open_case(&h).await;
        let first = worker.pass().await.unwrap();
        assert_eq!((first.sent, first.retried), (0, 2), "{first:?}");
        let mut sent = 0;
        for _ in 0..8 {
            h.clock.advance(jiff::SignedDuration::from_mins(5));
            sent += worker.pass().await.unwrap().sent;
        }
        assert_eq!(sent, 2);
        assert_eq!(r.refused.load(std::sync::atomic::Ordering::SeqCst), 3);
        let got = r.got();
        let mut ids: Vec<String> = got
            .iter()
            .map(|m| m.header("Message-ID").unwrap())
            .collect();
        assert_eq!(ids.len(), 2);
        ids.dedup();
        assert_eq!(ids.len(), 2, "each delivery once, under its own id");
    })
    .await;
}
