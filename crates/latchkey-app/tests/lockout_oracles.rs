//! A case token tells nothing about who lives where until the case is proven, on every backend:
//! a stranger who types a resident's name and one who types a made-up name see the same answers,
//! byte for byte once ids, times and codes are set aside, the same limits, and no answer sooner
//! than the floor. And no bearer secret of the lockout flow lies in the database in clear.

mod common;

use std::time::{Duration, Instant};

use common::{TwoSteps, World};
use latchkey_app::AppError;
use latchkey_app::lockout::BookLocksmith;
use latchkey_app::recovery::LocksmithInput;
use latchkey_core::model::Role;
use latchkey_core::schedule::Schedule;
use latchkey_store::lockout as repo;
use serde_json::Value;

/// The least time any answer to a case token takes.
const FLOOR: Duration = Duration::from_millis(300);

async fn pair(w: &World) {
    w.app
        .pair_lock(
            w.app
                .may_pair_lock(&w.admin, w.door.id)
                .await
                .expect("the caller may do this"),
            Some("lock-4071"),
        )
        .await
        .expect("pair");
}

/// Replaces what differs between any two cases whatever they are about (instants, and the
/// random digits of a presence challenge, keeping its length) so two answers can be compared
/// byte for byte.
fn normalised(v: Value) -> String {
    fn walk(v: Value) -> Value {
        match v {
            Value::String(s) if s.parse::<jiff::Timestamp>().is_ok() => "<instant>".into(),
            Value::Object(m) => m
                .into_iter()
                .map(|(k, v)| {
                    if let (true, Value::String(code)) = (k == "code", &v) {
                        let digits: String = code
                            .chars()
                            .map(|c| if c.is_ascii_digit() { '#' } else { c })
                            .collect();
                        (k, digits.into())
                    } else {
                        (k, walk(v))
                    }
                })
                .collect(),
            Value::Array(a) => a.into_iter().map(walk).collect(),
            other => other,
        }
    }
    walk(v).to_string()
}

/// An answer as the caller sees it: the JSON of a success, or the kind and words of a refusal.
fn answer<T: serde::Serialize>(r: Result<T, AppError>) -> String {
    match r {
        Ok(v) => normalised(serde_json::to_value(v).expect("serialisable")),
        Err(AppError::RateLimited { .. }) => "429 too many attempts".into(),
        Err(e) => format!("{e:?}"),
    }
}

async fn with_guardian_and_authenticator(w: &World) {
    pair(w).await;
    w.unit_member("Paul Partner", Role::Household).await;
    let rp = w.principal(w.resident.id).await;
    w.app.enroll_totp(rp.own_account()).await.expect("enrol");
}

/// What a stranger sees, step by step, after opening a case for `identity` in unit 4071.
async fn walk_through(w: &World, identity: &str, source: &str) -> Vec<String> {
    let (token, _) = w.open_public_case(identity, source).await;
    let mut seen = vec![answer(w.app.lockout_by_token(&token, source).await)];
    seen.push(answer(w.app.presence_challenge(&token, source).await));
    seen.push(answer(w.app.lockout_by_token(&token, source).await));
    seen.push(answer(w.app.ask_guardians(&token).await));
    seen.push(answer(w.app.lockout_by_token(&token, source).await));
    seen.push(answer(
        w.app.prove_with_totp(&token, "000000", source).await,
    ));
    seen.push(answer(w.app.lockout_by_token(&token, source).await));
    seen
}

#[tokio::test]
async fn a_stranger_sees_the_same_case_for_a_resident_and_for_a_made_up_name_at_every_step() {
    latchkey_testkit::each_backend("oracle_steps", |db| async move {
        let w = World::build(&db).await;
        with_guardian_and_authenticator(&w).await;
        let real = walk_through(&w, "Rosa Resident", "203.0.113.70").await;
        let made_up = walk_through(&w, "Nobody Here", "203.0.113.71").await;
        let steps = [
            "look-up",
            "presence",
            "look-up after presence",
            "asking guardians",
            "look-up after asking",
            "a wrong code",
            "look-up after the code",
        ];
        for ((step, r), m) in steps.iter().zip(&real).zip(&made_up) {
            assert_eq!(r, m, "{step}: the answers differ");
        }
        assert!(
            real[2].contains("presence_challenge"),
            "the presence request is in the timeline: {}",
            real[2]
        );
        let rosas = w
            .app
            .list_credentials(&w.admin, w.property.id, Some(w.resident.id))
            .await
            .expect("credentials");
        assert!(
            rosas.iter().any(|c| c.non_access),
            "Rosa's case got a real challenge on her door's lock, not a decoy"
        );
    })
    .await;
}

#[tokio::test]
async fn what_the_household_and_staff_do_is_not_shown_to_the_token_holder_before_proof() {
    latchkey_testkit::each_backend("oracle_household", |db| async move {
        let w = World::build(&db).await;
        pair(&w).await;
        w.app
            .ingest(vec![latchkey_app::devices::IngestItem {
                identity: None,
                message: latchkey_bridge::zigbee::message(
                    latchkey_z2m::parse_inbound(
                        &latchkey_z2m::Topics::default(),
                        "zigbee2mqtt/lock-4071",
                        br#"{"state":"LOCK","lock_state":"locked","battery":90}"#,
                        &latchkey_z2m::Limits::default(),
                    )
                    .expect("parse")
                    .expect("a device message"),
                ),
            }])
            .await
            .expect("ingest");
        let paul = w.unit_member("Paul Partner", Role::Household).await;
        let mp = w.principal(w.manager.id).await;
        let smith = w
            .app
            .add_locksmith(
                mp.staff(w.property.id).expect("the caller may do this"),
                LocksmithInput {
                    company: "Quick Keys".into(),
                    licence: "LS-1".into(),
                    phone: "555 0100".into(),
                    hours: Schedule::Always,
                    callout_cents: 9_000,
                },
            )
            .await
            .expect("locksmith");
        w.app
            .set_locksmith_status(
                w.app
                    .may_set_locksmith_status(&mp, smith.id, "verified")
                    .await
                    .expect("the caller may do this"),
                "verified",
            )
            .await
            .expect("verify");
        let src = "203.0.113.72";
        let (real, case) = w.open_public_case("Rosa Resident", src).await;
        let (made_up, _) = w.open_public_case("Nobody Here", src).await;
        for token in [&real, &made_up] {
            w.app.ask_guardians(token).await.expect("ask");
        }
        // The household and staff act on the real case: a locksmith is booked, Paul says it
        // is not Rosa.
        let booked = w
            .app
            .book_locksmith_as(
                &mp,
                case,
                BookLocksmith {
                    locksmith_id: smith.id,
                    door_id: None,
                    window_minutes: None,
                },
            )
            .await
            .expect("book");
        let link = guardian_links(&w, case)
            .await
            .into_iter()
            .find(|(g, _)| *g == paul.id.0)
            .expect("Paul's link")
            .1;
        w.app
            .answer_guardian_link(
                w.app
                    .may_answer_guardian_link(&w.principal(paul.id).await, &link)
                    .await
                    .expect("the caller may do this"),
                false,
            )
            .await
            .expect("Paul denies");
        let seen_real = answer(w.app.lockout_by_token(&real, src).await);
        assert!(
            !seen_real.contains(&booked.job.check_word),
            "the check word is shown before proof: {seen_real}"
        );
        assert_eq!(
            seen_real,
            answer(w.app.lockout_by_token(&made_up, src).await),
            "the token holder of the real case learns what the household did"
        );
        // The household cancels: to the token holder it still looks like any case.
        w.app
            .cancel_lockout(
                w.app
                    .may_cancel_lockout(&w.principal(w.resident.id).await, case)
                    .await
                    .expect("the caller may do this"),
            )
            .await
            .expect("cancel");
        assert_eq!(
            answer(w.app.lockout_by_token(&real, src).await),
            answer(w.app.lockout_by_token(&made_up, src).await),
            "a cancelled case tells the token holder it matched"
        );
        assert_eq!(
            answer(w.app.presence_challenge(&real, src).await),
            answer(w.app.presence_challenge(&made_up, src).await),
        );
        assert_eq!(
            answer(w.app.ask_guardians(&real).await),
            answer(w.app.ask_guardians(&made_up).await),
        );

        // Once a case is proven, its token holder sees the locksmith's check word.
        let (proven, case) = w.open_public_case("Rosa Resident", src).await;
        w.app
            .book_locksmith_as(
                &mp,
                case,
                BookLocksmith {
                    locksmith_id: smith.id,
                    door_id: None,
                    window_minutes: None,
                },
            )
            .await
            .expect("book");
        w.app
            .record_id_check(
                w.app
                    .may_record_id_check(&mp, case, "passport, photo matches")
                    .await
                    .expect("the caller may do this"),
                "passport, photo matches",
            )
            .await
            .expect("id check");
        let view = w.app.lockout_by_token(&proven, src).await.expect("view");
        assert_eq!(view.state, "proven");
        assert_eq!(
            view.locksmith_jobs.len(),
            1,
            "the proven case shows its job"
        );
        assert!(
            view.timeline.iter().any(|s| s.kind == "locksmith_booked"),
            "the proven case shows its whole timeline"
        );
    })
    .await;
}

#[tokio::test]
async fn codes_tried_on_a_made_up_name_are_answered_as_on_a_resident() {
    latchkey_testkit::each_backend("oracle_person_limit", |db| async move {
        let w = World::build(&db).await;
        with_guardian_and_authenticator(&w).await;
        // Three cases for each name (a case allows five tries): Rosa's two more are opened
        // by staff taking her calls, which counts no public start against the unit.
        let mut rosa = vec![w.open_public_case("Rosa Resident", "203.0.113.73").await.0];
        for _ in 0..2 {
            rosa.push(
                w.app
                    .start_lockout_as(&w.admin, w.property.id, w.unit.id, w.resident.id)
                    .await
                    .expect("staff open a case")
                    .1,
            );
        }
        let mut nobody = Vec::new();
        for _ in 0..3 {
            nobody.push(w.open_public_case("Nobody Here", "203.0.113.74").await.0);
        }
        let tries = |tokens: Vec<String>, source: &'static str| {
            let w = &w;
            async move {
                let mut seen = Vec::new();
                for (token, n) in tokens.iter().zip([5, 5, 1]) {
                    for _ in 0..n {
                        seen.push(answer(w.app.prove_with_totp(token, "000000", source).await));
                    }
                }
                seen
            }
        };
        let real = tries(rosa, "203.0.113.75").await;
        let made_up = tries(nobody, "203.0.113.76").await;
        // Past ten refusals on one name the resident is told, never blocked (a stranger's wrong
        // codes must not turn away her right one): the eleventh try is answered as the first.
        assert_eq!(
            real.last(),
            real.first(),
            "the eleventh try on one name in an hour is answered as any wrong code"
        );
        assert_eq!(
            real, made_up,
            "the limit tells a resident from a made-up name"
        );
    })
    .await;
}

#[tokio::test]
async fn every_answer_to_a_case_token_takes_at_least_the_floor_for_a_resident_and_a_made_up_name() {
    latchkey_testkit::each_backend("oracle_floor", |db| async move {
        let w = World::build(&db).await;
        with_guardian_and_authenticator(&w).await;
        for identity in ["Rosa Resident", "Nobody Here"] {
            let src = "203.0.113.77";
            let (token, _) = w.open_public_case(identity, src).await;
            let t = Instant::now();
            w.app.lockout_by_token(&token, src).await.expect("look-up");
            assert!(
                t.elapsed() >= FLOOR,
                "{identity}: the look-up answered early"
            );
            let t = Instant::now();
            w.app
                .presence_challenge(&token, src)
                .await
                .expect("presence");
            assert!(t.elapsed() >= FLOOR, "{identity}: presence answered early");
            let t = Instant::now();
            w.app.ask_guardians(&token).await.expect("guardians");
            assert!(t.elapsed() >= FLOOR, "{identity}: asking answered early");
            let t = Instant::now();
            let refused = w.app.prove_with_totp(&token, "000000", src).await;
            assert!(matches!(refused, Err(AppError::Forbidden(_))));
            assert!(t.elapsed() >= FLOOR, "{identity}: the code answered early");
        }
    })
    .await;
}

/// The guardian links queued for a case, opened as each guardian's delivery opens them:
/// (guardian id, link).
async fn guardian_links(w: &World, case: latchkey_core::LockoutCaseId) -> Vec<(i64, String)> {
    let keys = latchkey_app::secrets::Keys::from_master(&[1; 32]);
    let mut conn = w.store.read().await.expect("read");
    repo::notifications_of_case(&mut conn, case)
        .await
        .expect("notifications")
        .into_iter()
        .filter(|n| n.kind == "lockout.guardian_request")
        .map(|n| {
            let sealed = hex::decode(n.body["link_sealed_hex"].as_str().expect("a sealed link"))
                .expect("hex");
            let link = keys
                .open_bytes(
                    &latchkey_app::lockout::guardian_link_aad(n.person_id),
                    &sealed,
                )
                .expect("the guardian's delivery opens it");
            (n.person_id.0, String::from_utf8(link).expect("text"))
        })
        .collect()
}

#[tokio::test]
async fn no_bearer_secret_of_the_lockout_flow_lies_in_the_database_in_clear() {
    latchkey_testkit::each_backend("oracle_secrets", |db| async move {
        let w = World::build(&db).await;
        pair(&w).await;
        w.app
            .ingest(vec![latchkey_app::devices::IngestItem {
                identity: None,
                message: latchkey_bridge::zigbee::message(
                    latchkey_z2m::parse_inbound(
                        &latchkey_z2m::Topics::default(),
                        "zigbee2mqtt/lock-4071",
                        br#"{"state":"LOCK","lock_state":"locked","battery":90}"#,
                        &latchkey_z2m::Limits::default(),
                    )
                    .expect("parse")
                    .expect("a device message"),
                ),
            }])
            .await
            .expect("ingest");
        let paul = w.unit_member("Paul Partner", Role::Household).await;
        let mp = w.principal(w.manager.id).await;
        let smith = w
            .app
            .add_locksmith(
                mp.staff(w.property.id).expect("the caller may do this"),
                LocksmithInput {
                    company: "Quick Keys".into(),
                    licence: "LS-1".into(),
                    phone: "555 0100".into(),
                    hours: Schedule::Always,
                    callout_cents: 9_000,
                },
            )
            .await
            .expect("locksmith");
        w.app
            .set_locksmith_status(
                w.app
                    .may_set_locksmith_status(&mp, smith.id, "verified")
                    .await
                    .expect("the caller may do this"),
                "verified",
            )
            .await
            .expect("verify");
        let src = "203.0.113.78";
        let (token, case) = w.open_public_case("Rosa Resident", src).await;
        let presence = w.app.presence_challenge(&token, src).await.expect("code");
        w.app.ask_guardians(&token).await.expect("ask");
        let booked = w
            .app
            .book_locksmith_as(
                &mp,
                case,
                BookLocksmith {
                    locksmith_id: smith.id,
                    door_id: None,
                    window_minutes: None,
                },
            )
            .await
            .expect("book");
        let code = w
            .app
            .locksmith_code(&booked.job_token, "passport, photo matches", "192.0.2.50")
            .await
            .expect("locksmith code");

        let mut conn = w.store.read().await.expect("read");
        let outbox: String = repo::notifications_of_case(&mut conn, case)
            .await
            .expect("notifications")
            .iter()
            .map(|n| n.body.to_string())
            .collect();
        let steps: String = repo::steps_of(&mut conn, case)
            .await
            .expect("steps")
            .iter()
            .map(|s| s.detail.to_string())
            .collect();
        drop(conn);
        let stored = format!("{outbox}\n{steps}\n{}", w.all_events_text().await);
        assert!(
            !stored.contains("lkg_"),
            "a guardian link lies in the outbox in clear"
        );
        for (what, secret) in [
            ("the case token", token.clone()),
            ("the job token", booked.job_token.clone()),
            ("the presence code", format!("\"{}\"", presence.code)),
            ("the locksmith's code", format!("\"{}\"", code.pin)),
        ] {
            assert!(!stored.contains(&secret), "{what} is stored in clear");
        }
        // The sealed link still does its work for the guardian it was sent to.
        let (_, link) = guardian_links(&w, case)
            .await
            .into_iter()
            .find(|(g, _)| *g == paul.id.0)
            .expect("Paul's link");
        w.app
            .answer_guardian_link(
                w.app
                    .may_answer_guardian_link(&w.principal(paul.id).await, &link)
                    .await
                    .expect("the caller may do this"),
                true,
            )
            .await
            .expect("Paul's sealed link works");
    })
    .await;
}
