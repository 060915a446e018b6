//! Seeing before writing, against virtual locks (docs/ARCHITECTURE.md, decisions 31–32): a slot
//! latchkey believes free is read before anything is written to it, so a code put on the lock
//! while latchkey was not listening is never overwritten; and in the restored state no code is
//! cleared until an admin ends it.

mod common;

use std::time::Duration;

use common::rig;
use latchkey_app::secrets::Keys;
use latchkey_core::chain::anchor::Anchor;
use latchkey_core::model::CredentialStatus;
use latchkey_sim::KeypadOutcome;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_never_goes_into_a_slot_the_lock_filled_while_latchkey_was_away() {
    let mut rig = rig("probe_before_write").await;
    rig.stop_server().await;
    // While no server listens, a code lands in slot 0 (the first one latchkey would take).
    rig.fleet
        .with_lock("lock-0", |l, now| {
            (
                (),
                l.handle_set(
                    &json!({"pin_code":{"user":0,"user_type":"unrestricted","user_enabled":true,"pin_code":"620517"}}),
                    now,
                ),
            )
        })
        .expect("lock exists");
    rig.start_server().await;
    let id = rig.pin("480261").await;
    rig.until_status(id, "set").await;
    let slots = rig
        .app
        .credential_locks(&rig.admin, id)
        .await
        .expect("status");
    assert_eq!(slots[0].slot, Some(1), "{slots:?}");
    assert_eq!(
        rig.fleet.keypad("lock-0", "480261").expect("lock exists"),
        KeypadOutcome::Opened { slot: 1 }
    );
    // The stranger's code was found by the read: flagged (and, by the default policy, cleared
    // — it was never latchkey's), never overwritten by the new PIN.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let alarms = rig.events("lock.alarm").await;
        if alarms
            .iter()
            .any(|d| d["alarm"] == "unmanaged_code" && d["slot"] == 0)
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{alarms:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_restored_state_a_revoked_pin_stays_on_the_lock_until_an_admin_ends_it() {
    let rig = rig("restored_holds_clears").await;
    let id = rig.pin("480261").await;
    rig.until_status(id, "set").await;
    // The history recorded outside the database went further than this log (the rig's master
    // key is all nines).
    let head = Anchor::parse(&rig.app.history_marker().await.expect("marker"))
        .expect("parses")
        .seq;
    let ahead = Anchor::sign(
        Keys::from_master(&[9; 32]).anchor_key(),
        head + 10,
        [3; 32],
        rig.app.now(),
    )
    .to_line();
    rig.app.check_history(Some(&ahead)).await.expect("check");
    rig.app
        .set_credential_status(
            rig.app
                .may_set_credential_status(&rig.resident, id, CredentialStatus::Revoked)
                .await
                .expect("may revoke"),
        )
        .await
        .expect("revoke");
    // The reconciler holds the removal: the slot may hold someone else's newer code by now.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let s = rig
            .app
            .credential_locks(&rig.admin, id)
            .await
            .expect("status");
        if s[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("held"))
        {
            assert_eq!(s[0].status, "removing");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        rig.fleet.keypad("lock-0", "480261").expect("lock exists"),
        KeypadOutcome::Opened { slot: 0 },
        "a code was cleared in the restored state"
    );
    // The admin ends the state: the removal goes out.
    rig.app
        .end_restored_state(rig.app.may_review_restore(&rig.admin).expect("admin"))
        .await
        .expect("end");
    rig.until_status(id, "removed").await;
    assert!(matches!(
        rig.fleet.keypad("lock-0", "480261").expect("lock exists"),
        KeypadOutcome::Refused { .. }
    ));
}
