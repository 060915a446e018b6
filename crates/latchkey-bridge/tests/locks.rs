//! The whole device path against virtual locks: PINs, remote commands, unmanaged codes,
//! offline safety and a broker restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Broker, Rig, connected, rig, rig_on};
use latchkey_app::credentials::CredentialInput;
use latchkey_app::devices::RemoteAction;
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_core::model::{CredentialKind, CredentialStatus, Role};
use latchkey_core::schedule::Schedule;
use latchkey_mqtt::{QoS, Session, SessionOptions};
use latchkey_sim::{FleetHandle, KeypadOutcome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_reaches_the_lock_opens_it_and_is_attributed_then_revoking_removes_it() {
    let rig = rig("pin_lifecycle").await;
    let id = rig.pin("480261").await;
    rig.until_status(id, "set").await;
    let slot = rig.app.credential_locks(&rig.admin, id).await.unwrap()[0]
        .slot
        .unwrap();
    assert_eq!(
        rig.fleet.keypad("lock-0", "480261").unwrap(),
        KeypadOutcome::Opened { slot: slot as u16 }
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let granted = rig.events("access.granted").await;
        if granted
            .iter()
            .any(|d| d["credential_id"] == serde_json::json!(id.0) && d["method"] == "keypad")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the keypad opening was never attributed: {granted:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    rig.app
        .set_credential_status(
            rig.app
                .may_set_credential_status(&rig.resident, id, CredentialStatus::Revoked)
                .await
                .unwrap(),
        )
        .await
        .unwrap();
    rig.until_status(id, "removed").await;
    assert!(matches!(
        rig.fleet.keypad("lock-0", "480261").unwrap(),
        KeypadOutcome::Refused { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_pins_confirmed_at_once_by_a_fast_lock_is_never_taken_for_strangers_codes() {
    // All ten slots of the door at once. The virtual lock answers in well under a millisecond:
    // a confirmation that overtook the reconciler's own record of the write would look like a
    // code latchkey never set.
    let rig = rig("pin_burst").await;
    let pins: Vec<String> = (0..10)
        .map(|i| format!("{}", 402_917 + i * 7_919))
        .collect();
    let mut ids = Vec::new();
    for pin in &pins {
        ids.push(rig.pin(pin).await);
    }
    for id in &ids {
        rig.until_status(*id, "set").await;
    }
    let strangers: Vec<_> = rig
        .events("lock.alarm")
        .await
        .into_iter()
        .filter(|d| d["alarm"] == "unmanaged_code")
        .collect();
    assert!(strangers.is_empty(), "{strangers:?}");
    for pin in &pins {
        assert!(matches!(
            rig.fleet.keypad("lock-0", pin).unwrap(),
            KeypadOutcome::Opened { .. }
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_unlock_is_answered_when_the_lock_reports_it() {
    let rig = rig("remote_unlock").await;
    let prop = rig
        .app
        .get_door(&rig.admin, rig.door)
        .await
        .unwrap()
        .property_id;
    let unit = rig
        .app
        .get_door(&rig.admin, rig.door)
        .await
        .unwrap()
        .unit_id;
    {
        let input = CredentialInput {
            person_id: rig.resident.id(),
            kind: CredentialKind::PhoneKey,
            label: None,
            unit_id: unit,
            doors: None,
            schedule: Schedule::Always,
            max_uses: None,
            duress: false,
            pin: None,
            card_uid: None,
        };
        rig.app.create_credential(
            rig.resident.credential_issuer(prop, input.unit_id).unwrap(),
            input,
        )
    }
    .await
    .unwrap();
    let resident = rig.app.terminal_principal(rig.resident.id()).await.unwrap();
    let cmd = rig
        .app
        .remote_command(
            rig.app
                .may_remote_command(&resident, rig.door, RemoteAction::Unlock, None)
                .await
                .unwrap(),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(cmd.status, "confirmed", "{cmd:?}");
    assert_eq!(
        rig.fleet.bolt("lock-0").unwrap(),
        latchkey_sim::Bolt::Unlocked
    );

    // A manager may not open a unit's door without an emergency reason.
    let m = {
        let input = PersonInput {
            name: "Mona".into(),
            email: Some("mona@example.org".into()),
            phone: None,
            password: None,
            membership: MembershipInput {
                role: Role::Manager,
                unit_id: None,
                valid_from: None,
                valid_until: None,
            },
        };
        rig.app.create_person(
            rig.app.may_create_person(&rig.admin, prop, &input).unwrap(),
            input,
        )
    }
    .await
    .unwrap()
    .0;
    let manager = rig.app.terminal_principal(m.id).await.unwrap();
    let refused = rig
        .app
        .may_remote_command(&manager, rig.door, RemoteAction::Unlock, None)
        .await;
    assert!(
        matches!(refused, Err(latchkey_app::AppError::Forbidden(_))),
        "{:?}",
        refused.map(|c| c.action())
    );
    let emergency = rig
        .app
        .remote_command(
            rig.app
                .may_remote_command(
                    &manager,
                    rig.door,
                    RemoteAction::Lock,
                    Some("water leak reported by the neighbour"),
                )
                .await
                .unwrap(),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(emergency.status, "confirmed");
    assert!(
        !rig.events("lock.emergency_command").await.is_empty(),
        "an emergency command is audited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_set_behind_latchkeys_back_is_flagged_and_cleared() {
    let rig = rig("unmanaged").await;
    // Another controller on the same broker (MQTT 5 sessions use the broker's v5 listener).
    let mut opts = SessionOptions::new(rig.broker.server_url(), "rogue");
    opts.subscriptions = vec![];
    let (rogue, _rx) = Session::start(opts).unwrap();
    connected(&mut rogue.state()).await;
    rogue
        .publish(
            "zigbee2mqtt/lock-0/set",
            br#"{"pin_code":{"user":7,"user_type":"unrestricted","user_enabled":true,"pin_code":"918273"}}"#.to_vec(),
            QoS::AtMostOnce,
            false,
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let alarms = rig.events("lock.alarm").await;
        let flagged = alarms
            .iter()
            .any(|d| d["alarm"] == "unmanaged_code" && d["slot"] == 7);
        let cleared = matches!(
            rig.fleet.keypad("lock-0", "918273").unwrap(),
            KeypadOutcome::Refused { .. }
        );
        if flagged && cleared {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "flagged={flagged} cleared={cleared}: {alarms:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two PINs synced, one of them revoked and removed: what the lock must keep deciding alone.
async fn synced_then_one_revoked(rig: &Rig) {
    let keep = rig.pin("480261").await;
    let gone = rig.pin("735194").await;
    rig.until_status(keep, "set").await;
    rig.until_status(gone, "set").await;
    rig.app
        .set_credential_status(
            rig.app
                .may_set_credential_status(&rig.resident, gone, CredentialStatus::Revoked)
                .await
                .unwrap(),
        )
        .await
        .unwrap();
    rig.until_status(gone, "removed").await;
}

fn lock_decides_alone(fleet: &FleetHandle) {
    assert!(
        matches!(
            fleet.keypad("lock-0", "480261").unwrap(),
            KeypadOutcome::Opened { .. }
        ),
        "a synced PIN still opens"
    );
    assert!(
        matches!(
            fleet.keypad("lock-0", "735194").unwrap(),
            KeypadOutcome::Refused { .. }
        ),
        "a revoked PIN stays refused"
    );
    assert!(
        matches!(
            fleet.keypad("lock-0", "111111").unwrap(),
            KeypadOutcome::Refused { .. }
        ),
        "a wrong PIN is refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_server_stopped_the_lock_still_admits_synced_pins_and_refuses_revoked_ones() {
    let rig = rig("offline_server").await;
    synced_then_one_revoked(&rig).await;
    // The server stops: its bridge and reconciler end and its MQTT session closes.
    for t in &rig.tasks {
        t.abort();
    }
    rig.session.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    lock_decides_alone(&rig.fleet);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_broker_stopped_the_lock_still_admits_synced_pins_and_refuses_revoked_ones() {
    let Some(broker) = Broker::mosquitto() else {
        return;
    };
    let mut rig = rig_on("offline_broker", broker, Duration::ZERO).await;
    synced_then_one_revoked(&rig).await;
    rig.broker.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !rig.fleet.is_connected(),
        "the fleet noticed the broker is gone"
    );
    lock_decides_alone(&rig.fleet);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_in_a_burst_of_changes_loses_no_command_and_doubles_none() {
    let Some(broker) = Broker::mosquitto() else {
        return;
    };
    let mut rig = rig_on("broker_restart", broker, Duration::ZERO).await;
    let pins = [
        "480261", "735194", "592038", "816405", "263917", "947150", "380462", "614927",
    ];
    let mut ids = Vec::new();
    for pin in &pins[..4] {
        ids.push(rig.pin(pin).await);
    }
    rig.broker.kill();
    // While the broker is down, the changes go on: more PINs, and two revoked.
    for pin in &pins[4..] {
        ids.push(rig.pin(pin).await);
    }
    for id in [ids[1], ids[5]] {
        rig.app
            .set_credential_status(
                rig.app
                    .may_set_credential_status(&rig.resident, id, CredentialStatus::Revoked)
                    .await
                    .unwrap(),
            )
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    rig.broker.restart();
    for (i, id) in ids.iter().enumerate() {
        let revoked = i == 1 || i == 5;
        rig.until_status(*id, if revoked { "removed" } else { "set" })
            .await;
    }
    for (i, pin) in pins.iter().enumerate() {
        let revoked = i == 1 || i == 5;
        let outcome = rig.fleet.keypad("lock-0", pin).unwrap();
        assert_eq!(
            matches!(outcome, KeypadOutcome::Opened { .. }),
            !revoked,
            "PIN #{i}: {outcome:?}"
        );
    }
    let enabled = rig
        .fleet
        .slots("lock-0")
        .unwrap()
        .into_iter()
        .filter(|s| s.status == latchkey_sim::SlotStatus::Enabled)
        .count();
    assert_eq!(enabled, 6, "each active PIN is on the lock exactly once");
}
