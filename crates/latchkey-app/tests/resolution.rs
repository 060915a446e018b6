//! Ending a lockout case, on every backend, tried the way an intruder would: a spare key outside
//! a proven case, a locksmith code outside its window or twice, guessing job tokens, a forced
//! entry's rotation, and the ledger's CSV.

mod common;

use common::{TwoSteps, World, pin_for};
use jiff::SignedDuration;
use latchkey_app::AppError;
use latchkey_app::lockout::{BookLocksmith, CompleteJob, ledger_csv};
use latchkey_app::recovery::LocksmithInput;
use latchkey_core::model::{CredentialStatus, Role};
use latchkey_core::schedule::Schedule;
use latchkey_core::{LockoutCaseId, PersonId};
use latchkey_store::lockout as repo;

async fn holder(w: &World, name: &'static str) -> latchkey_app::authz::Principal {
    let p = w.unit_member(name, Role::TrustedContact).await;
    w.app
        .grant_spare_key(
            w.admin
                .unit_admin(w.property.id, w.unit.id)
                .expect("the caller may do this"),
            p.id,
            Schedule::Always,
        )
        .await
        .expect("spare key");
    w.principal(p.id).await
}

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

async fn kinds_told(w: &World, person: PersonId, case: LockoutCaseId) -> Vec<String> {
    let mut conn = w.store.read().await.expect("read");
    repo::notifications_of_case(&mut conn, case)
        .await
        .expect("notifications")
        .into_iter()
        .filter(|n| n.person_id == person)
        .map(|n| n.kind)
        .collect()
}

#[tokio::test]
async fn a_spare_key_releases_nothing_outside_a_proven_case_and_only_once_inside_one() {
    latchkey_testkit::each_backend("resolution_spare_key", |db| async move {
        let w = World::build(&db).await;
        pair(&w).await;
        let hana = holder(&w, "Hana Holder").await;
        let stranger = w
            .principal(w.unit_member("Sam Stranger", Role::TrustedContact).await.id)
            .await;
        // No case at all.
        assert!(matches!(
            async {
                w.app
                    .release_spare_pin(w.app.may_use_spare_key(&hana, LockoutCaseId(999)).await?)
                    .await
            }
            .await,
            Err(AppError::NotFound(_))
        ));
        // An impostor who knows the name, unit and e-mail opens a case: nothing is released.
        let (_, case) = w
            .open_public_case("rosa@example.org", "198.51.100.66")
            .await;
        let before = w.event_count().await;
        assert!(matches!(
            async {
                w.app
                    .release_spare_pin(w.app.may_use_spare_key(&hana, case).await?)
                    .await
            }
            .await,
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            async {
                w.app
                    .staff_open(
                        w.app
                            .may_staff_open(&w.principal(w.manager.id).await, case)
                            .await?,
                        w.door.id,
                        std::time::Duration::from_secs(1),
                    )
                    .await
            }
            .await,
            Err(AppError::Forbidden(_))
        ));
        // Someone without a spare key cannot even tell the case exists.
        assert!(matches!(
            async {
                w.app
                    .release_spare_pin(w.app.may_use_spare_key(&stranger, case).await?)
                    .await
            }
            .await,
            Err(AppError::NotFound(_))
        ));
        assert_eq!(w.event_count().await, before, "refusals change nothing");

        // Proven in person by the manager: one PIN, once.
        w.app
            .record_id_check(
                w.app
                    .may_record_id_check(
                        &w.principal(w.manager.id).await,
                        case,
                        "passport, photo matches",
                    )
                    .await
                    .expect("the caller may do this"),
                "passport, photo matches",
            )
            .await
            .expect("id check");
        let released = w
            .app
            .release_spare_pin(
                w.app
                    .may_use_spare_key(&hana, case)
                    .await
                    .expect("the caller may do this"),
            )
            .await
            .expect("release");
        assert_eq!(released.pin.len(), 8);
        assert_eq!(released.doors, vec![w.door.id]);
        assert_eq!(
            released.valid_until,
            latchkey_app::Clock::now(&*w.clock)
                .checked_add(SignedDuration::from_mins(15))
                .expect("time")
        );
        assert!(matches!(
            async {
                w.app
                    .release_spare_pin(w.app.may_use_spare_key(&hana, case).await?)
                    .await
            }
            .await,
            Err(AppError::Conflict(_))
        ));
        // The one-time PIN is an ordinary credential: one use, one-time window, for the resident.
        let rp = w.principal(w.resident.id).await;
        let creds = w
            .app
            .list_credentials(&w.admin, w.property.id, Some(w.resident.id))
            .await
            .expect("credentials");
        let one_time = creds
            .iter()
            .find(|c| c.label.contains("spare key"))
            .expect("the released PIN is a credential");
        assert_eq!(one_time.max_uses, Some(1));
        assert!(matches!(one_time.schedule, Schedule::OneTime { .. }));
        assert!(
            w.all_events_text().await.find(&released.pin).is_none(),
            "the PIN is in no event"
        );
        assert!(
            kinds_told(&w, rp.id(), case)
                .await
                .contains(&"lockout.spare_key_released".to_owned())
        );
        // A revoked spare key is no key.
        let keys = w
            .app
            .list_spare_keys(&w.admin, w.property.id)
            .await
            .expect("keys");
        let key = keys.iter().find(|k| k.holder_id == hana.id()).expect("key");
        w.app
            .revoke_spare_key(
                w.app
                    .may_revoke_spare_key(&w.admin, key.id)
                    .await
                    .expect("the caller may do this"),
            )
            .await
            .expect("revoke");
        let second = w
            .app
            .start_lockout_as(&w.admin, w.property.id, w.unit.id, w.resident.id)
            .await
            .expect("second case")
            .0;
        w.app
            .record_id_check(
                w.app
                    .may_record_id_check(&w.principal(w.manager.id).await, second.id, "passport")
                    .await
                    .expect("the caller may do this"),
                "passport",
            )
            .await
            .expect("id check");
        assert!(matches!(
            async {
                w.app
                    .release_spare_pin(w.app.may_use_spare_key(&hana, second.id).await?)
                    .await
            }
            .await,
            Err(AppError::NotFound(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn a_locksmith_code_works_only_inside_its_window_once_and_job_tokens_cannot_be_guessed() {
    latchkey_testkit::each_backend("resolution_locksmith", |db| async move {
        let w = World::build(&db).await;
        pair(&w).await;
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
        let case = w
            .app
            .start_lockout_as(&mp, w.property.id, w.unit.id, w.resident.id)
            .await
            .expect("case")
            .0;
        let book = |window| BookLocksmith {
            locksmith_id: smith.id,
            door_id: None,
            window_minutes: window,
        };
        assert!(
            matches!(
                w.app.book_locksmith_as(&mp, case.id, book(None)).await,
                Err(AppError::Invalid { .. })
            ),
            "an unverified locksmith is never sent"
        );
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
        assert!(matches!(
            w.app.book_locksmith_as(&mp, case.id, book(Some(5))).await,
            Err(AppError::Invalid { .. })
        ));
        // The lock has never reported, so it counts as failed: no code for this job.
        let failed = w
            .app
            .book_locksmith_as(&mp, case.id, book(Some(60)))
            .await
            .expect("book");
        assert!(failed.job.lock_failed);
        assert!(matches!(
            w.app
                .locksmith_code(&failed.job_token, "driving licence", "192.0.2.50")
                .await,
            Err(AppError::Conflict(_))
        ));
        // Once the lock reports in, a new job gets a code, inside its window only, once.
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
        let job = w
            .app
            .book_locksmith_as(&mp, case.id, book(Some(60)))
            .await
            .expect("book");
        assert!(!job.job.lock_failed);
        let view = w
            .app
            .lockout_case(&w.principal(w.resident.id).await, case.id)
            .await
            .expect("view");
        assert!(
            view.locksmith_jobs
                .iter()
                .any(|j| j.check_word == job.job.check_word),
            "the resident sees the check word"
        );
        assert!(matches!(
            w.app
                .locksmith_code("lkj_guessed", "passport", "192.0.2.50")
                .await,
            Err(AppError::NotFound(_))
        ));
        assert!(matches!(
            w.app
                .locksmith_code(&job.job_token, "  ", "192.0.2.50")
                .await,
            Err(AppError::Invalid { .. })
        ));
        w.clock.advance(SignedDuration::from_mins(61));
        assert!(matches!(
            w.app
                .locksmith_code(&job.job_token, "passport", "192.0.2.50")
                .await,
            Err(AppError::Forbidden(_))
        ));
        w.clock.advance(SignedDuration::from_mins(-31));
        let code = w
            .app
            .locksmith_code(&job.job_token, "passport, photo matches", "192.0.2.50")
            .await
            .expect("code inside the window");
        assert_eq!(code.pin.len(), 8);
        assert_eq!(code.check_word, job.job.check_word);
        assert!(matches!(
            w.app
                .locksmith_code(&job.job_token, "passport", "192.0.2.50")
                .await,
            Err(AppError::Conflict(_))
        ));
        // Guessing tokens from one address is stopped.
        let mut limited = false;
        for i in 0..25 {
            if let Err(AppError::RateLimited { .. }) = w
                .app
                .locksmith_code(&format!("lkj_{i:064}"), "passport", "192.0.2.99")
                .await
            {
                limited = true;
                break;
            }
        }
        assert!(limited, "guessing job tokens is rate-limited");

        // Done: the bill goes to the ledger, payer as the lease says; nothing failed, no service.
        let done = w
            .app
            .complete_locksmith_job_as(
                &mp,
                job.job.id,
                CompleteJob {
                    cost_cents: 12_000,
                    work: "code".into(),
                },
            )
            .await
            .expect("complete");
        assert_eq!(done.charge.payer, "tenant");
        assert_eq!(done.charge.amount_cents, 12_000);
        assert!(done.service.is_none());
        assert!(matches!(
            w.app
                .complete_locksmith_job_as(
                    &mp,
                    job.job.id,
                    CompleteJob {
                        cost_cents: 1,
                        work: "code".into()
                    }
                )
                .await,
            Err(AppError::Conflict(_))
        ));
        assert!(matches!(
            w.app
                .complete_locksmith_job_as(
                    &mp,
                    failed.job.id,
                    CompleteJob {
                        cost_cents: 1,
                        work: "magic".into()
                    }
                )
                .await,
            Err(AppError::Invalid { .. })
        ));
        let rp = w.principal(w.resident.id).await;
        let before = w.event_count().await;
        assert!(matches!(
            w.app
                .complete_locksmith_job_as(
                    &rp,
                    failed.job.id,
                    CompleteJob {
                        cost_cents: 1,
                        work: "code".into()
                    }
                )
                .await,
            Err(AppError::Forbidden(_))
        ));
        assert_eq!(w.event_count().await, before, "nothing was recorded");
        let ledger = w
            .app
            .ledger(&rp, w.property.id, Some(w.unit.id))
            .await
            .expect("ledger");
        assert_eq!(ledger.len(), 1);
        let csv = ledger_csv(&ledger);
        assert!(
            csv.starts_with("id,created_at,unit_id,case_id,kind,payer,amount_cents"),
            "{csv}"
        );
        assert!(csv.contains(",locksmith,tenant,12000,false,"), "{csv}");
        assert!(matches!(
            w.app.ledger(&rp, w.property.id, None).await,
            Err(AppError::Forbidden(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn a_forced_entry_rotates_every_pin_of_the_door_and_tells_owners_managers_and_residents() {
    latchkey_testkit::each_backend("resolution_forced", |db| async move {
        let w = World::build(&db).await;
        let rp = w.principal(w.resident.id).await;
        let mp = w.principal(w.manager.id).await;
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
        let case = w
            .app
            .start_lockout_as(&rp, w.property.id, w.unit.id, w.resident.id)
            .await
            .expect("case")
            .0;
        assert!(matches!(
            w.app
                .record_forced_entry_as(&rp, case.id, w.door.id, "")
                .await,
            Err(AppError::Invalid { .. })
        ));
        let done = w
            .app
            .record_forced_entry_as(&rp, case.id, w.door.id, "door kicked in")
            .await
            .expect("forced entry");
        assert_eq!(done.incident.kind, "compromised");
        assert_eq!(done.rotated.len(), 1);
        let (old, new) = done.rotated[0];
        assert_eq!(old, pin.id);
        let creds = w
            .app
            .list_credentials(&w.admin, w.property.id, Some(w.resident.id))
            .await
            .expect("credentials");
        let old_c = creds.iter().find(|c| c.id == old).expect("old");
        let new_c = creds.iter().find(|c| c.id == new).expect("new");
        assert_eq!(old_c.status, CredentialStatus::Revoked);
        assert_eq!(new_c.status, CredentialStatus::Active);
        assert_eq!(new_c.doors, old_c.doors);
        // The owner's notification carries the new PIN sealed for them alone.
        let mut conn = w.store.read().await.expect("read");
        let told = repo::notifications_of_case(&mut conn, case.id)
            .await
            .expect("notifications");
        drop(conn);
        let rotated = told
            .iter()
            .find(|n| n.kind == "credential.rotated" && n.person_id == w.resident.id)
            .expect("the owner is told");
        let sealed =
            hex::decode(rotated.body["pin_sealed_hex"].as_str().expect("sealed")).expect("hex");
        let opened = latchkey_app::secrets::Keys::from_master(&[1; 32])
            .open_bytes(
                &latchkey_app::incidents::rotated_pin_aad(w.resident.id),
                &sealed,
            )
            .expect("the owner's delivery opens it");
        let new_pin = String::from_utf8(opened).expect("digits");
        assert_ne!(new_pin, "58274613");
        assert!(
            !rotated.body.to_string().contains(&new_pin),
            "the PIN is never in clear"
        );
        assert!(
            told.iter()
                .any(|n| n.kind == "door.repair_needed" && n.person_id == w.manager.id)
        );
        assert!(
            told.iter()
                .any(|n| n.kind == "door.compromised" && n.person_id == w.resident.id)
        );
        assert!(!w.all_events_text().await.contains(&new_pin));
        // One incident at a time; staff close it.
        assert!(matches!(
            w.app
                .record_forced_entry_as(&rp, case.id, w.door.id, "again")
                .await,
            Err(AppError::Conflict(_))
        ));
        assert!(matches!(
            async {
                w.app
                    .close_incident(
                        w.app
                            .may_close_incident(&rp, done.incident.id, "fixed")
                            .await?,
                        "fixed",
                    )
                    .await
            }
            .await,
            Err(AppError::NotFound(_))
        ));
        let closed = w
            .app
            .close_incident(
                w.app
                    .may_close_incident(&mp, done.incident.id, "lock replaced")
                    .await
                    .expect("the caller may do this"),
                "lock replaced",
            )
            .await
            .expect("close");
        assert!(closed.closed_at.is_some());
        assert!(
            w.app
                .incidents(&mp, w.property.id)
                .await
                .expect("list")
                .iter()
                .all(|i| i.closed_at.is_some())
        );
    })
    .await;
}

#[tokio::test]
async fn a_new_pin_waits_the_delay_the_household_can_cancel_it_and_an_own_factor_skips_the_wait() {
    latchkey_testkit::each_backend("resolution_new_pin", |db| async move {
        let w = World::build(&db).await;
        pair(&w).await;
        let rp = w.principal(w.resident.id).await;
        let mp = w.principal(w.manager.id).await;
        let partner = w.unit_member("Paul Partner", Role::Household).await;
        let pp = w.principal(partner.id).await;
        let old = {
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
        // Not before the proof.
        let (token, case) = w.open_public_case("Rosa Resident", "198.51.100.30").await;
        assert!(matches!(
            w.app.request_new_pin(&token, "198.51.100.30").await,
            Err(AppError::Forbidden(_))
        ));
        w.app
            .record_id_check(
                w.app
                    .may_record_id_check(&mp, case, "passport")
                    .await
                    .expect("the caller may do this"),
                "passport",
            )
            .await
            .expect("id check");
        let asked = w
            .app
            .request_new_pin(&token, "198.51.100.30")
            .await
            .expect("ask");
        assert!(asked.delayed);
        assert_eq!(
            asked.effective_at,
            latchkey_app::Clock::now(&*w.clock)
                .checked_add(SignedDuration::from_mins(60))
                .expect("time")
        );
        assert!(
            kinds_told(&w, partner.id, case)
                .await
                .contains(&"lockout.credential_change".to_owned())
        );
        assert!(matches!(
            w.app.request_new_pin(&token, "198.51.100.30").await,
            Err(AppError::Conflict(_))
        ));
        assert!(
            matches!(
                w.app.collect_new_pin(&token, "198.51.100.30").await,
                Err(AppError::Conflict(_))
            ),
            "not during the delay"
        );
        // The partner sees it and cancels: it never takes effect.
        w.app
            .cancel_credential_change_as(&pp, asked.change_id)
            .await
            .expect("cancel");
        assert!(matches!(
            w.app
                .cancel_credential_change_as(&pp, asked.change_id)
                .await,
            Err(AppError::Conflict(_))
        ));
        w.clock.advance(SignedDuration::from_mins(61));
        assert!(matches!(
            w.app.collect_new_pin(&token, "198.51.100.30").await,
            Err(AppError::Conflict(_))
        ));
        let creds = w
            .app
            .list_credentials(&w.admin, w.property.id, Some(w.resident.id))
            .await
            .expect("list");
        assert_eq!(
            creds.iter().find(|c| c.id == old.id).expect("old").status,
            CredentialStatus::Active
        );

        // Asked again and left alone: after the delay it is collected once, the old PIN goes.
        let again = w
            .app
            .request_new_pin(&token, "198.51.100.30")
            .await
            .expect("ask again");
        w.clock.advance(SignedDuration::from_mins(60));
        let collected = w
            .app
            .collect_new_pin(&token, "198.51.100.30")
            .await
            .expect("collect");
        // A lasting generated code: the digits its door needs under the default limit.
        assert_eq!(collected.pin.len(), 8);
        assert_eq!(collected.doors, vec![w.door.id]);
        assert!(matches!(
            w.app.collect_new_pin(&token, "198.51.100.30").await,
            Err(AppError::Conflict(_))
        ));
        assert!(matches!(
            w.app
                .cancel_credential_change_as(&pp, again.change_id)
                .await,
            Err(AppError::Conflict(_))
        ));
        let creds = w
            .app
            .list_credentials(&w.admin, w.property.id, Some(w.resident.id))
            .await
            .expect("list");
        assert_eq!(
            creds.iter().find(|c| c.id == old.id).expect("old").status,
            CredentialStatus::Revoked
        );
        assert!(!w.all_events_text().await.contains(&collected.pin));

        // Proven with the resident's own authenticator: no wait.
        let enrolment = w.app.enroll_totp(rp.own_account()).await.expect("enrol");
        let (token, _) = w
            .open_public_case("rosa@example.org", "198.51.100.30")
            .await;
        let secret = latchkey_core::totp::Secret::from_base32(&enrolment.secret).expect("secret");
        let unix = u64::try_from(latchkey_app::Clock::now(&*w.clock).as_second()).expect("time");
        w.app
            .prove_with_totp(
                &token,
                &latchkey_core::totp::code_at(&secret, unix),
                "198.51.100.31",
            )
            .await
            .expect("totp");
        let fast = w
            .app
            .request_new_pin(&token, "198.51.100.31")
            .await
            .expect("ask");
        assert!(!fast.delayed);
        w.app
            .collect_new_pin(&token, "198.51.100.31")
            .await
            .expect("at once");
        // Someone outside the household cannot cancel anything, and nothing is written.
        let hana = holder(&w, "Hana Holder").await;
        let before = w.event_count().await;
        assert!(matches!(
            w.app
                .cancel_credential_change_as(&hana, fast.change_id)
                .await,
            Err(AppError::NotFound(_))
        ));
        assert_eq!(w.event_count().await, before, "nothing was recorded");
    })
    .await;
}

#[tokio::test]
async fn an_impostor_who_knows_name_unit_and_email_gets_through_no_step() {
    latchkey_testkit::each_backend("resolution_impostor", |db| async move {
        let w = World::build(&db).await;
        pair(&w).await;
        let rp = w.principal(w.resident.id).await;
        w.app
            .enroll_totp(rp.own_account())
            .await
            .expect("the resident has an authenticator");
        let hana = holder(&w, "Hana Holder").await;
        let src = "203.0.113.66";
        let (token, case) = w.open_public_case("rosa@example.org", src).await;
        // The token shows the general order only.
        let view = w.app.lockout_by_token(&token, src).await.expect("view");
        assert!(view.ways.iter().all(|x| x.available.is_none()));
        // Guessed authenticator codes: refused, then stopped.
        let mut limited = false;
        for guess in 0..10 {
            match w
                .app
                .prove_with_totp(&token, &format!("{guess:06}"), src)
                .await
            {
                Err(AppError::Forbidden(_)) => {}
                Err(AppError::RateLimited { .. }) => {
                    limited = true;
                    break;
                }
                other => panic!("a guessed code got {other:?}"),
            }
        }
        assert!(limited, "guessing codes is rate-limited per case");
        // A presence code alone proves nothing.
        let challenge = w.app.presence_challenge(&token, src).await.expect("a code");
        assert_eq!(challenge.code.len(), 6);
        // Nothing that opens, releases or changes a credential works.
        assert!(matches!(
            w.app.request_new_pin(&token, src).await,
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            w.app.collect_new_pin(&token, src).await,
            Err(AppError::Conflict(_))
        ));
        assert!(matches!(
            async {
                w.app
                    .release_spare_pin(w.app.may_use_spare_key(&hana, case).await?)
                    .await
            }
            .await,
            Err(AppError::Forbidden(_))
        ));
        let view = w
            .app
            .lockout_case(&rp, case)
            .await
            .expect("the resident sees it");
        assert_eq!(view.state, "open");
        assert!(
            view.timeline
                .iter()
                .filter(|s| s.kind == "proof_refused")
                .count()
                >= 5,
            "the household sees someone trying"
        );
        assert!(
            kinds_told(&w, rp.id(), case)
                .await
                .contains(&"lockout.opened".to_owned())
        );
        let creds = w
            .app
            .list_credentials(&w.admin, w.property.id, Some(w.resident.id))
            .await
            .expect("credentials");
        assert!(
            creds.iter().all(|c| c.non_access),
            "the only code made is the presence challenge, which never opens"
        );
    })
    .await;
}
