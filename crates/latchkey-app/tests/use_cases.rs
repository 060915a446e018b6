//! The use cases on a real database, on every backend: building setup, people, PINs, access
//! checks, move-out and who may see what.

mod common;

use common::{TwoSteps, World, membership, person, pin_for, property_input};
use jiff::civil::{date, time};
use latchkey_app::AppError;
use latchkey_app::access::AccessQuery;
use latchkey_app::directory::DoorInput;
use latchkey_core::decide::{Decision, DenyReason};
use latchkey_core::model::{CredentialStatus, DoorKind, DoorMode, Role};
use latchkey_core::schedule::{Day, Schedule, WeeklyWindow};
use latchkey_core::{CredentialId, DoorId};

/// A PIN long enough that it cannot turn up by chance in an event's ids or instants.
const PIN: &str = "58274613";

fn berlin(y: i16, m: i8, d: i8, h: i8, min: i8) -> jiff::Timestamp {
    date(y, m, d)
        .at(h, min, 0, 0)
        .in_tz("Europe/Berlin")
        .expect("valid zoned time")
        .timestamp()
}

fn check(credential: CredentialId, door: DoorId, at: jiff::Timestamp) -> AccessQuery {
    AccessQuery {
        credential_id: Some(credential),
        person_id: None,
        door_id: door,
        at: Some(at),
        method: None,
        emergency_override: false,
    }
}

fn denied_for(d: &Decision) -> Option<DenyReason> {
    match d {
        Decision::Denied { reason } => Some(*reason),
        Decision::Granted { .. } => None,
    }
}

#[tokio::test]
async fn a_property_with_an_unknown_time_zone_is_invalid_and_nothing_is_written() {
    latchkey_testkit::each_backend("bad_time_zone", |db| async move {
        let w = World::build(&db).await;
        let before = w.event_count().await;
        let properties = w.app.list_properties(&w.admin).await.expect("list").len();
        match async {
            w.app
                .create_property(
                    w.admin.admin()?,
                    property_input("Moon Base", "Mars/Olympus_Mons"),
                )
                .await
        }
        .await
        {
            Err(AppError::Invalid { field, message }) => {
                assert_eq!(field, "timezone");
                assert!(message.contains("Mars/Olympus_Mons"), "{message}");
            }
            other => panic!("expected Invalid, got {:?}", other.map(|p| p.id)),
        }
        assert_eq!(
            w.event_count().await,
            before,
            "no event for a refused change"
        );
        assert_eq!(
            w.app.list_properties(&w.admin).await.expect("list").len(),
            properties
        );
    })
    .await;
}

#[tokio::test]
async fn a_resident_adds_a_household_member_and_is_handed_their_pin() {
    latchkey_testkit::each_backend("household_pin", |db| async move {
        let w = World::build(&db).await;
        let rosa = w.principal(w.resident.id).await;
        let (kid, m) = {
            let input = person(
                "Kid",
                None,
                None,
                membership(Role::Household, Some(w.unit.id)),
            );
            w.app.create_person(
                w.app
                    .may_create_person(&rosa, w.property.id, &input)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("a resident adds a household member");
        assert_eq!((m.role, m.unit_id), (Role::Household, Some(w.unit.id)));
        let created = {
            let input = pin_for(kid.id, Some(w.unit.id), Some(PIN));
            w.app.create_credential(
                rosa.credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("a resident makes a PIN for their household");
        assert_eq!(
            created.pin.as_deref(),
            Some(PIN),
            "the resident hands the PIN over"
        );
        assert_eq!(created.credential.person_id, kid.id);
        assert_eq!(
            created.credential.doors,
            vec![w.door.id],
            "the unit's doors by default"
        );
        assert_eq!(created.credential.status, CredentialStatus::Active);
        assert!(
            !w.all_events_text().await.contains(PIN),
            "the PIN never appears in the audit log"
        );
    })
    .await;
}

#[tokio::test]
async fn a_pin_made_by_a_manager_is_revealed_to_its_holder_once_and_never_to_the_manager() {
    latchkey_testkit::each_backend("manager_pin_reveal", |db| async move {
        let w = World::build(&db).await;
        let max = w.principal(w.manager.id).await;
        let rosa = w.principal(w.resident.id).await;
        let created = {
            let input = pin_for(w.resident.id, Some(w.unit.id), None);
            w.app.create_credential(
                max.credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("a manager makes a PIN for a resident (generated: staff never choose it)");
        assert_eq!(created.pin, None, "staff never see someone else's PIN");
        let id = created.credential.id;

        match async {
            w.app
                .reveal_pin(w.app.may_reveal_pin(&max, id).await?)
                .await
        }
        .await
        {
            Err(AppError::Forbidden(_)) => {}
            other => {
                panic!("a manager revealing a resident's PIN: expected Forbidden, got {other:?}")
            }
        }
        let code = w
            .app
            .reveal_pin(
                w.app
                    .may_reveal_pin(&rosa, id)
                    .await
                    .expect("the caller may do this"),
            )
            .await
            .expect("the holder sees it");
        assert_eq!(code.len(), 8);
        match async {
            w.app
                .reveal_pin(w.app.may_reveal_pin(&rosa, id).await?)
                .await
        }
        .await
        {
            Err(AppError::Conflict(_)) => {}
            other => panic!("a second reveal: expected Conflict, got {other:?}"),
        }
        let log = w.all_events_text().await;
        assert!(
            log.contains("credential.pin_revealed"),
            "the reveal is audited"
        );
        assert!(
            !log.contains(&code),
            "the PIN never appears in the audit log"
        );
    })
    .await;
}

#[tokio::test]
async fn common_pins_are_refused_with_the_reason() {
    latchkey_testkit::each_backend("common_pins", |db| async move {
        let w = World::build(&db).await;
        let rosa = w.principal(w.resident.id).await;
        for (pin, reason) in [
            ("1234", "consecutive digits"),
            ("0000", "one repeated digit"),
            ("4071", "unit number"),
            ("1004", "most common"),
        ] {
            match async {
                let input = pin_for(w.resident.id, Some(w.unit.id), Some(pin));
                w.app
                    .create_credential(rosa.credential_issuer(w.property.id, input.unit_id)?, input)
                    .await
            }
            .await
            {
                Err(AppError::Invalid { field, message }) => {
                    assert_eq!(field, "pin");
                    assert!(
                        message.contains(reason),
                        "PIN {pin}: `{message}` should say `{reason}`"
                    );
                }
                Err(other) => panic!("PIN {pin}: expected Invalid, got {other:?}"),
                Ok(_) => panic!("PIN {pin} was accepted"),
            }
        }
    })
    .await;
}

#[tokio::test]
async fn the_same_pin_on_the_same_door_is_a_conflict() {
    latchkey_testkit::each_backend("pin_conflict", |db| async move {
        let w = World::build(&db).await;
        let rosa = w.principal(w.resident.id).await;
        {
            let input = pin_for(w.resident.id, Some(w.unit.id), Some(PIN));
            w.app.create_credential(
                rosa.credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("first PIN");
        let (kid, _) = {
            let input = person(
                "Kid",
                None,
                None,
                membership(Role::Household, Some(w.unit.id)),
            );
            w.app.create_person(
                w.app
                    .may_create_person(&rosa, w.property.id, &input)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("household member");
        match async {
            let input = pin_for(kid.id, Some(w.unit.id), Some(PIN));
            w.app
                .create_credential(rosa.credential_issuer(w.property.id, input.unit_id)?, input)
                .await
        }
        .await
        {
            Err(AppError::Conflict(message)) => {
                assert!(message.contains("already in use"), "{message}")
            }
            Err(other) => panic!("expected Conflict, got {other:?}"),
            Ok(_) => panic!("the same PIN was accepted twice on one door"),
        }
        let generated = {
            let input = pin_for(kid.id, Some(w.unit.id), None);
            w.app.create_credential(
                rosa.credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("a generated PIN never conflicts");
        let shown = generated
            .pin
            .expect("the resident is handed the generated PIN");
        assert_ne!(shown, PIN);
    })
    .await;
}

#[tokio::test]
async fn a_guest_on_a_weekly_schedule_opens_inside_the_window_and_not_outside() {
    latchkey_testkit::each_backend("guest_schedule", |db| async move {
        let w = World::build(&db).await;
        let rosa = w.principal(w.resident.id).await;
        let (cleaner, _) = {
            let input = person(
                "Cleaner",
                None,
                None,
                membership(Role::Guest, Some(w.unit.id)),
            );
            w.app.create_person(
                w.app
                    .may_create_person(&rosa, w.property.id, &input)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("a resident adds a guest");
        let mut input = pin_for(cleaner.id, Some(w.unit.id), Some(PIN));
        input.schedule = Schedule::Weekly {
            windows: vec![WeeklyWindow {
                days: vec![Day::Tue, Day::Thu],
                start: time(9, 0, 0, 0),
                end: time(13, 0, 0, 0),
            }],
        };
        let c = w
            .app
            .create_credential(
                rosa.credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
            .await
            .expect("guest PIN");
        let id = c.credential.id;

        // Tuesday 6 January 2026, Berlin local time (UTC+1).
        let inside = w
            .app
            .check_access_as(&rosa, check(id, w.door.id, berlin(2026, 1, 6, 10, 30)))
            .await
            .expect("check");
        assert!(
            inside.granted,
            "Tuesday 10:30 is inside the window: {:?}",
            inside.checks
        );
        let before = w
            .app
            .check_access_as(&rosa, check(id, w.door.id, berlin(2026, 1, 6, 8, 59)))
            .await
            .expect("check");
        assert!(!before.granted);
        assert_eq!(
            denied_for(&before.checks[0].decision),
            Some(DenyReason::OutsideSchedule)
        );
        let at_end = w
            .app
            .check_access_as(&rosa, check(id, w.door.id, berlin(2026, 1, 6, 13, 0)))
            .await
            .expect("check");
        assert_eq!(
            denied_for(&at_end.checks[0].decision),
            Some(DenyReason::OutsideSchedule),
            "the end is exclusive"
        );
        let wednesday = w
            .app
            .check_access_as(&rosa, check(id, w.door.id, berlin(2026, 1, 7, 10, 30)))
            .await
            .expect("check");
        assert_eq!(
            denied_for(&wednesday.checks[0].decision),
            Some(DenyReason::OutsideSchedule)
        );
        // 12:30 in Berlin is 11:30 UTC: judged by the property's local time, it is inside.
        let summer = w
            .app
            .check_access_as(&rosa, check(id, w.door.id, berlin(2026, 7, 2, 12, 30)))
            .await
            .expect("check");
        assert!(
            summer.granted,
            "Thursday 12:30 in summer time is inside the window"
        );
    })
    .await;
}

#[tokio::test]
async fn moving_out_revokes_the_persons_credentials() {
    latchkey_testkit::each_backend("move_out", |db| async move {
        let w = World::build(&db).await;
        let rosa = w.principal(w.resident.id).await;
        let (kid, m) = {
            let input = person(
                "Kid",
                None,
                None,
                membership(Role::Household, Some(w.unit.id)),
            );
            w.app.create_person(
                w.app
                    .may_create_person(&rosa, w.property.id, &input)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("household member");
        let c = {
            let input = pin_for(kid.id, Some(w.unit.id), Some(PIN));
            w.app.create_credential(
                rosa.credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("PIN");
        let now = w.app.now();
        let ok = w
            .app
            .check_access_as(&w.admin, check(c.credential.id, w.door.id, now))
            .await
            .expect("check");
        assert!(ok.granted, "before moving out the PIN opens the door");

        let ended = w
            .app
            .end_membership(
                w.app
                    .may_end_membership(&w.admin, m.id)
                    .await
                    .expect("the caller may do this"),
                None,
            )
            .await
            .expect("move out");
        assert_eq!(ended.valid_until, Some(now));
        let after = w
            .app
            .get_credential(&w.admin, c.credential.id)
            .await
            .expect("credential");
        assert_eq!(after.status, CredentialStatus::Revoked);
        assert!(after.revoked_at.is_some());
        w.clock.advance(jiff::SignedDuration::from_mins(1));
        let later = w.app.now();
        let denied = w
            .app
            .check_access_as(&w.admin, check(c.credential.id, w.door.id, later))
            .await
            .expect("check");
        assert!(!denied.granted);
        assert_eq!(
            denied_for(&denied.checks[0].decision),
            Some(DenyReason::Revoked)
        );
        assert!(
            w.all_events_text().await.contains("membership_ended"),
            "the revocation says why"
        );
    })
    .await;
}

#[tokio::test]
async fn someone_of_another_property_is_told_its_doors_and_credentials_do_not_exist() {
    latchkey_testkit::each_backend("outsider", |db| async move {
        let w = World::build(&db).await;
        let rosa = w.principal(w.resident.id).await;
        let c = {
            let input = pin_for(w.resident.id, Some(w.unit.id), Some(PIN));
            w.app.create_credential(
                rosa.credential_issuer(w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("PIN");
        let other = w
            .app
            .create_property(
                w.admin.admin().expect("the caller may do this"),
                property_input("Other House", "UTC"),
            )
            .await
            .expect("other");
        let their_unit = w
            .app
            .create_unit(
                w.admin.staff(other.id).expect("the caller may do this"),
                "1",
                1,
                None,
            )
            .await
            .expect("unit");
        let (stranger, _) = {
            let input = person(
                "Stranger",
                None,
                None,
                membership(Role::Resident, Some(their_unit.id)),
            );
            w.app.create_person(
                w.app
                    .may_create_person(&w.admin, other.id, &input)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("stranger");
        let stranger = w.principal(stranger.id).await;

        match w.app.get_door(&stranger, w.door.id).await {
            Err(AppError::NotFound(_)) => {}
            other => panic!("door: expected NotFound, got {:?}", other.map(|d| d.id)),
        }
        match w.app.get_credential(&stranger, c.credential.id).await {
            Err(AppError::NotFound(_)) => {}
            other => panic!(
                "credential: expected NotFound, got {:?}",
                other.map(|c| c.id)
            ),
        }
        match w
            .app
            .check_access_as(&stranger, check(c.credential.id, w.door.id, w.app.now()))
            .await
        {
            Err(AppError::NotFound(_)) => {}
            other => panic!(
                "access check: expected NotFound, got {:?}",
                other.map(|a| a.granted)
            ),
        }
        match w.app.list_doors(&stranger, w.property.id).await {
            Err(AppError::NotFound(_)) => {}
            other => panic!(
                "door list: expected NotFound, got {:?}",
                other.map(|d| d.len())
            ),
        }
    })
    .await;
}

#[tokio::test]
async fn a_resident_may_not_create_a_door() {
    latchkey_testkit::each_backend("resident_door", |db| async move {
        let w = World::build(&db).await;
        let rosa = w.principal(w.resident.id).await;
        let before = w.event_count().await;
        match async {
            w.app
                .create_door(
                    rosa.staff(w.property.id)?,
                    DoorInput {
                        name: "My new door".to_owned(),
                        kind: DoorKind::BackDoor,
                        unit_id: Some(w.unit.id),
                        mode: DoorMode::Normal,
                        pin_slots: 10,
                    },
                )
                .await
        }
        .await
        {
            Err(AppError::Forbidden(_)) => {}
            other => panic!("expected Forbidden, got {:?}", other.map(|d| d.id)),
        }
        assert_eq!(w.event_count().await, before);
    })
    .await;
}

/// The lists (credentials, memberships, people, doors) a resident and a guest read are narrowed
/// in the database to their own unit and their own rows; what they see is still exactly what the visibility rule gives from the whole
/// property's rows, and nothing of the next unit.
#[tokio::test]
async fn a_unit_member_lists_exactly_their_units_rows_and_nothing_of_the_next_unit() {
    latchkey_testkit::each_backend("narrowed_lists", |db| async move {
        let w = World::build(&db).await;
        let p = w.property.id;
        let staff = w.admin.staff(p).expect("the caller may do this");
        let next = w
            .app
            .create_unit(staff, "4072", 4, None)
            .await
            .expect("a second unit");
        w.app
            .create_door(
                w.admin.staff(p).expect("the caller may do this"),
                DoorInput {
                    name: "4072 entry".to_owned(),
                    kind: DoorKind::UnitEntry,
                    unit_id: Some(next.id),
                    mode: DoorMode::Normal,
                    pin_slots: 30,
                },
            )
            .await
            .expect("its door");
        let kid = w.unit_member("Kid", Role::Household).await;
        let guest = w.unit_member("Gus Guest", Role::Guest).await;
        let (neighbour, _) = {
            let input = person(
                "Nina Neighbour",
                None,
                None,
                membership(Role::Resident, Some(next.id)),
            );
            w.app.create_person(
                w.app
                    .may_create_person(&w.admin, p, &input)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("a resident of the next unit");
        for (holder, unit) in [
            (w.resident.id, w.unit.id),
            (kid.id, w.unit.id),
            (guest.id, w.unit.id),
            (neighbour.id, next.id),
        ] {
            let input = pin_for(holder, Some(unit), None);
            w.app
                .create_credential(
                    w.admin
                        .credential_issuer(p, input.unit_id)
                        .expect("the caller may do this"),
                    input,
                )
                .await
                .expect("a PIN");
        }
        let all_creds = w
            .app
            .list_credentials(&w.admin, p, None)
            .await
            .expect("all");
        let all_members = w.app.list_memberships(&w.admin, p).await.expect("all");
        assert_eq!(all_creds.len(), 4);

        let rosa = w.principal(w.resident.id).await;
        let creds = w.app.list_credentials(&rosa, p, None).await.expect("list");
        let expected: Vec<_> = all_creds
            .iter()
            .filter(|c| rosa.sees_credential(c))
            .cloned()
            .collect();
        assert_eq!(
            creds, expected,
            "the same rows as the rule over the property's"
        );
        let mut holders: Vec<_> = creds.iter().map(|c| c.person_id).collect();
        holders.sort_unstable();
        let mut want = vec![w.resident.id, kid.id, guest.id];
        want.sort_unstable();
        assert_eq!(
            holders, want,
            "the unit's credentials, none of the next unit's"
        );
        let own = w
            .app
            .list_credentials(&rosa, p, Some(w.resident.id))
            .await
            .expect("own");
        assert_eq!(own.len(), 1);
        assert_eq!(own[0].person_id, w.resident.id);
        assert!(
            w.app
                .list_credentials(&rosa, p, Some(neighbour.id))
                .await
                .expect("a neighbour's")
                .is_empty(),
            "asking for a neighbour's credentials gives none"
        );

        let members = w.app.list_memberships(&rosa, p).await.expect("list");
        let expected: Vec<_> = all_members
            .iter()
            .filter(|m| m.person_id == w.resident.id || m.unit_id == Some(w.unit.id))
            .cloned()
            .collect();
        assert_eq!(members, expected);
        assert_eq!(members.len(), 3, "Rosa, the kid and the guest");
        assert!(members.iter().all(|m| m.unit_id == Some(w.unit.id)));

        let people: Vec<_> = w
            .app
            .list_people(&rosa, p)
            .await
            .expect("people")
            .into_iter()
            .map(|x| x.id)
            .collect();
        let mut want = vec![w.resident.id, kid.id, guest.id];
        want.sort_unstable();
        assert_eq!(
            people, want,
            "the unit's people, not the neighbour or staff"
        );

        let doors: Vec<_> = w
            .app
            .list_doors(&rosa, p)
            .await
            .expect("doors")
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(
            doors,
            vec![w.door.id],
            "the unit's door, not the next unit's"
        );

        // A guest sees only their own credential, though the read names their unit.
        let gus = w.principal(guest.id).await;
        let creds = w.app.list_credentials(&gus, p, None).await.expect("list");
        assert_eq!(
            creds.iter().map(|c| c.person_id).collect::<Vec<_>>(),
            vec![guest.id]
        );
        let expected: Vec<_> = all_creds
            .iter()
            .filter(|c| gus.sees_credential(c))
            .cloned()
            .collect();
        assert_eq!(creds, expected);
    })
    .await;
}
