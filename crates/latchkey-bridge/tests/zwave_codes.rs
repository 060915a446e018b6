//! Codes on virtual Z-Wave locks through the gateway session, over a real broker: confirmed
//! only by reading the slot back, a dropped write found and written again, masked codes
//! assumed, dead nodes offline without a flood of calls, sleeping nodes waited for, disabled
//! and messaging codes set with their status in one Set, and a waiting code superseded by its
//! clear.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod zwave_common;

use std::time::{Duration, Instant};

use latchkey_bridge::zwave::{FailReason, Outcome, ZwaveCommand, ZwaveEvent};
use latchkey_mqtt::{QoS, Session, SessionOptions};
use latchkey_sim::zwave::ZwaveSlot;
use latchkey_zwave::{Pin, Report, SlotStatus};
use zwave_common::{ZRig, connected, lock, quick, rig};

fn slot(status: u8, code: &str) -> Option<ZwaveSlot> {
    Some(ZwaveSlot {
        status,
        code: code.into(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_is_confirmed_by_reading_the_slot_back_and_a_clear_by_reading_it_empty() {
    let mut rig = rig("zw_confirm", vec![lock(12, |_| {})], quick()).await;
    let listed = rig
        .seen
        .iter()
        .find_map(|e| match e {
            ZwaveEvent::Nodes(n) => Some(n.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(listed.len(), 1, "the controller is not a lock: {listed:?}");
    assert_eq!((listed[0].id, listed[0].capacity), (12, 10));
    assert_eq!(listed[0].product_label, "Virtual deadbolt");
    assert_eq!(listed[0].manufacturer_id, Some(59));

    let (outcome, writes) = rig.run(ZRig::set_code(12, 3, "0427")).await;
    assert_eq!((outcome, writes), (Outcome::Confirmed, 1));
    assert_eq!(
        rig.sim.slot(12, 3),
        slot(1, "0427"),
        "the leading zero survived"
    );
    let calls = rig.calls_about(12);
    assert_eq!(
        calls,
        vec![
            ("writeValue".into(), "userCode".into()),
            ("pollValue".into(), "userIdStatus".into()),
            ("pollValue".into(), "userCode".into()),
        ],
        "written once, then read back: status, then code"
    );

    let (outcome, _) = rig.run(ZwaveCommand::ClearSlot { node: 12, slot: 3 }).await;
    assert_eq!(outcome, Outcome::Confirmed);
    assert_eq!(rig.sim.slot(12, 3), slot(0, ""));

    // Bad slots are refused before anything is sent.
    let before = rig.calls_about(12).len();
    assert_eq!(
        rig.run(ZRig::set_code(12, 11, "1234")).await.0,
        Outcome::Failed(FailReason::NoSuchSlot)
    );
    assert_eq!(
        rig.run(ZRig::set_code(12, 0, "1234")).await.0,
        Outcome::Failed(FailReason::NoSuchSlot)
    );
    assert_eq!(
        rig.run(ZRig::set_code(77, 1, "1234")).await.0,
        Outcome::Failed(FailReason::UnknownNode)
    );
    assert_eq!(rig.calls_about(12).len(), before);

    // No call was retained: a new subscriber gets none of them.
    let mut late = SessionOptions::new(rig.broker.internal_url(), "late-reader");
    late.subscriptions = vec![("zwave/_CLIENTS/+/api/+/set".into(), QoS::AtLeastOnce)];
    let (h, mut rx) = Session::start(late).unwrap();
    connected(&mut h.state()).await;
    let got = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await;
    assert!(got.is_err(), "a call was retained: {got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_first_write_is_found_by_the_read_back_and_written_again() {
    let mut rig = rig(
        "zw_dropped",
        vec![lock(12, |l| l.quirks.drop_first_write = true)],
        quick(),
    )
    .await;
    let (outcome, writes) = rig.run(ZRig::set_code(12, 4, "5511")).await;
    assert_eq!(outcome, Outcome::Confirmed);
    assert_eq!(
        writes, 2,
        "the first write did not land and was found by the read-back"
    );
    assert_eq!(rig.sim.slot(12, 4), slot(1, "5511"));
    let writes_sent = rig
        .calls_about(12)
        .iter()
        .filter(|(api, _)| api == "writeValue")
        .count();
    assert_eq!(writes_sent, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_that_masks_its_codes_gets_them_assumed_never_confirmed() {
    let mut rig = rig(
        "zw_masked",
        vec![lock(12, |l| {
            l.quirks.masked_codes = true;
            l.quirks.empty_code = "0000".into();
        })],
        quick(),
    )
    .await;
    let (outcome, writes) = rig.run(ZRig::set_code(12, 2, "9090")).await;
    assert_eq!((outcome, writes), (Outcome::Assumed, 1));
    assert_eq!(rig.sim.slot(12, 2), slot(1, "9090"));
    // Its cleared slot reads `0000` with status Available: empty, so the clear is confirmed.
    let (outcome, _) = rig.run(ZwaveCommand::ClearSlot { node: 12, slot: 2 }).await;
    assert_eq!(outcome, Outcome::Confirmed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_is_offline_after_one_ping_and_is_not_flooded() {
    let mut rig = rig(
        "zw_dead",
        vec![lock(12, |_| {}), lock(13, |l| l.quirks.dead = true)],
        quick(),
    )
    .await;
    let mut jobs = Vec::new();
    for s in 1..=5 {
        jobs.push(rig.submit(ZRig::set_code(13, s, "2468")).await);
    }
    for j in jobs {
        assert_eq!(rig.outcome(j).await.0, Outcome::Offline);
    }
    let calls = rig.calls_about(13);
    assert_eq!(
        calls,
        vec![("pingNode".into(), String::new())],
        "one ping for five commands, no write"
    );
    assert_eq!(rig.sim.slot(13, 1), slot(0, ""));
    // The other lock is not held up by it.
    assert_eq!(
        rig.run(ZRig::set_code(12, 1, "2468")).await.0,
        Outcome::Confirmed
    );

    // A lock that dies after being listed: the write fails, a ping says dead, offline.
    rig.control(12, "dead", "on").await;
    let (outcome, writes) = rig.run(ZRig::set_code(12, 2, "1357")).await;
    assert_eq!((outcome, writes), (Outcome::Offline, 1));
    assert!(
        rig.reports(12)
            .contains(&latchkey_zwave::Report::Availability(
                latchkey_zwave::Availability::Dead
            ))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_node_is_waited_for_one_call_at_a_time() {
    let wake = Duration::from_millis(1500);
    let mut rig = rig(
        "zw_sleep",
        vec![lock(14, |l| l.quirks.sleeping = Some(wake))],
        quick(),
    )
    .await;
    let started = Instant::now();
    let (outcome, writes) = rig.run(ZRig::set_code(14, 1, "3141")).await;
    assert_eq!((outcome, writes), (Outcome::Confirmed, 1));
    // Three calls (write, two reads), each waiting for a wake-up: a lower bound only.
    assert!(started.elapsed() >= wake * 3, "{:?}", started.elapsed());
    assert_eq!(
        rig.calls_about(14).len(),
        3,
        "no call repeated while the node slept"
    );
    assert!(
        rig.reports(14)
            .contains(&latchkey_zwave::Report::Availability(
                latchkey_zwave::Availability::Awake
            ))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_gateway_goes_its_commands_end_offline_and_new_ones_are_not_sent() {
    let mut rig = rig(
        "zw_gateway_gone",
        vec![lock(14, |l| {
            l.quirks.sleeping = Some(Duration::from_secs(30))
        })],
        quick(),
    )
    .await;
    // Waiting in the gateway for the node's wake-up when the gateway vanishes (its last will).
    let job = rig.submit(ZRig::set_code(14, 1, "2222")).await;
    let deadline = tokio::time::Instant::now() + zwave_common::WAIT;
    while rig.calls_about(14).is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never sent");
        rig.drain_for(Duration::from_millis(50)).await;
    }
    rig.sim.stop();
    assert_eq!(rig.outcome(job).await.0, Outcome::Offline);
    assert!(rig.seen.contains(&ZwaveEvent::Gateway { online: false }));
    let sent = rig.calls_about(14).len();
    assert_eq!(
        rig.run(ZRig::set_code(14, 2, "3333")).await.0,
        Outcome::Offline
    );
    assert_eq!(
        rig.calls_about(14).len(),
        sent,
        "nothing sent to a gone gateway"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_waiting_its_turn_is_never_written_after_its_clear_was_asked_for() {
    let mut rig = rig("zw_supersede", vec![lock(12, |_| {})], quick()).await;
    // Slot 1's write keeps the node busy; slot 2's code waits behind it, then is revoked.
    let busy = rig.submit(ZRig::set_code(12, 1, "1111")).await;
    let stale = rig.submit(ZRig::set_code(12, 2, "2222")).await;
    let clear = rig
        .submit(ZwaveCommand::ClearSlot { node: 12, slot: 2 })
        .await;
    assert_eq!(
        rig.outcome(stale).await.0,
        Outcome::Failed(FailReason::Superseded)
    );
    assert_eq!(rig.outcome(busy).await.0, Outcome::Confirmed);
    assert_eq!(rig.outcome(clear).await.0, Outcome::Confirmed);
    assert_eq!(rig.sim.slot(12, 2), slot(0, ""));
    let code_writes = rig
        .calls_about(12)
        .into_iter()
        .filter(|(api, property)| api == "writeValue" && property == "userCode")
        .count();
    assert_eq!(code_writes, 1, "the revoked code never left latchkey");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_or_messaging_code_goes_with_its_status_in_one_set_and_is_read_back() {
    let mut rig = rig("zw_status", vec![lock(12, |_| {})], quick()).await;
    for (n, pin, status, byte) in [
        (4, "4711", SlotStatus::Disabled, 2),
        (5, "4712", SlotStatus::Messaging, 3),
    ] {
        let set = ZwaveCommand::SetCode {
            node: 12,
            slot: n,
            pin: Pin::new(pin).unwrap(),
            status,
        };
        assert_eq!(rig.run(set).await, (Outcome::Confirmed, 1));
        assert_eq!(rig.sim.slot(12, n), slot(byte, pin));
    }
    // Never a code written first and its status after: it would open the door in between.
    let calls = rig.calls_about(12);
    assert!(
        !calls.iter().any(|(api, _)| api == "writeValue"),
        "{calls:?}"
    );
    assert_eq!(
        calls.iter().filter(|(api, _)| api == "sendCommand").count(),
        2
    );
    // The disabled code opens nothing and says nothing; the messaging code opens nothing and
    // is reported with its slot.
    assert_eq!(rig.sim.opens(12, "4711"), None);
    rig.control(12, "keypad", "4712").await;
    rig.until(|e| {
        matches!(
            e,
            ZwaveEvent::Report {
                node: 12,
                report: Report::MessagingCode { slot: Some(5) }
            }
        )
    })
    .await;
    assert_eq!(rig.sim.mode(12), Some(255), "the bolt stayed thrown");
}
