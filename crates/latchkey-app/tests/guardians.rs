//! Guardians vouching for a locked-out resident, on every backend: single-use, expiring links
//! that work only for the guardian they were sent to, k of n, a denial told at once.

mod common;

use common::{World, membership, person};
use jiff::SignedDuration;
use latchkey_app::AppError;
use latchkey_app::lockout::PublicStart;
use latchkey_core::model::{ProofKind, Role};
use latchkey_core::schedule::Schedule;
use latchkey_store::lockout as repo;

/// Links queued for each guardian of the case behind `token`, opened as each guardian's delivery
/// opens them: (guardian id, link token).
async fn links(w: &World, token: &str) -> Vec<(i64, String)> {
    let mut conn = w.store.read().await.expect("read");
    let case = repo::case_by_token(&mut conn, &latchkey_app::secrets::token_digest(token))
        .await
        .expect("case")
        .expect("case exists");
    repo::notifications_of_case(&mut conn, case.id)
        .await
        .expect("notifications")
        .into_iter()
        .filter(|n| n.kind == "lockout.guardian_request")
        .map(|n| {
            let sealed = hex::decode(n.body["link_sealed_hex"].as_str().expect("a sealed link"))
                .expect("hex");
            let link = latchkey_app::secrets::Keys::from_master(&[1; 32])
                .open_bytes(
                    &latchkey_app::lockout::guardian_link_aad(n.person_id),
                    &sealed,
                )
                .expect("the guardian's delivery opens the link");
            (n.person_id.0, String::from_utf8(link).expect("text"))
        })
        .collect()
}

async fn open_case(w: &World, identity: &str) -> String {
    w.app
        .start_lockout_public(
            PublicStart {
                property_id: w.property.id.0,
                unit: "4071".into(),
                identity: identity.into(),
            },
            "203.0.113.40",
        )
        .await
        .expect("start")
        .token
}

#[tokio::test]
async fn two_guardians_prove_a_case_and_links_cannot_be_replayed_expired_or_borrowed() {
    latchkey_testkit::each_backend("guardians_k_of_n", |db| async move {
        let w = World::build(&db).await;
        let mut policy = w.property.policy.clone();
        policy.recovery_proofs = vec![ProofKind::Guardians];
        policy.guardians_required = 2;
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
        let add = |name: &'static str, role: Role| {
            let w = &w;
            async move {
                {
                    let input = person(name, None, None, membership(role, Some(w.unit.id)));
                    w.app.create_person(
                        w.app
                            .may_create_person(&w.admin, w.property.id, &input)
                            .expect("the caller may do this"),
                        input,
                    )
                }
                .await
                .expect("person")
                .0
            }
        };
        let paul = add("Paul Partner", Role::Household).await;
        let fritz = add("Fritz Friend", Role::TrustedContact).await;
        let mallory = add("Mallory Guest", Role::Guest).await;
        let rp = w.principal(w.resident.id).await;
        w.app
            .grant_spare_key(
                rp.unit_admin(w.property.id, w.unit.id)
                    .expect("the caller may do this"),
                fritz.id,
                Schedule::Always,
            )
            .await
            .expect("spare key");

        let token = open_case(&w, "Rosa Resident").await;
        w.app.ask_guardians(&token).await.expect("ask");
        let sent = links(&w, &token).await;
        let mut to: Vec<i64> = sent.iter().map(|(g, _)| *g).collect();
        to.sort_unstable();
        assert_eq!(to, vec![paul.id.0, fritz.id.0]);
        let link_of = |id: i64| {
            sent.iter()
                .find(|(g, _)| *g == id)
                .map(|(_, l)| l.clone())
                .expect("link")
        };
        let (paul_link, fritz_link) = (link_of(paul.id.0), link_of(fritz.id.0));

        // Someone else holding Paul's link gets nowhere, and the link stays Paul's.
        let mp = w.principal(mallory.id).await;
        assert!(matches!(
            async {
                w.app
                    .answer_guardian_link(
                        w.app.may_answer_guardian_link(&mp, &paul_link).await?,
                        true,
                    )
                    .await
            }
            .await,
            Err(AppError::Forbidden(_))
        ));
        let pp = w.principal(paul.id).await;
        w.app
            .answer_guardian_link(
                w.app
                    .may_answer_guardian_link(&pp, &paul_link)
                    .await
                    .expect("the caller may do this"),
                true,
            )
            .await
            .expect("Paul confirms");
        assert!(matches!(
            async {
                w.app
                    .answer_guardian_link(
                        w.app.may_answer_guardian_link(&pp, &paul_link).await?,
                        true,
                    )
                    .await
            }
            .await,
            Err(AppError::Conflict(_))
        ));
        let view = w
            .app
            .lockout_by_token(&token, "203.0.113.40")
            .await
            .expect("view");
        assert_eq!(view.state, "open", "one of two is not enough");

        // Fritz answers too late: the link has expired. Asked again, he confirms in time.
        w.clock.advance(SignedDuration::from_mins(31));
        let fp = w.principal(fritz.id).await;
        assert!(matches!(
            async {
                w.app
                    .answer_guardian_link(
                        w.app.may_answer_guardian_link(&fp, &fritz_link).await?,
                        true,
                    )
                    .await
            }
            .await,
            Err(AppError::Conflict(_))
        ));
        w.app.ask_guardians(&token).await.expect("ask again");
        let fresh = links(&w, &token)
            .await
            .into_iter()
            .filter(|(g, l)| *g == fritz.id.0 && *l != fritz_link)
            .map(|(_, l)| l)
            .next()
            .expect("a new link for Fritz");
        w.app
            .answer_guardian_link(
                w.app
                    .may_answer_guardian_link(&fp, &fresh)
                    .await
                    .expect("the caller may do this"),
                true,
            )
            .await
            .expect("Fritz confirms");
        let view = w
            .app
            .lockout_by_token(&token, "203.0.113.40")
            .await
            .expect("view");
        assert_eq!(view.state, "proven");
        assert!(matches!(
            async {
                w.app
                    .answer_guardian_link(
                        w.app.may_answer_guardian_link(&fp, "lkg_made_up").await?,
                        true,
                    )
                    .await
            }
            .await,
            Err(AppError::NotFound(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn one_guardian_confirming_two_links_counts_once() {
    latchkey_testkit::each_backend("guardians_by_person", |db| async move {
        let w = World::build(&db).await;
        let mut policy = w.property.policy.clone();
        policy.recovery_proofs = vec![ProofKind::Guardians];
        policy.guardians_required = 2;
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
        let paul = w.unit_member("Paul Partner", Role::Household).await;
        let hana = w.unit_member("Hana Household", Role::Household).await;
        let token = open_case(&w, "Rosa Resident").await;
        // Asked twice, Paul holds two links; he confirms both.
        w.app.ask_guardians(&token).await.expect("ask");
        w.app.ask_guardians(&token).await.expect("ask again");
        let pauls: Vec<String> = links(&w, &token)
            .await
            .into_iter()
            .filter(|(g, _)| *g == paul.id.0)
            .map(|(_, l)| l)
            .collect();
        assert_eq!(pauls.len(), 2);
        let pp = w.principal(paul.id).await;
        for link in &pauls {
            w.app
                .answer_guardian_link(
                    w.app
                        .may_answer_guardian_link(&pp, link)
                        .await
                        .expect("the caller may do this"),
                    true,
                )
                .await
                .expect("each link of Paul's works once");
        }
        let view = w
            .app
            .lockout_by_token(&token, "203.0.113.40")
            .await
            .expect("view");
        assert_eq!(
            view.state, "open",
            "one person is one guardian, however many links"
        );
        let hanas = links(&w, &token)
            .await
            .into_iter()
            .find(|(g, _)| *g == hana.id.0)
            .expect("Hana's link")
            .1;
        w.app
            .answer_guardian_link(
                w.app
                    .may_answer_guardian_link(&w.principal(hana.id).await, &hanas)
                    .await
                    .expect("the caller may do this"),
                true,
            )
            .await
            .expect("Hana confirms");
        let view = w
            .app
            .lockout_by_token(&token, "203.0.113.40")
            .await
            .expect("view");
        assert_eq!(view.state, "proven", "two people confirmed");
    })
    .await;
}

#[tokio::test]
async fn one_guardian_saying_no_is_told_to_the_household_and_a_stranger_case_asks_nobody() {
    latchkey_testkit::each_backend("guardians_deny", |db| async move {
        let w = World::build(&db).await;
        let (paul, _) = {
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
        .expect("household");
        let token = open_case(&w, "Rosa Resident").await;
        let asked = w.app.ask_guardians(&token).await.expect("ask");
        let link = links(&w, &token)
            .await
            .into_iter()
            .next()
            .expect("a link")
            .1;
        let pp = w.principal(paul.id).await;
        w.app
            .answer_guardian_link(
                w.app
                    .may_answer_guardian_link(&pp, &link)
                    .await
                    .expect("the caller may do this"),
                false,
            )
            .await
            .expect("deny");
        let mut conn = w.store.read().await.expect("read");
        let case = repo::case_by_token(&mut conn, &latchkey_app::secrets::token_digest(&token))
            .await
            .expect("case")
            .expect("exists");
        let denied: Vec<i64> = repo::notifications_of_case(&mut conn, case.id)
            .await
            .expect("notifications")
            .into_iter()
            .filter(|n| n.kind == "lockout.guardian_denied")
            .map(|n| n.person_id.0)
            .collect();
        drop(conn);
        assert!(denied.contains(&w.resident.id.0) && denied.contains(&paul.id.0));

        let stranger = open_case(&w, "Nobody Here").await;
        let same = w.app.ask_guardians(&stranger).await.expect("ask");
        assert_eq!(
            same.message, asked.message,
            "the answer does not reveal a match"
        );
        assert!(links(&w, &stranger).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_household_member_or_spare_key_holder_freezes_a_lost_phone_key_at_once_and_a_guest_cannot()
 {
    latchkey_testkit::each_backend("freeze_lost_phone", |db| async move {
        let w = World::build(&db).await;
        let add = |name: &'static str, role: Role| {
            let w = &w;
            async move {
                {
                    let input = person(name, None, None, membership(role, Some(w.unit.id)));
                    w.app.create_person(
                        w.app
                            .may_create_person(&w.admin, w.property.id, &input)
                            .expect("the caller may do this"),
                        input,
                    )
                }
                .await
                .expect("person")
                .0
            }
        };
        let paul = add("Paul Partner", Role::Household).await;
        let fritz = add("Fritz Friend", Role::TrustedContact).await;
        let gus = add("Gus Guest", Role::Guest).await;
        let rp = w.principal(w.resident.id).await;
        w.app
            .grant_spare_key(
                rp.unit_admin(w.property.id, w.unit.id)
                    .expect("the caller may do this"),
                fritz.id,
                Schedule::Always,
            )
            .await
            .expect("spare key");
        let mut phone = common::pin_for(w.resident.id, Some(w.unit.id), None);
        phone.kind = latchkey_core::model::CredentialKind::PhoneKey;
        let phone = w
            .app
            .create_credential(
                rp.credential_issuer(w.property.id, phone.unit_id)
                    .expect("the caller may do this"),
                phone,
            )
            .await
            .expect("phone key")
            .credential;
        use latchkey_core::model::CredentialStatus::{Active, Frozen};
        let before = w.event_count().await;
        assert!(matches!(
            async {
                w.app
                    .set_credential_status(
                        w.app
                            .may_set_credential_status(&w.principal(gus.id).await, phone.id, Frozen)
                            .await?,
                    )
                    .await
            }
            .await,
            Err(AppError::NotFound(_))
        ));
        assert_eq!(
            w.event_count().await,
            before,
            "a refused freeze writes nothing"
        );
        for who in [paul.id, fritz.id] {
            let p = w.principal(who).await;
            let c = w
                .app
                .set_credential_status(
                    w.app
                        .may_set_credential_status(&p, phone.id, Frozen)
                        .await
                        .expect("the caller may do this"),
                )
                .await
                .expect("freeze");
            assert_eq!(c.status, Frozen);
            // Unfreezing is for the unit's residents and staff.
            assert!(
                async {
                    w.app
                        .set_credential_status(
                            w.app
                                .may_set_credential_status(&p, phone.id, Active)
                                .await?,
                        )
                        .await
                }
                .await
                .is_err()
            );
            w.app
                .set_credential_status(
                    w.app
                        .may_set_credential_status(&rp, phone.id, Active)
                        .await
                        .expect("the caller may do this"),
                )
                .await
                .expect("unfreeze");
        }
        let mut conn = w.store.read().await.expect("read");
        let told = frozen_notices(&mut conn, w.resident.id.0).await;
        assert_eq!(
            told, 2,
            "the holder is told each time someone else freezes it"
        );
    })
    .await;
}

async fn frozen_notices(conn: &mut latchkey_store::Conn, person: i64) -> i64 {
    latchkey_store::lockout::notifications_of_person_kind(
        conn,
        latchkey_core::PersonId(person),
        "credential.frozen",
    )
    .await
    .expect("notifications")
    .len() as i64
}
