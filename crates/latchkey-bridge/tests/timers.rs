//! Schedule edges reach the lock at their instant, a returning lock is caught up first, and an
//! opening that should not have happened is an alarm — against virtual locks over the embedded
//! broker, with the reconciler's safety-net sweep set to ten minutes so that only the timers
//! and the catch-up can be what acted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use common::{Broker, Rig, rig_sweeping};
use jiff::{SignedDuration, Timestamp};
use latchkey_app::ShiftedClock;
use latchkey_core::model::CredentialStatus;
use latchkey_core::schedule::{Day, Schedule, WeeklyWindow};
use latchkey_mqtt::{BrokerOptions, EmbeddedBroker};
use latchkey_sim::lock::KeypadOutcome;

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

/// Monday 2026-05-04 in Berlin (UTC+2): the rig's property is in Europe/Berlin.
fn berlin(h: i8, m: i8, s: i8) -> Timestamp {
    jiff::tz::TimeZone::get("Europe/Berlin")
        .unwrap()
        .to_timestamp(jiff::civil::date(2026, 5, 4).at(h, m, s, 0))
        .unwrap()
}

/// A rig whose clock reads `start` now and runs in real time, sweeping only every ten minutes.
async fn rig_at(test: &str, start: Timestamp) -> Rig {
    let broker = EmbeddedBroker::start(BrokerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..BrokerOptions::default()
    })
    .unwrap();
    rig_sweeping(
        test,
        Broker::Embedded(broker),
        Duration::ZERO,
        Arc::new(ShiftedClock::starting_at(start)),
        Vec::new(),
        0,
        Duration::from_secs(600),
    )
    .await
}

/// Sleeps until the rig's clock reads `at`.
async fn until_clock(rig: &Rig, at: Timestamp) {
    let wait = at.duration_since(rig.app.now());
    assert!(
        wait > SignedDuration::ZERO,
        "the test's setup took longer than its head start; the edge at {at} already passed"
    );
    tokio::time::sleep(Duration::try_from(wait).unwrap()).await;
}

fn weekly(start: (i8, i8), end: (i8, i8)) -> Schedule {
    Schedule::Weekly {
        windows: vec![WeeklyWindow {
            days: vec![Day::Mon],
            start: jiff::civil::time(start.0, start.1, 0, 0),
            end: jiff::civil::time(end.0, end.1, 0, 0),
        }],
    }
}

fn opened(o: &KeypadOutcome) -> bool {
    matches!(o, KeypadOutcome::Opened { .. })
}

const SECOND: SignedDuration = SignedDuration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closing_window_opens_a_second_before_its_end_and_refuses_a_second_after() {
    let edge = berlin(9, 0, 0);
    let rig = rig_at("edge_close", edge - SignedDuration::from_secs(8)).await;
    let id = rig.pin_on("480261", weekly((8, 0), (9, 0)), None).await;
    rig.until_status(id, "set").await;
    until_clock(&rig, edge - SECOND).await;
    let before = rig.fleet.keypad("lock-0", "480261").unwrap();
    until_clock(&rig, edge + SECOND).await;
    let after = rig.fleet.keypad("lock-0", "480261").unwrap();
    assert!(
        opened(&before),
        "inside the window the PIN opens: {before:?}"
    );
    assert!(
        !opened(&after),
        "a second after the window the PIN is refused: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opening_window_refuses_a_second_before_its_start_and_opens_a_second_after() {
    let edge = berlin(9, 0, 0);
    let rig = rig_at("edge_open", edge - SignedDuration::from_secs(8)).await;
    let id = rig.pin_on("480261", weekly((9, 0), (10, 0)), None).await;
    rig.until_status(id, "set").await;
    until_clock(&rig, edge - SECOND).await;
    let before = rig.fleet.keypad("lock-0", "480261").unwrap();
    until_clock(&rig, edge + SECOND).await;
    let after = rig.fleet.keypad("lock-0", "480261").unwrap();
    assert!(
        !opened(&before),
        "before the window the PIN is refused: {before:?}"
    );
    assert!(
        opened(&after),
        "a second into the window the PIN opens: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_code_is_on_the_lock_until_its_end_and_refused_a_second_after() {
    let edge = berlin(9, 0, 0);
    let rig = rig_at("edge_one_time", edge - SignedDuration::from_secs(8)).await;
    let day = jiff::civil::date(2026, 5, 4);
    let schedule = Schedule::OneTime {
        from: day.at(8, 0, 0, 0),
        until: day.at(9, 0, 0, 0),
    };
    let id = rig.pin_on("480261", schedule, Some(1)).await;
    rig.until_status(id, "set").await;
    until_clock(&rig, edge - SECOND).await;
    // Typing it would use it up; a second before the end the lock holds it enabled.
    let slots = rig.fleet.slots("lock-0").unwrap();
    let enabled = slots.iter().any(|s| {
        s.pin.expose_secret() == "480261" && s.status == latchkey_sim::lock::SlotStatus::Enabled
    });
    until_clock(&rig, edge + SECOND).await;
    let after = rig.fleet.keypad("lock-0", "480261").unwrap();
    assert!(
        enabled,
        "a second before its end the code is enabled on the lock: {slots:?}"
    );
    assert!(
        !opened(&after),
        "a second after its end the code is refused: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_move_out_takes_effect_at_its_instant_and_ends_the_credential() {
    let edge = berlin(9, 0, 0);
    let rig = rig_at("edge_move_out", edge - SignedDuration::from_secs(8)).await;
    let id = rig.pin("480261").await;
    rig.until_status(id, "set").await;
    let property = rig
        .app
        .get_door(&rig.admin, rig.door)
        .await
        .unwrap()
        .property_id;
    let m = rig
        .app
        .list_memberships(&rig.admin, property)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.person_id == rig.resident.id())
        .unwrap();
    rig.app
        .end_membership(
            rig.app.may_end_membership(&rig.admin, m.id).await.unwrap(),
            Some(edge),
        )
        .await
        .unwrap();
    until_clock(&rig, edge - SECOND).await;
    let before = rig.fleet.keypad("lock-0", "480261").unwrap();
    until_clock(&rig, edge + SECOND).await;
    let after = rig.fleet.keypad("lock-0", "480261").unwrap();
    assert!(
        opened(&before),
        "before the move-out the PIN opens: {before:?}"
    );
    assert!(
        !opened(&after),
        "a second after the move-out the PIN is refused: {after:?}"
    );
    let c = rig.app.get_credential(&rig.admin, id).await.unwrap();
    assert_eq!(
        c.status,
        CredentialStatus::Revoked,
        "the move-out ended the credential"
    );
    rig.until_status(id, "removed").await;
    let receipt = rig.app.move_out_receipt(&rig.admin, m.id).await.unwrap();
    assert_eq!(receipt.len(), 1, "{receipt:?}");
    assert!(
        receipt[0].status == "removed" && receipt[0].confirmed_at.is_some(),
        "the receipt lists the confirmed removal: {receipt:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_offline_during_a_move_out_refuses_the_old_pin_soon_after_it_returns() {
    let rig = rig_at("offline_move_out", Timestamp::now()).await;
    let id = rig.pin("480261").await;
    rig.until_status(id, "set").await;
    rig.fleet.set_offline("lock-0", true).unwrap();
    let property = rig
        .app
        .get_door(&rig.admin, rig.door)
        .await
        .unwrap()
        .property_id;
    let m = rig
        .app
        .list_memberships(&rig.admin, property)
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
    // The removal uses up its attempts (0.5 s doubling, six of them: about 16 s).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !rig
        .events("lock.slot_failed")
        .await
        .iter()
        .any(|e| e["still_trying"] == true)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "staff are told the removal is overdue"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let s = rig.app.credential_locks(&rig.admin, id).await.unwrap();
    assert!(
        s.iter().all(|l| l.status == "removing"),
        "a removal is never given up while the lock is away: {s:?}"
    );
    rig.fleet.set_offline("lock-0", false).unwrap();
    let back = tokio::time::Instant::now();
    // A generous bound for a slow machine; the target (2 s) is measured, not asserted.
    let deadline = back + Duration::from_secs(10);
    loop {
        let o = rig.fleet.keypad("lock-0", "480261").unwrap();
        if !opened(&o) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the old PIN still opens 10 s after the lock returned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "old PIN refused {:?} after the lock returned",
        back.elapsed()
    );
    rig.until_status(id, "removed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_that_opens_for_a_revoked_pin_raises_an_alarm_told_to_the_household() {
    let rig = rig_at("revoked_opening", Timestamp::now()).await;
    let id = rig.pin("480261").await;
    rig.until_status(id, "set").await;
    let slot = rig.app.credential_locks(&rig.admin, id).await.unwrap()[0]
        .slot
        .unwrap();
    common::revoke(&rig.app, &rig.admin, id).await;
    rig.until_status(id, "removed").await;
    // The lock loses the removal: the code is back in its slot and nobody was told.
    rig.fleet
        .with_lock("lock-0", |l, now| {
            let msg = serde_json::json!({ "pin_code": {
                "user": slot, "user_type": "unrestricted", "user_enabled": true, "pin_code": "480261",
            }});
            l.handle_set(&msg, now);
            ((), Vec::new())
        })
        .unwrap();
    let o = rig.fleet.keypad("lock-0", "480261").unwrap();
    assert!(opened(&o), "the lock that missed the removal opens: {o:?}");
    eventually("an unexpected-opening alarm", || async {
        rig.events("lock.alarm")
            .await
            .iter()
            .any(|a| a["alarm"] == "unexpected_opening" && a["why"] == "revoked")
    })
    .await;
    let alarm = rig
        .events("lock.alarm")
        .await
        .into_iter()
        .find(|a| a["alarm"] == "unexpected_opening")
        .unwrap();
    assert_eq!(alarm["severity"], "critical");
    assert_eq!(alarm["credential_id"], serde_json::json!(id));
    let granted = rig.events("access.granted").await;
    assert!(
        !granted
            .iter()
            .any(|g| g["credential_id"] == serde_json::json!(id)),
        "the opening is not recorded as granted: {granted:?}"
    );
    let mut conn = rig.store.read().await.unwrap();
    let told = latchkey_store::lockout::notifications_of_person_kind(
        &mut conn,
        rig.resident.id(),
        "lock.unexpected_opening",
    )
    .await
    .unwrap();
    assert_eq!(told.len(), 1, "the household is told: {told:?}");
    drop(conn);
    // And the code goes from the lock again.
    eventually("the code is cleared again", || async {
        !opened(&rig.fleet.keypad("lock-0", "480261").unwrap())
    })
    .await;
}
