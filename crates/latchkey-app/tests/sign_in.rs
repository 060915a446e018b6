//! Signing in, sessions and the live event feed, on every backend.

mod common;

use common::{RESIDENT_EMAIL, RESIDENT_PASSWORD, World};
use latchkey_app::AppError;
use latchkey_app::store::auth::GrantKind;

#[tokio::test]
async fn a_wrong_password_is_unauthenticated_and_after_the_limit_even_the_right_one_is_rate_limited()
 {
    latchkey_testkit::each_backend("login_limit", |db| async move {
        let w = World::build(&db).await;
        let limit = w.app.config().login_attempts;
        for attempt in 1..=limit {
            match w
                .app
                .login(RESIDENT_EMAIL, "not the password", "192.0.2.1")
                .await
            {
                Err(AppError::Unauthenticated(_)) => {}
                other => panic!(
                    "attempt {attempt}: expected Unauthenticated, got {:?}",
                    other.map(|s| s.session.id)
                ),
            }
        }
        match w
            .app
            .login(RESIDENT_EMAIL, RESIDENT_PASSWORD, "192.0.2.1")
            .await
        {
            Err(AppError::RateLimited { retry_after_secs }) => assert!(retry_after_secs >= 1),
            other => panic!(
                "expected RateLimited, got {:?}",
                other.map(|s| s.session.id)
            ),
        }
        let text = w.all_events_text().await;
        assert_eq!(
            text.matches("auth.login_failed").count(),
            limit as usize,
            "every failed attempt is audited, the refused one is not a check"
        );
        assert!(
            !text.contains("not the password"),
            "passwords never reach the log"
        );
    })
    .await;
}

#[tokio::test]
async fn a_revoked_session_no_longer_authenticates() {
    latchkey_testkit::each_backend("revoked_session", |db| async move {
        let w = World::build(&db).await;
        let signed = w
            .app
            .login(RESIDENT_EMAIL, RESIDENT_PASSWORD, "192.0.2.2")
            .await
            .expect("the right password signs in");
        assert_eq!(signed.person.id, w.resident.id);
        let who = w
            .app
            .authenticate(GrantKind::Session, &signed.token)
            .await
            .expect("a fresh session authenticates");
        assert_eq!(who.id(), w.resident.id);
        w.app
            .logout(w.app.may_logout(&who).expect("a session"))
            .await
            .expect("sign out");
        match w.app.authenticate(GrantKind::Session, &signed.token).await {
            Err(AppError::Unauthenticated(_)) => {}
            other => panic!("expected Unauthenticated, got {:?}", other.map(|p| p.id())),
        }
        match w
            .app
            .authenticate(GrantKind::Session, "lks_not_a_real_token")
            .await
        {
            Err(AppError::Unauthenticated(_)) => {}
            other => panic!(
                "an unknown token: expected Unauthenticated, got {:?}",
                other.map(|p| p.id())
            ),
        }
    })
    .await;
}

/// Authentication reads the grant afresh on every request (nothing cached), so a token or
/// session revoked through one process is refused by another on its very next request, with
/// no change feed or wait in between.
#[tokio::test]
async fn a_grant_revoked_through_another_process_is_refused_on_the_next_request() {
    latchkey_testkit::each_backend("revoked_elsewhere", |db| async move {
        use latchkey_app::{App, AppConfig, NoDevices, secrets::Keys};
        let w = World::build(&db).await;
        // A second server on the same database: its own pool, its own memory.
        let other = App::new(
            db.open().await,
            Keys::from_master(&[1; 32]),
            w.clock.clone(),
            std::sync::Arc::new(NoDevices),
            AppConfig::default(),
        );
        let signed = w
            .app
            .login(RESIDENT_EMAIL, RESIDENT_PASSWORD, "192.0.2.4")
            .await
            .expect("sign in");
        let here = w
            .app
            .authenticate(GrantKind::Session, &signed.token)
            .await
            .expect("the session authenticates");
        let (token, grant) = w
            .app
            .create_api_token(here.own_account(), "script")
            .await
            .expect("a token");
        for _ in 0..3 {
            let who = other
                .authenticate(GrantKind::ApiToken, &token)
                .await
                .expect("the token authenticates on the other server");
            assert_eq!(who.id(), w.resident.id);
            assert!(
                who.member(w.property.id).is_ok(),
                "the memberships come with the grant"
            );
            other
                .authenticate(GrantKind::Session, &signed.token)
                .await
                .expect("the session authenticates on the other server");
        }
        let revoker = w
            .app
            .may_revoke_grant(&w.admin, GrantKind::ApiToken, grant.id)
            .await
            .expect("an admin may revoke it");
        w.app.revoke_grant(revoker).await.expect("revoke the token");
        match other.authenticate(GrantKind::ApiToken, &token).await {
            Err(AppError::Unauthenticated(_)) => {}
            other => panic!(
                "a revoked token: expected Unauthenticated at once, got {:?}",
                other.map(|p| p.id())
            ),
        }
        w.app
            .logout(w.app.may_logout(&here).expect("a session"))
            .await
            .expect("sign out");
        match other.authenticate(GrantKind::Session, &signed.token).await {
            Err(AppError::Unauthenticated(_)) => {}
            other => panic!(
                "a signed-out session: expected Unauthenticated at once, got {:?}",
                other.map(|p| p.id())
            ),
        }
    })
    .await;
}

#[tokio::test]
async fn a_session_past_its_lifetime_no_longer_authenticates() {
    latchkey_testkit::each_backend("expired_session", |db| async move {
        let w = World::build(&db).await;
        let signed = w
            .app
            .login(RESIDENT_EMAIL, RESIDENT_PASSWORD, "192.0.2.3")
            .await
            .expect("sign in");
        w.clock.advance(w.app.config().session_ttl);
        match w.app.authenticate(GrantKind::Session, &signed.token).await {
            Err(AppError::Unauthenticated(_)) => {}
            other => panic!("expected Unauthenticated, got {:?}", other.map(|p| p.id())),
        }
    })
    .await;
}

#[tokio::test]
async fn a_subscriber_receives_each_committed_event_with_its_sequence_number() {
    latchkey_testkit::each_backend("subscribe", |db| async move {
        let w = World::build(&db).await;
        let mut rx = w.app.subscribe();
        let before = w.event_count().await;
        let unit = w
            .app
            .create_unit(
                w.admin
                    .staff(w.property.id)
                    .expect("the caller may do this"),
                "12B",
                12,
                None,
            )
            .await
            .expect("unit");
        let ev = rx.recv().await.expect("the event is published");
        assert_eq!(ev.kind, "unit.created");
        assert_eq!(ev.subject, format!("unit:{}", unit.id));
        assert_eq!(ev.seq, before + 1);
        assert_eq!(ev.property_id, Some(w.property.id));
        assert_eq!(ev.actor_id, Some(w.admin.id()));
        assert_eq!(ev.at, w.app.now());

        // A refused change publishes nothing.
        assert!(
            async {
                w.app
                    .create_unit(w.admin.staff(w.property.id)?, "12B", 12, None)
                    .await
            }
            .await
            .is_err()
        );
        assert!(matches!(
            rx.try_recv(),
            Err(tokio::sync::broadcast::error::TryRecvError::Empty)
        ));
    })
    .await;
}
