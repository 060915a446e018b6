//! Limits that stop the attacker, not the victim, on every backend: strangers' failures never
//! turn away a person's right answer, successes do not count, and two replicas on one database
//! share the counts.

mod common;

use std::sync::Arc;

use common::{RESIDENT_EMAIL, RESIDENT_PASSWORD, World};
use latchkey_app::lockout::PublicStart;
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, AppError, NoDevices};
use latchkey_core::PersonId;
use latchkey_store::lockout as repo;

fn start(w: &World, unit: &str, identity: &str) -> PublicStart {
    PublicStart {
        property_id: w.property.id.0,
        unit: unit.to_owned(),
        identity: identity.to_owned(),
    }
}

/// A second replica: another process with its own pool on the same database and clock.
async fn replica(w: &World, db: &latchkey_testkit::TestDb) -> App {
    App::new(
        db.open().await,
        Keys::from_master(&[1; 32]),
        w.clock.clone(),
        Arc::new(NoDevices),
        AppConfig::default(),
    )
}

async fn told(w: &World, person: PersonId, kind: &str) -> Vec<serde_json::Value> {
    let mut conn = w.store.read().await.expect("read");
    repo::notifications_of_person_kind(&mut conn, person, kind)
        .await
        .expect("notifications")
        .into_iter()
        .map(|n| n.body)
        .collect()
}

fn code_now(w: &World, secret: &str) -> String {
    let secret = latchkey_core::totp::Secret::from_base32(secret).expect("base32");
    let now = u64::try_from(w.app.now().as_second()).expect("after 1970");
    latchkey_core::totp::code_at(&secret, now)
}

/// Codes that are valid in none of the steps the drift window accepts.
fn wrong_codes(w: &World, secret: &str, n: usize) -> Vec<String> {
    let right = code_now(w, secret);
    let secret = latchkey_core::totp::Secret::from_base32(secret).expect("base32");
    let now = u64::try_from(w.app.now().as_second()).expect("after 1970");
    let near: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| latchkey_core::totp::code_at(&secret, *t))
        .collect();
    let wrong: Vec<String> = (1..=40u32)
        .map(|i| {
            format!(
                "{:06}",
                (right.parse::<u32>().expect("digits") + i * 23_117) % 1_000_000
            )
        })
        .filter(|g| !near.contains(g))
        .take(n)
        .collect();
    assert_eq!(wrong.len(), n);
    wrong
}

#[tokio::test]
async fn strangers_failing_against_an_account_do_not_stop_its_owner_who_is_told_instead() {
    latchkey_testkit::each_backend("limits_account_victim", |db| async move {
        let w = World::build(&db).await;
        let limit = w.app.config().login_attempts;
        for i in 0..limit * 2 {
            let source = format!("198.51.100.{}", i % 4);
            assert!(matches!(
                w.app.login(RESIDENT_EMAIL, "a guess", &source).await,
                Err(AppError::Unauthenticated(_))
            ));
        }
        let signed = w
            .app
            .login(RESIDENT_EMAIL, RESIDENT_PASSWORD, "192.0.2.7")
            .await
            .expect("the right password from the resident's own address signs in");
        assert_eq!(signed.person.id, w.resident.id);
        let notes = told(&w, w.resident.id, "failures_against_you").await;
        assert_eq!(notes.len(), 1, "told once per window, not once per guess");
        assert_eq!(notes[0]["what"], "sign_in");
    })
    .await;
}

#[tokio::test]
async fn successful_sign_ins_never_count_toward_the_address_limit() {
    latchkey_testkit::each_backend("limits_success_free", |db| async move {
        let w = World::build(&db).await;
        let per_source = w.app.config().login_attempts * 3;
        for attempt in 1..=per_source + 1 {
            w.app
                .login(RESIDENT_EMAIL, RESIDENT_PASSWORD, "192.0.2.8")
                .await
                .unwrap_or_else(|e| panic!("correct sign-in {attempt} was refused: {e}"));
        }
    })
    .await;
}

#[tokio::test]
async fn an_address_that_keeps_failing_is_stopped_across_accounts() {
    latchkey_testkit::each_backend("limits_source_stops", |db| async move {
        let w = World::build(&db).await;
        let per_source = w.app.config().login_attempts * 3;
        for i in 0..per_source {
            assert!(matches!(
                w.app
                    .login(&format!("guess{i}@example.org"), "a guess", "203.0.113.5")
                    .await,
                Err(AppError::Unauthenticated(_))
            ));
        }
        assert!(matches!(
            w.app
                .login(RESIDENT_EMAIL, RESIDENT_PASSWORD, "203.0.113.5")
                .await,
            Err(AppError::RateLimited { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn two_replicas_on_one_database_share_the_sign_in_counts() {
    latchkey_testkit::each_backend("limits_replicas_login", |db| async move {
        let w = World::build(&db).await;
        let other = replica(&w, &db).await;
        let limit = w.app.config().login_attempts;
        for i in 0..limit {
            let app = if i % 2 == 0 { &w.app } else { &other };
            assert!(matches!(
                app.login(RESIDENT_EMAIL, "a guess", "203.0.113.9").await,
                Err(AppError::Unauthenticated(_))
            ));
        }
        for app in [&w.app, &other] {
            assert!(
                matches!(
                    app.login(RESIDENT_EMAIL, "another guess", "203.0.113.9")
                        .await,
                    Err(AppError::RateLimited { .. })
                ),
                "each replica refuses once the two together reached the limit"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn two_replicas_on_one_database_share_the_lockout_start_counts() {
    latchkey_testkit::each_backend("limits_replicas_lockout", |db| async move {
        let w = World::build(&db).await;
        let other = replica(&w, &db).await;
        for i in 0..10 {
            let app = if i % 2 == 0 { &w.app } else { &other };
            app.start_lockout_public(start(&w, &format!("U{i}"), "someone"), "203.0.113.20")
                .await
                .expect("within the source's limit");
        }
        for app in [&w.app, &other] {
            assert!(matches!(
                app.start_lockout_public(start(&w, "U99", "someone"), "203.0.113.20")
                    .await,
                Err(AppError::RateLimited { .. })
            ));
        }
    })
    .await;
}

#[tokio::test]
async fn fake_lockout_starts_for_a_unit_do_not_turn_its_resident_away_and_the_household_is_told() {
    latchkey_testkit::each_backend("limits_unit_starts", |db| async move {
        let w = World::build(&db).await;
        for i in 0..5 {
            w.app
                .start_lockout_public(
                    start(&w, "4071", "Somebody Else"),
                    &format!("198.51.100.{i}"),
                )
                .await
                .expect("a stranger may ask");
        }
        w.app
            .start_lockout_public(start(&w, "4071", "Rosa Resident"), "192.0.2.30")
            .await
            .expect("the real resident opens her case after strangers' starts");
        w.app
            .start_lockout_public(start(&w, "4071", "Somebody Else"), "198.51.100.9")
            .await
            .expect("still never a block for the unit");
        let notes = told(&w, w.resident.id, "lockout_starts_flood").await;
        assert_eq!(notes.len(), 1, "the household is told once per hour");
    })
    .await;
}

#[tokio::test]
async fn strangers_wrong_codes_do_not_stop_the_residents_right_code_and_she_is_told() {
    latchkey_testkit::each_backend("limits_proof_victim", |db| async move {
        let w = World::build(&db).await;
        let rp = w.principal(w.resident.id).await;
        let enrolled = w.app.enroll_totp(rp.own_account()).await.expect("enrol");
        let wrong = wrong_codes(&w, &enrolled.secret, 10);
        for (n, guesses) in wrong.chunks(5).enumerate() {
            let source = format!("198.51.100.{}", 40 + n);
            let (token, _) = w.open_public_case("rosa@example.org", &source).await;
            for guess in guesses {
                assert!(matches!(
                    w.app.prove_with_totp(&token, guess, &source).await,
                    Err(AppError::Forbidden(_))
                ));
            }
        }
        let (token, _) = w.open_public_case("Rosa Resident", "192.0.2.31").await;
        let right = code_now(&w, &enrolled.secret);
        let view = w
            .app
            .prove_with_totp(&token, &right, "192.0.2.31")
            .await
            .expect("the resident's right code proves her own case");
        assert_eq!(view.state, "proven");
        let notes = told(&w, w.resident.id, "failures_against_you").await;
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0]["what"], "lockout_proof");
    })
    .await;
}

#[tokio::test]
async fn counters_whose_window_ended_are_pruned_by_later_hits() {
    latchkey_testkit::each_backend("limits_prune", |db| async move {
        let w = World::build(&db).await;
        for i in 0..20 {
            let _ = w
                .app
                .login(
                    &format!("nobody{i}@example.org"),
                    "a guess",
                    &format!("198.51.100.{i}"),
                )
                .await;
        }
        let rows = || async {
            let mut conn = w.store.read().await.expect("read");
            latchkey_store::limits::rows(&mut conn).await.expect("rows")
        };
        let before = rows().await;
        assert!(
            before >= 60,
            "three counters per failed sign-in, got {before}"
        );
        w.clock.advance(jiff::SignedDuration::from_hours(2));
        for _ in 0..4 {
            let _ = w
                .app
                .login("nobody0@example.org", "a guess", "192.0.2.99")
                .await;
        }
        let after = rows().await;
        assert!(
            after < before - 20,
            "expired counters went: {before} → {after}"
        );
    })
    .await;
}
