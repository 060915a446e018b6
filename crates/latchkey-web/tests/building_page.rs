//! The manager's console pages, driven in-process on every backend: the building page lists
//! every door with its state and sync, filtered by floor and kind; the door page shows settings,
//! events within the privacy rule (a unit's comings and goings only for a named reason, which
//! the household sees), entry notices and the emergency open, which needs a reason. A resident,
//! a guest and the manager of another property get no console page and none of the data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::StatusCode;
use latchkey_app::access::AccessQuery;
use latchkey_app::devices::IngestItem;
use latchkey_app::entry::EntryNoticeInput;
use latchkey_app::store::audit::EventFilter;
use latchkey_core::lock::{Availability, DeviceMessage};
use latchkey_core::model::DoorKind;
use latchkey_testkit::each_backend;

mod console;

use console::*;

#[tokio::test]
async fn the_manager_sees_every_door_with_its_state_and_filters_by_floor_and_kind() {
    each_backend("web_building", |db| async move {
        let w = world(&db).await;
        let mona = w.signed_in("mona@example.org").await;
        let page = w.get("/building", &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Door House: doors"));
        assert!(
            page.body
                .contains(&format!("id=\"door-{}\"", w.unit_door.0))
        );
        assert!(page.body.contains(&format!("id=\"door-{}\"", w.lobby.0)));
        assert!(page.body.contains("Unit 3B, floor 3"));
        assert!(page.body.contains("No report from the lock yet"));
        assert!(page.body.contains("No lock paired"));
        assert!(
            page.body.contains("data-stream="),
            "the page follows the live stream"
        );
        assert!(!page.body.contains("Otto"), "another building's door");
        assert!(!page.body.contains(" style="), "no inline style");
        let floor = w.get("/building?floor=3", &mona).await;
        assert!(floor.body.contains("3B entry"));
        assert!(!floor.body.contains(">Lobby<"));
        let shared = w.get("/building?floor=shared", &mona).await;
        assert!(shared.body.contains(">Lobby<"));
        assert!(!shared.body.contains("3B entry"));
        let kind = w.get("/building?kind=building_entrance", &mona).await;
        assert!(kind.body.contains(">Lobby<"));
        assert!(!kind.body.contains("3B entry"));
        let bad = w.get("/building?kind=window", &mona).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let bad = w.get("/building?floor=top", &mona).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    })
    .await;
}

#[tokio::test]
async fn a_building_of_more_than_200_doors_opens_on_the_doors_needing_attention() {
    each_backend("web_building_large", |db| async move {
        let w = world(&db).await;
        for i in 0..200 {
            let name = format!("Store room {i}");
            door(&w.app, &w.root, w.property, &name, DoorKind::Amenity, None).await;
        }
        // 202 doors; the unit's lock is paired and goes off the network.
        w.app
            .pair_lock(
                w.app.may_pair_lock(&w.root, w.unit_door).await.unwrap(),
                Some("lock-3b"),
            )
            .await
            .unwrap();
        w.app
            .ingest(vec![IngestItem {
                identity: None,
                message: DeviceMessage::availability("lock-3b", Availability::Offline),
            }])
            .await
            .unwrap();
        let mona = w.signed_in("mona@example.org").await;
        let row = format!("id=\"door-{}\"", w.unit_door.0);
        let page = w.get("/building", &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains(&row), "the offline lock's door is drawn");
        assert!(page.body.contains("Offline: the lock does not answer"));
        assert!(page.body.contains("1 of 202 doors need attention"));
        assert!(page.body.contains("Needing attention (1)"));
        assert!(page.body.contains("Floor 3 (1 needs attention)"));
        assert!(
            page.body.contains("1 offline"),
            "the summary counts every door"
        );
        assert!(
            !page.body.contains(">Lobby<"),
            "no lock, nothing to attend to"
        );
        assert!(!page.body.contains("Store room 7<"));
        assert!(
            page.body.contains("data-stream="),
            "the rows follow the live stream"
        );
        // Every door is one choice away, a floor or the shared doors another.
        let all = w.get("/building?floor=all", &mona).await;
        assert!(all.body.contains("202 of 202 doors"));
        assert!(all.body.contains(&row));
        assert!(all.body.contains(">Lobby<"));
        assert!(all.body.contains(">Store room 199<"));
        let shared = w.get("/building?floor=shared", &mona).await;
        assert!(shared.body.contains(">Lobby<"));
        assert!(shared.body.contains("201 of 202 doors"));
        assert!(!shared.body.contains(&row));
        let third = w.get("/building?floor=3", &mona).await;
        assert!(third.body.contains("1 of 202 doors"));
        assert!(third.body.contains(&row));
        // The kind filter applies to the doors needing attention too.
        let none = w
            .get("/building?floor=attention&kind=building_entrance", &mona)
            .await;
        assert_eq!(none.status, StatusCode::OK);
        assert!(none.body.contains("No door needs attention"));
        assert!(!none.body.contains(&row));
        let bad = w.get("/building?floor=everything", &mona).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        // Someone else's building stays theirs.
        let otto = w.signed_in("otto@example.org").await;
        let theirs = w
            .get(
                &format!("/building?property={}&floor=all", w.property.0),
                &otto,
            )
            .await;
        assert!(!theirs.body.contains("Store room"));
    })
    .await;
}

#[tokio::test]
async fn a_units_comings_and_goings_show_on_the_door_page_only_for_a_named_reason() {
    each_backend("web_door_privacy", |db| async move {
        let w = world(&db).await;
        // Vera asks whether her own credentials open her door: a personal event of her door.
        let vera = w.app.terminal_principal(w.vera).await.unwrap();
        let q = AccessQuery {
            credential_id: None,
            person_id: Some(w.vera),
            door_id: w.unit_door,
            at: None,
            method: None,
            emergency_override: false,
        };
        w.app
            .check_access(w.app.may_check_access(&vera, q).await.unwrap())
            .await
            .unwrap();
        let mona = w.signed_in("mona@example.org").await;
        let path = format!("/building/doors/{}", w.unit_door.0);
        let page = w.get(&path, &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("3B entry"));
        assert!(page.body.contains("Emergency open"));
        assert!(page.body.contains("Relocks after"));
        assert!(
            !page.body.contains("Vera Resident"),
            "no reason, no comings and goings"
        );
        // A visit announced for tomorrow is a reason; the page lists it, and reads with it.
        let now = w.app.now();
        let notice = w
            .app
            .create_entry_notice(
                w.root.staff(w.property).unwrap(),
                EntryNoticeInput {
                    unit_id: w.unit,
                    doors: None,
                    purpose: "Smoke detector check".into(),
                    window_from: now + jiff::SignedDuration::from_hours(25),
                    window_until: now + jiff::SignedDuration::from_hours(26),
                },
            )
            .await
            .unwrap();
        let page = w.get(&path, &mona).await;
        assert!(page.body.contains("Smoke detector check"));
        assert!(page.body.contains("(coming)"));
        let with = w
            .get(&format!("{path}?reason=entry_notice:{}", notice.id), &mona)
            .await;
        assert_eq!(with.status, StatusCode::OK, "{}", with.body);
        assert!(with.body.contains("Vera Resident"), "read with a reason");
        // The household sees that staff read it.
        let seen = w
            .app
            .list_events(
                &vera,
                Some(w.property),
                EventFilter {
                    kind_prefix: Some("privacy.activity_viewed".into()),
                    limit: 10,
                    ..EventFilter::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(seen.len(), 1);
        let bad = w.get(&format!("{path}?reason=case:999"), &mona).await;
        assert_eq!(bad.status, StatusCode::NOT_FOUND, "no such reason");
        assert!(!bad.body.contains("Vera Resident"));
    })
    .await;
}

#[tokio::test]
async fn the_emergency_open_needs_a_reason_and_the_form_token() {
    each_backend("web_door_emergency", |db| async move {
        let w = world(&db).await;
        let mona = w.signed_in("mona@example.org").await;
        let path = format!("/building/doors/{}", w.lobby.0);
        let page = w.get(&path, &mona).await;
        let csrf = form_token(&page.body);
        let commands = || async {
            w.app
                .list_events(
                    &w.root,
                    Some(w.property),
                    EventFilter {
                        kind_prefix: Some("lock.".into()),
                        limit: 10,
                        ..EventFilter::default()
                    },
                )
                .await
                .unwrap()
                .len()
        };
        let target = format!("{path}/emergency");
        let open = |body: String| w.post(&target, &mona, body);
        let none = open(format!("csrf={csrf}&reason=&password={PASSWORD}")).await;
        assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(none.body.contains("Reason"), "{}", none.body);
        let short = open(format!("csrf={csrf}&reason=fire&password={PASSWORD}")).await;
        assert_eq!(
            short.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            short.body
        );
        let forged = open(format!(
            "csrf=nope&reason=Fire+alarm+on+floor+2&password={PASSWORD}"
        ))
        .await;
        assert_ne!(forged.status, StatusCode::SEE_OTHER);
        // With a reason the use case runs: this door has no lock to send it to.
        let real = open(format!(
            "csrf={csrf}&reason=Fire+alarm+on+floor+2&password={PASSWORD}"
        ))
        .await;
        assert_eq!(
            real.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            real.body
        );
        assert!(real.body.contains("no paired lock"), "{}", real.body);
        assert_eq!(commands().await, 0, "nothing was sent");
    })
    .await;
}

#[tokio::test]
async fn residents_guests_and_another_propertys_staff_get_no_console_page() {
    each_backend("web_console_denied", |db| async move {
        let w = world(&db).await;
        for email in ["vera@example.org", "gil@example.org", "otto@example.org"] {
            let cookie = w.signed_in(email).await;
            for path in [
                format!("/building?property={}", w.property.0),
                format!("/building/doors/{}", w.unit_door.0),
                format!("/building/doors/{}", w.lobby.0),
                format!("/building/doors/{}?reason=case:1", w.unit_door.0),
            ] {
                let page = w.get(&path, &cookie).await;
                assert!(
                    page.status == StatusCode::FORBIDDEN || page.status == StatusCode::NOT_FOUND,
                    "{email} {path}: {}",
                    page.status
                );
                assert!(!page.body.contains("Emergency open"), "{email} {path}");
                assert!(!page.body.contains("Codes on the lock"), "{email} {path}");
                assert!(!page.body.contains("Unit 3B, floor 3"), "{email} {path}");
            }
            // Nor may they send the emergency open.
            let home = w.get("/security", &cookie).await;
            let csrf = form_token(&home.body);
            let sent = w
                .post(
                    &format!("/building/doors/{}/emergency", w.lobby.0),
                    &cookie,
                    format!("csrf={csrf}&reason=Fire+alarm+on+floor+2&password={PASSWORD}"),
                )
                .await;
            assert!(
                sent.status == StatusCode::FORBIDDEN || sent.status == StatusCode::NOT_FOUND,
                "{email}: {}",
                sent.status
            );
            // Without `property`, the building page is only of a building they staff.
            let own = w.get("/building", &cookie).await;
            if email.starts_with("otto") {
                assert_eq!(own.status, StatusCode::OK);
                assert!(
                    own.body.contains("Otto&#x27;s gate") || own.body.contains("Otto&#39;s gate")
                );
                assert!(!own.body.contains("Lobby"));
            } else {
                assert_eq!(own.status, StatusCode::FORBIDDEN, "{email}");
            }
        }
    })
    .await;
}
