//! Notification preferences and deliveries over the API, on every backend: every bad
//! preference body gets a clear problem and changes nothing; a bad query or id is a problem;
//! a dead letter is listed and sent again once.

#![allow(clippy::unwrap_used)]

mod common;

use common::fixture;
use latchkey_testkit::each_backend;

const PREFS: &str = "/api/v1/me/notification-preferences";
const GOOD: &str = r#"{"default_channels":["email"],"kinds":{"door.mode_changed":[]},"quiet_hours":{"from":"22:00","until":"07:00","timezone":"Europe/Berlin"}}"#;

#[tokio::test]
async fn every_bad_preference_body_gets_a_clear_problem_and_changes_nothing() {
    each_backend("prefs_bad", |db| async move {
        let f = fixture(&db).await;
        let ok = f.call("resident", "PUT", PREFS, Some(GOOD.into())).await;
        assert_eq!(ok.status.as_u16(), 200, "{}", ok.json);
        let stored = f.call("resident", "GET", PREFS, None).await.json;
        assert_eq!(stored["quiet_hours"]["from"], "22:00");
        for (body, status, needle) in [
            ("{\"default_channels\": ", 400, "not valid JSON"),
            (r#"{"default_channels":["sms"],"kinds":{},"quiet_hours":null}"#, 422, "sms"),
            (r#"{"default_channels":["email"],"kinds":{},"quiet_hours":null,"volume":11}"#, 422, "volume"),
            (r#"{"default_channels":["email"],"kinds":{"Door Mode":[]},"quiet_hours":null}"#, 422, "kinds.Door Mode"),
            (r#"{"default_channels":["email"],"kinds":{"lockout.guardian_request":[]},"quiet_hours":null}"#, 422, "security notice"),
            (r#"{"default_channels":["email","email"],"kinds":{},"quiet_hours":null}"#, 422, "once"),
            (r#"{"default_channels":["email"],"kinds":{},"quiet_hours":{"from":"25:00","until":"07:00","timezone":"Europe/Berlin"}}"#, 422, "quiet_hours.from"),
            (r#"{"default_channels":["email"],"kinds":{},"quiet_hours":{"from":"22:00","until":"7pm","timezone":"Europe/Berlin"}}"#, 422, "HH:MM"),
            (r#"{"default_channels":["email"],"kinds":{},"quiet_hours":{"from":"22:00","until":"22:00","timezone":"Europe/Berlin"}}"#, 422, "differ"),
            (r#"{"default_channels":["email"],"kinds":{},"quiet_hours":{"from":"22:00","until":"07:00","timezone":"Mars/Olympus"}}"#, 422, "time zone"),
            (r#"{"default_channels":["email"],"kinds":{},"quiet_hours":{"from":"22:00","until":"07:00"}}"#, 422, "timezone"),
            (r#"[]"#, 422, ""),
        ] {
            let before = f.event_count().await;
            let r = f.call("resident", "PUT", PREFS, Some(body.into())).await;
            assert_eq!(r.status.as_u16(), status, "{body}: {}", r.json);
            assert!(r.content_type.starts_with("application/problem+json"), "{body}");
            let detail = r.json["detail"].as_str().unwrap_or_default();
            assert!(detail.contains(needle), "{body}: `{detail}` should mention `{needle}`");
            assert_eq!(f.event_count().await, before, "{body}: wrote events");
            let now = f.call("resident", "GET", PREFS, None).await.json;
            assert_eq!(now, stored, "{body}: the preferences changed");
        }
    })
    .await;
}

#[tokio::test]
async fn dead_letters_are_listed_for_staff_and_redelivered_once() {
    each_backend("deliveries_api", |db| async move {
        let f = fixture(&db).await;
        let list = format!("/api/v1/properties/{}/deliveries", f.property);
        let dead = f.call("manager", "GET", &list, None).await;
        assert_eq!(dead.status.as_u16(), 200);
        let ids: Vec<i64> = dead
            .json
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_i64().unwrap())
            .collect();
        assert!(ids.contains(&f.dead_letter));
        let row = dead
            .json
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == f.dead_letter)
            .unwrap();
        assert_eq!(row["state"], "dead");
        assert!(row["last_error"].as_str().unwrap().contains("550"));
        for (path, needle) in [
            (format!("{list}?state=lost"), "state"),
            (format!("{list}?colour=red"), "colour"),
        ] {
            let r = f.call("manager", "GET", &path, None).await;
            assert_eq!(r.status.as_u16(), 400, "{path}: {}", r.json);
            assert!(
                r.json["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(needle),
                "{}",
                r.json
            );
        }
        let bad = f
            .call("manager", "POST", "/api/v1/deliveries/abc/redeliver", None)
            .await;
        assert_eq!(bad.status.as_u16(), 400);
        let missing = f
            .call(
                "manager",
                "POST",
                "/api/v1/deliveries/999999/redeliver",
                None,
            )
            .await;
        assert_eq!(missing.status.as_u16(), 404);
        let path = format!("/api/v1/deliveries/{}/redeliver", f.dead_letter);
        let again = f.call("manager", "POST", &path, None).await;
        assert_eq!(again.status.as_u16(), 200, "{}", again.json);
        assert_eq!(again.json["state"], "pending");
        let dead = f.call("manager", "GET", &list, None).await;
        assert!(
            dead.json
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["id"] != f.dead_letter)
        );
    })
    .await;
}
