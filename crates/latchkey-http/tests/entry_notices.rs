//! Staff reach a unit's door through the API only under an entry notice or as an emergency, on
//! every backend. (No lock bridge runs here: a command that is allowed answers 503 after it was
//! recorded; one that is refused answers 403 and records nothing.)

#![allow(clippy::unwrap_used)]

mod common;

use common::fixture;
use latchkey_testkit::each_backend;

fn notice_body(unit: i64, from: &str, until: &str) -> String {
    format!(
        r#"{{"unit_id":{unit},"purpose":"replace the boiler valve","window_from":"{from}","window_until":"{until}"}}"#
    )
}

#[tokio::test]
async fn a_manager_cannot_hold_a_key_to_a_unit_door_or_open_it_at_will() {
    each_backend("http_entry_at_will", |db| async move {
        let f = fixture(&db).await;
        let before = f.event_count().await;
        let key = f
            .call(
                "manager",
                "POST",
                &format!("/api/v1/properties/{}/credentials", f.property),
                Some(format!(
                    r#"{{"person_id":{},"kind":"phone_key","doors":[{}]}}"#,
                    f.manager, f.door
                )),
            )
            .await;
        assert_eq!(key.status.as_u16(), 422, "{}", key.json);
        assert_eq!(key.json["field"], "doors");
        assert!(
            key.json["detail"]
                .as_str()
                .unwrap()
                .contains("entry notice"),
            "{}",
            key.json
        );
        let open = f
            .call(
                "manager",
                "POST",
                &format!("/api/v1/doors/{}/unlock", f.door),
                Some("{}".into()),
            )
            .await;
        assert_eq!(open.status.as_u16(), 403, "{}", open.json);
        assert!(
            open.json["detail"].as_str().unwrap().contains("window"),
            "the refusal names the notice's window: {}",
            open.json
        );
        assert_eq!(f.event_count().await, before, "nothing was written");
    })
    .await;
}

#[tokio::test]
async fn a_notice_needs_the_notice_period_and_opens_the_door_only_in_its_window() {
    each_backend("http_entry_window", |db| async move {
        let f = fixture(&db).await;
        let notices = format!("/api/v1/properties/{}/entry-notices", f.property);
        // The fixture's clock reads 2026-11-26T12:00:00Z; the notice period is 24 hours.
        let before = f.event_count().await;
        let soon = f
            .call(
                "manager",
                "POST",
                &notices,
                Some(notice_body(
                    f.unit,
                    "2026-11-26T14:00:00Z",
                    "2026-11-26T15:00:00Z",
                )),
            )
            .await;
        assert_eq!(soon.status.as_u16(), 422, "{}", soon.json);
        assert_eq!(soon.json["field"], "window_from");
        assert_eq!(f.event_count().await, before, "nothing was written");

        let made = f
            .call(
                "manager",
                "POST",
                &notices,
                Some(notice_body(
                    f.unit,
                    "2026-11-27T13:00:00Z",
                    "2026-11-27T15:00:00Z",
                )),
            )
            .await;
        assert_eq!(made.status.as_u16(), 201, "{}", made.json);
        let id = made.json["id"].as_i64().unwrap();
        assert_eq!(made.json["doors"], serde_json::json!([f.door]));
        let seen = f.call("household", "GET", &notices, None).await;
        assert_eq!(seen.status.as_u16(), 200);
        assert!(
            seen.json
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["id"] == id && n["purpose"] == "replace the boiler valve"),
            "the household sees the notice: {}",
            seen.json
        );

        let unlock = format!("/api/v1/doors/{}/unlock", f.door);
        f.clock.set("2026-11-27T14:00:00Z".parse().unwrap());
        let inside = f.call("manager", "POST", &unlock, Some("{}".into())).await;
        assert_eq!(
            inside.status.as_u16(),
            503,
            "allowed inside the window (no bridge here): {}",
            inside.json
        );
        f.clock.set("2026-11-27T15:00:00Z".parse().unwrap());
        let after = f.call("manager", "POST", &unlock, Some("{}".into())).await;
        assert_eq!(
            after.status.as_u16(),
            403,
            "refused once the window is over: {}",
            after.json
        );
        let events = f
            .call(
                "admin",
                "GET",
                "/api/v1/events?kind=entry_notice.opened",
                None,
            )
            .await;
        assert_eq!(events.status.as_u16(), 200, "{}", events.json);
        assert!(
            events.json.to_string().contains("entry_notice.opened"),
            "the opening is in the audit log: {}",
            events.json
        );
    })
    .await;
}
