//! Logins of the embedded MQTT broker: shown once, stored as digests, rotatable, revocable,
//! and wrong passwords rate-limited and audited, on every backend; a rotation or revocation in
//! one process reaches the process running the broker through the change feed.

mod common;

use std::time::Duration;

use common::World;
use latchkey_app::AppError;
use latchkey_app::broker_logins::{BrokerRole, FIRST_GATEWAY};
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig};

const SOURCE: &str = "192.0.2.7";

#[tokio::test]
async fn a_gateway_login_is_shown_once_stored_as_a_digest_rotated_and_revoked() {
    latchkey_testkit::each_backend("broker_login_life", |db| async move {
        let w = World::build(&db).await;
        let admin = w.admin.admin().expect("admin");
        let made = w
            .app
            .create_broker_login(&admin, "hall-stick", BrokerRole::Gateway)
            .await
            .expect("created");
        assert!(made.password.starts_with("lkm_") && made.password.len() > 60);
        let (login, role) = w
            .app
            .check_broker_login("hall-stick", &made.password, SOURCE)
            .await
            .expect("the password works");
        assert_eq!(
            (login.name.as_str(), role),
            ("hall-stick", BrokerRole::Gateway)
        );

        // Only a digest is kept: the password is nowhere in the database.
        let mut conn = w.store.read().await.expect("conn");
        let stored: Vec<u8> = sqlx::query_scalar("SELECT secret_hash FROM broker_logins")
            .fetch_one(&mut *conn)
            .await
            .expect("row");
        drop(conn);
        assert_eq!(stored.len(), 32);
        assert!(!w.all_events_text().await.contains(&made.password));

        let again = w
            .app
            .create_broker_login(&admin, "hall-stick", BrokerRole::Observer)
            .await;
        assert!(matches!(again, Err(AppError::Conflict(_))), "{again:?}");
        let bad = w
            .app
            .create_broker_login(&admin, "hall stick/#", BrokerRole::Gateway)
            .await;
        assert!(matches!(bad, Err(AppError::Invalid { .. })), "{bad:?}");

        let rotated = w
            .app
            .rotate_broker_login(&admin, "hall-stick")
            .await
            .expect("rotated");
        assert_ne!(rotated.password, made.password);
        let old = w
            .app
            .check_broker_login("hall-stick", &made.password, SOURCE)
            .await;
        assert!(matches!(old, Err(AppError::Unauthenticated(_))), "{old:?}");
        w.app
            .check_broker_login("hall-stick", &rotated.password, SOURCE)
            .await
            .expect("the new password works");

        w.app
            .revoke_broker_login(&admin, "hall-stick")
            .await
            .expect("revoked");
        let gone = w
            .app
            .check_broker_login("hall-stick", &rotated.password, SOURCE)
            .await;
        assert!(
            matches!(gone, Err(AppError::Unauthenticated(_))),
            "{gone:?}"
        );
        assert!(
            w.app
                .list_broker_logins(&admin)
                .await
                .expect("list")
                .is_empty()
        );
        let text = w.all_events_text().await;
        for kind in [
            "broker.login_created",
            "broker.login_rotated",
            "broker.login_revoked",
        ] {
            assert!(text.contains(kind), "{kind} is audited");
        }
    })
    .await;
}

#[tokio::test]
async fn wrong_broker_passwords_are_audited_and_rate_limited_per_source() {
    latchkey_testkit::each_backend("broker_login_limit", |db| async move {
        let w = World::build(&db).await;
        let admin = w.admin.admin().expect("admin");
        let made = w
            .app
            .create_broker_login(&admin, "stick", BrokerRole::Gateway)
            .await
            .expect("created");
        let limit = w.app.config().login_attempts;
        for attempt in 1..=limit {
            let r = w.app.check_broker_login("stick", "lkm_guess", SOURCE).await;
            assert!(
                matches!(r, Err(AppError::Unauthenticated(_))),
                "attempt {attempt}: {r:?}"
            );
        }
        let refused = w
            .app
            .check_broker_login("stick", &made.password, SOURCE)
            .await;
        assert!(
            matches!(refused, Err(AppError::RateLimited { .. })),
            "past the limit even the right password waits: {refused:?}"
        );
        // Another address is not held back by this one's guesses.
        w.app
            .check_broker_login("stick", &made.password, "198.51.100.9")
            .await
            .expect("another source signs in");
        let text = w.all_events_text().await;
        assert_eq!(
            text.matches("broker.login_failed").count(),
            limit as usize,
            "every wrong password is audited"
        );
        assert!(text.contains(SOURCE), "with the source address");
        assert!(!text.contains("lkm_guess"), "passwords never reach the log");
    })
    .await;
}

#[tokio::test]
async fn serve_creates_the_first_gateway_login_only_when_there_is_none() {
    latchkey_testkit::each_backend("broker_first_login", |db| async move {
        let w = World::build(&db).await;
        let first = w
            .app
            .first_gateway_login()
            .await
            .expect("checked")
            .expect("created");
        assert_eq!(first.login.name, FIRST_GATEWAY);
        w.app
            .check_broker_login(FIRST_GATEWAY, &first.password, SOURCE)
            .await
            .expect("works");
        assert!(
            w.app
                .first_gateway_login()
                .await
                .expect("checked")
                .is_none(),
            "a second start keeps the login it has"
        );
    })
    .await;
}

#[tokio::test]
async fn a_rotation_or_revocation_in_another_process_reaches_the_brokers_process() {
    latchkey_testkit::each_backend("broker_login_feed", |db| async move {
        let w = World::build(&db).await;
        let admin = w.admin.admin().expect("admin");
        let made = w
            .app
            .create_broker_login(&admin, "stick", BrokerRole::Gateway)
            .await
            .expect("created");
        // The process running the broker: its own App on the same database, following the feed.
        let server = App::new(
            w.store.clone(),
            Keys::from_master(&[1; 32]),
            w.clock.clone(),
            std::sync::Arc::new(latchkey_app::NoDevices),
            AppConfig::default(),
        );
        let mut changes = server.broker_logins_changed();
        let follower = server.clone();
        let task = tokio::spawn(async move {
            follower.follow_changes().await.expect("the feed opens");
        });
        // Lets the follower read the feed's head first.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = w.event_count().await;

        let rotated = w
            .app
            .rotate_broker_login(&admin, "stick")
            .await
            .expect("rotated");
        w.app.flush_changes().await;
        tokio::time::timeout(Duration::from_secs(30), changes.changed())
            .await
            .expect("the broker's process hears of the rotation")
            .expect("the sender lives");
        // The broker's check again: the old password no longer holds, the new one does, and
        // neither answer is counted or audited as a wrong guess.
        assert!(
            server
                .broker_login_holds("stick", &made.password)
                .await
                .expect("check")
                .is_none()
        );
        assert!(
            server
                .broker_login_holds("stick", &rotated.password)
                .await
                .expect("check")
                .is_some()
        );
        assert_eq!(w.event_count().await, before + 1, "only the rotation");

        w.app
            .revoke_broker_login(&admin, "stick")
            .await
            .expect("revoked");
        w.app.flush_changes().await;
        tokio::time::timeout(Duration::from_secs(30), changes.changed())
            .await
            .expect("the broker's process hears of the revocation")
            .expect("the sender lives");
        assert!(
            server
                .broker_login_holds("stick", &rotated.password)
                .await
                .expect("check")
                .is_none()
        );
        assert!(!w.all_events_text().await.contains("broker.login_failed"));
        task.abort();
    })
    .await;
}
