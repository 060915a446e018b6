//! Opening an incident from the console's incidents page, driven in-process on every backend:
//! the manager reports a door for service and sees it listed at once; a forced door replaces
//! its PINs as a forced entry does; every wrong field (no door, a door of another property, no
//! kind, an empty or long note, one already open) brings the form back as typed with that field
//! named and opens nothing; a forged form, residents, guests and another property's manager
//! open nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod console;

use axum::http::StatusCode;
use latchkey_core::model::DoorKind;
use latchkey_testkit::each_backend;

use console::*;

async fn incidents(w: &World) -> Vec<latchkey_app::store::resolution::Incident> {
    w.app.incidents(&w.root, w.property).await.unwrap()
}

fn body(csrf: &str, property: i64, door: &str, kind: &str, note: &str) -> String {
    format!(
        "csrf={csrf}&property={property}&door={door}&kind={kind}&note={}",
        note.replace(' ', "+")
    )
}

#[tokio::test]
async fn the_manager_reports_a_door_for_service_and_it_is_listed_at_once() {
    each_backend("web_incident_open", |db| async move {
        let w = world(&db).await;
        let mona = w.signed_in("mona@example.org").await;
        let page = w.get("/console/incidents", &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("No door needs repair or service."));
        assert!(page.body.contains("action=\"/console/incidents\""));
        assert!(
            page.body
                .contains(&format!("value=\"{}\">Lobby</option>", w.lobby.0))
        );
        assert!(!page.body.contains("Otto&#39;s gate") && !page.body.contains("Otto's gate"));
        let csrf = form_token(&page.body);
        let res = w
            .post(
                "/console/incidents",
                &mona,
                body(
                    &csrf,
                    w.property.0,
                    &w.lobby.0.to_string(),
                    "service",
                    "closer arm loose",
                ),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        let all = incidents(&w).await;
        assert_eq!(all.len(), 1);
        assert_eq!((all[0].kind.as_str(), all[0].door_id), ("service", w.lobby));
        let at = res
            .headers
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(at.contains(&format!("opened={}", all[0].id)), "{at}");
        let page = w.get(&at, &mona).await;
        assert!(
            page.body
                .contains(&format!("Incident {} is open.", all[0].id))
        );
        assert!(
            page.body.contains("Marked for service: Lobby"),
            "{}",
            page.body
        );
        assert!(page.body.contains("Reported: closer arm loose"));
        assert!(!page.body.contains("No door needs repair or service."));
        // Its own page, and closing it, as for any incident.
        let one = w
            .get(&format!("/console/incidents/{}", all[0].id), &mona)
            .await;
        assert!(one.body.contains("closer arm loose"), "{}", one.body);
    })
    .await;
}

#[tokio::test]
async fn a_forced_door_reported_from_the_console_is_marked_compromised() {
    each_backend("web_incident_forced", |db| async move {
        let w = world(&db).await;
        let mona = w.signed_in("mona@example.org").await;
        let csrf = form_token(&w.get("/console/incidents", &mona).await.body);
        let res = w
            .post(
                "/console/incidents",
                &mona,
                body(
                    &csrf,
                    w.property.0,
                    &w.unit_door.0.to_string(),
                    "compromised",
                    "frame split, found on the rounds",
                ),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        let all = incidents(&w).await;
        assert_eq!(
            (all[0].kind.as_str(), all[0].door_id),
            ("compromised", w.unit_door)
        );
        let page = w
            .get(
                res.headers.get("location").unwrap().to_str().unwrap(),
                &mona,
            )
            .await;
        assert!(page.body.contains("Compromised: 3B entry"));
        assert!(
            page.body
                .contains("Forced: frame split, found on the rounds")
        );
        // As a forced entry the lock reports: the door is recorded compromised, which replaces
        // its PINs and tells the household.
        let compromised = w
            .app
            .list_events(
                &w.root,
                Some(w.property),
                latchkey_app::store::audit::EventFilter {
                    kind_prefix: Some("door.compromised".into()),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(compromised.len(), 1);
        assert_eq!(compromised[0].subject, format!("door:{}", w.unit_door.0));
    })
    .await;
}

#[tokio::test]
async fn every_wrong_field_comes_back_named_and_opens_nothing() {
    each_backend("web_incident_bad", |db| async move {
        let w = world(&db).await;
        let mona = w.signed_in("mona@example.org").await;
        let csrf = form_token(&w.get("/console/incidents", &mona).await.body);
        let p = w.property.0;
        let lobby = w.lobby.0.to_string();
        let third = building(&w.app, &w.root, "Third House").await;
        let far = door(&w.app, &w.root, third, "Far gate", DoorKind::Garage, None).await;
        let long = "x".repeat(201);
        let cases: Vec<(String, &str, &str)> = vec![
            (
                body(&csrf, p, "", "service", "loose"),
                "door",
                "choose the door from the list",
            ),
            (
                body(&csrf, p, "abc", "service", "loose"),
                "door",
                "choose the door from the list",
            ),
            (
                body(&csrf, p, "999999", "service", "loose"),
                "door",
                "choose the door from the list",
            ),
            (
                body(&csrf, p, &far.0.to_string(), "service", "loose"),
                "door",
                "choose the door from the list",
            ),
            (
                body(&csrf, p, &lobby, "", "loose"),
                "kind",
                "choose what is wrong from the list",
            ),
            (
                body(&csrf, p, &lobby, "fire", "loose"),
                "kind",
                "choose what is wrong from the list",
            ),
            (
                body(&csrf, p, &lobby, "service", "   "),
                "note",
                "1 to 200 characters",
            ),
            (
                body(&csrf, p, &lobby, "service", &long),
                "note",
                "1 to 200 characters",
            ),
        ];
        for (form, field, says) in &cases {
            let res = w.post("/console/incidents", &mona, form.clone()).await;
            assert_eq!(
                res.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{form}: {}",
                res.body
            );
            assert!(res.body.contains("Nothing was opened"), "{form}");
            let beside = &res.body[res
                .body
                .find(&format!("id=\"e-{field}\">"))
                .unwrap_or_else(|| panic!("{form}: no reason beside {field}: {}", res.body))..];
            assert!(
                beside[..beside.find("</p>").unwrap()].contains(says),
                "{form}: {beside}"
            );
            assert!(res.body.contains("aria-invalid=\"true\""), "{form}");
            assert!(incidents(&w).await.is_empty(), "{form} opened an incident");
        }
        // What was typed comes back.
        let res = w
            .post(
                "/console/incidents",
                &mona,
                body(&csrf, p, &lobby, "fire", "closer arm loose"),
            )
            .await;
        assert!(res.body.contains("closer arm loose</textarea>"));
        assert!(
            res.body
                .contains(&format!("value=\"{lobby}\" selected>Lobby"))
        );
        // One open service incident per door.
        let ok = w
            .post(
                "/console/incidents",
                &mona,
                body(&csrf, p, &lobby, "service", "closer arm loose"),
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER);
        let again = w
            .post(
                "/console/incidents",
                &mona,
                body(&csrf, p, &lobby, "service", "still loose"),
            )
            .await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            again.body.contains("already has an open service incident"),
            "{}",
            again.body
        );
        assert_eq!(incidents(&w).await.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_forged_form_residents_guests_and_another_propertys_manager_open_nothing() {
    each_backend("web_incident_refused", |db| async move {
        let w = world(&db).await;
        let p = w.property.0;
        let lobby = w.lobby.0.to_string();
        let mona = w.signed_in("mona@example.org").await;
        let res = w
            .post(
                "/console/incidents",
                &mona,
                body("forged", p, &lobby, "service", "loose"),
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        for who in ["vera@example.org", "gil@example.org", "otto@example.org"] {
            let cookie = w.signed_in(who).await;
            let page = w
                .get(&format!("/console/incidents?property={p}"), &cookie)
                .await;
            assert!(
                matches!(page.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{who}: {}",
                page.status
            );
            assert!(!page.body.contains("Report a door"), "{who}");
            let csrf = form_token(&w.get("/", &cookie).await.body);
            for door in [lobby.clone(), w.unit_door.0.to_string()] {
                let res = w
                    .post(
                        "/console/incidents",
                        &cookie,
                        body(&csrf, p, &door, "compromised", "forced"),
                    )
                    .await;
                assert!(
                    matches!(res.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                    "{who}: {}",
                    res.status
                );
            }
            assert!(incidents(&w).await.is_empty(), "{who} opened an incident");
        }
    })
    .await;
}
