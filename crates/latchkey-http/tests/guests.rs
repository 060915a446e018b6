//! A guest of a unit is someone staying a while, not the household: they do not learn who holds
//! the unit's spare keys, when those people can be reached, or who of the staff is on call and
//! when — on every backend.

#![allow(clippy::unwrap_used)]

mod common;

use common::fixture;
use latchkey_testkit::each_backend;

#[tokio::test]
async fn a_guest_sees_neither_the_units_spare_key_holders_nor_their_hours() {
    each_backend("guest_spare_keys", |db| async move {
        let f = fixture(&db).await;
        let keys = format!("/api/v1/properties/{}/spare-keys", f.property);
        for role in ["resident", "household", "manager"] {
            let r = f.call(role, "GET", &keys, None).await;
            assert_eq!(r.status.as_u16(), 200);
            assert!(
                r.json
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["holder_id"] == f.household && k["reachable"].is_object()),
                "{role} sees who holds the key and when: {}",
                r.json
            );
        }
        let r = f.call("guest", "GET", &keys, None).await;
        assert_eq!(r.status.as_u16(), 200, "{}", r.json);
        assert_eq!(
            r.json,
            serde_json::json!([]),
            "the guest learns nothing of the unit's keys"
        );
        let before = f.event_count().await;
        let r = f
            .call(
                "guest",
                "DELETE",
                &format!("/api/v1/spare-keys/{}", f.spare_key),
                None,
            )
            .await;
        assert_eq!(
            r.status.as_u16(),
            404,
            "to a guest the key does not exist: {}",
            r.json
        );
        assert_eq!(f.event_count().await, before);
        let r = f.call("resident", "GET", &keys, None).await;
        assert_eq!(r.json[0]["status"], "active", "the key is still there");
    })
    .await;
}

#[tokio::test]
async fn a_guest_holding_a_spare_key_sees_only_their_own() {
    each_backend("guest_own_key", |db| async move {
        let f = fixture(&db).await;
        let keys = format!("/api/v1/properties/{}/spare-keys", f.property);
        let me = f.call("guest", "GET", "/api/v1/auth/me", None).await;
        let guest = me.json["person"]["id"].as_i64().unwrap();
        let r = f
            .call(
                "resident",
                "POST",
                &keys,
                Some(format!(r#"{{"unit_id":{},"holder_id":{guest}}}"#, f.unit)),
            )
            .await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.json);
        let r = f.call("guest", "GET", &keys, None).await;
        let seen = r.json.as_array().unwrap();
        assert_eq!(seen.len(), 1, "{}", r.json);
        assert_eq!(seen[0]["holder_id"], guest);
    })
    .await;
}

#[tokio::test]
async fn a_guest_is_not_told_who_of_the_staff_is_on_call_or_when() {
    each_backend("guest_on_call", |db| async move {
        let f = fixture(&db).await;
        let on_call = format!("/api/v1/properties/{}/on-call", f.property);
        let r = f
            .call(
                "admin",
                "PUT",
                &format!("{on_call}/{}", f.manager),
                Some(r#"{"schedule":{"type":"always"}}"#.into()),
            )
            .await;
        assert_eq!(r.status.as_u16(), 204, "{}", r.json);
        for role in ["resident", "household", "manager"] {
            let r = f.call(role, "GET", &on_call, None).await;
            assert_eq!(r.json[0]["person_id"], f.manager, "{role}: {}", r.json);
        }
        let r = f.call("guest", "GET", &on_call, None).await;
        assert_eq!(r.status.as_u16(), 403, "{}", r.json);
        assert!(
            r.json["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("on call"),
            "the refusal says what is withheld: {}",
            r.json
        );
    })
    .await;
}
