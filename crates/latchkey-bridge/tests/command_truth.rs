//! Commands report the truth, and an outage is caught up by asking: the API in-process, a real
//! MQTT broker (the embedded one, or a Mosquitto of the test's own for the QoS cases) and the
//! virtual locks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use common::{Broker, Protocol, Rig, eventually, rig, rig_fleet, rig_for, rig_with};
use http_body_util::BodyExt;
use latchkey_app::SystemClock;
use latchkey_mqtt::{Inbound, QoS, Session, SessionOptions};
use latchkey_sim::KeypadOutcome;
use serde_json::{Value, json};
use tower::ServiceExt;

/// The HTTP API of the rig's server, called as the building's admin with an API token.
#[derive(Clone)]
struct Api {
    router: axum::Router,
    token: String,
}

impl Api {
    async fn of(rig: &Rig) -> Api {
        let (token, _) = rig
            .app
            .create_api_token(rig.admin.own_account(), "command tests")
            .await
            .unwrap();
        Api {
            router: latchkey_http::router(rig.app.clone(), latchkey_http::HttpConfig::default()),
            token,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token));
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// An emergency unlock of the rig's door, waiting up to 30 s for the lock's answer.
    async fn unlock(&self, rig: &Rig) -> (u16, Value) {
        self.call(
            "POST",
            &format!("/api/v1/doors/{}/unlock", rig.door.0),
            Some(json!({ "emergency_reason": "checking the bolt", "wait_seconds": 30 })),
        )
        .await
    }
}

async fn a_jammed_lock_fails_the_command_with_its_reason_and_a_later_success_does_not_confirm_it(
    p: Protocol,
) {
    let rig = rig_for("jam_http", p).await;
    let api = Api::of(&rig).await;
    rig.jam(true);

    // The request waits up to 30 s; it is answered by the lock's jam report, not the deadline
    // (which would answer 202 `unconfirmed`).
    let (status, first) = api.unlock(&rig).await;
    assert_eq!(status, 409, "{first}");
    assert_eq!(first["status"], "failed", "{first}");
    let detail = first["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("jam"), "the lock's reason: {detail}");
    assert!(first["completed_at"].is_string(), "{first}");
    let id = first["id"].as_i64().unwrap();

    let jams = rig.events("lock.jammed").await;
    assert_eq!(jams.len(), 1, "{jams:?}");
    assert_eq!(jams[0]["commands"], json!([id]), "{jams:?}");
    assert_eq!(jams[0]["severity"], "critical");
    let failed = rig.events("lock.command_failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["command"], json!(id));
    // A jam is no one at the keypad: no access event of any kind, nothing toward a wrong-code
    // limit.
    assert!(
        rig.events("access.").await.is_empty(),
        "no access event is invented: {:?}",
        rig.events("access.").await
    );

    // Someone frees the bolt; another command succeeds, and answers only itself.
    rig.jam(false);
    let (status, second) = api.unlock(&rig).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["status"], "confirmed", "{second}");
    let (status, again) = api
        .call("GET", &format!("/api/v1/commands/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["status"], "failed", "{again}");
    assert_eq!(again["detail"], first["detail"]);
    let confirmed = rig.events("lock.command_confirmed").await;
    assert_eq!(confirmed.len(), 1, "{confirmed:?}");
    assert_eq!(confirmed[0]["command"], second["id"]);
    assert!(rig.events("access.denied").await.is_empty());
}
both!(a_jammed_lock_fails_the_command_with_its_reason_and_a_later_success_does_not_confirm_it);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_shows_sent_while_the_lock_has_not_answered() {
    // A lock whose motor takes an hour: the command stays in flight for the whole test.
    let rig = rig_with("in_flight", Duration::from_secs(3600)).await;
    let api = Api::of(&rig).await;
    let waiting = {
        let (api, rig_door) = (api.clone(), rig.door.0);
        tokio::spawn(async move {
            api.call(
                "POST",
                &format!("/api/v1/doors/{rig_door}/unlock"),
                Some(json!({ "emergency_reason": "checking the bolt", "wait_seconds": 30 })),
            )
            .await
        })
    };
    // The command is recorded (with its id in the audit event) before it is sent.
    eventually("the command is recorded", || async {
        !rig.events("lock.emergency_command").await.is_empty()
    })
    .await;
    let id = rig.events("lock.emergency_command").await[0]["command"]
        .as_i64()
        .unwrap();
    let (status, cmd) = api
        .call("GET", &format!("/api/v1/commands/{id}"), None)
        .await;
    assert_eq!(status, 200, "{cmd}");
    assert_eq!(cmd["status"], "sent", "{cmd}");
    assert!(cmd["completed_at"].is_null(), "{cmd}");
    waiting.abort();
}

/// A PIN on lock-0, confirmed by the lock, the lock locked and its door closed as latchkey
/// knows it; then the server stops.
async fn stopped_with_a_pin(rig: &mut Rig) -> latchkey_core::CredentialId {
    let id = rig.pin("480261").await;
    rig.until_status(id, "set").await;
    eventually("the lock's state is known", || async {
        rig.stored_state("lock-0").await == ("locked".to_owned(), "closed".to_owned())
    })
    .await;
    rig.stop_server().await;
    id
}

/// While the server is away: the PIN is typed at the lock (it opens) and the door is left open.
/// Returns once the broker has handed the lock's report of the open door to a witness of the
/// test's own, subscribed beforehand: the virtual lock publishes from a task of its own, so
/// without the witness a busy machine could let its reports reach the broker only after
/// latchkey is back, and the test would not be about an outage at all.
async fn someone_comes_in(rig: &Rig) {
    let mut opts = SessionOptions::new(rig.broker.server_url(), "outage-witness".to_owned());
    opts.subscriptions = vec![
        ("zigbee2mqtt/lock-0/#".into(), QoS::AtMostOnce),
        ("zigbee2mqtt/lock-0".into(), QoS::AtMostOnce),
    ];
    let (witness, mut seen) = Session::start(opts).unwrap();
    let door_open = |m: &Inbound| {
        m.topic == "zigbee2mqtt/lock-0"
            && serde_json::from_slice::<Value>(&m.payload)
                .is_ok_and(|v| v["door_state"] == json!("open"))
    };
    tokio::time::timeout(Duration::from_secs(30), async {
        // The lock's retained availability arrives once the subscription holds.
        while let Some(m) = seen.recv().await {
            if m.topic == "zigbee2mqtt/lock-0/availability" {
                break;
            }
        }
        assert_eq!(
            rig.fleet.keypad("lock-0", "480261").unwrap(),
            KeypadOutcome::Opened { slot: 0 }
        );
        rig.fleet.open_door("lock-0").unwrap();
        while let Some(m) = seen.recv().await {
            if door_open(&m) {
                return;
            }
        }
        panic!("the witness's session ended");
    })
    .await
    .expect("the lock's report of the open door reached the broker");
    witness.close().await;
}

async fn is_open(rig: &Rig) -> bool {
    rig.stored_state("lock-0").await == ("unlocked".to_owned(), "open".to_owned())
}

async fn granted_to(rig: &Rig, id: latchkey_core::CredentialId) -> usize {
    rig.events("access.granted")
        .await
        .iter()
        .filter(|e| e["credential_id"] == json!(id.0))
        .count()
}

/// Checks the gap event: what changed, between which instants, and why the lock was asked.
async fn gap_recorded(rig: &Rig) {
    let gaps = rig.events("lock.changed_while_away").await;
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    let g = &gaps[0];
    assert_eq!(g["lock"], "lock-0");
    assert_eq!(
        (&g["from"], &g["to"]),
        (&json!("locked"), &json!("unlocked"))
    );
    assert_eq!(
        (&g["door_from"], &g["door_to"]),
        (&json!("closed"), &json!("open"))
    );
    assert_eq!(g["why"], "start");
    let from: jiff::Timestamp = g["gap_from"].as_str().unwrap().parse().unwrap();
    let to: jiff::Timestamp = g["gap_to"].as_str().unwrap().parse().unwrap();
    assert!(from < to, "{g}");
    // The answer replaces the plain position event: the opening's instant is not known.
    assert!(
        rig.events("lock.unlocked").await.is_empty(),
        "{:?}",
        rig.events("lock.unlocked").await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_typed_while_the_server_was_stopped_is_found_on_start_and_the_gap_recorded() {
    // The embedded broker: QoS 0 and a clean session, so nothing is kept while latchkey is away.
    let mut rig = rig("outage_embedded").await;
    let id = stopped_with_a_pin(&mut rig).await;
    someone_comes_in(&rig).await;
    rig.start_server().await;
    eventually("the door's state is right", || is_open(&rig)).await;
    gap_recorded(&rig).await;
    assert_eq!(granted_to(&rig, id).await, 0, "the opening itself was lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zwave_lock_opened_while_the_server_was_stopped_is_asked_on_start_and_the_gap_recorded() {
    // The virtual gateway retains nothing (as docs/DEVICES.md asks): the opening's reports are
    // gone when latchkey comes back, and only asking the lock (`pollValue` of `currentMode`)
    // tells what happened.
    let mut rig = rig_for("outage_zwave", Protocol::ZWave).await;
    let id = rig.pin("480261").await;
    rig.until_status(id, "set").await;
    rig.manual(true);
    let lock = rig.lock();
    eventually("the bolt is known to be thrown", || async {
        rig.stored_state(&lock).await.0 == "locked"
    })
    .await;
    rig.stop_server().await;
    assert_eq!(rig.keypad("480261"), Some(0), "the lock opens on its own");
    rig.start_server().await;
    eventually("the lock was asked and its answer stored", || async {
        rig.stored_state(&lock).await.0 == "unlocked"
    })
    .await;
    let gaps = rig.events("lock.changed_while_away").await;
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0]["lock"], json!(lock));
    assert_eq!(
        (&gaps[0]["from"], &gaps[0]["to"]),
        (&json!("locked"), &json!("unlocked"))
    );
    assert_eq!(gaps[0]["why"], "start");
    assert_eq!(granted_to(&rig, id).await, 0, "the opening itself was lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_qos_1_and_a_persistent_session_reports_sent_while_latchkey_was_away_are_delivered() {
    let Some(broker) = Broker::mosquitto() else {
        return;
    };
    let mut rig = rig_fleet(
        "outage_qos1",
        broker,
        Duration::ZERO,
        Arc::new(SystemClock),
        Vec::new(),
        1,
    )
    .await;
    let id = stopped_with_a_pin(&mut rig).await;
    someone_comes_in(&rig).await;
    rig.start_server().await;
    // The broker kept the lock's QoS 1 reports for latchkey's session: the keypad opening itself
    // arrives, attributed to the PIN.
    eventually("the keypad opening is delivered", || async {
        granted_to(&rig, id).await == 1
    })
    .await;
    eventually("the door's state is right", || is_open(&rig)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_qos_0_reports_sent_while_latchkey_was_away_are_lost_and_asking_recovers_the_state() {
    let Some(broker) = Broker::mosquitto() else {
        return;
    };
    // Zigbee2MQTT's default: QoS 0. The broker keeps no QoS 0 message for a session that is
    // away, persistent or not.
    let mut rig = rig_fleet(
        "outage_qos0",
        broker,
        Duration::ZERO,
        Arc::new(SystemClock),
        Vec::new(),
        0,
    )
    .await;
    let id = stopped_with_a_pin(&mut rig).await;
    someone_comes_in(&rig).await;
    rig.start_server().await;
    eventually("the door's state is right", || is_open(&rig)).await;
    gap_recorded(&rig).await;
    assert_eq!(granted_to(&rig, id).await, 0, "the opening itself was lost");
}
