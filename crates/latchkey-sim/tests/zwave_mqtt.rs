//! The virtual Z-Wave JS UI gateway against a real Mosquitto: raw MQTT messages written from
//! the gateway's documented API, and what a server sees on the wire.

mod common;

use std::time::Duration;

use common::TestClient;
use latchkey_sim::zwave::{Quirks, ZwaveLockConfig, ZwaveSimConfig, run};
use latchkey_testkit::mosquitto::Mosquitto;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);
const API: &str = "zwave/_CLIENTS/ZWAVE_GATEWAY-zwave-js-ui/api";

fn lock(id: u16, quirks: Quirks) -> ZwaveLockConfig {
    let mut l = ZwaveLockConfig::new(id, format!("lock_{id}"));
    l.capacity = 10;
    l.quirks = quirks;
    l
}

async fn start(
    broker: &Mosquitto,
    locks: Vec<ZwaveLockConfig>,
) -> (latchkey_sim::zwave::ZwaveSimHandle, TestClient) {
    let server = TestClient::connect(broker.port, "server", &["zwave/#"]).await;
    let (gw, _task) = run(ZwaveSimConfig::new(broker.port, locks));
    assert!(gw.connected(WAIT).await, "the gateway connects");
    (gw, server)
}

fn call(api: &str, args: Value, id: &str) -> (String, String) {
    (
        format!("{API}/{api}/set"),
        json!({"args": args, "requestId": id}).to_string(),
    )
}

fn answers(id: &'static str) -> impl Fn(&common::Received) -> bool {
    move |m| m.json()["origin"]["requestId"] == id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_with_a_leading_zero_is_echoed_first_then_answered_by_the_lock_and_reads_back() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let (gw, mut server) = start(&broker, vec![lock(12, Quirks::default())]).await;
    let (topic, body) = call("getNodes", json!([]), "n1");
    server.publish(&topic, &body).await;
    let nodes = server
        .expect(&format!("{API}/getNodes"), WAIT, answers("n1"))
        .await
        .json();
    let node = nodes["result"]
        .as_array()
        .and_then(|l| l.iter().find(|n| n["id"] == 12))
        .cloned()
        .expect("node 12 listed");
    assert_eq!(node["isSecure"], true);
    assert!(node["values"].get("99-0-userIdStatus-10").is_some());

    let code =
        json!({"nodeId":12,"commandClass":99,"endpoint":0,"property":"userCode","propertyKey":3});
    let (topic, body) = call("writeValue", json!([code, "0427"]), "w1");
    server.publish(&topic, &body).await;
    let echo = server
        .expect("zwave/12/99/0/userCode/3", WAIT, |_| true)
        .await
        .json();
    assert_eq!(echo["value"], "0427", "the string survives");
    let result = server
        .expect(&format!("{API}/writeValue"), WAIT, answers("w1"))
        .await
        .json();
    assert_eq!(result["result"], json!({"status": 254}));
    assert_eq!(
        gw.slot(12, 3).map(|s| s.status),
        Some(0),
        "the echo came before the lock had the code"
    );
    let answer = server
        .expect("zwave/12/99/0/userCode/3", WAIT, |_| true)
        .await
        .json();
    assert!(
        answer["time"].as_u64() > echo["time"].as_u64(),
        "the lock's answer has a new time, the echo the old one"
    );
    let id_status = json!({"nodeId":12,"commandClass":99,"endpoint":0,"property":"userIdStatus","propertyKey":3});
    let (topic, body) = call("pollValue", json!([id_status]), "p1");
    server.publish(&topic, &body).await;
    let read = server
        .expect(&format!("{API}/pollValue"), WAIT, answers("p1"))
        .await
        .json();
    assert_eq!(
        (read["success"].clone(), read["result"].clone()),
        (json!(true), json!(1))
    );
    let (topic, body) = call("pollValue", json!([code]), "p2");
    server.publish(&topic, &body).await;
    let read = server
        .expect(&format!("{API}/pollValue"), WAIT, answers("p2"))
        .await
        .json();
    assert_eq!(read["result"], "0427");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keypad_entry_is_attributed_to_its_slot_and_a_remote_lock_is_reported_by_current_mode() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let quirks = Quirks {
        supervised: true,
        legacy_alarms: true,
        ..Quirks::default()
    };
    let (_gw, mut server) = start(&broker, vec![lock(12, quirks)]).await;
    let code =
        json!({"nodeId":12,"commandClass":99,"endpoint":0,"property":"userCode","propertyKey":4});
    let (topic, body) = call("writeValue", json!([code, "0815"]), "w1");
    server.publish(&topic, &body).await;
    let result = server
        .expect(&format!("{API}/writeValue"), WAIT, answers("w1"))
        .await
        .json();
    assert_eq!(result["result"]["status"], 255);

    server.publish("latchkey-sim/zwave/12/keypad", "0815").await;
    let event = server
        .expect(
            "zwave/12/113/0/Access_Control/Keypad_unlock_operation",
            WAIT,
            |_| true,
        )
        .await
        .json();
    assert_eq!(event["value"], json!({"userId": 4}));
    let forwarded = server
        .expect(
            "zwave/_EVENTS/ZWAVE_GATEWAY-zwave-js-ui/node/node_notification",
            WAIT,
            |_| true,
        )
        .await
        .json();
    assert_eq!(forwarded["data"][0]["id"], 12);
    assert_eq!(forwarded["data"][1], 113);
    assert_eq!(forwarded["data"][2]["event"], 6);
    assert_eq!(forwarded["data"][2]["parameters"]["userId"], 4);
    let level = server
        .expect("zwave/12/113/0/alarmLevel", WAIT, |_| true)
        .await
        .json();
    assert_eq!(level["value"], 4);
    server
        .expect("zwave/12/98/0/currentMode", WAIT, |m| {
            m.json()["value"] == 0
        })
        .await;

    let target = json!({"nodeId":12,"commandClass":98,"endpoint":0,"property":"targetMode"});
    let (topic, body) = call("writeValue", json!([target, 255]), "l1");
    server.publish(&topic, &body).await;
    server
        .expect("zwave/12/98/0/currentMode", WAIT, |m| {
            m.json()["value"] == 255
        })
        .await;

    // A wrong code opens nothing.
    server.publish("latchkey-sim/zwave/12/keypad", "9999").await;
    let seen = server.drain(Duration::from_millis(500)).await;
    assert!(seen.iter().all(|m| !m.topic.contains("Keypad_unlock")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_is_found_by_ping_and_the_gateway_leaves_a_last_will() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let (gw, mut server) = start(&broker, vec![lock(12, Quirks::default())]).await;
    server.publish("latchkey-sim/zwave/12/dead", "on").await;
    let (topic, body) = call("pingNode", json!([12]), "g1");
    server.publish(&topic, &body).await;
    let ping = server
        .expect(&format!("{API}/pingNode"), WAIT, answers("g1"))
        .await
        .json();
    assert_eq!(ping["result"], false);
    let status = server
        .expect("zwave/12/status", WAIT, |m| m.json()["status"] == "Dead")
        .await
        .json();
    assert_eq!(status["value"], false);

    // A late subscriber gets the retained status topics but no API answer (never retained).
    let mut late = TestClient::connect(broker.port, "late", &["zwave/#"]).await;
    let retained = late.drain(Duration::from_millis(700)).await;
    assert!(retained.iter().any(|m| m.topic == "zwave/driver/status"));
    assert!(retained.iter().all(|m| !m.topic.contains("/api/")));

    gw.stop();
    server
        .expect(
            "zwave/_CLIENTS/ZWAVE_GATEWAY-zwave-js-ui/status",
            WAIT,
            |m| m.json()["value"] == false,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_node_answers_only_once_it_wakes_and_masks_its_codes() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let quirks = Quirks {
        sleeping: Some(Duration::from_millis(1500)),
        masked_codes: true,
        ..Quirks::default()
    };
    let (_gw, mut server) = start(&broker, vec![lock(12, quirks)]).await;
    let code =
        json!({"nodeId":12,"commandClass":99,"endpoint":0,"property":"userCode","propertyKey":1});
    let (topic, body) = call("writeValue", json!([code, "1357"]), "w1");
    server.publish(&topic, &body).await;
    let early = server.drain(Duration::from_millis(700)).await;
    assert!(
        early.iter().all(|m| !m.topic.ends_with("/api/writeValue")),
        "no answer while the node sleeps"
    );
    server
        .expect("zwave/12/status", WAIT, |m| m.json()["status"] == "Awake")
        .await;
    let result = server
        .expect(&format!("{API}/writeValue"), WAIT, answers("w1"))
        .await
        .json();
    assert_eq!(result["result"]["status"], 254);
    server
        .expect("zwave/12/status", WAIT, |m| m.json()["status"] == "Asleep")
        .await;
    // The lock's own answer shows the code masked.
    server
        .expect("zwave/12/99/0/userCode/1", WAIT, |m| {
            m.json()["value"] == "****"
        })
        .await;
}
