//! The readiness drill and the registries it reads, on every backend: a resident living alone
//! is not ready at night when the phone dies, and each fix (a spare key the case can use, a
//! recovery card the policy accepts, staff on call) closes exactly its hours; a locksmith never
//! counts.

mod common;

use common::{World, membership, person, pin_for};
use jiff::civil::time;
use latchkey_app::AppError;
use latchkey_app::readiness::Readiness;
use latchkey_app::recovery::LocksmithInput;
use latchkey_core::drill::{Failure, Fix, Way};
use latchkey_core::model::{CredentialKind, Policy, ProofKind, Role};
use latchkey_core::schedule::{Day, Schedule, WeeklyWindow};

fn office_hours() -> Schedule {
    Schedule::Weekly {
        windows: vec![WeeklyWindow {
            days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
            start: time(9, 0, 0, 0),
            end: time(17, 0, 0, 0),
        }],
    }
}

/// Every day 22:00–06:00.
fn nights() -> Schedule {
    Schedule::Weekly {
        windows: vec![WeeklyWindow {
            days: Day::ALL.to_vec(),
            start: time(22, 0, 0, 0),
            end: time(6, 0, 0, 0),
        }],
    }
}

fn phone_key(w: &World) -> latchkey_app::credentials::CredentialInput {
    let mut c = pin_for(w.resident.id, Some(w.unit.id), None);
    c.kind = CredentialKind::PhoneKey;
    c
}

async fn drill(w: &World) -> Readiness {
    w.app
        .readiness(&w.admin, w.property.id)
        .await
        .expect("drill")
}

/// Rosa's hours with fewer than two ways left after `failure`.
fn short(r: &Readiness, failure: Failure) -> usize {
    rosa(r).after(failure).expect("every failure").short_hours
}

fn rosa(r: &Readiness) -> &latchkey_app::readiness::ResidentReadiness {
    r.report
        .iter()
        .find(|x| x.name == "Rosa Resident")
        .expect("resident in the report")
}

/// Ways left to Rosa after `failure` on Tuesday at `hour` (hour 24 + hour of the week).
fn tuesday(r: &Readiness, failure: Failure, hour: usize) -> u8 {
    rosa(r).after(failure).expect("every failure").counts[24 + hour]
}

async fn set_policy(w: &World, change: impl FnOnce(&mut Policy)) {
    let mut policy = w
        .app
        .get_property(&w.admin, w.property.id)
        .await
        .expect("property")
        .policy;
    change(&mut policy);
    let patch = latchkey_app::directory::PropertyPatch {
        policy: Some(policy),
        ..Default::default()
    };
    w.app
        .update_property(
            w.admin
                .property_changer(w.property.id, patch.touches_settings())
                .expect("the caller may do this"),
            patch,
        )
        .await
        .expect("policy");
}

/// Rosa lives alone with a PIN and a phone key; the office is open on weekdays 09–17.
async fn rosa_alone(w: &World) {
    let patch = latchkey_app::directory::PropertyPatch {
        office_hours: Some(office_hours()),
        ..Default::default()
    };
    w.app
        .update_property(
            w.admin
                .property_changer(w.property.id, patch.touches_settings())
                .expect("the caller may do this"),
            patch,
        )
        .await
        .expect("office hours");
    let rp = w.principal(w.resident.id).await;
    for input in [
        phone_key(w),
        pin_for(w.resident.id, Some(w.unit.id), Some("58274613")),
    ] {
        w.app
            .create_credential(
                rp.credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
            .await
            .expect("credential");
    }
}

async fn grant_night_spare_key(w: &World) -> latchkey_core::SpareKeyId {
    let rp = w.principal(w.resident.id).await;
    let (friend, _) = {
        let input = person(
            "Fritz Friend",
            None,
            None,
            membership(Role::TrustedContact, Some(w.unit.id)),
        );
        w.app.create_person(
            w.app
                .may_create_person(&w.admin, w.property.id, &input)
                .expect("the caller may do this"),
            input,
        )
    }
    .await
    .expect("trusted contact");
    w.app
        .grant_spare_key(
            rp.unit_admin(w.property.id, w.unit.id)
                .expect("the caller may do this"),
            friend.id,
            nights(),
        )
        .await
        .expect("spare key")
        .id
}

#[tokio::test]
async fn a_resident_alone_without_a_spare_key_has_a_night_gap_when_the_phone_dies() {
    latchkey_testkit::each_backend("drill_alone", |db| async move {
        let w = World::build(&db).await;
        rosa_alone(&w).await;
        let r = drill(&w).await;
        assert_eq!(r.residents, 1);
        // Her PIN and phone at every hour are no longer readiness: each failure leaves one of
        // them, and a second way only in office hours (staff with an ID check).
        for f in Failure::ALL {
            assert_eq!(short(&r, f), 168 - 40, "{f:?}");
        }
        let phone = rosa(&r).after(Failure::PhoneGone).expect("phone gone");
        let night = phone
            .gaps
            .iter()
            .find(|g| latchkey_core::drill::gap_hours(g).contains(24 + 2))
            .expect("Tuesday night is a gap");
        assert_eq!(night.ways, vec![Way::Pin]);
        assert!(night.fixes.contains(&Fix::RecoveryCard), "{}", night.fix);
        assert!(night.fixes.contains(&Fix::OnCall), "{}", night.fix);
        assert!(night.fix.contains("phone dead or lost"), "{}", night.fix);
        assert_eq!(tuesday(&r, Failure::PhoneGone, 2), 1);
        assert_eq!(tuesday(&r, Failure::PhoneGone, 10), 2);
    })
    .await;
}

#[tokio::test]
async fn a_spare_key_holder_reachable_at_night_closes_the_night_gap_once_the_case_can_be_proven() {
    latchkey_testkit::each_backend("drill_spare_key", |db| async move {
        let w = World::build(&db).await;
        rosa_alone(&w).await;
        // The holder vouches as a guardian: the policy must accept one guardian.
        set_policy(&w, |p| {
            p.recovery_proofs.push(ProofKind::Guardians);
            p.guardians_required = 1;
        })
        .await;
        let before = drill(&w).await;
        assert_eq!(tuesday(&before, Failure::PhoneGone, 2), 1);
        let key = grant_night_spare_key(&w).await;
        let after = drill(&w).await;
        assert_eq!(
            tuesday(&after, Failure::PhoneGone, 2),
            2,
            "PIN and the holder"
        );
        assert_eq!(
            tuesday(&after, Failure::PhoneGone, 20),
            1,
            "the holder is not reachable at 20:00"
        );
        // Nights are 8 hours × 7 days; all of them were short.
        assert_eq!(short(&after, Failure::PhoneGone), 128 - 56);
        // Under the default policy (no guardians) nobody could prove the case at night: the
        // holder could not release anything, so the key does not count.
        set_policy(&w, |p| {
            p.recovery_proofs.retain(|k| *k != ProofKind::Guardians)
        })
        .await;
        assert_eq!(tuesday(&drill(&w).await, Failure::PhoneGone, 2), 1);
        set_policy(&w, |p| p.recovery_proofs.push(ProofKind::Guardians)).await;
        let rp = w.principal(w.resident.id).await;
        w.app
            .revoke_spare_key(
                w.app
                    .may_revoke_spare_key(&rp, key)
                    .await
                    .expect("the caller may do this"),
            )
            .await
            .expect("revoke key");
        assert_eq!(short(&drill(&w).await, Failure::PhoneGone), 128);
    })
    .await;
}

#[tokio::test]
async fn a_recovery_card_closes_phone_and_keys_gone_only_if_the_policy_accepts_recovery_codes() {
    latchkey_testkit::each_backend("drill_card", |db| async move {
        let w = World::build(&db).await;
        rosa_alone(&w).await;
        assert_eq!(short(&drill(&w).await, Failure::PhoneAndKeysGone), 128);
        let rp = w.principal(w.resident.id).await;
        w.app
            .print_recovery_card(rp.card_holder().expect("the caller may do this"))
            .await
            .expect("card");
        let r = drill(&w).await;
        assert_eq!(short(&r, Failure::PhoneAndKeysGone), 0);
        assert_eq!(tuesday(&r, Failure::PhoneAndKeysGone, 2), 2, "PIN and card");
        set_policy(&w, |p| {
            p.recovery_proofs.retain(|k| *k != ProofKind::RecoveryCode);
        })
        .await;
        let r = drill(&w).await;
        assert_eq!(short(&r, Failure::PhoneAndKeysGone), 128);
        let night = rosa(&r)
            .after(Failure::PhoneAndKeysGone)
            .expect("failure")
            .gaps
            .iter()
            .find(|g| latchkey_core::drill::gap_hours(g).contains(24 + 2))
            .expect("gap")
            .clone();
        assert!(
            !night.fixes.contains(&Fix::RecoveryCard),
            "a card the policy refuses is no fix: {}",
            night.fix
        );
    })
    .await;
}

#[tokio::test]
async fn the_locksmith_never_counts_and_staff_on_call_count_only_in_their_hours() {
    latchkey_testkit::each_backend("drill_staff", |db| async move {
        let w = World::build(&db).await;
        rosa_alone(&w).await;
        let smith = w
            .app
            .add_locksmith(
                w.admin
                    .staff(w.property.id)
                    .expect("the caller may do this"),
                LocksmithInput {
                    company: "Night Locks".into(),
                    licence: "NL-7".into(),
                    phone: "+49 30 7777".into(),
                    hours: Schedule::Always,
                    callout_cents: 12_000,
                },
            )
            .await
            .expect("locksmith");
        w.app
            .set_locksmith_status(
                w.app
                    .may_set_locksmith_status(&w.admin, smith.id, "verified")
                    .await
                    .expect("the caller may do this"),
                "verified",
            )
            .await
            .expect("verify");
        let r = drill(&w).await;
        assert_eq!(r.fallback.locksmith_hours, 168);
        assert_eq!(r.fallback.locksmith_from_cents, Some(12_000));
        for f in Failure::ALL {
            assert_eq!(short(&r, f), 128, "a locksmith is no readiness ({f:?})");
        }
        w.app
            .set_on_call(
                w.admin
                    .staff(w.property.id)
                    .expect("the caller may do this"),
                w.manager.id,
                nights(),
            )
            .await
            .expect("on call");
        let r = drill(&w).await;
        assert_eq!(tuesday(&r, Failure::PhoneGone, 2), 2, "on call at 02:00");
        assert_eq!(
            tuesday(&r, Failure::PhoneGone, 20),
            1,
            "not on call at 20:00"
        );
        assert_eq!(short(&r, Failure::PhoneGone), 128 - 56);
    })
    .await;
}

#[tokio::test]
async fn the_heat_map_is_for_the_property_staff_only_and_lists_the_worst_unit_first() {
    latchkey_testkit::each_backend("drill_map", |db| async move {
        let w = World::build(&db).await;
        rosa_alone(&w).await;
        let map = w
            .app
            .readiness_map(
                w.admin.staff(w.property.id).expect("staff"),
                Failure::PhoneGone,
            )
            .await
            .expect("map");
        assert_eq!(map.units.len(), 1);
        let row = &map.units[0];
        assert_eq!(row.cells.len(), 168);
        assert_eq!(row.cells[24 + 2], 1);
        let at_night = row.gaps_at(24 + 2);
        assert_eq!(at_night.len(), 1);
        assert_eq!(at_night[0].0, "Rosa Resident");
        let rp = w.principal(w.resident.id).await;
        assert!(matches!(
            rp.staff(w.property.id),
            Err(AppError::Forbidden(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn residents_see_only_their_own_units_and_others_see_no_drill() {
    latchkey_testkit::each_backend("drill_visibility", |db| async move {
        let w = World::build(&db).await;
        let other_unit = w
            .app
            .create_unit(
                w.admin
                    .staff(w.property.id)
                    .expect("the caller may do this"),
                "4072",
                4,
                None,
            )
            .await
            .expect("unit");
        let (neighbour, _) = {
            let input = person(
                "Nina Neighbour",
                None,
                None,
                membership(Role::Resident, Some(other_unit.id)),
            );
            w.app.create_person(
                w.app
                    .may_create_person(&w.admin, w.property.id, &input)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("neighbour");
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
        let staff = drill(&w).await;
        assert_eq!(staff.residents, 2);
        let own = w
            .app
            .readiness(&w.principal(w.resident.id).await, w.property.id)
            .await
            .expect("own drill");
        let names: Vec<_> = own.report.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, vec!["Rosa Resident"]);
        let theirs = w
            .app
            .readiness(&w.principal(neighbour.id).await, w.property.id)
            .await
            .expect("neighbour's drill");
        assert!(theirs.report.iter().all(|r| r.name == "Nina Neighbour"));
        assert!(matches!(
            w.app
                .readiness(&w.principal(guest.id).await, w.property.id)
                .await,
            Err(AppError::Forbidden(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn only_staff_can_be_on_call_and_a_spare_key_needs_a_holder_of_the_property() {
    latchkey_testkit::each_backend("drill_registries", |db| async move {
        let w = World::build(&db).await;
        let rp = w.principal(w.resident.id).await;
        let before = w.event_count().await;
        assert!(matches!(
            async {
                w.app
                    .set_on_call(
                        w.admin.staff(w.property.id)?,
                        w.resident.id,
                        Schedule::Always,
                    )
                    .await
            }
            .await,
            Err(AppError::Invalid { .. })
        ));
        assert!(matches!(
            async {
                w.app
                    .set_on_call(rp.staff(w.property.id)?, w.manager.id, Schedule::Always)
                    .await
            }
            .await,
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            async {
                w.app
                    .grant_spare_key(
                        rp.unit_admin(w.property.id, w.unit.id)?,
                        latchkey_core::PersonId(999_999),
                        Schedule::Always,
                    )
                    .await
            }
            .await,
            Err(AppError::Invalid { .. })
        ));
        assert_eq!(w.event_count().await, before, "refusals write nothing");
        w.app
            .set_on_call(
                w.admin
                    .staff(w.property.id)
                    .expect("the caller may do this"),
                w.manager.id,
                Schedule::Always,
            )
            .await
            .expect("manager on call");
        let roster = w
            .app
            .list_on_call(&rp, w.property.id)
            .await
            .expect("roster");
        assert_eq!(roster.len(), 1);
        assert_eq!(roster[0].person_id, w.manager.id);
    })
    .await;
}

/// The heat map of Rosa's building after her phone is gone.
async fn phone_gone_map(
    app: &latchkey_app::App,
    w: &World,
) -> std::sync::Arc<latchkey_app::readiness::HeatMap> {
    app.readiness_map(
        w.admin.staff(w.property.id).expect("staff"),
        Failure::PhoneGone,
    )
    .await
    .expect("map")
}

#[tokio::test]
async fn the_heat_map_is_kept_until_any_process_changes_what_it_reads_and_is_never_served_stale() {
    latchkey_testkit::each_backend("drill_map_cache", |db| async move {
        use latchkey_app::{App, AppConfig, NoDevices, secrets::Keys};
        use std::sync::Arc;

        let w = World::build(&db).await;
        rosa_alone(&w).await;
        let first = phone_gone_map(&w.app, &w).await;
        let again = phone_gone_map(&w.app, &w).await;
        assert!(Arc::ptr_eq(&first, &again), "kept, not computed again");
        // Someone signing in changes nothing the drill reads.
        w.app
            .login(
                common::RESIDENT_EMAIL,
                common::RESIDENT_PASSWORD,
                "127.0.0.1",
            )
            .await
            .expect("sign-in");
        assert!(Arc::ptr_eq(&first, &phone_gone_map(&w.app, &w).await));

        // Another process on the same database (a terminal command, another replica) gives
        // Rosa a key card: the very next map shows it, without waiting for this process to
        // hear of it.
        let other = App::new(
            w.store.clone(),
            Keys::from_master(&[1; 32]),
            w.clock.clone(),
            Arc::new(NoDevices),
            AppConfig::default(),
        );
        let rosa_there = other.terminal_principal(w.resident.id).await.expect("rosa");
        let mut card = pin_for(w.resident.id, Some(w.unit.id), None);
        card.kind = CredentialKind::RfidCard;
        card.card_uid = Some("04A1B2C3".into());
        other
            .create_credential(
                rosa_there
                    .credential_issuer(w.property.id, Some(w.unit.id))
                    .expect("the caller may do this"),
                card,
            )
            .await
            .expect("card");
        let after = phone_gone_map(&w.app, &w).await;
        assert!(!Arc::ptr_eq(&first, &after), "computed again");
        assert!(
            after.units[0]
                .cells
                .iter()
                .zip(&first.units[0].cells)
                .all(|(now, before)| now > before),
            "the card is one more way at every hour"
        );

        // The week moves on at midnight, with no event at all.
        assert!(Arc::ptr_eq(&after, &phone_gone_map(&w.app, &w).await));
        w.clock.advance(jiff::SignedDuration::from_hours(24));
        let tomorrow = phone_gone_map(&w.app, &w).await;
        assert!(!Arc::ptr_eq(&after, &tomorrow));
        assert_ne!(after.week_from, tomorrow.week_from);
    })
    .await;
}
