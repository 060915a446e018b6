//! What virtual Z-Wave locks say, through the gateway session over a real broker: keypad
//! openings attributed to their slot once, jams, lock and unlock confirmed by `currentMode`,
//! auto-relock read back, silent nodes found by the health ping, hostile payloads counted and
//! ignored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod zwave_common;

use std::time::Duration;

use latchkey_bridge::zwave::{FailReason, Outcome, ZwaveCommand, ZwaveEvent, ZwaveOptions};
use latchkey_zwave::{Alarm, Availability, Method, Motion, Operation, Report};
use zwave_common::{ZRig, lock, quick, rig};

fn keypad_unlock(slot: u16) -> Report {
    Report::Operation(Operation {
        motion: Motion::Unlocked,
        method: Method::Keypad,
        slot: Some(slot),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keypad_opening_is_attributed_to_its_slot_once() {
    let mut rig = rig(
        "zw_keypad",
        vec![lock(12, |l| l.quirks.legacy_alarms = true)],
        quick(),
    )
    .await;
    assert_eq!(
        rig.run(ZRig::set_code(12, 6, "0808")).await.0,
        Outcome::Confirmed
    );
    rig.control(12, "keypad", "0808").await;
    rig.until(
        |e| matches!(e, ZwaveEvent::Report { node: 12, report } if *report == keypad_unlock(6)),
    )
    .await;
    // The value topic, the forwarded event and the legacy pair all said it: passed on once.
    rig.drain_for(Duration::from_millis(800)).await;
    let openings = rig
        .reports(12)
        .into_iter()
        .filter(|r| matches!(r, Report::Operation(_)))
        .count();
    assert_eq!(openings, 1, "{:#?}", rig.reports(12));
    assert!(rig.gateway.stats().counters.duplicates >= 1);
    assert!(
        rig.reports(12)
            .contains(&Report::Position(latchkey_zwave::Position::Unlocked {
                mode: 0
            }))
    );
    // A wrong code opens nothing and is not attributed.
    rig.control(12, "keypad", "1111").await;
    rig.drain_for(Duration::from_millis(500)).await;
    assert_eq!(
        rig.reports(12)
            .iter()
            .filter(|r| matches!(r, Report::Operation(_)))
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_with_only_the_legacy_alarm_pair_is_attributed_by_it() {
    let mut rig = rig(
        "zw_legacy",
        vec![lock(12, |l| l.quirks.legacy_only = true)],
        quick(),
    )
    .await;
    assert_eq!(
        rig.run(ZRig::set_code(12, 9, "7531")).await.0,
        Outcome::Confirmed
    );
    rig.control(12, "keypad", "7531").await;
    rig.until(
        |e| matches!(e, ZwaveEvent::Report { node: 12, report } if *report == keypad_unlock(9)),
    )
    .await;
    rig.drain_for(Duration::from_millis(500)).await;
    assert_eq!(
        rig.reports(12)
            .iter()
            .filter(|r| matches!(r, Report::Operation(_)))
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_and_unlock_are_confirmed_by_the_bolt_and_a_jam_fails_them() {
    let mut rig = rig("zw_door", vec![lock(12, |_| {})], quick()).await;
    assert_eq!(
        rig.run(ZwaveCommand::Unlock { node: 12 }).await,
        (Outcome::Confirmed, 1)
    );
    assert_eq!(rig.sim.mode(12), Some(0));
    assert_eq!(
        rig.run(ZwaveCommand::Lock { node: 12 }).await.0,
        Outcome::Confirmed
    );
    assert_eq!(rig.sim.mode(12), Some(255));

    rig.control(12, "jam", "on").await;
    rig.until(|e| {
        matches!(
            e,
            ZwaveEvent::Report {
                node: 12,
                report: Report::Alarm(Alarm::Jam)
            }
        )
    })
    .await;
    assert_eq!(
        rig.run(ZwaveCommand::Unlock { node: 12 }).await.0,
        Outcome::Failed(FailReason::Jammed)
    );
    assert_eq!(rig.sim.mode(12), Some(255), "a jammed bolt did not move");
    rig.control(12, "jam", "off").await;
    rig.until(|e| {
        matches!(
            e,
            ZwaveEvent::Report {
                node: 12,
                report: Report::AlarmCleared(Alarm::Jam)
            }
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_relock_is_read_back_and_relocks_the_door() {
    let mut rig = rig("zw_relock", vec![lock(12, |_| {})], quick()).await;
    assert!(rig.gateway.stats().rejections.total() == 0);
    assert_eq!(
        rig.run(ZwaveCommand::SetAutoRelock {
            node: 12,
            seconds: 1
        })
        .await
        .0,
        Outcome::Confirmed
    );
    assert_eq!(
        rig.run(ZwaveCommand::Unlock { node: 12 }).await.0,
        Outcome::Confirmed
    );
    rig.until(|e| {
        matches!(
            e,
            ZwaveEvent::Report {
                node: 12,
                report: Report::Operation(Operation {
                    method: Method::Auto,
                    motion: Motion::Locked,
                    ..
                })
            }
        )
    })
    .await;
    assert_eq!(rig.sim.mode(12), Some(255));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_lock_is_pinged_by_the_health_check_and_found_dead() {
    let opts = ZwaveOptions {
        stale_after: Duration::from_millis(300),
        health_every: Duration::from_millis(200),
        ..quick()
    };
    let mut rig = rig("zw_health", vec![lock(12, |_| {})], opts).await;
    // Alive and silent: pinged, still alive.
    let deadline = tokio::time::Instant::now() + zwave_common::WAIT;
    while !rig.calls_about(12).iter().any(|(api, _)| api == "pingNode") {
        assert!(tokio::time::Instant::now() < deadline, "never pinged");
        rig.drain_for(Duration::from_millis(100)).await;
    }
    assert!(
        !rig.reports(12)
            .contains(&Report::Availability(Availability::Dead))
    );
    // It dies without a word: the next health ping finds it.
    rig.control(12, "dead", "on").await;
    rig.until(|e| {
        matches!(
            e,
            ZwaveEvent::Report {
                node: 12,
                report: Report::Availability(Availability::Dead)
            }
        )
    })
    .await;
    let writes = rig
        .calls_about(12)
        .iter()
        .filter(|(api, _)| api != "pingNode")
        .count();
    assert_eq!(writes, 0, "found dead without a write");
    // Back: a ping says alive again.
    rig.control(12, "alive", "").await;
    rig.until(|e| {
        matches!(
            e,
            ZwaveEvent::Report {
                node: 12,
                report: Report::Availability(Availability::Alive)
            }
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_unknown_node_payloads_are_counted_and_ignored() {
    let mut rig = rig("zw_hostile", vec![lock(12, |_| {})], quick()).await;
    // The values the gateway announced (held until the node list) come first.
    rig.drain_for(Duration::from_millis(700)).await;
    let seen_before = rig.seen.len();
    rig.publish("zwave/99/98/0/currentMode", br#"{"time":5,"value":0}"#)
        .await;
    rig.publish("zwave/12/98/0/currentMode", br#"{"time":5,"value":"open"}"#)
        .await;
    rig.publish("zwave/12/99/0/userCode/3", &vec![b'1'; 20_000])
        .await;
    rig.publish("zwave/12/status", b"\xff\xfe").await;
    rig.publish(
        "zwave/12/113/0/Access_Control/Keypad_unlock_operation",
        &[b"{\"value\":".repeat(40), b"1".to_vec(), b"}".repeat(40)].concat(),
    )
    .await;
    rig.publish(
        "zwave/_CLIENTS/ZWAVE_GATEWAY-zwave-js-ui/api/writeValue",
        br#"{"success":true,"result":{"status":255},"args":[{"nodeId":12,"commandClass":99,"endpoint":0,"property":"userCode","propertyKey":1},"1234"],"origin":{"requestId":"lk1"}}"#,
    )
    .await;
    let deadline = tokio::time::Instant::now() + zwave_common::WAIT;
    loop {
        let r = rig.gateway.stats().rejections;
        if r.total() >= 5 {
            assert_eq!(r.count("unknown_node"), 1, "{r:?}");
            assert_eq!(r.count("invalid_field"), 1, "{r:?}");
            assert_eq!(r.count("too_large"), 1, "{r:?}");
            assert_eq!(r.count("not_utf8"), 1, "{r:?}");
            assert_eq!(r.count("too_deep"), 1, "{r:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{r:?}");
        rig.drain_for(Duration::from_millis(50)).await;
    }
    rig.drain_for(Duration::from_millis(300)).await;
    assert_eq!(
        rig.seen[seen_before..].to_vec(),
        Vec::<ZwaveEvent>::new(),
        "nothing hostile was passed on"
    );
    // A forged answer to a call in flight long ago decides nothing; the session still works.
    let (outcome, writes) = rig.run(ZRig::set_code(12, 1, "4321")).await;
    assert_eq!((outcome, writes), (Outcome::Confirmed, 1));
}
