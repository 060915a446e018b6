//! What locks report becomes events, alarms and statuses; what hostile devices send is dropped
//! without stopping anything.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Rig, connected, rig, rig_with};
use latchkey_app::devices::RemoteAction;
use latchkey_mqtt::{QoS, Session, SessionOptions};
use latchkey_sim::KeypadOutcome;

async fn eventually<F: Fn() -> Fut, Fut: Future<Output = bool>>(what: &str, f: F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn alarm_raised(rig: &Rig, name: &str) -> bool {
    rig.events("lock.alarm")
        .await
        .iter()
        .any(|d| d["alarm"] == name)
}

/// The admin's remote command on the rig's door, whatever the lock answers.
async fn command(rig: &Rig, action: RemoteAction, why: &str) {
    let may = rig
        .app
        .may_remote_command(&rig.admin, rig.door, action, Some(why))
        .await
        .unwrap();
    let _ = rig
        .app
        .remote_command(may, Duration::from_secs(1))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jams_forced_doors_low_batteries_and_offline_locks_raise_alarms() {
    let rig = rig("alarms").await;
    rig.fleet.set_jam("lock-0", true).unwrap();
    command(&rig, RemoteAction::Unlock, "testing a jammed bolt").await;
    eventually("a jam, recorded as such", || async {
        rig.events("lock.jammed")
            .await
            .iter()
            .any(|d| d["severity"] == "critical")
    })
    .await;
    assert!(
        rig.events("lock.jam_cleared").await.is_empty(),
        "nothing cleared while the bolt is stuck"
    );
    rig.fleet.set_jam("lock-0", false).unwrap();
    command(&rig, RemoteAction::Lock, "the bolt was freed").await;
    eventually(
        "the jam, cleared without saying which way the bolt went",
        || async {
            rig.events("lock.jam_cleared")
                .await
                .iter()
                .any(|d| d["lock"] == "lock-0" && d.get("lock_state").is_none())
        },
    )
    .await;
    rig.fleet.force_door("lock-0").unwrap();
    eventually("a forced-entry alarm", || {
        alarm_raised(&rig, "forced_entry")
    })
    .await;
    rig.fleet.set_battery("lock-0", 12).unwrap();
    eventually("a low-battery alarm", || alarm_raised(&rig, "low_battery")).await;
    rig.fleet.set_offline("lock-0", true).unwrap();
    eventually("an offline alarm", || alarm_raised(&rig, "offline")).await;
    let alarms = rig.events("lock.alarm").await;
    assert!(
        alarms.iter().all(|a| a["severity"].is_string()),
        "every alarm has a severity: {alarms:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wrong_code_limit_disables_the_keypad_and_a_duress_code_raises_a_silent_alarm() {
    let rig = rig("keypad_alarms").await;
    let id = rig.pin("480261").await;
    rig.until_status(id, "set").await;
    for _ in 0..5 {
        let _ = rig.fleet.keypad("lock-0", "999111").unwrap();
    }
    eventually("the wrong-code alarm", || {
        alarm_raised(&rig, "wrong_code_limit")
    })
    .await;
    eventually("the door's keypad marked disabled", || async {
        rig.app
            .get_door(&rig.admin, rig.door)
            .await
            .unwrap()
            .keypad_disabled_until
            .is_some()
    })
    .await;
    assert_eq!(
        rig.fleet.keypad("lock-0", "480261").unwrap(),
        KeypadOutcome::Disabled
    );

    let rig = rig_with("duress", Duration::ZERO).await;
    let id = rig.pin("592038").await;
    rig.until_status(id, "set").await;
    let slot = rig.app.credential_locks(&rig.admin, id).await.unwrap()[0]
        .slot
        .unwrap();
    rig.fleet.set_duress("lock-0", slot as u16, true).unwrap();
    assert!(
        matches!(
            rig.fleet.keypad("lock-0", "592038").unwrap(),
            KeypadOutcome::Opened { .. }
        ),
        "a duress code opens normally"
    );
    eventually("a duress alarm naming the credential", || async {
        rig.events("lock.alarm")
            .await
            .iter()
            .any(|d| d["alarm"] == "duress" && d["credential_id"] == serde_json::json!(id.0))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_past_its_deadline_is_unconfirmed_and_a_late_report_confirms_it() {
    let rig = rig_with("deadline", Duration::from_secs(3)).await;
    let cmd = rig
        .app
        .remote_command(
            rig.app
                .may_remote_command(
                    &rig.admin,
                    rig.door,
                    RemoteAction::Unlock,
                    Some("checking the deadline path"),
                )
                .await
                .unwrap(),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    assert_eq!(cmd.status, "unconfirmed", "{cmd:?}");
    eventually("the late report confirms the command", || async {
        rig.app
            .get_lock_command(&rig.admin, cmd.id)
            .await
            .unwrap()
            .status
            == "confirmed"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_out_removes_every_pin_and_the_receipt_shows_what_the_lock_confirmed() {
    let rig = rig("move_out").await;
    let a = rig.pin("480261").await;
    let b = rig.pin("735194").await;
    rig.until_status(a, "set").await;
    rig.until_status(b, "set").await;
    let m = rig
        .app
        .list_memberships(
            &rig.admin,
            rig.app
                .get_door(&rig.admin, rig.door)
                .await
                .unwrap()
                .property_id,
        )
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.person_id == rig.resident.id())
        .unwrap();
    rig.app
        .end_membership(
            rig.app.may_end_membership(&rig.admin, m.id).await.unwrap(),
            None,
        )
        .await
        .unwrap();
    rig.until_status(a, "removed").await;
    rig.until_status(b, "removed").await;
    let receipt = rig.app.move_out_receipt(&rig.admin, m.id).await.unwrap();
    assert_eq!(receipt.len(), 2, "{receipt:?}");
    assert!(
        receipt
            .iter()
            .all(|r| r.status == "removed" && r.confirmed_at.is_some()),
        "{receipt:?}"
    );
    assert!(matches!(
        rig.fleet.keypad("lock-0", "480261").unwrap(),
        KeypadOutcome::Refused { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_credentials_than_slots_are_reported() {
    let rig = rig("capacity").await;
    let pins = [
        "480261", "735194", "592038", "816405", "263917", "947150", "380462", "614927", "529183",
        "706135", "841926",
    ];
    let mut ids = Vec::new();
    for p in pins {
        ids.push(rig.pin(p).await);
    }
    for id in &ids[..10] {
        rig.until_status(*id, "set").await;
    }
    let last = rig.app.credential_locks(&rig.admin, ids[10]).await.unwrap();
    assert_eq!(last[0].status, "pending", "{last:?}");
    assert!(!rig.events("lock.capacity_exceeded").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_payloads_are_counted_and_dropped_and_ingestion_goes_on() {
    let rig = rig("hostile").await;
    let mut opts = SessionOptions::new(rig.broker.server_url(), "hostile-device");
    opts.subscriptions = vec![];
    let (evil, _rx) = Session::start(opts).unwrap();
    connected(&mut evil.state()).await;
    let deep = format!("{}{}", "[".repeat(2_000), "]".repeat(2_000));
    let huge = format!(r#"{{"state":"LOCK","x":"{}"}}"#, "a".repeat(200_000));
    for payload in [
        b"not json at all".to_vec(),
        deep.into_bytes(),
        huge.into_bytes(),
        vec![0xff, 0xfe, 0x00],
    ] {
        evil.publish("zigbee2mqtt/lock-0", payload, QoS::AtMostOnce, false)
            .await
            .unwrap();
    }
    evil.publish(
        "zigbee2mqtt/lock-0",
        br#"{"battery":"87","action_user":"x","state":42}"#.to_vec(),
        QoS::AtMostOnce,
        false,
    )
    .await
    .unwrap();
    evil.publish(
        "zigbee2mqtt/ghost",
        br#"{"state":"LOCK"}"#.to_vec(),
        QoS::AtMostOnce,
        false,
    )
    .await
    .unwrap();
    for i in 0..2_000 {
        evil.publish(
            "zigbee2mqtt/lock-0",
            format!(r#"{{"linkquality":{}}}"#, i % 255).into_bytes(),
            QoS::AtMostOnce,
            false,
        )
        .await
        .unwrap();
    }
    eventually("the malformed messages are counted", || async {
        rig.stats.rejected.load(Ordering::Relaxed) >= 4
    })
    .await;
    eventually("the unknown device is counted", || async {
        rig.stats.unknown_devices.load(Ordering::Relaxed) >= 1
    })
    .await;
    // Ingestion is alive: a PIN still reaches the lock and is confirmed.
    let id = rig.pin("480261").await;
    rig.until_status(id, "set").await;
}
