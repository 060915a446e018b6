//! The embedded rumqttd: v4 ↔ v5 routing, port 0, a taken port, shared subscriptions.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::{connected_session, embedded_broker, options, recv, shared_split, v4_client};
use latchkey_mqtt::{BrokerOptions, EmbeddedBroker, MqttError, QoS};

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_publish_on_v4_reaches_the_v5_session_and_back() {
    let broker = embedded_broker();
    assert_ne!(
        broker.listen_addr().port(),
        0,
        "port 0 resolved to a real port"
    );
    assert_ne!(
        broker.internal_v5_addr().port(),
        broker.listen_addr().port()
    );

    let url = broker.internal_url();
    let (session, mut inbound) =
        connected_session(options(url, "server", &[("z2m/+", QoS::AtLeastOnce)])).await;
    let (device, mut device_rx) =
        v4_client(broker.listen_addr(), "lock-1", &["z2m/lock-1/set"]).await;

    // v4 → v5
    device
        .publish(
            "z2m/lock-1",
            rumqttc::QoS::AtLeastOnce,
            false,
            &b"{\"state\":\"LOCK\"}"[..],
        )
        .await
        .expect("device publishes");
    let msg = recv(&mut inbound, WAIT)
        .await
        .expect("session receives the device's report");
    assert_eq!(msg.topic, "z2m/lock-1");
    assert_eq!(&msg.payload[..], b"{\"state\":\"LOCK\"}");

    // v5 → v4
    session
        .publish(
            "z2m/lock-1/set",
            &b"{\"state\":\"UNLOCK\"}"[..],
            QoS::AtLeastOnce,
            false,
        )
        .await
        .expect("session publishes");
    let (topic, payload) = tokio::time::timeout(WAIT, device_rx.recv())
        .await
        .expect("device receives in time")
        .expect("device receives");
    assert_eq!(topic, "z2m/lock-1/set");
    assert_eq!(&payload[..], b"{\"state\":\"UNLOCK\"}");
    session.close().await;
}

#[test]
fn a_taken_port_says_what_to_do() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let err = EmbeddedBroker::start(BrokerOptions {
        listen: addr,
        ..BrokerOptions::default()
    })
    .expect_err("the port is taken");
    assert!(matches!(err, MqttError::AddrInUse { .. }), "{err:?}");
    let msg = err.to_string();
    assert_eq!(
        msg,
        format!(
            "port {} on 127.0.0.1 is in use (is another MQTT broker such as Mosquitto running?). \
             Use --mqtt-listen HOST:PORT to pick another port, or --mqtt-url mqtt://HOST:PORT to use \
             that broker instead",
            addr.port()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_subscriptions_split_messages_on_the_embedded_broker() {
    let broker = embedded_broker();
    let url = broker.internal_url();
    shared_split(url, broker.listen_addr()).await;
}
