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
        .create_api_token(terminal.own_account(), "privacy test")
        .await
        .expect("token");
    w.app
        .authenticate(GrantKind::ApiToken, &token)
        .await
        .expect("authenticate")
}

/// The events `who` reads with `reason`, through the capability.
async fn with_reason(
    w: &World,
    who: &Principal,
    reason: ReasonRef,
) -> Result<Vec<Event>, AppError> {
    let read = w.app.may_read_activity(who, reason).await?;
    w.app.list_events_with_reason(read, None, all()).await
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
        let seen = with_reason(&l.w, &manager, ReasonRef::Case(case))
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
        match with_reason(&l.w, &manager, ReasonRef::Case(case)).await {
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
            with_reason(&l.w, &resident, ReasonRef::Case(open)).await,
            Err(AppError::Forbidden(_))
        ));
        assert_eq!(l.w.event_count().await, after_open, "no read was recorded");
        assert!(after_open > before);
        // The alarm is a reason; an opening is not.
        let seen = with_reason(&l.w, &manager, ReasonRef::Alarm(l.alarm))
            .await
            .expect("an alarm of the unit's door is a reason");
        assert!(seqs(&seen).contains(&l.opening));
        assert!(matches!(
            with_reason(&l.w, &manager, ReasonRef::Alarm(l.opening)).await,
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
            with_reason(&l.w, &neighbour, ReasonRef::Case(case))
                .await
                .is_err()
        );
    })
    .await;
}

#[tokio::test]
async fn retention_redacts_old_personal_events_and_the_chain_still_verifies_but_an_edit_does_not() {
    latchkey_testkit::each_backend("privacy_retention", |db| async move {
        let l = logged(&db).await;
        // Nothing is old yet.
        let report = l.w.app.apply_retention().await.expect("retention");
        assert_eq!(report.redacted, 0);
        l.w.clock.advance(jiff::SignedDuration::from_hours(91 * 24));
        let report = l.w.app.apply_retention().await.expect("retention");
        assert_eq!(report.redacted, 2, "the unit's and the lobby's openings");
        let mut conn = l.w.store.read().await.expect("conn");
        let opening = audit::event_at(&mut conn, l.opening)
            .await
            .expect("read")
            .expect("kept");
        assert_eq!(opening.actor_id, None, "who opened is gone");
        assert!(opening.data.get("slot").is_none(), "{}", opening.data);
        assert_eq!(opening.kind, "access.granted", "what happened stays");
        let alarm = audit::event_at(&mut conn, l.alarm)
            .await
            .expect("read")
            .expect("kept");
        assert_eq!(
            alarm.data["alarm"], "tamper",
            "security events are not personal"
        );
        drop(conn);
        let text = l.w.all_events_text().await;
        assert!(
            text.contains("audit.redacted"),
            "the redaction is its own event"
        );
        l.w.app
            .verify_audit(|_| {})
            .await
            .expect("verify")
            .expect("a redacted log verifies");
        // Running again changes nothing.
        assert_eq!(l.w.app.apply_retention().await.expect("again").redacted, 0);

        // Editing a payload (not redacting it) is still tampering.
        let mut conn = l.w.store.read().await.expect("conn");
        sqlx::query("UPDATE events SET data = $1 WHERE seq = $2")
            .bind(r#"{"alarm":"none","severity":"info"}"#)
            .bind(l.alarm)
            .execute(&mut *conn)
            .await
            .expect("tamper");
        drop(conn);
        let broken =
            l.w.app
                .verify_audit(|_| {})
                .await
                .expect("verify")
                .unwrap_err();
        assert_eq!(broken.seq, l.alarm, "{broken}");
        assert_eq!(broken.kind, latchkey_core::chain::BreakKind::Edited);
    })
    .await;
}

#[tokio::test]
async fn an_export_holds_the_callers_data_and_no_secret() {
    latchkey_testkit::each_backend("privacy_export", |db| async move {
        let l = logged(&db).await;
        let resident = api(&l.w, l.w.resident.id).await;
        let data = l.w.app.export_my_data(&resident).await.expect("export");
        assert_eq!(data.person.id, l.w.resident.id);
        assert_eq!(data.person.email.as_deref(), Some(common::RESIDENT_EMAIL));
        assert_eq!(data.memberships.len(), 1);
        assert_eq!(data.api_tokens.len(), 1, "the token of this test");
        assert!(data.push_subscriptions.is_empty());
        assert!(seqs(&data.events).contains(&l.opening), "what they did");
        assert!(
            !seqs(&data.events).contains(&l.alarm),
            "not the building's alarms"
        );
        let debug = format!("{data:?}");
        assert!(!debug.contains(common::RESIDENT_PASSWORD));
        assert!(!debug.contains("argon2"), "no password hash");
    })
    .await;
}

#[tokio::test]
async fn staff_erase_a_person_only_after_move_out_and_the_log_still_verifies() {
    latchkey_testkit::each_backend("privacy_erasure", |db| async move {
        let l = logged(&db).await;
        let manager = api(&l.w, l.w.manager.id).await;
        match l.w.app.may_erase_person(&manager, l.w.resident.id).await {
            Err(AppError::Conflict(why)) => assert!(why.contains("has not moved out"), "{why}"),
            other => panic!("expected Conflict, got {:?}", other.map(|_| ())),
        }
        let resident = api(&l.w, l.w.resident.id).await;
        assert!(matches!(
            l.w.app.may_erase_person(&resident, l.w.manager.id).await,
            Err(AppError::Forbidden(_))
        ));
        l.w.app
            .add_push_subscription(
                resident.own_account(),
                latchkey_app::push::SubscriptionInput {
                    endpoint: "https://push.example.net/send/rosa".into(),
                    p256dh: "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4".into(),
                    auth: "BTBZMqHH6r4Tts7J_aSIgg".into(),
                    name: "Rosa's phone".into(),
                },
            )
            .await
            .expect("a device with notifications on");
        let membership =
            l.w.app
                .export_my_data(&resident)
                .await
                .expect("export")
                .memberships[0]
                .id;
        let ender =
            l.w.app
                .may_end_membership(&manager, membership)
                .await
                .expect("staff end memberships");
        l.w.app.end_membership(ender, None).await.expect("move out");
        l.w.clock.advance(jiff::SignedDuration::from_hours(1));
        let eraser =
            l.w.app
                .may_erase_person(&manager, l.w.resident.id)
                .await
                .expect("moved out");
        let erasure = l.w.app.erase_person(eraser).await.expect("erase");
        assert!(erasure.redacted_events >= 2, "{}", erasure.redacted_events);
        assert!(erasure.kept.iter().any(|(what, _)| what.contains("ledger")));
        let mut conn = l.w.store.read().await.expect("conn");
        let gone = latchkey_store::people::get_person(&mut conn, l.w.resident.id)
            .await
            .expect("read")
            .expect("the row stays");
        assert_eq!(gone.email, None);
        assert!(!gone.has_password);
        assert!(!gone.name.contains("Rosa"));
        assert!(
            latchkey_store::push::of_person(&mut conn, l.w.resident.id)
                .await
                .expect("read")
                .is_empty(),
            "no device of an erased person is told anything"
        );
        drop(conn);
        assert!(!l.w.all_events_text().await.contains(common::RESIDENT_EMAIL));
        l.w.app
            .verify_audit(|_| {})
            .await
            .expect("verify")
            .expect("the log verifies after an erasure");
        let again = l.w.app.may_erase_person(&manager, l.w.resident.id).await;
        let again = l.w.app.erase_person(again.expect("still moved out")).await;
        assert!(matches!(again, Err(AppError::Conflict(_))));
    })
    .await;
}

/// The erasure-request notifications queued for `person`.
async fn told_of_requests(w: &World, person: latchkey_core::PersonId) -> usize {
    let mut conn = w.store.read().await.expect("conn");
    latchkey_store::lockout::notifications_of_person_kind(
        &mut conn,
        person,
        latchkey_app::mydata::REQUESTED_KIND,
    )
    .await
    .expect("read")
    .len()
}

#[tokio::test]
async fn a_person_asks_to_be_erased_staff_are_told_once_and_list_it_until_the_erasure() {
    latchkey_testkit::each_backend("privacy_erasure_request", |db| async move {
        let l = logged(&db).await;
        let resident = api(&l.w, l.w.resident.id).await;
        let manager = api(&l.w, l.w.manager.id).await;
        let before = l.w.event_count().await;
        let asked =
            l.w.app
                .request_my_erasure(resident.own_account(), Some("  moving out 31 March "))
                .await
                .expect("request");
        assert_eq!(asked.person_id, l.w.resident.id, "always the caller");
        assert!(!asked.already_requested);
        assert_eq!(asked.properties, vec![l.w.property.id]);
        assert_eq!(asked.kept, latchkey_app::mydata::KEPT.to_vec());
        assert_eq!(asked.removed, latchkey_app::mydata::REMOVED.to_vec());
        assert_eq!(asked.moves_out_at, None, "the membership has no end yet");
        assert_eq!(l.w.event_count().await, before + 1);
        assert_eq!(told_of_requests(&l.w, l.w.manager.id).await, 1);
        assert_eq!(told_of_requests(&l.w, l.w.resident.id).await, 0);
        let mut conn = l.w.store.read().await.expect("conn");
        let recorded = audit::query(
            &mut conn,
            &EventFilter {
                kind_prefix: Some(latchkey_app::mydata::REQUESTED_KIND.to_owned()),
                ..all()
            },
        )
        .await
        .expect("query");
        drop(conn);
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].actor_id, Some(l.w.resident.id));
        assert_eq!(recorded[0].property_id, Some(l.w.property.id));
        assert_eq!(recorded[0].subject, format!("person:{}", l.w.resident.id));

        // A second request while one is pending changes nothing and answers the same.
        l.w.clock.advance(jiff::SignedDuration::from_mins(5));
        let again =
            l.w.app
                .request_my_erasure(resident.own_account(), None)
                .await
                .expect("again");
        assert!(again.already_requested);
        assert_eq!(again.requested_at, asked.requested_at);
        assert_eq!(l.w.event_count().await, before + 1);
        assert_eq!(told_of_requests(&l.w, l.w.manager.id).await, 1);

        let pending =
            l.w.app
                .list_erasure_requests(&manager, l.w.property.id)
                .await
                .expect("staff list");
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].person_id, l.w.resident.id);
        assert_eq!(pending[0].note.as_deref(), Some("moving out 31 March"));
        assert!(!pending[0].moved_out);
        assert!(matches!(
            l.w.app
                .list_erasure_requests(&resident, l.w.property.id)
                .await,
            Err(AppError::Forbidden(_))
        ));

        // Staff carry it out after move-out; the request is then no longer pending.
        let membership =
            l.w.app
                .export_my_data(&resident)
                .await
                .expect("export")
                .memberships[0]
                .id;
        let ender =
            l.w.app
                .may_end_membership(&manager, membership)
                .await
                .expect("ender");
        l.w.app.end_membership(ender, None).await.expect("move out");
        l.w.clock.advance(jiff::SignedDuration::from_hours(1));
        // A principal holds the time it was signed in at; sign in again after the move-out.
        let manager = api(&l.w, l.w.manager.id).await;
        let pending =
            l.w.app
                .list_erasure_requests(&manager, l.w.property.id)
                .await
                .expect("staff list");
        assert!(pending[0].moved_out);
        let eraser =
            l.w.app
                .may_erase_person(&manager, l.w.resident.id)
                .await
                .expect("moved out");
        l.w.app.erase_person(eraser).await.expect("erase");
        assert!(
            l.w.app
                .list_erasure_requests(&manager, l.w.property.id)
                .await
                .expect("staff list")
                .is_empty()
        );
        assert!(
            !l.w.all_events_text().await.contains("31 March"),
            "the note is redacted"
        );
    })
    .await;
}

#[tokio::test]
async fn a_bad_note_or_an_admin_is_refused_and_nothing_is_recorded_or_told() {
    latchkey_testkit::each_backend("privacy_erasure_request_refused", |db| async move {
        let l = logged(&db).await;
        let resident = api(&l.w, l.w.resident.id).await;
        let admin = api(&l.w, l.w.admin.id()).await;
        let before = l.w.event_count().await;
        for note in ["   ", &"x".repeat(501)] {
            match l
                .w
                .app
                .request_my_erasure(resident.own_account(), Some(note))
                .await
            {
                Err(AppError::Invalid { field, .. }) => assert_eq!(field, "note"),
                other => panic!("expected Invalid, got {:?}", other.map(|_| ())),
            }
        }
        match l.w.app.request_my_erasure(admin.own_account(), None).await {
            Err(AppError::Conflict(why)) => assert!(why.contains("admin"), "{why}"),
            other => panic!("expected Conflict, got {:?}", other.map(|_| ())),
        }
        assert_eq!(l.w.event_count().await, before);
        assert_eq!(told_of_requests(&l.w, l.w.manager.id).await, 0);
    })
    .await;
}

/// A second unit with its door, sensors on each unit and a shared one, and in the log each
/// kind of event the rule tells apart. The names are what the test expects staff to see.
struct Building {
    l: Logged,
    unit2: latchkey_core::UnitId,
    /// `seq`s of personal events of unit 4071 (its door, a sensor of the unit).
    own_unit_personal: Vec<i64>,
    /// `seq`s of personal events of the second unit (its door, a sensor on that door).
    other_unit_personal: Vec<i64>,
    /// `seq`s of events every staff member reads: a shared sensor's opening, security events
    /// on both units' doors, an event about the unit.
    for_staff: Vec<i64>,
    /// The manager's own command at the second unit's door.
    managers_own: i64,
}

async fn building(db: &latchkey_testkit::TestDb) -> Building {
    use latchkey_app::directory::SensorInput;
    use latchkey_core::model::SensorKind;
    let l = logged(db).await;
    let w = &l.w;
    let staff = || w.admin.staff(w.property.id).expect("admin is staff");
    let unit2 = w
        .app
        .create_unit(staff(), "4072", 4, None)
        .await
        .expect("unit");
    let door2 = w
        .app
        .create_door(
            staff(),
            DoorInput {
                name: "4072 entry".to_owned(),
                kind: DoorKind::UnitEntry,
                unit_id: Some(unit2.id),
                mode: DoorMode::Normal,
                pin_slots: 30,
            },
        )
        .await
        .expect("door");
    let sensor = |name: &str, unit_id, door_id| SensorInput {
        name: name.to_owned(),
        kind: SensorKind::DoorContact,
        unit_id,
        door_id,
        floor: 0,
    };
    let on_unit = w
        .app
        .create_sensor(staff(), sensor("4071 window", Some(w.unit.id), None))
        .await
        .expect("sensor");
    let on_door2 = w
        .app
        .create_sensor(staff(), sensor("4072 contact", None, Some(door2.id)))
        .await
        .expect("sensor");
    let shared = w
        .app
        .create_sensor(staff(), sensor("Lobby contact", None, None))
        .await
        .expect("sensor");
    let append = |kind: &str, subject: String, actor: Option<latchkey_core::PersonId>| {
        let store = w.store.clone();
        let at = w.app.now();
        let e = NewEvent::new(kind, subject)
            .property(w.property.id)
            .actor(actor)
            .data(serde_json::json!({}));
        async move {
            let mut tx = store.write().await.expect("write");
            let seq = audit::append(&mut tx, Keys::from_master(&[1; 32]).chain_key(), at, &[e])
                .await
                .expect("append");
            tx.commit().await.expect("commit");
            seq
        }
    };
    let resident = Some(w.resident.id);
    let own_unit_personal = vec![
        append("door.opened", format!("sensor:{}", on_unit.id), None).await,
        append("lock.unlocked", format!("door:{}", w.door.id), resident).await,
    ];
    let other_unit_personal = vec![
        append("access.granted", format!("door:{}", door2.id), None).await,
        append("door.opened", format!("sensor:{}", on_door2.id), None).await,
        append("lock.command_confirmed", format!("door:{}", door2.id), None).await,
    ];
    let for_staff = vec![
        append("door.opened", format!("sensor:{}", shared.id), None).await,
        append("lock.jammed", format!("door:{}", w.door.id), None).await,
        append("lock.alarm", format!("door:{}", door2.id), None).await,
        append("door.mode_changed", format!("unit:{}", unit2.id), resident).await,
    ];
    let managers_own = append(
        "lock.command",
        format!("door:{}", door2.id),
        Some(w.manager.id),
    )
    .await;
    Building {
        l,
        unit2: unit2.id,
        own_unit_personal,
        other_unit_personal,
        for_staff,
        managers_own,
    }
}

#[tokio::test]
async fn the_log_query_hides_exactly_the_personal_events_of_units_doors_and_sensors_from_staff() {
    latchkey_testkit::each_backend("privacy_exact_rule", |db| async move {
        let b = building(&db).await;
        let w = &b.l.w;
        let manager = api(w, w.manager.id).await;
        let seen = seqs(
            &w.app
                .list_events(&manager, None, all())
                .await
                .expect("list"),
        );
        let mut expected_staff = b.for_staff.clone();
        expected_staff.extend([b.l.alarm, b.l.lobby_opening, b.managers_own]);
        for s in &expected_staff {
            assert!(seen.contains(s), "staff read {s}: {seen:?}");
        }
        for s in b
            .own_unit_personal
            .iter()
            .chain(&b.other_unit_personal)
            .chain([&b.l.opening])
        {
            assert!(!seen.contains(s), "a unit's personal event {s}: {seen:?}");
        }
        // The same with the property named, and page by page: the rule is in the query, so
        // a page of two is the two newest the manager may read.
        let named = seqs(
            &w.app
                .list_events(&manager, Some(w.property.id), all())
                .await
                .expect("list"),
        );
        assert_eq!(named, seen);
        let page = |before: Option<i64>| EventFilter {
            limit: 2,
            before,
            ..EventFilter::default()
        };
        let mut paged = Vec::new();
        let mut before = None;
        loop {
            let got = seqs(
                &w.app
                    .list_events(&manager, None, page(before))
                    .await
                    .expect("page"),
            );
            if got.is_empty() {
                break;
            }
            assert!(got.len() <= 2);
            before = got.last().copied();
            paged.extend(got);
        }
        assert_eq!(paged, seen);

        // With a reason about unit 4071, its personal events are shown; the other unit's not.
        let (_, case) = w.open_public_case("Rosa Resident", "192.0.2.1").await;
        let reasoned = seqs(
            &with_reason(w, &manager, ReasonRef::Case(case))
                .await
                .expect("read"),
        );
        for s in b.own_unit_personal.iter().chain([&b.l.opening]) {
            assert!(
                reasoned.contains(s),
                "opened by the reason {s}: {reasoned:?}"
            );
        }
        for s in &b.other_unit_personal {
            assert!(!reasoned.contains(s), "another unit {s}: {reasoned:?}");
        }

        // Staff who live in the second unit read that unit's personal events, not 4071's.
        let (sam, _) = w
            .app
            .create_person(
                w.app
                    .may_create_person(
                        &w.admin,
                        w.property.id,
                        &common::person(
                            "Sam Staff",
                            None,
                            None,
                            common::membership(Role::Manager, None),
                        ),
                    )
                    .expect("admin adds staff"),
                common::person(
                    "Sam Staff",
                    None,
                    None,
                    common::membership(Role::Manager, None),
                ),
            )
            .await
            .expect("staff");
        let lives = common::membership(Role::Resident, Some(b.unit2));
        w.app
            .create_membership(
                w.app
                    .may_create_membership(&w.admin, w.property.id, &lives)
                    .expect("admin adds a membership"),
                sam.id,
                lives,
            )
            .await
            .expect("membership");
        let sam = api(w, sam.id).await;
        let seen = seqs(&w.app.list_events(&sam, None, all()).await.expect("list"));
        for s in b.other_unit_personal.iter().chain(&b.for_staff) {
            assert!(seen.contains(s), "Sam's own unit or staff's {s}: {seen:?}");
        }
        for s in b.own_unit_personal.iter().chain([&b.l.opening]) {
            assert!(!seen.contains(s), "4071's personal event {s}: {seen:?}");
        }

        // The terminal is not bound by the rule (docs/OPERATIONS.md, "Privacy").
        let terminal = w.principal(w.manager.id).await;
        let seen = seqs(
            &w.app
                .list_events(&terminal, None, all())
                .await
                .expect("list"),
        );
        for s in b.own_unit_personal.iter().chain(&b.other_unit_personal) {
            assert!(seen.contains(s), "the terminal reads {s}");
        }
    })
    .await;
}

#[tokio::test]
async fn simultaneous_erasure_requests_are_recorded_and_told_once() {
    latchkey_testkit::each_backend("privacy_erasure_race", |db| async move {
        let l = logged(&db).await;
        let resident = api(&l.w, l.w.resident.id).await;
        let before = l.w.event_count().await;
        let ask = || l.w.app.request_my_erasure(resident.own_account(), None);
        // Fired together: on PostgreSQL each runs on its own connection, so each can read "no
        // request pending" before any of them commits.
        let answers = tokio::join!(ask(), ask(), ask(), ask(), ask(), ask());
        let answers = [
            answers.0, answers.1, answers.2, answers.3, answers.4, answers.5,
        ]
        .map(|a| a.expect("each request is answered"));
        let recorded = answers.iter().filter(|a| !a.already_requested).count();
        assert_eq!(recorded, 1, "exactly one request is recorded");
        let first = answers
            .iter()
            .find(|a| !a.already_requested)
            .map(|a| a.requested_at);
        assert!(answers.iter().all(|a| Some(a.requested_at) == first));
        assert_eq!(l.w.event_count().await, before + 1, "one event");
        assert_eq!(
            told_of_requests(&l.w, l.w.manager.id).await,
            1,
            "staff are told once"
        );
    })
    .await;
}
