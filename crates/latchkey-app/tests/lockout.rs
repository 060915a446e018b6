//! Lockout cases on every backend: opening one reveals nothing to a stranger, the household is
//! told at once, the ways back in follow the live state, and the limits stop brute force.

mod common;

use std::time::{Duration, Instant};

use common::{TwoSteps, World, membership, person, pin_for};
use latchkey_app::AppError;
use latchkey_app::devices::IngestItem;
use latchkey_app::lockout::PublicStart;
use latchkey_core::model::{CredentialStatus, Role, SensorKind};
use latchkey_store::lockout as repo;

fn start(w: &World, unit: &str, identity: &str) -> PublicStart {
    PublicStart {
        property_id: w.property.id.0,
        unit: unit.to_owned(),
        identity: identity.to_owned(),
    }
}

async fn notified(w: &World, token: &str) -> Vec<(i64, String)> {
    let mut conn = w.store.read().await.expect("read");
    let case = repo::case_by_token(&mut conn, &latchkey_app::secrets::token_digest(token))
        .await
        .expect("case")
        .expect("the token names a case");
    repo::notifications_of_case(&mut conn, case.id)
        .await
        .expect("notifications")
        .into_iter()
        .map(|n| (n.person_id.0, n.kind))
        .collect()
}

#[tokio::test]
async fn a_stranger_gets_the_same_answer_as_the_resident_and_the_household_is_told() {
    latchkey_testkit::each_backend("lockout_reveal", |db| async move {
        let w = World::build(&db).await;
        let (partner, _) = {
            let input = person(
                "Paul Partner",
                None,
                None,
                membership(Role::Household, Some(w.unit.id)),
            );
            w.app.create_person(
                w.app
                    .may_create_person(&w.admin, w.property.id, &input)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("household member");
        let mut answers = Vec::new();
        for (label, unit, identity) in [
            ("the resident by name", "4071", "rosa resident"),
            ("the resident by e-mail", "4071", "ROSA@example.org"),
            ("a wrong name", "4071", "Mallory"),
            ("a unit that does not exist", "9999", "Rosa Resident"),
        ] {
            let t = Instant::now();
            let a = w
                .app
                .start_lockout_public(start(&w, unit, identity), "203.0.113.9")
                .await
                .expect(label);
            assert!(
                t.elapsed() >= Duration::from_millis(300),
                "{label} answered early"
            );
            assert!(a.token.starts_with("lkc_") && a.token.len() > 60, "{label}");
            answers.push((label, a));
        }
        let messages: Vec<_> = answers.iter().map(|(_, a)| a.message).collect();
        assert!(
            messages.windows(2).all(|m| m[0] == m[1]),
            "the answers differ"
        );
        // A stranger's look-up shows the general order only: no availability, no names.
        let view = w
            .app
            .lockout_by_token(&answers[0].1.token, "203.0.113.9")
            .await
            .expect("view");
        assert!(view.id.is_none());
        assert!(view.ways.iter().all(|w| w.available.is_none()));
        assert!(view.timeline.iter().all(|s| s.actor_id.is_none()));
        let mut everyone = vec![w.resident.id.0, partner.id.0];
        everyone.sort_unstable();
        for (label, a) in &answers[..2] {
            let mut told: Vec<i64> = notified(&w, &a.token)
                .await
                .into_iter()
                .map(|n| n.0)
                .collect();
            told.sort_unstable();
            assert_eq!(told, everyone, "{label}: the whole household is told");
        }
        for (label, a) in &answers[2..] {
            assert!(
                notified(&w, &a.token).await.is_empty(),
                "{label}: nobody to tell"
            );
        }
        assert!(matches!(
            w.app.lockout_by_token("lkc_guessed", "203.0.113.9").await,
            Err(AppError::NotFound(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn opening_cases_is_rate_limited_per_source() {
    latchkey_testkit::each_backend("lockout_limits", |db| async move {
        let w = World::build(&db).await;
        for i in 0..10 {
            w.app
                .start_lockout_public(start(&w, &format!("U{i}"), "someone"), "192.0.2.1")
                .await
                .expect("within the source's limit");
        }
        assert!(matches!(
            w.app
                .start_lockout_public(start(&w, "U99", "someone"), "192.0.2.1")
                .await,
            Err(AppError::RateLimited { .. })
        ));
        assert!(matches!(
            w.app
                .start_lockout_public(start(&w, "  ", "someone"), "192.0.2.2")
                .await,
            Err(AppError::Invalid { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn the_ways_back_in_follow_the_residents_pin_and_an_open_window_above_the_ground_floor() {
    latchkey_testkit::each_backend("lockout_ways", |db| async move {
        let w = World::build(&db).await;
        let rp = w.principal(w.resident.id).await;
        let pin = {
            let input = pin_for(w.resident.id, Some(w.unit.id), Some("58274613"));
            w.app.create_credential(
                rp.credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("pin")
        .credential;
        let (case, _) = w
            .app
            .start_lockout_as(&w.admin, w.property.id, w.unit.id, w.resident.id)
            .await
            .expect("case for a caller");
        let view = w.app.lockout_case(&rp, case.id).await.expect("view");
        assert_eq!(view.ways[0].way, "pin");
        assert_eq!(view.ways[0].available, Some(true));
        let physical = view
            .ways
            .iter()
            .find(|x| x.way == "physical")
            .expect("physical");
        assert_eq!(physical.damage, "major");

        w.app
            .set_credential_status(
                w.app
                    .may_set_credential_status(&rp, pin.id, CredentialStatus::Revoked)
                    .await
                    .expect("the caller may do this"),
            )
            .await
            .expect("revoke");
        let sensor = w
            .app
            .create_sensor(
                w.admin
                    .staff(w.property.id)
                    .expect("the caller may do this"),
                latchkey_app::directory::SensorInput {
                    name: "Living room window".into(),
                    kind: SensorKind::Window,
                    unit_id: Some(w.unit.id),
                    door_id: None,
                    floor: 4,
                },
            )
            .await
            .expect("sensor");
        w.app
            .pair_sensor(
                w.app
                    .may_pair_sensor(&w.admin, sensor.id)
                    .await
                    .expect("the caller may do this"),
                Some("window-4071"),
            )
            .await
            .expect("pair");
        let message = latchkey_z2m::parse_inbound(
            &latchkey_z2m::Topics::default(),
            "zigbee2mqtt/window-4071",
            br#"{"contact":false,"battery":90}"#,
            &latchkey_z2m::Limits::default(),
        )
        .expect("parse")
        .expect("a device message");
        w.app
            .ingest(vec![IngestItem {
                identity: None,
                message: latchkey_bridge::zigbee::message(message),
            }])
            .await
            .expect("ingest");
        let view = w.app.lockout_case(&w.admin, case.id).await.expect("view");
        let pin_way = view.ways.iter().find(|x| x.way == "pin").expect("pin way");
        assert_eq!(pin_way.available, Some(false));
        assert!(
            pin_way
                .why_not
                .as_deref()
                .is_some_and(|t| t.contains("no PIN") || t.contains("none of your PINs"))
        );
        let window = view
            .ways
            .iter()
            .find(|x| x.way == "open_window")
            .expect("window way");
        assert_eq!(window.available, Some(true));
        assert!(window.title.contains("Living room window"));
        assert!(
            window
                .warning
                .as_deref()
                .is_some_and(|t| t.contains("floor 4"))
        );
        // What works comes before what does not.
        let first_unavailable = view
            .ways
            .iter()
            .position(|x| x.available != Some(true))
            .unwrap_or(view.ways.len());
        assert!(
            view.ways[first_unavailable..]
                .iter()
                .all(|x| x.available != Some(true))
        );
    })
    .await;
}

#[tokio::test]
async fn a_household_member_can_cancel_a_case_and_strangers_cannot_see_it() {
    latchkey_testkit::each_backend("lockout_cancel", |db| async move {
        let w = World::build(&db).await;
        let (guest, _) = {
            let input = person(
                "Gus Guest",
                None,
                None,
                membership(Role::Guest, Some(w.unit.id)),
            );
            w.app.create_person(
                w.app
                    .may_create_person(&w.admin, w.property.id, &input)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("guest");
        let (case, token) = w
            .app
            .start_lockout_as(&w.admin, w.property.id, w.unit.id, w.resident.id)
            .await
            .expect("case");
        let gp = w.principal(guest.id).await;
        assert!(matches!(
            w.app.lockout_case(&gp, case.id).await,
            Err(AppError::NotFound(_))
        ));
        assert!(matches!(
            async {
                w.app
                    .cancel_lockout(w.app.may_cancel_lockout(&gp, case.id).await?)
                    .await
            }
            .await,
            Err(AppError::NotFound(_))
        ));
        let rp = w.principal(w.resident.id).await;
        w.app
            .cancel_lockout(
                w.app
                    .may_cancel_lockout(&rp, case.id)
                    .await
                    .expect("the caller may do this"),
            )
            .await
            .expect("cancel");
        assert!(matches!(
            async {
                w.app
                    .cancel_lockout(w.app.may_cancel_lockout(&rp, case.id).await?)
                    .await
            }
            .await,
            Err(AppError::Conflict(_))
        ));
        let view = w.app.lockout_case(&w.admin, case.id).await.expect("view");
        assert_eq!(view.state, "cancelled");
        let kinds: Vec<_> = view.timeline.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds, vec!["opened", "cancelled"]);
        assert!(
            notified(&w, &token)
                .await
                .iter()
                .any(|(p, k)| *p == w.resident.id.0 && k == "lockout.cancelled")
        );
        let listed = w
            .app
            .lockout_cases(&w.admin, w.property.id)
            .await
            .expect("list");
        assert_eq!(listed.len(), 1);
        assert!(matches!(
            w.app.lockout_cases(&rp, w.property.id).await,
            Err(AppError::Forbidden(_))
        ));
    })
    .await;
}

fn code_now(w: &World, secret: &str) -> String {
    let secret = latchkey_core::totp::Secret::from_base32(secret).expect("base32");
    let now = u64::try_from(w.app.now().as_second()).expect("after 1970");
    latchkey_core::totp::code_at(&secret, now)
}

#[tokio::test]
async fn an_impostor_who_knows_name_unit_and_email_proves_nothing_and_is_stopped() {
    latchkey_testkit::each_backend("lockout_impostor", |db| async move {
        let w = World::build(&db).await;
        let rp = w.principal(w.resident.id).await;
        let enrolled = w.app.enroll_totp(rp.own_account()).await.expect("enrol");
        assert!(enrolled.uri.starts_with("otpauth://totp/latchkey:"));
        let a = w
            .app
            .start_lockout_public(start(&w, "4071", "rosa@example.org"), "203.0.113.66")
            .await
            .expect("start");
        let right = code_now(&w, &enrolled.secret);
        // Five codes that are valid in none of the steps the drift window accepts.
        let secret = latchkey_core::totp::Secret::from_base32(&enrolled.secret).expect("base32");
        let now = u64::try_from(w.app.now().as_second()).expect("after 1970");
        let near: Vec<String> = [now - 30, now, now + 30]
            .iter()
            .map(|t| latchkey_core::totp::code_at(&secret, *t))
            .collect();
        let wrong: Vec<String> = (1..=20u32)
            .map(|i| {
                format!(
                    "{:06}",
                    (right.parse::<u32>().expect("digits") + i * 111_111) % 1_000_000
                )
            })
            .filter(|g| !near.contains(g))
            .take(5)
            .collect();
        assert_eq!(wrong.len(), 5);
        for guess in &wrong {
            match w.app.prove_with_totp(&a.token, guess, "203.0.113.66").await {
                Err(AppError::Forbidden(why)) => {
                    assert_eq!(why, "that code does not prove this case")
                }
                other => panic!("a wrong code was not refused: {:?}", other.map(|v| v.state)),
            }
        }
        // The sixth try is stopped even with the right code: the case's limit is spent.
        assert!(matches!(
            w.app
                .prove_with_totp(&a.token, &right, "203.0.113.67")
                .await,
            Err(AppError::RateLimited { .. })
        ));
        let view = w
            .app
            .lockout_by_token(&a.token, "203.0.113.66")
            .await
            .expect("view");
        assert_eq!(view.state, "open");
        assert!(view.ways.iter().all(|x| x.available.is_none()));
        assert_eq!(
            view.timeline
                .iter()
                .filter(|s| s.kind == "proof_refused")
                .count(),
            5
        );
    })
    .await;
}

#[tokio::test]
async fn the_residents_code_proves_the_case_once_and_cannot_be_replayed() {
    latchkey_testkit::each_backend("lockout_totp", |db| async move {
        let w = World::build(&db).await;
        let rp = w.principal(w.resident.id).await;
        let enrolled = w.app.enroll_totp(rp.own_account()).await.expect("enrol");
        let first = w
            .app
            .start_lockout_public(start(&w, "4071", "Rosa Resident"), "203.0.113.10")
            .await
            .expect("start");
        let code = code_now(&w, &enrolled.secret);
        let view = w
            .app
            .prove_with_totp(&first.token, &code, "203.0.113.10")
            .await
            .expect("the right code proves the case");
        assert_eq!(view.state, "proven");
        assert!(
            view.ways.iter().all(|x| x.available.is_some()),
            "a proven case is assessed"
        );
        assert!(
            notified(&w, &first.token)
                .await
                .iter()
                .any(|(p, k)| *p == w.resident.id.0 && k == "lockout.proven")
        );
        // The same code on a second case (someone who watched it being typed) is refused.
        let second = w
            .app
            .start_lockout_public(start(&w, "4071", "Rosa Resident"), "203.0.113.11")
            .await
            .expect("start");
        assert!(matches!(
            w.app
                .prove_with_totp(&second.token, &code, "203.0.113.11")
                .await,
            Err(AppError::Forbidden(_))
        ));
        // A valid code does not prove a case that matched nobody.
        let stranger = w
            .app
            .start_lockout_public(start(&w, "4071", "Nobody Here"), "203.0.113.12")
            .await
            .expect("start");
        w.clock.advance(jiff::SignedDuration::from_secs(60));
        let fresh = code_now(&w, &enrolled.secret);
        assert!(matches!(
            w.app
                .prove_with_totp(&stranger.token, &fresh, "203.0.113.12")
                .await,
            Err(AppError::Forbidden(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn an_id_check_is_recorded_by_staff_only_and_counts_only_if_the_policy_says_so() {
    latchkey_testkit::each_backend("lockout_id_check", |db| async move {
        let w = World::build(&db).await;
        let rp = w.principal(w.resident.id).await;
        let mp = w.principal(w.manager.id).await;
        let (case, _) = w
            .app
            .start_lockout_as(&w.admin, w.property.id, w.unit.id, w.resident.id)
            .await
            .expect("case");
        assert!(matches!(
            async {
                w.app
                    .record_id_check(
                        w.app
                            .may_record_id_check(&rp, case.id, "my own passport")
                            .await?,
                        "my own passport",
                    )
                    .await
            }
            .await,
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            async {
                w.app
                    .record_id_check(w.app.may_record_id_check(&mp, case.id, "   ").await?, "   ")
                    .await
            }
            .await,
            Err(AppError::Invalid { .. })
        ));
        // A property that accepts only guardians: the check is recorded but proves nothing.
        let mut policy = w.property.policy.clone();
        policy.recovery_proofs = vec![latchkey_core::model::ProofKind::Guardians];
        {
            let patch = latchkey_app::directory::PropertyPatch {
                policy: Some(policy),
                ..Default::default()
            };
            w.app.update_property(
                w.admin
                    .property_changer(w.property.id, patch.touches_settings())
                    .expect("the caller may do this"),
                patch,
            )
        }
        .await
        .expect("policy");
        let view = w
            .app
            .record_id_check(
                w.app
                    .may_record_id_check(&mp, case.id, "passport")
                    .await
                    .expect("the caller may do this"),
                "passport",
            )
            .await
            .expect("recorded");
        assert_eq!(view.state, "open");
        {
            let patch = latchkey_app::directory::PropertyPatch {
                policy: Some(w.property.policy.clone()),
                ..Default::default()
            };
            w.app.update_property(
                w.admin
                    .property_changer(w.property.id, patch.touches_settings())
                    .expect("the caller may do this"),
                patch,
            )
        }
        .await
        .expect("policy back");
        let view = w
            .app
            .record_id_check(
                w.app
                    .may_record_id_check(&mp, case.id, "passport, photo matches")
                    .await
                    .expect("the caller may do this"),
                "passport, photo matches",
            )
            .await
            .expect("proven");
        assert_eq!(view.state, "proven");
        let kinds: Vec<_> = view.timeline.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(
            kinds,
            vec!["opened", "proof_id_check", "proof_id_check", "proven"]
        );
        assert!(matches!(
            async {
                w.app
                    .record_id_check(
                        w.app.may_record_id_check(&mp, case.id, "again").await?,
                        "again",
                    )
                    .await
            }
            .await,
            Err(AppError::Conflict(_))
        ));
    })
    .await;
}
