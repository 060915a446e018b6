//! Request → reply round trips through the embedded broker and Mosquitto. Prints figures; only
//! asserts that every reply arrived.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{
    Mosquitto, MosquittoUrl, connected_session, embedded_broker, embedded_broker_with_local,
    local_session, options, v4_client,
};
use latchkey_mqtt::{Inbound, MqttUrl, QoS, SessionHandle};
use tokio::sync::mpsc;

const ROUNDS: usize = 2_000;
/// rumqttd never sets TCP_NODELAY, so each QoS 1 round trip through it costs ≈ 44 ms.
const SLOW_ROUNDS: usize = 100;

/// The server side is a `Session` (MQTT 5); the lock side a v4 client that echoes `req/…` to
/// `rep/…`, like a lock answering a command with its state.
async fn ping_pong(
    label: &str,
    session_url: MqttUrl,
    device_addr: SocketAddr,
    qos: QoS,
    rounds: usize,
) {
    let (req, rep) = (format!("req/{label}"), format!("rep/{label}"));
    let (session, mut inbound) = connected_session(options(
        session_url,
        &format!("server-{label}"),
        &[(&rep, qos)],
    ))
    .await;
    let (device, mut device_rx) = v4_client(device_addr, &format!("lock-{label}"), &[&req]).await;
    let device_qos = match qos {
        QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
        _ => rumqttc::QoS::AtLeastOnce,
    };
    let rep_topic = rep.clone();
    tokio::spawn(async move {
        let rep = rep_topic;
        while let Some((_topic, payload)) = device_rx.recv().await {
            if device
                .publish(rep.as_str(), device_qos, false, payload)
                .await
                .is_err()
            {
                return;
            }
        }
    });

    let mut samples = Vec::with_capacity(rounds);
    for i in 0..rounds + 100 {
        let body = i.to_string();
        let start = Instant::now();
        session
            .publish(req.as_str(), body.clone().into_bytes(), qos, false)
            .await
            .expect("publish");
        let reply = tokio::time::timeout(Duration::from_secs(5), inbound.recv())
            .await
            .expect("reply in time")
            .expect("reply");
        let elapsed = start.elapsed();
        assert_eq!(
            &reply.payload[..],
            body.as_bytes(),
            "replies come back in order"
        );
        if i >= 100 {
            samples.push(elapsed); // the first 100 warm up
        }
    }
    assert_eq!(samples.len(), rounds, "every reply arrived");
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "round trip {label} {qos:?}: p50 {:?} p99 {:?} max {:?} over {rounds}",
        pct(0.50),
        pct(0.99),
        samples[samples.len() - 1]
    );
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_through_the_embedded_broker() {
    let broker = embedded_broker();
    let url = broker.internal_url();
    ping_pong(
        "embedded",
        url.clone(),
        broker.listen_addr(),
        QoS::AtMostOnce,
        ROUNDS,
    )
    .await;
    ping_pong(
        "embedded-q1",
        url,
        broker.listen_addr(),
        QoS::AtLeastOnce,
        SLOW_ROUNDS,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_through_mosquitto() {
    let Some(mosquitto) = Mosquitto::start() else {
        return;
    };
    ping_pong(
        "mosquitto",
        mosquitto.url(),
        mosquitto.addr(),
        QoS::AtMostOnce,
        ROUNDS,
    )
    .await;
    ping_pong(
        "mosquitto-q1",
        mosquitto.url(),
        mosquitto.addr(),
        QoS::AtLeastOnce,
        ROUNDS,
    )
    .await;
}

/// Lock exchanges through the embedded broker, like a remote unlock: the server publishes
/// `zigbee2mqtt/lock-0/set`, the lock (a v4 client, like Zigbee2MQTT) answers with TWO messages
/// on `zigbee2mqtt/lock-0` (the action event, then the state report), and the server waits for
/// the second. When the two reach the broker in separate reads (the lock sends them 1 ms apart,
/// as separate Zigbee reports would be), rumqttd forwards them in separate writes on a socket
/// without `TCP_NODELAY`, so over TCP the second waits for the server's delayed ACK (≈ 40 ms);
/// back to back they often share one read and one write, and only some exchanges stall. The
/// in-process session has no socket. Prints p50/p99 for each; asserts only that every reply
/// arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_message_replies_local_session_vs_tcp_session() {
    /// Over TCP each exchange costs ≈ 44 ms; 2,000 of them would take 90 s.
    const TCP_ROUNDS: usize = 200;
    let broker = embedded_broker_with_local("latchkey-local");

    let gaps = [Duration::ZERO, Duration::from_millis(1)];

    let (local, mut local_rx) =
        local_session(&broker, &[("zigbee2mqtt/lock-0", QoS::AtMostOnce)], 1024).await;
    for gap in gaps {
        two_message_exchanges("local", &broker, &local, &mut local_rx, ROUNDS, gap).await;
    }
    local.close().await;

    let url = broker.internal_url();
    let (tcp, mut tcp_rx) = connected_session(options(
        url,
        "server-tcp",
        &[("zigbee2mqtt/lock-0", QoS::AtMostOnce)],
    ))
    .await;
    for gap in gaps {
        two_message_exchanges("tcp-v5", &broker, &tcp, &mut tcp_rx, TCP_ROUNDS, gap).await;
    }
    tcp.close().await;
}

async fn two_message_exchanges(
    label: &str,
    broker: &latchkey_mqtt::EmbeddedBroker,
    session: &SessionHandle,
    inbound: &mut mpsc::Receiver<Inbound>,
    rounds: usize,
    gap: Duration,
) {
    const WARMUP: usize = 50;
    let (lock, mut lock_rx) = v4_client(
        broker.listen_addr(),
        &format!("z2m-{label}-{}", gap.as_micros()),
        &["zigbee2mqtt/lock-0/set"],
    )
    .await;
    let responder = tokio::spawn(async move {
        while let Some((_topic, n)) = lock_rx.recv().await {
            let n = String::from_utf8_lossy(&n).into_owned();
            let event = format!("{{\"action\":\"unlock\",\"n\":{n}}}");
            let state = format!("{{\"state\":\"UNLOCK\",\"n\":{n}}}");
            for (k, body) in [event, state].into_iter().enumerate() {
                if k == 1 && !gap.is_zero() {
                    tokio::time::sleep(gap).await;
                }
                // Zigbee2MQTT publishes at QoS 0 by default.
                if lock
                    .publish("zigbee2mqtt/lock-0", rumqttc::QoS::AtMostOnce, false, body)
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    });

    // Requests carry the run in them, so that a reply left over from an earlier run never counts.
    let run = format!("\"{label}-{}-{{i}}\"", gap.as_micros());
    let mut samples = Vec::with_capacity(rounds);
    for i in 0..rounds + WARMUP {
        let n = run.replace("{i}", &i.to_string());
        let start = Instant::now();
        session
            .publish("zigbee2mqtt/lock-0/set", n.clone(), QoS::AtMostOnce, false)
            .await
            .expect("publish");
        let want = format!("{{\"state\":\"UNLOCK\",\"n\":{n}}}");
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(5), inbound.recv())
                .await
                .expect("reply in time")
                .expect("reply");
            if msg.payload[..] == *want.as_bytes() {
                break;
            }
        }
        if i >= WARMUP {
            samples.push(start.elapsed());
        }
    }
    assert_eq!(samples.len(), rounds, "every reply arrived");
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "two-message reply {label}, {gap:?} between the lock's two messages: \
         p50 {:?} p99 {:?} max {:?} over {rounds}",
        pct(0.50),
        pct(0.99),
        samples[samples.len() - 1]
    );
    responder.abort();
}
