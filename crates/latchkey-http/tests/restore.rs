//! The restore endpoints (admins): the restored state and a code found on a lock, listed,
//! adopted with the code its holder types, and the end of the state. On every backend.
#![allow(clippy::unwrap_used)]

mod common;

use common::fixture;
use latchkey_app::secrets::Keys;
use latchkey_core::DoorId;
use latchkey_core::chain::anchor::Anchor;
use latchkey_store::devices::{self as repo, Desired, Slot, SlotStatus};
use latchkey_testkit::each_backend;

#[tokio::test]
async fn an_admin_lists_adopts_and_ends_over_the_api() {
    each_backend("http_restore", |db| async move {
        let f = fixture(&db).await;
        // The history recorded outside the database went further (the fixture's key is all 3s).
        let head = Anchor::parse(&f.app.history_marker().await.unwrap())
            .unwrap()
            .seq;
        let ahead = Anchor::sign(
            Keys::from_master(&[3; 32]).anchor_key(),
            head + 5,
            [1; 32],
            f.app.now(),
        )
        .to_line();
        f.app.check_history(Some(&ahead)).await.unwrap();
        // The lock reported a code in slot 2 that latchkey does not know.
        let mut tx = f.store.write().await.unwrap();
        repo::save_slots(
            tx.conn(),
            &[Slot {
                door_id: DoorId(f.door),
                slot: 2,
                credential_id: None,
                desired: Desired::Empty,
                status: SlotStatus::Unmanaged,
                reason: None,
                attempts: 0,
                next_attempt_at: None,
                updated_at: f.app.now(),
            }],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let r = f.call("admin", "GET", "/api/v1/restore", None).await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["restored"]["marker_seq"], head + 5);
        assert_eq!(r.json["unknown_codes"][0]["slot"], 2);
        assert_eq!(r.json["unknown_codes"][0]["door_id"], f.door);

        let adopt = |pin: &str| {
            Some(format!(
                r#"{{"door_id":{},"slot":2,"person_id":{},"pin":"{pin}"}}"#,
                f.door, f.resident
            ))
        };
        let r = f
            .call("admin", "POST", "/api/v1/restore/adopt", adopt("12"))
            .await;
        assert_eq!(r.status, 422, "{}", r.json);
        assert_eq!(r.json["field"], "pin");
        let r = f
            .call("admin", "POST", "/api/v1/restore/adopt", adopt("583920"))
            .await;
        assert_eq!(r.status, 201, "{}", r.json);
        let id = r.json["credential_id"].as_i64().unwrap();
        let r = f
            .call(
                "admin",
                "GET",
                &format!("/api/v1/credentials/{id}/locks"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json[0]["status"], "set");
        assert_eq!(r.json[0]["slot"], 2);
        let r = f.call("admin", "GET", "/api/v1/restore", None).await;
        assert_eq!(r.json["unknown_codes"], serde_json::json!([]));

        let r = f.call("admin", "POST", "/api/v1/restore/end", None).await;
        assert_eq!(r.status, 204, "{}", r.json);
        let r = f.call("admin", "GET", "/api/v1/restore", None).await;
        assert!(r.json["restored"].is_null(), "{}", r.json);
        let r = f.call("admin", "POST", "/api/v1/restore/end", None).await;
        assert_eq!(r.status, 409, "{}", r.json);
    })
    .await;
}
