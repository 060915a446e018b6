//! The fleet against a real Mosquitto: what a server sees on the wire.

mod common;

use std::time::Duration;

use common::{TestClient, eventually};
use latchkey_sim::{FleetConfig, KeypadOutcome, RefusalReason, control_topic, run};
use latchkey_testkit::mosquitto::Mosquitto;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

fn config(port: u16, locks: usize, actuation: Duration) -> FleetConfig {
    FleetConfig {
        mqtt_port: port,
        locks,
        actuation,
        client_id: format!("sim-{port}"),
        ..FleetConfig::default()
    }
}

fn is_action(action: &'static str) -> impl Fn(&common::Received) -> bool {
    move |m| m.json()["action"] == json!(action)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_set_over_mqtt_is_confirmed_read_back_opens_the_lock_and_a_cleared_one_refuses() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let (fleet, task) = run(config(broker.port, 2, Duration::from_millis(200)))
        .await
        .expect("fleet starts");
    let mut server = TestClient::connect(broker.port, "server", &["zigbee2mqtt/#"]).await;
    // bridge/devices is published after the fleet subscribed, on the same connection.
    let devices = server
        .expect("zigbee2mqtt/bridge/devices", WAIT, |_| true)
        .await
        .json();
    let lock0 = devices
        .as_array()
        .and_then(|d| d.iter().find(|e| e["friendly_name"] == "lock-0"))
        .cloned()
        .expect("lock-0 listed");
    assert_eq!(lock0["power_source"], "Battery");
    assert_eq!(lock0["definition"]["exposes"][0]["type"], "lock");

    server
        .publish("zigbee2mqtt/lock-0/set", r#"{"auto_relock_time":1}"#)
        .await;
    server
        .expect("zigbee2mqtt/lock-0", WAIT, |m| {
            m.json()["auto_relock_time"] == 1
        })
        .await;

    server
        .publish(
            "zigbee2mqtt/lock-0/set",
            r#"{"pin_code":{"user":3,"user_type":"unrestricted","user_enabled":true,"pin_code":"0427"}}"#,
        )
        .await;
    let added = server
        .expect("zigbee2mqtt/lock-0", WAIT, is_action("pin_code_added"))
        .await
        .json();
    assert_eq!(added["action_user"], 3);
    assert_eq!(added["action_source_name"], "rf");

    server
        .publish("zigbee2mqtt/lock-0/get", r#"{"pin_code":{"user":3}}"#)
        .await;
    let read = server
        .expect("zigbee2mqtt/lock-0", WAIT, |m| {
            m.json().get("users").is_some()
        })
        .await;
    assert_eq!(read.json()["users"], json!({"3":{"status":"enabled"}}));
    assert!(!read.payload.contains("0427"), "the PIN is never exposed");

    server
        .publish(&control_topic("zigbee2mqtt", "lock-0", "keypad"), "0427")
        .await;
    let opened = server
        .expect("zigbee2mqtt/lock-0", WAIT, is_action("unlock"))
        .await
        .json();
    assert_eq!(opened["action_user"], 3);
    assert_eq!(opened["action_source_name"], "keypad");
    assert_eq!(
        opened["state"], "LOCK",
        "the event carries the cached, old state"
    );
    let unlocked = server
        .expect("zigbee2mqtt/lock-0", WAIT, |m| {
            m.json()["state"] == "UNLOCK"
        })
        .await
        .json();
    assert_eq!(unlocked["lock_state"], "unlocked");
    assert_eq!(unlocked.get("action"), None);
    server
        .expect("zigbee2mqtt/lock-0", WAIT, is_action("auto_lock"))
        .await;
    server
        .expect("zigbee2mqtt/lock-0", WAIT, |m| {
            m.json()["state"] == "LOCK" && m.json().get("action").is_none()
        })
        .await;

    server
        .publish(
            "zigbee2mqtt/lock-0/set",
            r#"{"pin_code":{"user":3,"pin_code":null}}"#,
        )
        .await;
    server
        .expect("zigbee2mqtt/lock-0", WAIT, is_action("pin_code_deleted"))
        .await;
    server
        .publish(&control_topic("zigbee2mqtt", "lock-0", "keypad"), "0427")
        .await;
    let refused = server
        .expect(
            "zigbee2mqtt/lock-0",
            WAIT,
            is_action("unlock_failure_invalid_pin_or_id"),
        )
        .await
        .json();
    assert_eq!(refused["action_user"], 65535);

    server
        .publish(
            "zigbee2mqtt/lock-0/set",
            r#"{"pin_code":{"user":30,"pin_code":"1234"}}"#,
        )
        .await;
    let log = server
        .expect("zigbee2mqtt/bridge/logging", WAIT, |_| true)
        .await
        .json();
    assert_eq!(
        log["message"],
        "Publish 'set' 'pin_code' to 'lock-0' failed: 'Error: user must be in range for device'"
    );

    fleet.shutdown().await;
    task.await.expect("joins").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_locks_on_one_connection_come_up_and_each_answers_a_state_read() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let (fleet, task) = run(config(broker.port, 1000, Duration::ZERO))
        .await
        .expect("fleet starts");
    let mut server = TestClient::connect(
        broker.port,
        "server",
        &[
            "zigbee2mqtt/+",
            "zigbee2mqtt/bridge/state",
            "zigbee2mqtt/lock-999/availability",
        ],
    )
    .await;
    // The device list of a fleet this size is over a megabyte, more than the embedded broker
    // takes in one message, so the fleet does not publish it (smaller fleets do: see above).
    server
        .expect("zigbee2mqtt/bridge/state", WAIT, |m| {
            m.json() == json!({"state":"online"})
        })
        .await;
    server
        .expect("zigbee2mqtt/lock-999/availability", WAIT, |m| {
            m.json() == json!({"state":"online"})
        })
        .await;

    for i in 0..1000 {
        server
            .publish(&format!("zigbee2mqtt/lock-{i}/get"), r#"{"state":""}"#)
            .await;
    }
    let mut answered = std::collections::HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while answered.len() < 1000 && tokio::time::Instant::now() < deadline {
        for m in server.drain(Duration::from_millis(200)).await {
            if m.json()["lock_state"] == "locked" {
                answered.insert(m.topic);
            }
        }
    }
    assert_eq!(answered.len(), 1000);
    assert!(fleet.stats().messages_in >= 1000);

    fleet.shutdown().await;
    task.await.expect("joins").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_broker_restarts_the_fleet_reconnects_and_announces_itself_again() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let port = broker.port;
    let (fleet, task) = run(config(port, 3, Duration::ZERO))
        .await
        .expect("fleet starts");
    assert!(fleet.wait_connected(WAIT).await);
    assert_eq!(fleet.stats().connects, 1);

    broker.kill();
    assert!(eventually(WAIT, || !fleet.is_connected()).await);
    let broker = Mosquitto::start_on(port).expect("mosquitto restarts");
    assert!(eventually(WAIT, || fleet.stats().connects == 2).await);

    // Nothing is persisted by this broker: whatever is retained now was republished.
    let mut server = TestClient::connect(
        broker.port,
        "server",
        &[
            "zigbee2mqtt/bridge/state",
            "zigbee2mqtt/lock-2/availability",
        ],
    )
    .await;
    server
        .expect("zigbee2mqtt/bridge/state", WAIT, |m| {
            m.json() == json!({"state":"online"})
        })
        .await;
    server
        .expect("zigbee2mqtt/lock-2/availability", WAIT, |m| {
            m.json() == json!({"state":"online"})
        })
        .await;

    fleet.shutdown().await;
    task.await.expect("joins").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_broker_down_the_keypad_admits_a_synced_pin_and_refuses_a_cleared_one() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let (fleet, task) = run(config(broker.port, 1, Duration::ZERO))
        .await
        .expect("fleet starts");
    let mut server = TestClient::connect(broker.port, "server", &["zigbee2mqtt/#"]).await;
    server
        .expect("zigbee2mqtt/bridge/devices", WAIT, |_| true)
        .await;
    for (user, pin) in [(1, "1111"), (2, "2222")] {
        server
            .publish(
                "zigbee2mqtt/lock-0/set",
                &json!({"pin_code":{"user":user,"pin_code":pin}}).to_string(),
            )
            .await;
        server
            .expect("zigbee2mqtt/lock-0", WAIT, is_action("pin_code_added"))
            .await;
    }
    server
        .publish(
            "zigbee2mqtt/lock-0/set",
            r#"{"pin_code":{"user":2,"pin_code":null}}"#,
        )
        .await;
    server
        .expect("zigbee2mqtt/lock-0", WAIT, is_action("pin_code_deleted"))
        .await;

    drop(server);
    broker.kill();
    assert!(eventually(WAIT, || !fleet.is_connected()).await);

    assert_eq!(
        fleet.keypad("lock-0", "1111").expect("lock exists"),
        KeypadOutcome::Opened { slot: 1 }
    );
    assert_eq!(
        fleet.keypad("lock-0", "2222").expect("lock exists"),
        KeypadOutcome::Refused {
            reason: RefusalReason::UnknownPin
        }
    );
    // The publisher task counts the keypad's events as dropped a moment after `keypad` returns.
    assert!(eventually(WAIT, || fleet.stats().dropped_while_disconnected > 0).await);

    fleet.shutdown().await;
    task.await.expect("joins").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_availability_is_a_plain_string() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let cfg = FleetConfig {
        legacy_availability: true,
        sensors: vec!["hall-window".into()],
        ..config(broker.port, 1, Duration::ZERO)
    };
    let (fleet, task) = run(cfg).await.expect("fleet starts");
    let mut server = TestClient::connect(broker.port, "server", &["zigbee2mqtt/#"]).await;
    server
        .expect("zigbee2mqtt/hall-window/availability", WAIT, |m| {
            m.payload == "online"
        })
        .await;
    server
        .publish(&control_topic("zigbee2mqtt", "hall-window", "door"), "open")
        .await;
    let open = server
        .expect("zigbee2mqtt/hall-window", WAIT, |_| true)
        .await
        .json();
    assert_eq!(open["contact"], Value::Bool(false));

    fleet.shutdown().await;
    task.await.expect("joins").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_zero_actuation_the_state_comes_back_without_waiting_for_a_tick() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let cfg = FleetConfig {
        // A tick far away: any answer must come from the command itself.
        tick_interval: Duration::from_secs(3600),
        ..config(broker.port, 1, Duration::ZERO)
    };
    let (fleet, task) = run(cfg).await.expect("fleet starts");
    let mut server = TestClient::connect(broker.port, "server", &["zigbee2mqtt/#"]).await;
    server
        .expect("zigbee2mqtt/bridge/devices", WAIT, |_| true)
        .await;
    let mut rtts = Vec::new();
    for i in 0..50 {
        let (cmd, want) = if i % 2 == 0 {
            ("UNLOCK", "unlocked")
        } else {
            ("LOCK", "locked")
        };
        let t = std::time::Instant::now();
        server.publish("zigbee2mqtt/lock-0/set", cmd).await;
        server
            .expect("zigbee2mqtt/lock-0", WAIT, |m| {
                m.json()["lock_state"] == want && m.json().get("action").is_none()
            })
            .await;
        rtts.push(t.elapsed());
    }
    rtts.sort();
    let p50 = rtts[rtts.len() / 2];
    eprintln!(
        "command → state round trip, QoS 1, loopback: p50 {p50:?}, max {:?}",
        rtts[rtts.len() - 1]
    );
    // Nagle would show as ≈ 44 ms; a debug build on a busy machine stays far below that.
    assert!(p50 < Duration::from_millis(20), "p50 {p50:?}");

    fleet.shutdown().await;
    task.await.expect("joins").expect("clean stop");
}
