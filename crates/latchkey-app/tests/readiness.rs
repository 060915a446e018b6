//! The readiness drill and the registries it reads, on every backend: a resident whose only way
//! in after office hours is their phone is told so, and each fix closes the gap.

mod common;

use common::{World, membership, person, pin_for};
use jiff::civil::time;
use latchkey_app::AppError;
use latchkey_app::readiness::Readiness;
use latchkey_app::recovery::LocksmithInput;
use latchkey_core::drill::Way;
use latchkey_core::model::{CredentialKind, CredentialStatus, Role};
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

fn short_hours_of(r: &Readiness, name: &str) -> usize {
    r.report
        .iter()
        .find(|x| x.name == name)
        .map(|x| x.short_hours)
        .expect("resident in the report")
}

#[tokio::test]
async fn a_phone_as_the_only_way_after_office_hours_is_flagged_and_each_fix_closes_it() {
    latchkey_testkit::each_backend("drill_fixes", |db| async move {
        let w = World::build(&db).await;
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
        {
            let input = phone_key(&w);
            w.app.create_credential(
                w.admin
                    .credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("phone key");

        let r = drill(&w).await;
        assert_eq!(r.residents, 1);
        let rosa = &r.report[0];
        // 168 hours minus five office days of eight hours.
        assert_eq!(rosa.short_hours, 128);
        assert_eq!(rosa.hours_by_way[&Way::PhoneKey], 168);
        assert_eq!(rosa.hours_by_way[&Way::Staff], 40);
        let evening = rosa
            .gaps
            .iter()
            .find(|g| g.from_day == Day::Mon && g.from_hour == 17)
            .expect("the weekday evenings are a gap");
        assert_eq!(
            evening.fix,
            "Mon–Fri 17:00–24:00: your only way in is your phone; add a PIN or a spare-key holder."
        );

        // A PIN closes every gap; revoked, it no longer counts.
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
        assert_eq!(short_hours_of(&drill(&w).await, "Rosa Resident"), 0);
        w.app
            .set_credential_status(
                w.app
                    .may_set_credential_status(&rp, pin.id, CredentialStatus::Revoked)
                    .await
                    .expect("the caller may do this"),
            )
            .await
            .expect("revoke");
        assert_eq!(short_hours_of(&drill(&w).await, "Rosa Resident"), 128);

        // A spare-key holder reachable in the evenings closes those hours only.
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
        let evenings = Schedule::Weekly {
            windows: vec![WeeklyWindow {
                days: Day::ALL.to_vec(),
                start: time(17, 0, 0, 0),
                end: time(0, 0, 0, 0),
            }],
        };
        let key = w
            .app
            .grant_spare_key(
                rp.unit_admin(w.property.id, w.unit.id)
                    .expect("the caller may do this"),
                friend.id,
                evenings,
            )
            .await
            .expect("spare key");
        // Left: weekday nights and mornings 00–09 (5 × 9) and weekend days 00–17 (2 × 17).
        assert_eq!(short_hours_of(&drill(&w).await, "Rosa Resident"), 45 + 34);
        w.app
            .revoke_spare_key(
                w.app
                    .may_revoke_spare_key(&rp, key.id)
                    .await
                    .expect("the caller may do this"),
            )
            .await
            .expect("revoke key");
        assert_eq!(short_hours_of(&drill(&w).await, "Rosa Resident"), 128);

        // A locksmith counts only once verified.
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
        assert_eq!(short_hours_of(&drill(&w).await, "Rosa Resident"), 128);
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
        assert_eq!(short_hours_of(&drill(&w).await, "Rosa Resident"), 0);
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
