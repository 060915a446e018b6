//! The console's alarms (docs/ARCHITECTURE.md, decisions 65 and 66), on every backend: a lock's
//! alarm is recorded with its severity as the lock reports it; a storm of locks going offline
//! is one group, shown only after the grace and cleared as the locks come back; a group is
//! acknowledged at once with who, when and a note, audited; and a resident, the manager of
//! another property, an unknown alarm, a long note and a second acknowledgement are refused
//! with nothing changed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{World, membership, person, property_input};
use jiff::SignedDuration;
use latchkey_app::AppError;
use latchkey_app::alarms::console::{AlarmFilter, AlarmsView, NOTE_MAX, Severity};
use latchkey_app::authz::Principal;
use latchkey_app::devices::IngestItem;
use latchkey_core::lock::{Availability, DeviceMessage};
use latchkey_core::model::{DoorKind, DoorMode, Role};
use latchkey_z2m::limits::Limits;
use latchkey_z2m::{Topics, parse_inbound};

/// `n` amenity doors named `Door <i>`, door `i` paired with lock `a/<i>`, heard online.
async fn locks(w: &World, n: usize) -> Vec<String> {
    let mut names = Vec::with_capacity(n);
    for i in 0..n {
        let d = w
            .app
            .create_door(
                w.admin.staff(w.property.id).unwrap(),
                latchkey_app::directory::DoorInput {
                    name: format!("Door {i}"),
                    kind: DoorKind::Amenity,
                    unit_id: None,
                    mode: DoorMode::Normal,
                    pin_slots: 10,
                },
            )
            .await
            .unwrap();
        let name = format!("a/{i}");
        w.app
            .pair_lock(
                w.app.may_pair_lock(&w.admin, d.id).await.unwrap(),
                Some(&name),
            )
            .await
            .unwrap();
        names.push(name);
    }
    availability(w, &names, Availability::Online).await;
    names
}

async fn availability(w: &World, names: &[String], a: Availability) {
    let items = names
        .iter()
        .map(|name| IngestItem {
            identity: None,
            message: DeviceMessage::availability(name.clone(), a),
        })
        .collect();
    w.app.ingest(items).await.unwrap();
}

async fn report(w: &World, lock: &str, payload: &str) {
    let message = parse_inbound(
        &Topics::default(),
        &format!("zigbee2mqtt/{lock}"),
        payload.as_bytes(),
        &Limits::default(),
    )
    .unwrap()
    .unwrap();
    w.app
        .ingest(vec![IngestItem {
            identity: None,
            message: latchkey_bridge::zigbee::message(message),
        }])
        .await
        .unwrap();
}

async fn forced(w: &World, lock: &str) {
    report(w, lock, r#"{"lock_state":"locked","door_state":"closed"}"#).await;
    report(w, lock, r#"{"door_state":"error_forced_open"}"#).await;
}

async fn list(w: &World, who: &Principal, filter: AlarmFilter) -> AlarmsView {
    w.app
        .alarms(who.staff(w.property.id).unwrap(), filter)
        .await
        .unwrap()
}

async fn manager(w: &World) -> Principal {
    w.principal(w.manager.id).await
}

/// The manager of another property.
async fn outsider(w: &World) -> Principal {
    let other = w
        .app
        .create_property(
            w.admin.admin().unwrap(),
            property_input("Birch Hall", "Europe/Berlin"),
        )
        .await
        .unwrap();
    let input = person(
        "Olga Other",
        Some("olga@example.org"),
        None,
        membership(Role::Manager, None),
    );
    let (olga, _) = w
        .app
        .create_person(
            w.app.may_create_person(&w.admin, other.id, &input).unwrap(),
            input,
        )
        .await
        .unwrap();
    w.principal(olga.id).await
}

#[tokio::test]
async fn a_forced_door_is_a_critical_open_alarm_the_manager_acknowledges_with_a_note() {
    latchkey_testkit::each_backend("alarm_console_forced", |db| async move {
        let w = World::build(&db).await;
        let names = locks(&w, 2).await;
        let max = manager(&w).await;
        assert!(list(&w, &max, AlarmFilter::All).await.groups.is_empty());
        forced(&w, &names[0]).await;
        let v = list(&w, &max, AlarmFilter::Open).await;
        assert_eq!(v.groups.len(), 1, "{:#?}", v.groups);
        let g = &v.groups[0];
        assert_eq!(
            (g.kind.as_str(), g.severity, g.open),
            ("forced_entry", Severity::Critical, 1)
        );
        assert_eq!(g.alarms[0].door_name.as_deref(), Some("Door 0"));
        assert_eq!(g.alarms[0].state, "open");

        // Counted by kind: the forced entry's incident is opened by a task of its own.
        let acks = |t: String| t.matches("alarm.acknowledged").count();
        w.clock.advance(SignedDuration::from_secs(90));
        let n = w
            .app
            .acknowledge_alarms(
                w.app.may_acknowledge_alarms(&max, g.id).await.unwrap(),
                Some("  Police called; the door is held shut  "),
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
        let text = w.all_events_text().await;
        assert_eq!(
            acks(text.clone()),
            1,
            "the acknowledgement is audited: {text}"
        );
        assert!(text.contains("Police called"), "with its note: {text}");
        assert!(list(&w, &max, AlarmFilter::Open).await.groups.is_empty());
        let all = list(&w, &max, AlarmFilter::All).await;
        let a = &all.groups[0].alarms[0];
        assert_eq!(a.state, "acknowledged");
        assert_eq!(a.acknowledged_by, Some(w.manager.id));
        assert_eq!(a.acknowledged_by_name.as_deref(), Some("Max Manager"));
        assert_eq!(a.acknowledged_at, Some(w.app.now()));
        assert_eq!(
            a.note.as_deref(),
            Some("Police called; the door is held shut")
        );

        // Acknowledging twice changes nothing and says why.
        let again = w
            .app
            .acknowledge_alarms(
                w.app.may_acknowledge_alarms(&max, g.id).await.unwrap(),
                Some("again"),
            )
            .await;
        assert!(matches!(again, Err(AppError::Conflict(_))), "{again:?}");
        assert_eq!(acks(w.all_events_text().await), 1);
        let a2 = &list(&w, &max, AlarmFilter::All).await.groups[0].alarms[0];
        assert_eq!(
            a2.note.as_deref(),
            Some("Police called; the door is held shut")
        );

        // A jam is high, a low battery low, each its own item.
        report(&w, &names[1], r#"{"battery":8}"#).await;
        let v = list(&w, &max, AlarmFilter::Open).await;
        assert_eq!(v.groups.len(), 1);
        assert_eq!(
            (v.groups[0].kind.as_str(), v.groups[0].severity),
            ("low_battery", Severity::Low)
        );
    })
    .await;
}

#[tokio::test]
async fn a_storm_of_locks_offline_is_one_group_after_the_grace_acknowledged_at_once_and_cleared_as_they_return()
 {
    latchkey_testkit::each_backend("alarm_console_storm", |db| async move {
        let w = World::build(&db).await;
        let names = locks(&w, 300).await;
        let max = manager(&w).await;
        // The broker restarts: every lock goes offline, in two batches a few seconds apart.
        availability(&w, &names[..150], Availability::Offline).await;
        w.clock.advance(SignedDuration::from_secs(5));
        availability(&w, &names[150..], Availability::Offline).await;
        let v = list(&w, &max, AlarmFilter::All).await;
        assert!(v.groups.is_empty(), "nothing is shown within the grace");
        assert!(v.next_due.is_some(), "the page knows when to look again");
        w.clock.advance(SignedDuration::from_secs(61));
        let v = list(&w, &max, AlarmFilter::Open).await;
        assert_eq!(v.groups.len(), 1, "one item, not 300");
        let g = &v.groups[0];
        assert_eq!(
            (g.kind.as_str(), g.severity, g.alarms.len(), g.open),
            ("offline", Severity::High, 300, 300)
        );

        // One acknowledgement for the whole storm.
        let n = w
            .app
            .acknowledge_alarms(
                w.app.may_acknowledge_alarms(&max, g.id).await.unwrap(),
                Some("Broker restarted; watching"),
            )
            .await
            .unwrap();
        assert_eq!(n, 300);
        assert!(list(&w, &max, AlarmFilter::Open).await.groups.is_empty());

        // Most come back: cleared ("back online"); the rest stay acknowledged.
        availability(&w, &names[..290], Availability::Online).await;
        let all = list(&w, &max, AlarmFilter::All).await;
        assert_eq!(all.groups.len(), 1);
        assert_eq!(
            (all.groups[0].cleared, all.groups[0].acknowledged),
            (290, 10)
        );

        // A lock going offline later is a new item: the storm was acknowledged.
        w.clock.advance(SignedDuration::from_secs(10));
        availability(&w, &names[..1], Availability::Offline).await;
        w.clock.advance(SignedDuration::from_secs(61));
        let open = list(&w, &max, AlarmFilter::Open).await;
        assert_eq!(open.groups.len(), 1);
        assert_eq!(open.groups[0].alarms.len(), 1);
        assert_ne!(open.groups[0].id, g.id);
    })
    .await;
}

#[tokio::test]
async fn a_blip_is_no_alarm_and_alarms_further_apart_than_the_window_are_separate_items() {
    latchkey_testkit::each_backend("alarm_console_window", |db| async move {
        let w = World::build(&db).await;
        let names = locks(&w, 3).await;
        let max = manager(&w).await;
        availability(&w, &names[..1], Availability::Offline).await;
        w.clock.advance(SignedDuration::from_secs(20));
        availability(&w, &names[..1], Availability::Online).await;
        w.clock.advance(SignedDuration::from_secs(120));
        let v = list(&w, &max, AlarmFilter::All).await;
        assert!(v.groups.is_empty(), "{:#?}", v.groups);
        assert!(v.next_due.is_none());

        forced(&w, &names[1]).await;
        w.clock.advance(SignedDuration::from_secs(61));
        forced(&w, &names[2]).await;
        let v = list(&w, &max, AlarmFilter::Open).await;
        assert_eq!(v.groups.len(), 2, "61 s apart: two items");
        // Newest first.
        assert_eq!(v.groups[0].alarms[0].door_name.as_deref(), Some("Door 2"));
    })
    .await;
}

#[tokio::test]
async fn residents_other_managers_unknown_alarms_and_long_notes_are_refused_and_nothing_changes() {
    latchkey_testkit::each_backend("alarm_console_refused", |db| async move {
        let w = World::build(&db).await;
        let names = locks(&w, 1).await;
        let max = manager(&w).await;
        report(&w, &names[0], r#"{"battery":8}"#).await;
        let g = list(&w, &max, AlarmFilter::Open).await.groups[0].id;
        let rosa = w.principal(w.resident.id).await;
        let olga = outsider(&w).await;
        let events = w.event_count().await;

        // Reading: a resident is not allowed, another property's manager finds nothing.
        assert!(matches!(
            rosa.staff(w.property.id),
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            olga.staff(w.property.id),
            Err(AppError::NotFound(_))
        ));
        // Acknowledging.
        let r = w.app.may_acknowledge_alarms(&rosa, g).await;
        assert!(matches!(r, Err(AppError::Forbidden(_))), "{:?}", r.err());
        let r = w.app.may_acknowledge_alarms(&olga, g).await;
        assert!(matches!(r, Err(AppError::NotFound(_))), "{:?}", r.err());
        let r = w.app.may_acknowledge_alarms(&max, g + 10_000).await;
        assert!(matches!(r, Err(AppError::NotFound(_))), "{:?}", r.err());
        let long = "x".repeat(NOTE_MAX + 1);
        let r = w
            .app
            .acknowledge_alarms(
                w.app.may_acknowledge_alarms(&max, g).await.unwrap(),
                Some(&long),
            )
            .await;
        assert!(
            matches!(&r, Err(AppError::Invalid { field, .. }) if field == "note"),
            "{r:?}"
        );
        let r = w
            .app
            .acknowledge_alarms(
                w.app.may_acknowledge_alarms(&max, g).await.unwrap(),
                Some("nul\u{0}"),
            )
            .await;
        assert!(matches!(r, Err(AppError::Invalid { .. })), "{r:?}");

        assert_eq!(w.event_count().await, events, "nothing was audited");
        let v = list(&w, &max, AlarmFilter::Open).await;
        assert_eq!(v.groups.len(), 1);
        assert_eq!(v.groups[0].alarms[0].state, "open");
        assert_eq!(v.groups[0].alarms[0].acknowledged_by, None);
    })
    .await;
}

/// The next event of a stream that is an acknowledgement, waiting at most `wait`.
async fn next_ack(
    s: &mut latchkey_app::live::LiveStream,
    wait: std::time::Duration,
) -> Option<latchkey_app::live::LiveKind> {
    use latchkey_app::live::{LiveItem, LiveKind};
    tokio::time::timeout(wait, async {
        loop {
            match s.next().await.unwrap() {
                Some(LiveItem::Event(e))
                    if matches!(e.kind, LiveKind::AlarmAcknowledged { .. }) =>
                {
                    return e.kind;
                }
                Some(_) => {}
                None => panic!("the stream ended"),
            }
        }
    })
    .await
    .ok()
}

#[tokio::test]
async fn an_acknowledgement_reaches_the_propertys_staff_live_and_nobody_else() {
    latchkey_testkit::each_backend("alarm_console_live_ack", |db| async move {
        let w = World::build(&db).await;
        let names = locks(&w, 1).await;
        let max = manager(&w).await;
        forced(&w, &names[0]).await;
        let g = list(&w, &max, AlarmFilter::Open).await.groups[0].id;
        let rosa = w.principal(w.resident.id).await;
        let olga = outsider(&w).await;
        let mut staff = w.app.live(max.clone(), None).await.unwrap();
        let mut resident = w.app.live(rosa, None).await.unwrap();
        let mut other = w.app.live(olga, None).await.unwrap();
        w.app
            .acknowledge_alarms(
                w.app.may_acknowledge_alarms(&max, g).await.unwrap(),
                Some("on my way"),
            )
            .await
            .unwrap();
        // Generous: the follower hands the event on at once after the commit.
        let got = next_ack(&mut staff, std::time::Duration::from_secs(10)).await;
        assert_eq!(
            got,
            Some(latchkey_app::live::LiveKind::AlarmAcknowledged {
                alarm_id: g,
                alarms: 1
            })
        );
        // The event has been handed to every stream by now; these two keep it out.
        let short = std::time::Duration::from_millis(300);
        assert_eq!(next_ack(&mut resident, short).await, None, "a resident");
        assert_eq!(
            next_ack(&mut other, short).await,
            None,
            "another property's manager"
        );
    })
    .await;
}
