//! A household's comings and goings at its own doors are its own (docs/ARCHITECTURE.md,
//! decision 40): staff read them only for an open reason, and the household sees that they did.
//! Every test runs on every backend.

mod common;

use common::World;
use latchkey_app::AppError;
use latchkey_app::authz::Principal;
use latchkey_app::directory::DoorInput;
use latchkey_app::events::ReasonRef;
use latchkey_app::secrets::Keys;
use latchkey_app::store::records::{Door, Event};
use latchkey_core::model::{DoorKind, DoorMode, Role};
use latchkey_store::audit::{self, EventFilter, NewEvent};
use latchkey_store::auth::GrantKind;

/// The world with a shared lobby door, and an opening, an alarm and a lobby opening in the log.
struct Logged {
    w: World,
    lobby: Door,
    /// `seq` of the household's opening of its own door.
    opening: i64,
    /// `seq` of the lock alarm on the unit's door.
    alarm: i64,
    /// `seq` of an opening of the shared lobby.
    lobby_opening: i64,
}

async fn logged(db: &latchkey_testkit::TestDb) -> Logged {
    let w = World::build(db).await;
    let lobby = w
        .app
        .create_door(
            w.admin.staff(w.property.id).expect("admin is staff"),
            DoorInput {
                name: "Lobby".to_owned(),
                kind: DoorKind::BuildingEntrance,
                unit_id: None,
                mode: DoorMode::Normal,
                pin_slots: 30,
            },
        )
        .await
        .expect("create lobby");
    let append = |e: NewEvent| {
        let store = w.store.clone();
        let at = w.app.now();
        async move {
            let mut tx = store.write().await.expect("write");
            let seq = audit::append(&mut tx, Keys::from_master(&[1; 32]).chain_key(), at, &[e])
                .await
                .expect("append");
            tx.commit().await.expect("commit");
            seq
        }
    };
    let opening = append(
        NewEvent::new("access.granted", format!("door:{}", w.door.id))
            .property(w.property.id)
            .actor(Some(w.resident.id))
            .data(serde_json::json!({ "method": "keypad", "slot": 1 })),
    )
    .await;
    let alarm = append(
        NewEvent::new("lock.alarm", format!("door:{}", w.door.id))
            .property(w.property.id)
            .data(serde_json::json!({ "alarm": "tamper", "severity": "critical" })),
    )
    .await;
    let lobby_opening = append(
        NewEvent::new("access.granted", format!("door:{}", lobby.id))
            .property(w.property.id)
            .actor(Some(w.resident.id))
            .data(serde_json::json!({ "method": "keypad", "slot": 2 })),
    )
    .await;
    Logged {
        w,
        lobby,
        opening,
        alarm,
        lobby_opening,
    }
}

/// `who` as a signed-in API client (not the trusted terminal).
async fn api(w: &World, who: latchkey_core::PersonId) -> Principal {
    let terminal = w.principal(who).await;
    let (token, _) = w
        .app
        .create_api_token(&terminal, "privacy test")
        .await
        .expect("token");
    w.app
        .authenticate(GrantKind::ApiToken, &token)
        .await
        .expect("authenticate")
}

fn all() -> EventFilter {
    EventFilter {
        limit: 500,
        ..EventFilter::default()
    }
}

fn seqs(events: &[Event]) -> Vec<i64> {
    events.iter().map(|e| e.seq).collect()
}

#[tokio::test]
async fn staff_without_a_reason_see_alarms_and_shared_doors_but_not_a_units_openings() {
    latchkey_testkit::each_backend("privacy_staff_no_reason", |db| async move {
        let l = logged(&db).await;
        let manager = api(&l.w, l.w.manager.id).await;
        let seen = seqs(
            &l.w.app
                .list_events(&manager, None, all())
                .await
                .expect("list"),
        );
        assert!(
            !seen.contains(&l.opening),
            "the household's opening: {seen:?}"
        );
        assert!(seen.contains(&l.alarm), "the alarm");
        assert!(seen.contains(&l.lobby_opening), "the shared lobby");
        let admin = api(&l.w, l.w.admin.id()).await;
        let seen = seqs(
            &l.w.app
                .list_events(&admin, None, all())
                .await
                .expect("list"),
        );
        assert!(
            !seen.contains(&l.opening),
            "an admin is staff too: {seen:?}"
        );
        // The resident sees their own door's opening.
        let resident = api(&l.w, l.w.resident.id).await;
        let seen = seqs(
            &l.w.app
                .list_events(&resident, None, all())
                .await
                .expect("list"),
        );
        assert!(seen.contains(&l.opening));
        let _ = &l.lobby;
    })
    .await;
}

#[tokio::test]
async fn an_open_case_lets_staff_read_the_units_openings_and_the_household_sees_that_they_did() {
    latchkey_testkit::each_backend("privacy_open_case", |db| async move {
        let l = logged(&db).await;
        let (_, case) = l.w.open_public_case("Rosa Resident", "192.0.2.1").await;
        let manager = api(&l.w, l.w.manager.id).await;
        let seen =
            l.w.app
                .list_events_for(&manager, None, all(), Some(ReasonRef::Case(case)))
                .await
                .expect("a reasoned read");
        assert!(seqs(&seen).contains(&l.opening));
        let resident = api(&l.w, l.w.resident.id).await;
        let mine =
            l.w.app
                .list_events(&resident, None, all())
                .await
                .expect("list");
        let viewed = mine
            .iter()
            .find(|e| e.kind == "privacy.activity_viewed")
            .expect("the household sees the read");
        assert_eq!(viewed.actor_id, Some(l.w.manager.id));
        assert_eq!(viewed.subject, format!("unit:{}", l.w.unit.id));
        assert_eq!(viewed.data["reason"], "case");
        assert_eq!(viewed.data["reason_id"], case.0);
        assert_eq!(viewed.data["personal_events_shown"], 1);
    })
    .await;
}

#[tokio::test]
async fn a_closed_case_or_a_resident_is_no_reason_and_nothing_is_recorded() {
    latchkey_testkit::each_backend("privacy_closed_case", |db| async move {
        let l = logged(&db).await;
        let (_, case) = l.w.open_public_case("Rosa Resident", "192.0.2.1").await;
        let manager = api(&l.w, l.w.manager.id).await;
        let party =
            l.w.app
                .may_cancel_lockout(&manager, case)
                .await
                .expect("staff see the case");
        l.w.app.cancel_lockout(party).await.expect("cancel");
        let before = l.w.event_count().await;
        match l
            .w
            .app
            .list_events_for(&manager, None, all(), Some(ReasonRef::Case(case)))
            .await
        {
            Err(AppError::Invalid { field, message }) => {
                assert_eq!(field, "reason");
                assert!(message.contains("cancelled"), "{message}");
            }
            other => panic!(
                "expected Invalid(reason), got {:?}",
                other.map(|e| seqs(&e))
            ),
        }
        // A resident of the unit is not staff: a reason gives them nothing more.
        let (_, open) = l.w.open_public_case("Rosa Resident", "192.0.2.2").await;
        let resident = api(&l.w, l.w.resident.id).await;
        let after_open = l.w.event_count().await;
        assert!(matches!(
            l.w.app
                .list_events_for(&resident, None, all(), Some(ReasonRef::Case(open)))
                .await,
            Err(AppError::Forbidden(_))
        ));
        assert_eq!(l.w.event_count().await, after_open, "no read was recorded");
        assert!(after_open > before);
        // The alarm is a reason; an opening is not.
        let seen =
            l.w.app
                .list_events_for(&manager, None, all(), Some(ReasonRef::Alarm(l.alarm)))
                .await
                .expect("an alarm of the unit's door is a reason");
        assert!(seqs(&seen).contains(&l.opening));
        assert!(matches!(
            l.w.app
                .list_events_for(&manager, None, all(), Some(ReasonRef::Alarm(l.opening)))
                .await,
            Err(AppError::Invalid { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn residents_of_another_unit_never_see_a_units_openings() {
    latchkey_testkit::each_backend("privacy_other_unit", |db| async move {
        let l = logged(&db).await;
        let other =
            l.w.app
                .create_unit(
                    l.w.admin.staff(l.w.property.id).expect("staff"),
                    "12",
                    1,
                    None,
                )
                .await
                .expect("unit");
        let input = common::person(
            "Nina Neighbour",
            None,
            None,
            common::membership(Role::Resident, Some(other.id)),
        );
        let (neighbour, _) =
            l.w.app
                .create_person(
                    l.w.app
                        .may_create_person(&l.w.admin, l.w.property.id, &input)
                        .expect("admin"),
                    input,
                )
                .await
                .expect("neighbour");
        let neighbour = api(&l.w, neighbour.id).await;
        let seen = seqs(
            &l.w.app
                .list_events(&neighbour, None, all())
                .await
                .expect("list"),
        );
        assert!(!seen.contains(&l.opening));
        let (_, case) = l.w.open_public_case("Rosa Resident", "192.0.2.1").await;
        assert!(
            l.w.app
                .list_events_for(&neighbour, None, all(), Some(ReasonRef::Case(case)))
                .await
                .is_err()
        );
    })
    .await;
}
