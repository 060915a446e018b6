//! Request → reply round trips through the embedded broker and Mosquitto. Prints figures; only
//! asserts that every reply arrived.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Mosquitto, MosquittoUrl, connected_session, embedded_broker, options, v4_client};
use latchkey_mqtt::{MqttUrl, QoS};

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
    let url = MqttUrl::tcp(broker.internal_v5_addr());
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
