//! The codec against the virtual Z-Wave locks of latchkey-sim over a real Mosquitto: requests
//! encoded here reach the virtual gateway, and what it publishes decodes into the reports the
//! confirmation rules need. The two sides share no code, so each checks the other.

mod common;

use std::time::Duration;

use common::{NODE, Server};
use latchkey_sim::zwave::{Quirks, ZwaveLockConfig, ZwaveSimConfig, ZwaveSimHandle, run};
use latchkey_testkit::mosquitto::Mosquitto;
use latchkey_zwave::{
    Availability, Confirmation, Inbound, Method, Motion, Operation, Origin, Position, Report,
    ReportedCode, Request, SlotContents, SlotStatus, WriteOutcome,
};
use rumqttc::QoS;

const WAIT: Duration = Duration::from_secs(10);

async fn setup(quirks: Quirks) -> Option<(Mosquitto, ZwaveSimHandle, Server)> {
    let broker = Mosquitto::start()?;
    let mut server = Server::connect(broker.port, None).await;
    let mut lock = ZwaveLockConfig::new(NODE, "front_door");
    lock.capacity = 10;
    lock.quirks = quirks;
    let (gw, _task) = run(ZwaveSimConfig::new(broker.port, vec![lock]));
    assert!(gw.connected(WAIT).await);
    server.discover().await;
    Some((broker, gw, server))
}

use common::set_code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_with_a_leading_zero_is_confirmed_by_read_back_not_by_the_echo() {
    let Some((_broker, _gw, mut server)) = setup(Quirks::default()).await else {
        return;
    };
    let (outcome, before) = server.write(set_code(3, "0427")).await;
    assert_eq!(outcome, WriteOutcome::Unsupervised);
    // The echo came first, and the codec calls it one.
    let echo = before.iter().find_map(|i| match i {
        Inbound::Node {
            report: Report::SlotCode { slot: 3, code },
            origin,
            ..
        } => Some((code.clone(), origin.clone())),
        _ => None,
    });
    let Some((ReportedCode::Code(code), Origin::Echo { .. })) = echo else {
        panic!("expected the echo before the write result, saw {before:#?}");
    };
    assert_eq!(code.expose(), "0427");
    // The lock's own answer follows as an update with a new time.
    server
        .until(|i| match i {
            Inbound::Node {
                report:
                    Report::SlotStatus {
                        slot: 3,
                        status: SlotStatus::Enabled,
                    },
                origin: Origin::Update { .. },
                ..
            } => Some(()),
            _ => None,
        })
        .await;
    assert_eq!(
        server.read_slot(3).await.confirms("0427"),
        Confirmation::Confirmed
    );
    assert_eq!(server.decoder.rejections().total(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_write_is_found_by_read_back_and_the_retry_is_confirmed() {
    let quirks = Quirks {
        drop_first_write: true,
        ..Quirks::default()
    };
    let Some((_broker, _gw, mut server)) = setup(quirks).await else {
        return;
    };
    let (outcome, _) = server.write(set_code(5, "2468")).await;
    assert!(
        outcome.maybe_applied(),
        "the gateway does not know it was dropped"
    );
    // Wait for the lock's own answer before reading back.
    server
        .until(|i| match i {
            Inbound::Node {
                report: Report::SlotStatus { slot: 5, .. },
                origin: Origin::Update { .. },
                ..
            } => Some(()),
            _ => None,
        })
        .await;
    assert_eq!(
        server.read_slot(5).await.confirms("2468"),
        Confirmation::Empty
    );
    server.write(set_code(5, "2468")).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        server.read_slot(5).await.confirms("2468"),
        Confirmation::Confirmed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_masked_lock_confirms_the_status_only_and_a_cleared_slot_reads_empty() {
    let quirks = Quirks {
        masked_codes: true,
        empty_code: "0000".into(),
        supervised: true,
        ..Quirks::default()
    };
    let Some((_broker, _gw, mut server)) = setup(quirks).await else {
        return;
    };
    let (outcome, _) = server.write(set_code(2, "0911")).await;
    assert_eq!(outcome, WriteOutcome::Confirmed);
    assert_eq!(
        server.read_slot(2).await.confirms("0911"),
        Confirmation::StatusOnly
    );
    let (outcome, _) = server
        .write(Request::ClearSlot {
            node: NODE,
            slot: 2,
        })
        .await;
    assert_eq!(outcome, WriteOutcome::Confirmed);
    assert_eq!(server.read_slot(2).await, SlotContents::Empty);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keypad_opening_is_attributed_to_its_slot_and_lock_unlock_are_confirmed_by_current_mode()
{
    let quirks = Quirks {
        supervised: true,
        ..Quirks::default()
    };
    let Some((_broker, _gw, mut server)) = setup(quirks).await else {
        return;
    };
    server.write(set_code(7, "0007")).await;
    server
        .client
        .publish(
            "latchkey-sim/zwave/12/keypad",
            QoS::AtLeastOnce,
            false,
            b"0007".to_vec(),
        )
        .await
        .expect("publish");
    let expected = Operation {
        motion: Motion::Unlocked,
        method: Method::Keypad,
        slot: Some(7),
    };
    // Once from the value topic, once from the forwarded event.
    for _ in 0..2 {
        server
            .until(|i| match i {
                Inbound::Node {
                    report: Report::Operation(op),
                    origin: Origin::Event,
                    ..
                } if *op == expected => Some(()),
                _ => None,
            })
            .await;
    }
    server
        .until(|i| match i {
            Inbound::Node {
                report: Report::Position(Position::Unlocked { .. }),
                ..
            } => Some(()),
            _ => None,
        })
        .await;

    // Lock: the target echo is not the answer; currentMode is.
    let (_, before) = server.write(Request::Lock { node: NODE }).await;
    assert!(
        !before.iter().any(|i| matches!(
            i,
            Inbound::Node {
                report: Report::Position(Position::Locked),
                ..
            }
        )),
        "no currentMode before the write result on a supervised lock that still actuates"
    );
    server
        .until(|i| match i {
            Inbound::Node {
                report: Report::Position(Position::Locked),
                origin: Origin::Update { .. },
                ..
            } => Some(()),
            _ => None,
        })
        .await;
    server.write(Request::Unlock { node: NODE }).await;
    server
        .until(|i| match i {
            Inbound::Node {
                report: Report::Position(Position::Unlocked { mode: 0 }),
                origin: Origin::Update { .. },
                ..
            } => Some(()),
            _ => None,
        })
        .await;
    let id = server.send(Request::ReadPosition { node: NODE }).await;
    server
        .until(|i| match i {
            Inbound::Node {
                report: Report::Position(Position::Unlocked { .. }),
                origin: Origin::ReadBack { request_id },
                ..
            } if request_id.as_deref() == Some(id.as_str()) => Some(()),
            _ => None,
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_fails_its_write_and_ping_and_is_reported_dead() {
    let quirks = Quirks {
        dead: true,
        ..Quirks::default()
    };
    let Some((_broker, _gw, mut server)) = setup(quirks).await else {
        return;
    };
    let (outcome, _) = server.write(set_code(1, "1234")).await;
    assert_eq!(outcome, WriteOutcome::Failed);
    let id = server.send(Request::Ping { node: NODE }).await;
    let (alive, _) = server
        .until(|i| match i {
            Inbound::Pinged {
                request_id, alive, ..
            } if request_id.as_deref() == Some(id.as_str()) => Some(*alive),
            _ => None,
        })
        .await;
    assert!(!alive);
    server
        .until(|i| match i {
            Inbound::Node {
                report: Report::Availability(Availability::Dead),
                ..
            } => Some(()),
            _ => None,
        })
        .await;
    let id = server
        .send(Request::ReadSlotStatus {
            node: NODE,
            slot: 1,
        })
        .await;
    server
        .until(|i| match i {
            Inbound::Failed {
                request_id, node, ..
            } if request_id.as_deref() == Some(id.as_str()) => {
                assert_eq!(*node, Some(NODE));
                Some(())
            }
            _ => None,
        })
        .await;
}
