//! A slot latchkey believes free is read before anything is written to it (docs/ARCHITECTURE.md,
//! decision 31), against virtual locks: a code put on the lock while latchkey was not listening
//! is never overwritten.

mod common;

use std::time::Duration;

use common::rig;
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
