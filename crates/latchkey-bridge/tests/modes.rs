//! Door modes do what their names say, and every lock holds the settings the policy and its
//! door's mode ask for — tested at the virtual lock's door over the embedded broker. Minutes at
//! the door pass on the fleet's own clock ([`latchkey_sim::FleetHandle::advance`]).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::future::Future;
use std::time::Duration;

use common::{Rig, rig};
use latchkey_app::credentials::CredentialInput;
use latchkey_app::directory::{DoorPatch, PropertyPatch};
use latchkey_app::people::{MembershipInput, PersonInput};
use latchkey_core::model::{CredentialKind, DoorMode, Policy, Role};
use latchkey_core::schedule::Schedule;
use latchkey_core::{CredentialId, PersonId};
use latchkey_sim::lock::{Bolt, KeypadOutcome, RefusalReason};

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

fn relock_of(r: &Rig) -> u32 {
    r.fleet
        .with_lock("lock-0", |l, _| (l.snapshot().auto_relock_time, Vec::new()))
        .unwrap()
}

fn opened(r: &Rig, pin: &str) -> bool {
    matches!(
        r.fleet.keypad("lock-0", pin).unwrap(),
        KeypadOutcome::Opened { .. }
    )
}

fn bolt(r: &Rig) -> Bolt {
    r.fleet.bolt("lock-0").unwrap()
}

/// A person of the rig's unit in `role`.
async fn member(r: &Rig, name: &str, role: Role) -> PersonId {
    let input = PersonInput {
        name: name.into(),
        email: Some(format!("{}@example.org", name.to_lowercase())),
        phone: None,
        password: None,
        membership: MembershipInput {
            role,
            unit_id: Some(r.unit),
            valid_from: None,
            valid_until: None,
        },
    };
    r.app
        .create_person(
            r.app
                .may_create_person(&r.admin, r.property, &input)
                .unwrap(),
            input,
        )
        .await
        .unwrap()
        .0
        .id
}

/// A PIN the resident issues to `holder` on the rig's door.
async fn pin_for(r: &Rig, holder: PersonId, pin: &str) -> CredentialId {
    let input = CredentialInput {
        person_id: holder,
        kind: CredentialKind::Pin,
        label: None,
        unit_id: Some(r.unit),
        doors: Some(vec![r.door]),
        schedule: Schedule::Always,
        max_uses: None,
        duress: false,
        pin: Some(pin.into()),
        card_uid: None,
    };
    r.app
        .create_credential(
            r.resident
                .credential_issuer(r.property, input.unit_id)
                .unwrap(),
            input,
        )
        .await
        .unwrap()
        .credential
        .id
}

async fn set_mode(r: &Rig, who: &latchkey_app::authz::Principal, mode: DoorMode, why: &str) {
    let patch = DoorPatch {
        mode: Some(mode),
        reason: (!why.is_empty()).then(|| why.to_owned()),
        ..DoorPatch::default()
    };
    r.app
        .update_door(
            r.app.may_update_door(who, r.door, &patch).await.unwrap(),
            patch,
        )
        .await
        .unwrap();
}

/// Sets the rig's door to passage (staff, with `why`) and waits until the lock is unlocked with
/// auto-relock off.
async fn enter_passage(r: &Rig, why: &str) {
    set_mode(r, &r.admin, DoorMode::Passage, why).await;
    eventually("passage unlocks the door", || async {
        bolt(r) == Bolt::Unlocked
    })
    .await;
    eventually("passage turns auto-relock off", || async {
        relock_of(r) == 0
    })
    .await;
}

/// Takes the rig's lock offline and waits until latchkey sees it so.
async fn take_offline(r: &Rig) {
    r.fleet.set_offline("lock-0", true).unwrap();
    eventually("latchkey sees the lock offline", || async {
        r.app
            .list_devices(&r.admin)
            .await
            .unwrap()
            .iter()
            .any(|d| d.device.friendly_name == "lock-0" && d.device.availability == "offline")
    })
    .await;
}

#[tokio::test]
async fn passage_holds_the_door_unlocked_for_five_minutes_and_leaving_it_locks_again() {
    let r = rig("modes_passage").await;
    let pin = r.pin("48213907").await;
    r.until_status(pin, "set").await;
    eventually("the lock holds the policy's 30 s auto-relock", || async {
        relock_of(&r) == 30
    })
    .await;

    // In normal mode a keypad opening relocks after 30 s: what passage must not do.
    assert!(opened(&r, "48213907"));
    assert_eq!(bolt(&r), Bolt::Unlocked);
    r.fleet.advance(Duration::from_secs(31));
    assert_eq!(bolt(&r), Bolt::Locked, "normal mode relocks");

    enter_passage(&r, "open house for the viewing").await;
    assert!(opened(&r, "48213907"));
    r.fleet.advance(Duration::from_secs(5 * 60));
    assert_eq!(bolt(&r), Bolt::Unlocked, "still unlocked five minutes on");

    set_mode(&r, &r.admin, DoorMode::Normal, "the viewing is over").await;
    eventually("leaving passage locks the door", || async {
        bolt(&r) == Bolt::Locked
    })
    .await;
    eventually(
        "leaving passage restores the policy's auto-relock",
        || async { relock_of(&r) == 30 },
    )
    .await;
    let commands = r.events("lock.command").await;
    let actions: Vec<_> = commands
        .iter()
        .filter(|e| e["why"] == "door_mode")
        .map(|e| (e["action"].clone(), e["mode"].clone()))
        .collect();
    assert_eq!(
        actions,
        [
            (serde_json::json!("lock"), serde_json::json!("normal")),
            (serde_json::json!("unlock"), serde_json::json!("passage")),
        ],
        "each command is recorded with the mode it serves (newest first)"
    );
}

#[tokio::test]
async fn vacation_lets_the_household_in_and_keeps_the_guest_out() {
    let r = rig("modes_vacation").await;
    let hana = member(&r, "Hana", Role::Household).await;
    let gus = member(&r, "Gus", Role::Guest).await;
    let own = r.pin("48213907").await;
    let household = pin_for(&r, hana, "57302918").await;
    let guest = pin_for(&r, gus, "69143027").await;
    for c in [own, household, guest] {
        r.until_status(c, "set").await;
    }

    set_mode(&r, &r.resident, DoorMode::Vacation, "").await;
    eventually("the guest's PIN is disabled on the lock", || async {
        r.fleet.slots("lock-0").unwrap().iter().any(|s| {
            s.pin.expose_secret() == "69143027"
                && s.status == latchkey_sim::lock::SlotStatus::Disabled
        })
    })
    .await;
    // Let the reconciler finish the door, then try every PIN at the door.
    for c in [own, household] {
        r.until_status(c, "set").await;
    }
    assert_eq!(
        r.fleet.keypad("lock-0", "69143027").unwrap(),
        KeypadOutcome::Refused {
            reason: RefusalReason::SlotDisabled
        },
        "the guest stays out"
    );
    for pin in ["48213907", "57302918"] {
        r.fleet.manual("lock-0", true).unwrap();
        assert!(opened(&r, pin), "the household gets in with {pin}");
    }
}

#[tokio::test]
async fn locks_take_the_policys_settings_at_pairing_and_on_a_policy_change() {
    let r = rig("modes_settings").await;
    eventually("the paired lock holds the policy's auto-relock", || async {
        relock_of(&r) == 30
    })
    .await;
    eventually(
        "latchkey shows the lock in step with the policy",
        || async {
            let view = r.app.list_devices(&r.admin).await.unwrap();
            let d = view
                .iter()
                .find(|d| d.device.friendly_name == "lock-0")
                .unwrap();
            d.settings.is_some_and(|s| {
                s.in_step()
                    && s.reported.auto_relock_seconds == Some(30)
                    && s.reported.wrong_code_limit == Some(5)
                    && s.reported.keypad_disable_seconds == Some(60)
            })
        },
    )
    .await;

    let policy = Policy {
        auto_relock_seconds: 45,
        wrong_code_limit: 3,
        keypad_disable_seconds: 120,
        ..Policy::default()
    };
    r.app
        .update_property(
            r.admin.property_changer(r.property, true).unwrap(),
            PropertyPatch {
                policy: Some(policy),
                ..PropertyPatch::default()
            },
        )
        .await
        .unwrap();
    eventually("the policy change reaches the lock", || async {
        let view = r.app.list_devices(&r.admin).await.unwrap();
        let d = view
            .iter()
            .find(|d| d.device.friendly_name == "lock-0")
            .unwrap();
        relock_of(&r) == 45
            && d.settings.is_some_and(|s| {
                s.in_step()
                    && s.reported.wrong_code_limit == Some(3)
                    && s.reported.keypad_disable_seconds == Some(120)
            })
    })
    .await;
}

#[tokio::test]
async fn a_lock_that_comes_back_with_another_setting_is_corrected() {
    let r = rig("modes_settings_return").await;
    eventually("the paired lock holds the policy's auto-relock", || async {
        relock_of(&r) == 30
    })
    .await;
    take_offline(&r).await;
    // Someone resets the lock at its own menu while it is away.
    r.fleet
        .with_lock("lock-0", |l, _| {
            let mut snap = l.snapshot();
            snap.auto_relock_time = 0;
            l.restore(&snap);
            ((), Vec::new())
        })
        .unwrap();
    assert_eq!(relock_of(&r), 0);
    r.fleet.set_offline("lock-0", false).unwrap();
    eventually(
        "the returning lock gets the policy's auto-relock again",
        || async { relock_of(&r) == 30 },
    )
    .await;
}

#[tokio::test]
async fn a_lock_that_restarts_while_its_door_is_in_passage_is_unlocked_again_when_it_returns() {
    let r = rig("modes_passage_return").await;
    enter_passage(&r, "the building is open today").await;

    // The lock loses power and restarts: it comes back locked, with its own auto-relock.
    take_offline(&r).await;
    r.fleet.manual("lock-0", true).unwrap();
    r.fleet
        .with_lock("lock-0", |l, _| {
            let mut snap = l.snapshot();
            snap.auto_relock_time = 30;
            l.restore(&snap);
            ((), Vec::new())
        })
        .unwrap();
    assert_eq!(bolt(&r), Bolt::Locked);
    r.fleet.set_offline("lock-0", false).unwrap();

    eventually("the returning lock is unlocked again", || async {
        bolt(&r) == Bolt::Unlocked
    })
    .await;
    eventually("and its auto-relock is off again", || async {
        relock_of(&r) == 0
    })
    .await;
    r.fleet.advance(Duration::from_secs(5 * 60));
    assert_eq!(
        bolt(&r),
        Bolt::Unlocked,
        "passage holds after the lock's return"
    );
    let by_latchkey = r
        .events("lock.command")
        .await
        .into_iter()
        .filter(|e| e["why"] == "door_mode" && e["action"] == "unlock")
        .count();
    assert_eq!(by_latchkey, 2, "entering passage, and the lock's return");
}
