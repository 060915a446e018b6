//! Staff reach a unit's door only through an entry notice told to the household in advance, or
//! as an emergency with a reason told at once; a staff credential never opens a unit's door.
//! Every test runs on every backend.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TwoSteps, World};
use jiff::{SignedDuration, Timestamp};
use latchkey_app::DevicePort;
use latchkey_app::access::AccessQuery;
use latchkey_app::credentials::CredentialInput;
use latchkey_app::devices::RemoteAction;
use latchkey_app::directory::DoorInput;
use latchkey_app::entry::EntryNoticeInput;
use latchkey_app::{AppError, Clock};
use latchkey_core::decide::{Decision, DenyReason};
use latchkey_core::lock::LockCommand;
use latchkey_core::model::{CredentialKind, DoorKind, DoorMode, Role};
use latchkey_core::schedule::Schedule;
use latchkey_core::{DoorId, PersonId};
use latchkey_store::lockout::{Notification, notifications_of_person_kind};

/// A lock bridge that accepts every command and remembers it (the lock never answers).
#[derive(Default)]
struct Locks {
    sent: Mutex<Vec<(String, LockCommand)>>,
}

impl DevicePort for Locks {
    fn desired_state_changed(&self, _door: DoorId) {}

    fn drives_devices(&self) -> bool {
        true
    }

    fn send(&self, name: &str, command: &LockCommand) -> Result<(), String> {
        self.sent
            .lock()
            .expect("not poisoned")
            .push((name.to_owned(), command.clone()));
        Ok(())
    }

    fn connected(&self) -> bool {
        true
    }
}

impl Locks {
    fn unlocks_of(&self, lock: &str) -> usize {
        self.sent
            .lock()
            .expect("not poisoned")
            .iter()
            .filter(|(name, c)| name == lock && *c == LockCommand::Unlock)
            .count()
    }
}

const LOCK: &str = "lock-4071";

/// The world of the use-case tests with a lock on unit 4071's door, a shared lobby, and a
/// household member living with the resident.
struct Building {
    w: World,
    locks: Arc<Locks>,
    lobby: DoorId,
    household: PersonId,
    guest: PersonId,
}

async fn building(db: &latchkey_testkit::TestDb) -> Building {
    let locks = Arc::new(Locks::default());
    let w = World::build_with(db, locks.clone()).await;
    w.app
        .pair_lock(
            w.app
                .may_pair_lock(&w.admin, w.door.id)
                .await
                .expect("the caller may do this"),
            Some(LOCK),
        )
        .await
        .expect("pair the unit's lock");
    let lobby = w
        .app
        .create_door(
            w.admin
                .staff(w.property.id)
                .expect("the caller may do this"),
            DoorInput {
                name: "Lobby".into(),
                kind: DoorKind::BuildingEntrance,
                unit_id: None,
                mode: DoorMode::Normal,
                pin_slots: 30,
            },
        )
        .await
        .expect("a lobby")
        .id;
    let household = w.unit_member("Hanna Household", Role::Household).await.id;
    let guest = w.unit_member("Gus Guest", Role::Guest).await.id;
    Building {
        w,
        locks,
        lobby,
        household,
        guest,
    }
}

fn phone_key(holder: PersonId, doors: Option<Vec<DoorId>>) -> CredentialInput {
    CredentialInput {
        person_id: holder,
        kind: CredentialKind::PhoneKey,
        label: None,
        unit_id: None,
        doors,
        schedule: Schedule::Always,
        max_uses: None,
        duress: false,
        pin: None,
        card_uid: None,
    }
}

fn notice(b: &Building, from: Timestamp, hours: i64, purpose: &str) -> EntryNoticeInput {
    EntryNoticeInput {
        unit_id: b.w.unit.id,
        doors: None,
        purpose: purpose.into(),
        window_from: from,
        window_until: from + SignedDuration::from_hours(hours),
    }
}

const WAIT: Duration = Duration::from_millis(20);

async fn told(b: &Building, person: PersonId, kind: &str) -> Vec<Notification> {
    let mut conn = b.w.store.read().await.expect("read");
    notifications_of_person_kind(&mut conn, person, kind)
        .await
        .expect("notifications")
}

async fn events_of(b: &Building, kind: &str) -> Vec<serde_json::Value> {
    let mut conn = b.w.store.read().await.expect("read");
    latchkey_store::audit::stored_after(&mut conn, i64::MIN, 1_000_000)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| serde_json::from_str(&e.data).expect("event data is JSON"))
        .collect()
}

fn forbidden(r: latchkey_app::Result<latchkey_app::devices::RemoteOutcome>) -> String {
    match r {
        Err(AppError::Forbidden(why)) => why,
        other => panic!("expected Forbidden, got {:?}", other.map(|c| c.status)),
    }
}

#[tokio::test]
async fn a_managers_credential_never_includes_a_units_entry_door() {
    latchkey_testkit::each_backend("entry_staff_credential", |db| async move {
        let b = building(&db).await;
        let max = b.w.principal(b.w.manager.id).await;
        let before = b.w.event_count().await;
        for (who, label) in [(&max, "the manager"), (&b.w.admin, "an admin")] {
            match async {
                let input = phone_key(b.w.manager.id, Some(vec![b.lobby, b.w.door.id]));
                b.w.app
                    .create_credential(
                        who.credential_issuer(b.w.property.id, input.unit_id)?,
                        input,
                    )
                    .await
            }
            .await
            {
                Err(AppError::Invalid { field, message }) => {
                    assert_eq!(field, "doors", "{label}");
                    assert!(message.contains("entry notice"), "{message}");
                }
                other => panic!(
                    "{label}: expected Invalid, got {:?}",
                    other.map(|c| c.credential.doors)
                ),
            }
        }
        // Held through the manager's property-wide role, even when filed under the unit.
        let under_unit = CredentialInput {
            unit_id: Some(b.w.unit.id),
            ..phone_key(b.w.manager.id, None)
        };
        match async {
            b.w.app
                .create_credential(
                    max.credential_issuer(b.w.property.id, under_unit.unit_id)?,
                    under_unit,
                )
                .await
        }
        .await
        {
            Err(AppError::Invalid { field, .. }) => assert_eq!(field, "doors"),
            other => panic!(
                "expected Invalid, got {:?}",
                other.map(|c| c.credential.doors)
            ),
        }
        assert_eq!(b.w.event_count().await, before, "nothing was written");
        let key = {
            let input = phone_key(b.w.manager.id, None);
            b.w.app.create_credential(
                max.credential_issuer(b.w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("a manager's key for the shared doors");
        assert_eq!(
            key.credential.doors,
            vec![b.lobby],
            "by default a staff key covers the shared doors only"
        );
    })
    .await;
}

#[tokio::test]
async fn a_staff_credential_that_still_lists_a_unit_door_does_not_open_it() {
    latchkey_testkit::each_backend("entry_old_staff_credential", |db| async move {
        let b = building(&db).await;
        // As an older latchkey issued it: straight into the store.
        let old = {
            let mut tx = b.w.store.write().await.expect("write");
            let c = latchkey_store::credentials::create_credential(
                tx.conn(),
                &latchkey_store::credentials::NewCredential {
                    property_id: b.w.property.id,
                    person_id: b.w.manager.id,
                    unit_id: None,
                    kind: CredentialKind::PhoneKey,
                    label: "old master key".into(),
                    schedule: Schedule::Always,
                    max_uses: None,
                    duress: false,
                    non_access: false,
                    pin_chosen: false,
                    secret: None,
                    pin_digest: None,
                    card_uid: None,
                    doors: vec![b.w.door.id, b.lobby],
                },
                b.w.clock.now(),
            )
            .await
            .expect("an old credential");
            tx.commit().await.expect("commit");
            c
        };
        let answer =
            b.w.app
                .check_access_as(
                    &b.w.admin,
                    AccessQuery {
                        credential_id: Some(old.id),
                        person_id: None,
                        door_id: b.w.door.id,
                        at: None,
                        method: None,
                        emergency_override: true,
                    },
                )
                .await
                .expect("an access check");
        assert!(!answer.granted);
        assert_eq!(
            answer.checks[0].decision,
            Decision::Denied {
                reason: DenyReason::StaffOnUnitDoor
            }
        );
        let max = b.w.principal(b.w.manager.id).await;
        let why = forbidden(
            b.w.app
                .remote_as(&max, b.w.door.id, RemoteAction::Unlock, None, WAIT)
                .await,
        );
        assert!(why.contains("entry notice"), "{why}");
        assert_eq!(b.locks.unlocks_of(LOCK), 0, "nothing reached the lock");

        // On start-up the unit's door is taken off the old credential, and that is audited.
        assert_eq!(
            b.w.app
                .remove_staff_unit_doors()
                .await
                .expect("the upgrade fix"),
            1
        );
        let fixed =
            b.w.app
                .get_credential(&b.w.admin, old.id)
                .await
                .expect("get");
        assert_eq!(fixed.doors, vec![b.lobby], "the shared door stays");
        let removed = events_of(&b, "credential.unit_doors_removed").await;
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0]["doors"], serde_json::json!([b.w.door.id]));
        assert_eq!(
            b.w.app.remove_staff_unit_doors().await.expect("run again"),
            0,
            "a second start finds nothing"
        );
    })
    .await;
}

#[tokio::test]
async fn a_live_in_manager_still_opens_their_own_home() {
    latchkey_testkit::each_backend("entry_live_in_manager", |db| async move {
        let b = building(&db).await;
        {
            let m = common::membership(Role::Resident, Some(b.w.unit.id));
            b.w.app.create_membership(
                b.w.app
                    .may_create_membership(&b.w.admin, b.w.property.id, &m)
                    .expect("the caller may do this"),
                b.w.manager.id,
                m,
            )
        }
        .await
        .expect("the manager also lives in 4071");
        let max = b.w.principal(b.w.manager.id).await;
        let own = CredentialInput {
            unit_id: Some(b.w.unit.id),
            ..phone_key(b.w.manager.id, None)
        };
        b.w.app
            .create_credential(
                max.credential_issuer(b.w.property.id, own.unit_id)
                    .expect("the caller may do this"),
                own,
            )
            .await
            .expect("a resident's own key");
        let opened =
            b.w.app
                .remote_as(&max, b.w.door.id, RemoteAction::Unlock, None, WAIT)
                .await
                .expect("their own key opens their own door");
        assert_eq!(opened.action, "unlock");
    })
    .await;
}

#[tokio::test]
async fn a_manager_cannot_open_a_unit_door_without_an_emergency_reason_or_a_notice() {
    latchkey_testkit::each_backend("entry_no_basis", |db| async move {
        let b = building(&db).await;
        let max = b.w.principal(b.w.manager.id).await;
        {
            let input = phone_key(b.w.manager.id, None);
            b.w.app.create_credential(
                max.credential_issuer(b.w.property.id, input.unit_id)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("the manager's own phone key");
        let before = b.w.event_count().await;
        let why = forbidden(
            b.w.app
                .remote_as(&max, b.w.door.id, RemoteAction::Unlock, None, WAIT)
                .await,
        );
        assert!(
            why.contains("entry notice") && why.contains("emergency"),
            "{why}"
        );
        assert_eq!(b.locks.unlocks_of(LOCK), 0);
        assert_eq!(b.w.event_count().await, before, "nothing was recorded");
    })
    .await;
}

#[tokio::test]
async fn a_notice_starting_sooner_than_the_notice_period_is_refused() {
    latchkey_testkit::each_backend("entry_short_notice", |db| async move {
        let b = building(&db).await;
        let max = b.w.principal(b.w.manager.id).await;
        let before = b.w.event_count().await;
        let in_two_hours = b.w.clock.now() + SignedDuration::from_hours(2);
        match async {
            b.w.app
                .create_entry_notice(
                    max.staff(b.w.property.id)?,
                    notice(&b, in_two_hours, 1, "radiator check"),
                )
                .await
        }
        .await
        {
            Err(AppError::Invalid { field, message }) => {
                assert_eq!(field, "window_from");
                assert!(
                    message.contains("24 hours") && message.contains("emergency"),
                    "{message}"
                );
            }
            other => panic!("expected Invalid, got {:?}", other.map(|n| n.id)),
        }
        assert_eq!(b.w.event_count().await, before, "nothing was written");
        assert!(
            told(&b, b.w.resident.id, "entry_notice.created")
                .await
                .is_empty(),
            "nobody was told of a refused notice"
        );
        assert!(
            b.w.app
                .list_entry_notices(&max, b.w.property.id)
                .await
                .expect("list")
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn a_notice_opens_the_door_only_inside_its_window_and_the_household_hears_of_everything() {
    latchkey_testkit::each_backend("entry_notice_window", |db| async move {
        let b = building(&db).await;
        let max = b.w.principal(b.w.manager.id).await;
        let from = b.w.clock.now() + SignedDuration::from_hours(26);
        let n =
            b.w.app
                .create_entry_notice(
                    max.staff(b.w.property.id).expect("the caller may do this"),
                    notice(&b, from, 2, "annual smoke alarm test"),
                )
                .await
                .expect("a notice a day and more ahead");
        assert_eq!(n.doors, vec![b.w.door.id], "the unit's own door by default");
        for person in [b.w.resident.id, b.household] {
            let msgs = told(&b, person, "entry_notice.created").await;
            assert_eq!(msgs.len(), 1, "everyone who lives there is told at once");
            assert_eq!(msgs[0].body["purpose"], "annual smoke alarm test");
            assert_eq!(msgs[0].body["window_from"], serde_json::json!(from));
            assert_eq!(msgs[0].created_at, b.w.clock.now());
        }
        assert!(
            told(&b, b.guest, "entry_notice.created").await.is_empty(),
            "a guest does not live there"
        );
        assert_eq!(events_of(&b, "entry_notice.created").await.len(), 1);

        // Before the window.
        b.w.clock.set(from - SignedDuration::from_mins(1));
        let why = forbidden(
            b.w.app
                .remote_as(&max, b.w.door.id, RemoteAction::Unlock, None, WAIT)
                .await,
        );
        assert!(why.contains("window"), "{why}");
        assert_eq!(b.locks.unlocks_of(LOCK), 0);

        // Inside: it opens, is audited with the notice and told to the household.
        b.w.clock.set(from + SignedDuration::from_mins(30));
        let opened =
            b.w.app
                .remote_as(&max, b.w.door.id, RemoteAction::Unlock, None, WAIT)
                .await
                .expect("the notice opens the door in its window");
        assert_eq!(opened.action, "unlock");
        assert_eq!(b.locks.unlocks_of(LOCK), 1, "the lock was told to unlock");
        let audited = events_of(&b, "entry_notice.opened").await;
        assert_eq!(audited.len(), 1);
        assert_eq!(audited[0]["entry_notice_id"], serde_json::json!(n.id));
        assert_eq!(audited[0]["command"], serde_json::json!(opened.id));
        for person in [b.w.resident.id, b.household] {
            let msgs = told(&b, person, "entry_notice.opened").await;
            assert_eq!(msgs.len(), 1, "each opening is told");
            assert_eq!(msgs[0].body["entry_notice_id"], serde_json::json!(n.id));
            assert_eq!(msgs[0].body["by"], serde_json::json!(b.w.manager.id));
        }

        // After the window.
        b.w.clock
            .set(from + SignedDuration::from_hours(2) + SignedDuration::from_secs(1));
        let why = forbidden(
            b.w.app
                .remote_as(&max, b.w.door.id, RemoteAction::Unlock, None, WAIT)
                .await,
        );
        assert!(why.contains("ended"), "{why}");
        assert_eq!(b.locks.unlocks_of(LOCK), 1, "no second opening");
    })
    .await;
}

#[tokio::test]
async fn a_cancelled_notice_opens_nothing_and_the_household_is_told() {
    latchkey_testkit::each_backend("entry_notice_cancel", |db| async move {
        let b = building(&db).await;
        let max = b.w.principal(b.w.manager.id).await;
        let from = b.w.clock.now() + SignedDuration::from_hours(30);
        let n =
            b.w.app
                .create_entry_notice(
                    max.staff(b.w.property.id).expect("the caller may do this"),
                    notice(&b, from, 3, "window repair"),
                )
                .await
                .expect("a notice");
        let rosa = b.w.principal(b.w.resident.id).await;
        match async {
            b.w.app
                .cancel_entry_notice(b.w.app.may_cancel_entry_notice(&rosa, n.id).await?)
                .await
        }
        .await
        {
            Err(AppError::Forbidden(_)) => {}
            other => panic!(
                "a resident may not cancel staff's notice: {:?}",
                other.map(|n| n.id)
            ),
        }
        let cancelled =
            b.w.app
                .cancel_entry_notice(
                    b.w.app
                        .may_cancel_entry_notice(&b.w.admin, n.id)
                        .await
                        .expect("the caller may do this"),
                )
                .await
                .expect("any staff may cancel");
        assert!(cancelled.cancelled_at.is_some());
        for person in [b.w.resident.id, b.household] {
            assert_eq!(told(&b, person, "entry_notice.cancelled").await.len(), 1);
        }
        assert!(matches!(
            async {
                b.w.app
                    .cancel_entry_notice(b.w.app.may_cancel_entry_notice(&max, n.id).await?)
                    .await
            }
            .await,
            Err(AppError::Conflict(_))
        ));
        b.w.clock.set(from + SignedDuration::from_mins(5));
        let why = forbidden(
            b.w.app
                .remote_as(&max, b.w.door.id, RemoteAction::Unlock, None, WAIT)
                .await,
        );
        assert!(why.contains("entry notice"), "{why}");
        assert_eq!(b.locks.unlocks_of(LOCK), 0);
    })
    .await;
}

#[tokio::test]
async fn only_staff_create_notices_and_a_household_sees_only_its_own() {
    latchkey_testkit::each_backend("entry_notice_who", |db| async move {
        let b = building(&db).await;
        let max = b.w.principal(b.w.manager.id).await;
        let from = b.w.clock.now() + SignedDuration::from_hours(48);
        let rosa = b.w.principal(b.w.resident.id).await;
        let gus = b.w.principal(b.guest).await;
        let before = b.w.event_count().await;
        for who in [&rosa, &gus] {
            match async {
                b.w.app
                    .create_entry_notice(
                        who.staff(b.w.property.id)?,
                        notice(&b, from, 1, "let myself in"),
                    )
                    .await
            }
            .await
            {
                Err(AppError::Forbidden(_)) => {}
                other => panic!("expected Forbidden, got {:?}", other.map(|n| n.id)),
            }
        }
        assert_eq!(b.w.event_count().await, before, "nothing was written");
        let n =
            b.w.app
                .create_entry_notice(
                    max.staff(b.w.property.id).expect("the caller may do this"),
                    notice(&b, from, 1, "meter reading"),
                )
                .await
                .expect("staff create notices");
        let other_unit =
            b.w.app
                .create_unit(
                    b.w.admin
                        .staff(b.w.property.id)
                        .expect("the caller may do this"),
                    "4072",
                    4,
                    None,
                )
                .await
                .expect("a second unit");
        let (neighbour, _) = {
            let input = common::person(
                "Nina Neighbour",
                None,
                None,
                common::membership(Role::Resident, Some(other_unit.id)),
            );
            b.w.app.create_person(
                b.w.app
                    .may_create_person(&b.w.admin, b.w.property.id, &input)
                    .expect("the caller may do this"),
                input,
            )
        }
        .await
        .expect("a neighbour");
        let nina = b.w.principal(neighbour.id).await;
        let hanna = b.w.principal(b.household).await;
        for who in [&rosa, &hanna] {
            let seen =
                b.w.app
                    .list_entry_notices(who, b.w.property.id)
                    .await
                    .expect("the household lists its notices");
            assert_eq!(seen.iter().map(|n| n.id).collect::<Vec<_>>(), vec![n.id]);
        }
        assert!(
            b.w.app
                .list_entry_notices(&nina, b.w.property.id)
                .await
                .expect("a neighbour lists")
                .is_empty(),
            "a neighbour does not see another unit's notices"
        );
        assert!(matches!(
            b.w.app.list_entry_notices(&gus, b.w.property.id).await,
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            async {
                b.w.app
                    .cancel_entry_notice(b.w.app.may_cancel_entry_notice(&nina, n.id).await?)
                    .await
            }
            .await,
            Err(AppError::NotFound(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn an_emergency_needs_a_reason_and_tells_the_household_at_once() {
    latchkey_testkit::each_backend("entry_emergency", |db| async move {
        let b = building(&db).await;
        let max = b.w.principal(b.w.manager.id).await;
        let before = b.w.event_count().await;
        for empty in ["", "   "] {
            match b
                .w
                .app
                .remote_as(&max, b.w.door.id, RemoteAction::Unlock, Some(empty), WAIT)
                .await
            {
                Err(AppError::Invalid { field, .. }) => assert_eq!(field, "reason"),
                other => panic!("expected Invalid, got {:?}", other.map(|c| c.status)),
            }
        }
        assert_eq!(b.w.event_count().await, before, "nothing was recorded");
        assert_eq!(b.locks.unlocks_of(LOCK), 0);
        let opened =
            b.w.app
                .remote_as(
                    &max,
                    b.w.door.id,
                    RemoteAction::Unlock,
                    Some("water pouring through the ceiling below"),
                    WAIT,
                )
                .await
                .expect("an emergency with a reason opens");
        assert_eq!(b.locks.unlocks_of(LOCK), 1);
        let audited = events_of(&b, "lock.emergency_command").await;
        assert_eq!(audited.len(), 1);
        assert_eq!(audited[0]["residents_told"], true);
        for person in [b.w.resident.id, b.household] {
            let msgs = told(&b, person, "lock.emergency_command").await;
            assert_eq!(msgs.len(), 1, "everyone who lives there is told at once");
            assert_eq!(
                msgs[0].body["reason"],
                "water pouring through the ceiling below"
            );
            assert_eq!(msgs[0].body["command"], serde_json::json!(opened.id));
        }
    })
    .await;
}

#[tokio::test]
async fn a_notice_does_not_open_a_door_whose_household_asked_for_privacy() {
    latchkey_testkit::each_backend("entry_notice_privacy", |db| async move {
        let b = building(&db).await;
        let max = b.w.principal(b.w.manager.id).await;
        let from = b.w.clock.now() + SignedDuration::from_hours(25);
        b.w.app
            .create_entry_notice(
                max.staff(b.w.property.id).expect("the caller may do this"),
                notice(&b, from, 1, "meter reading"),
            )
            .await
            .expect("a notice");
        let rosa = b.w.principal(b.w.resident.id).await;
        {
            let patch = latchkey_app::directory::DoorPatch {
                name: None,
                mode: Some(DoorMode::Privacy),
                pin_slots: None,
                reason: None,
            };
            b.w.app.update_door(
                b.w.app
                    .may_update_door(&rosa, b.w.door.id, &patch)
                    .await
                    .expect("the caller may do this"),
                patch,
            )
        }
        .await
        .expect("the resident asks for privacy");
        b.w.clock.set(from + SignedDuration::from_mins(10));
        let why = forbidden(
            b.w.app
                .remote_as(&max, b.w.door.id, RemoteAction::Unlock, None, WAIT)
                .await,
        );
        assert!(why.contains("privacy"), "{why}");
        assert_eq!(b.locks.unlocks_of(LOCK), 0);
        b.w.app
            .remote_as(
                &max,
                b.w.door.id,
                RemoteAction::Unlock,
                Some("smoke alarm sounding for ten minutes"),
                WAIT,
            )
            .await
            .expect("an emergency still opens it");
        assert_eq!(b.locks.unlocks_of(LOCK), 1);
    })
    .await;
}

#[tokio::test]
async fn bad_notices_are_refused_with_the_field_and_change_nothing() {
    latchkey_testkit::each_backend("entry_notice_bad_input", |db| async move {
        let b = building(&db).await;
        let max = b.w.principal(b.w.manager.id).await;
        let from = b.w.clock.now() + SignedDuration::from_hours(30);
        let good = || notice(&b, from, 2, "replace the smoke detector");
        let other_unit =
            b.w.app
                .create_unit(
                    b.w.admin
                        .staff(b.w.property.id)
                        .expect("the caller may do this"),
                    "4072",
                    4,
                    None,
                )
                .await
                .expect("a second unit");
        let before = b.w.event_count().await;
        let cases: Vec<(EntryNoticeInput, &str)> = vec![
            (
                EntryNoticeInput {
                    window_until: from - SignedDuration::from_mins(1),
                    ..good()
                },
                "window_until",
            ),
            (notice(&b, from, 13, "a day of painting"), "window_until"),
            (
                EntryNoticeInput {
                    purpose: "  ".into(),
                    ..good()
                },
                "purpose",
            ),
            (
                EntryNoticeInput {
                    purpose: "fix".into(),
                    ..good()
                },
                "purpose",
            ),
            (
                EntryNoticeInput {
                    doors: Some(vec![b.lobby]),
                    ..good()
                },
                "doors",
            ),
            (
                EntryNoticeInput {
                    doors: Some(Vec::new()),
                    ..good()
                },
                "doors",
            ),
            (
                EntryNoticeInput {
                    unit_id: other_unit.id,
                    ..good()
                },
                "unit_id",
            ),
            (
                EntryNoticeInput {
                    unit_id: latchkey_core::UnitId(999_999),
                    ..good()
                },
                "unit_id",
            ),
        ];
        for (input, want) in cases {
            match async {
                b.w.app
                    .create_entry_notice(max.staff(b.w.property.id)?, input)
                    .await
            }
            .await
            {
                Err(AppError::Invalid { field, message }) => {
                    assert_eq!(field, want, "{message}");
                }
                other => panic!("expected Invalid on {want}, got {:?}", other.map(|n| n.id)),
            }
        }
        assert_eq!(b.w.event_count().await, before, "nothing was written");
        assert!(
            told(&b, b.w.resident.id, "entry_notice.created")
                .await
                .is_empty()
        );
        assert!(matches!(
            async {
                b.w.app
                    .cancel_entry_notice(b.w.app.may_cancel_entry_notice(&max, 999_999).await?)
                    .await
            }
            .await,
            Err(AppError::NotFound(_))
        ));
    })
    .await;
}
