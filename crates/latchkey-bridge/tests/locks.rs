//! The whole device path against virtual locks: PINs, remote commands, unmanaged codes,
//! a lost write, a forced door, offline safety and a broker restart. The scenarios that are
//! the lock's, whatever it speaks, run once per protocol (`both!`): on a virtual Zigbee2MQTT
//! lock and on a virtual Z-Wave lock behind the Z-Wave JS UI gateway.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::time::Duration;

use common::{Broker, Protocol, Rig, attributed, eventually, revoke, rig_for, rig_on};
use latchkey_app::credentials::CredentialInput;
use latchkey_app::devices::RemoteAction;
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_core::model::{CredentialKind, Role};
use latchkey_core::schedule::Schedule;
use latchkey_sim::KeypadOutcome;

async fn a_pin_reaches_the_lock_opens_it_and_is_attributed_then_revoking_removes_it(p: Protocol) {
    let rig = rig_for("pin_lifecycle", p).await;
    let id = rig.pin("480261").await;
    rig.until_status(id, "set").await;
    let slot = rig.app.credential_locks(&rig.admin, id).await.unwrap()[0]
        .slot
        .unwrap();
    assert_eq!(rig.keypad("480261"), Some(slot as u16));
    attributed(&rig.app, &rig.admin, id).await;

    revoke(&rig.app, &rig.resident, id).await;
    rig.until_status(id, "removed").await;
    assert_eq!(rig.keypad("480261"), None);
    // Nothing the lock said about latchkey's own writes was taken for a stranger's code.
    assert!(
        rig.events("lock.alarm")
            .await
            .iter()
            .all(|d| d["alarm"] != "unmanaged_code")
    );
}
both!(a_pin_reaches_the_lock_opens_it_and_is_attributed_then_revoking_removes_it);

async fn a_write_the_lock_never_got_is_found_and_written_again(p: Protocol) {
    let rig = rig_for("lost_write", p).await;
    rig.drop_next_write();
    let id = rig.pin("592038").await;
    rig.until_status(id, "set").await;
    assert!(rig.keypad("592038").is_some(), "the PIN is on the lock");
}
both!(a_write_the_lock_never_got_is_found_and_written_again);

async fn a_forced_door_raises_the_forced_entry_alarm(p: Protocol) {
    let rig = rig_for("forced", p).await;
    // The bolt is thrown (remote lock, answered by the lock), then the door opens anyway.
    let cmd = rig
        .app
        .remote_command(
            rig.app
                .may_remote_command(
                    &rig.admin,
                    rig.door,
                    RemoteAction::Lock,
                    Some("securing the door before a test of its contact"),
                )
                .await
                .unwrap(),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(cmd.status, "confirmed", "{cmd:?}");
    assert!(rig.bolt_locked());
    rig.force_door();
    eventually("the forced entry alarm", || async {
        rig.events("lock.alarm")
            .await
            .iter()
            .any(|d| d["alarm"] == "forced_entry")
    })
    .await;
}
both!(a_forced_door_raises_the_forced_entry_alarm);

async fn a_burst_of_pins_confirmed_at_once_by_a_fast_lock_is_never_taken_for_strangers_codes(
    p: Protocol,
) {
    // All ten slots of the door at once. The virtual lock answers in well under a millisecond:
    // a confirmation that overtook the reconciler's own record of the write would look like a
    // code latchkey never set. A Z-Wave lock announces each code it takes as it would one set
    // at the keypad; that is no stranger's code either.
    let rig = rig_for("pin_burst", p).await;
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
        assert!(rig.keypad(pin).is_some(), "{pin} opens");
    }
}
both!(a_burst_of_pins_confirmed_at_once_by_a_fast_lock_is_never_taken_for_strangers_codes);

async fn a_remote_unlock_is_answered_when_the_lock_reports_it(p: Protocol) {
    let rig = rig_for("remote_unlock", p).await;
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
    assert!(!rig.bolt_locked());

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
both!(a_remote_unlock_is_answered_when_the_lock_reports_it);

async fn a_code_set_behind_latchkeys_back_is_flagged_and_cleared(p: Protocol) {
    let rig = rig_for("unmanaged", p).await;
    rig.code_behind_latchkeys_back(7, "918273");
    eventually("the stranger's code is flagged and cleared", || async {
        let flagged = rig
            .events("lock.alarm")
            .await
            .iter()
            .any(|d| d["alarm"] == "unmanaged_code" && d["slot"] == 7);
        flagged && rig.keypad("918273").is_none()
    })
    .await;
}
both!(a_code_set_behind_latchkeys_back_is_flagged_and_cleared);

/// Two PINs synced, one of them revoked and removed: what the lock must keep deciding alone.
async fn synced_then_one_revoked(rig: &Rig) {
    let keep = rig.pin("480261").await;
    let gone = rig.pin("735194").await;
    rig.until_status(keep, "set").await;
    rig.until_status(gone, "set").await;
    revoke(&rig.app, &rig.resident, gone).await;
    rig.until_status(gone, "removed").await;
}

fn lock_decides_alone(rig: &Rig) {
    assert!(rig.keypad("480261").is_some(), "a synced PIN still opens");
    assert!(
        rig.keypad("735194").is_none(),
        "a revoked PIN stays refused"
    );
    assert!(rig.keypad("111111").is_none(), "a wrong PIN is refused");
}

async fn with_the_server_stopped_the_lock_still_admits_synced_pins_and_refuses_revoked_ones(
    p: Protocol,
) {
    let mut rig = rig_for("offline_server", p).await;
    synced_then_one_revoked(&rig).await;
    // The server stops: its bridge and reconciler end and its MQTT sessions close.
    rig.stop_server().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    lock_decides_alone(&rig);
}
both!(with_the_server_stopped_the_lock_still_admits_synced_pins_and_refuses_revoked_ones);

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
    lock_decides_alone(&rig);
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
        revoke(&rig.app, &rig.resident, id).await;
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
