//! The embedded broker's in-process session: routing both ways with v4 (device) clients, a
//! publish to a topic nobody subscribes to, bursts larger than rumqttd's link buffer, retained
//! messages, takeover by a TCP client with the same id, `close()`.

mod common;

use std::time::Duration;

use common::{
    connected_session, embedded_broker, embedded_broker_with_local, local_session, options, recv,
    v4_client, wait_for_state,
};
use latchkey_mqtt::{ConnState, MqttError, QoS};

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_back_to_back_device_messages_reach_the_local_session() {
    let broker = embedded_broker_with_local("latchkey-local");
    let (session, mut inbound) =
        local_session(&broker, &[("zigbee2mqtt/+", QoS::AtLeastOnce)], 64).await;
    let (device, _rx) = v4_client(broker.listen_addr(), "z2m", &[]).await;

    for (qos, round) in [
        (rumqttc::QoS::AtMostOnce, 0),
        (rumqttc::QoS::AtLeastOnce, 1),
    ] {
        let event = format!("{{\"action\":\"unlock\",\"round\":{round}}}");
        let state = format!("{{\"state\":\"UNLOCK\",\"round\":{round}}}");
        device
            .publish("zigbee2mqtt/lock-0", qos, false, event.clone())
            .await
            .expect("device publishes the event");
        device
            .publish("zigbee2mqtt/lock-0", qos, false, state.clone())
            .await
            .expect("device publishes the state");
        for want in [event, state] {
            let msg = recv(&mut inbound, WAIT)
                .await
                .expect("the local session receives both, in order");
            assert_eq!(msg.topic, "zigbee2mqtt/lock-0");
            assert_eq!(&msg.payload[..], want.as_bytes());
            assert_eq!(msg.qos, QoS::AtMostOnce, "in-process delivery is QoS 0");
            assert!(!msg.retain);
            assert!(msg.ack.is_none(), "nothing to acknowledge in-process");
        }
    }
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_publish_reaches_a_v4_subscriber_even_after_one_to_a_topic_nobody_wants() {
    let broker = embedded_broker_with_local("latchkey-local");
    let (session, _inbound) = local_session(&broker, &[], 16).await;
    let (_device, mut device_rx) =
        v4_client(broker.listen_addr(), "lock-0", &["zigbee2mqtt/lock-0/set"]).await;

    // A command to a lock that is offline: no filter matches. rumqttd drops the message; the
    // session must stay up.
    session
        .publish(
            "zigbee2mqtt/lock-9/set",
            &b"{\"state\":\"UNLOCK\"}"[..],
            QoS::AtLeastOnce,
            false,
        )
        .await
        .expect("publish to an unsubscribed topic");
    session
        .try_publish(
            "zigbee2mqtt/lock-0/set",
            &b"{\"state\":\"UNLOCK\"}"[..],
            QoS::AtLeastOnce,
            false,
        )
        .expect("try_publish");
    let (topic, payload) = tokio::time::timeout(WAIT, device_rx.recv())
        .await
        .expect("device receives in time")
        .expect("device receives");
    assert_eq!(topic, "zigbee2mqtt/lock-0/set");
    assert_eq!(&payload[..], b"{\"state\":\"UNLOCK\"}");
    assert_eq!(*session.state().borrow(), ConnState::Connected);

    assert!(matches!(
        session.try_publish("zigbee2mqtt/+/set", &b""[..], QoS::AtMostOnce, false),
        Err(MqttError::InvalidTopic(_))
    ));
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_larger_than_the_link_buffer_arrives_whole_and_in_order() {
    const N: usize = 5_000;
    let broker = embedded_broker_with_local("latchkey-local");
    // A small inbound channel: the session must stop reading the link and resume (rumqttd
    // pauses a link after 200 undrained notifications until it is woken).
    let (session, mut inbound) = local_session(&broker, &[("burst/#", QoS::AtMostOnce)], 8).await;
    let (device, _rx) = v4_client(broker.listen_addr(), "z2m", &[]).await;
    for i in 0..N {
        device
            .publish(
                format!("burst/{}", i % 7),
                rumqttc::QoS::AtMostOnce,
                false,
                i.to_string(),
            )
            .await
            .expect("publish");
    }
    // Let the router fill the link's buffer before anyone reads.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..N {
        let msg = recv(&mut inbound, WAIT)
            .await
            .unwrap_or_else(|| panic!("message {i} of {N} arrives"));
        assert_eq!(
            std::str::from_utf8(&msg.payload).expect("utf8"),
            i.to_string()
        );
    }
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retained_message_reaches_a_new_local_subscription() {
    let broker = embedded_broker_with_local("latchkey-local");
    let (device, _rx) = v4_client(broker.listen_addr(), "z2m", &[]).await;
    device
        .publish(
            "zigbee2mqtt/bridge/devices",
            rumqttc::QoS::AtLeastOnce,
            true,
            &b"[]"[..],
        )
        .await
        .expect("publish retained");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (session, mut inbound) = local_session(
        &broker,
        &[("zigbee2mqtt/bridge/devices", QoS::AtLeastOnce)],
        16,
    )
    .await;
    let msg = recv(&mut inbound, WAIT)
        .await
        .expect("the retained message arrives");
    assert_eq!(msg.topic, "zigbee2mqtt/bridge/devices");
    assert_eq!(&msg.payload[..], b"[]");
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_client_taking_the_id_makes_the_local_session_reconnect() {
    let broker = embedded_broker_with_local("latchkey-local");
    let (session, mut inbound) = local_session(&broker, &[("t/#", QoS::AtMostOnce)], 16).await;
    let mut state = session.state();
    // The device port refuses the id (back_door.rs); only a client with the internal login can
    // take it. The broker drops the local link in favour of this one.
    let (intruder, _rx) =
        connected_session(options(broker.internal_url(), "latchkey-local", &[])).await;
    tokio::time::timeout(
        WAIT,
        state.wait_for(|s| matches!(s, ConnState::Disconnected { .. })),
    )
    .await
    .expect("the local session notices in time")
    .expect("state");
    // …and the local session takes the id back after its backoff.
    wait_for_state(&session, ConnState::Connected, WAIT).await;
    intruder.close().await;

    let (device, _rx) = v4_client(broker.listen_addr(), "z2m", &[]).await;
    device
        .publish("t/1", rumqttc::QoS::AtMostOnce, false, &b"again"[..])
        .await
        .expect("publish");
    let msg = recv(&mut inbound, WAIT)
        .await
        .expect("subscribed again after reconnecting");
    assert_eq!(&msg.payload[..], b"again");
    session.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_ends_the_local_session() {
    let broker = embedded_broker_with_local("latchkey-local");
    let (session, mut inbound) = local_session(&broker, &[("t/#", QoS::AtMostOnce)], 16).await;
    let (_device, mut device_rx) = v4_client(broker.listen_addr(), "lock", &["t/cmd"]).await;
    let clone = session.clone();

    // Queued before close: still delivered.
    session
        .publish("t/cmd", &b"last"[..], QoS::AtMostOnce, false)
        .await
        .expect("publish");
    tokio::time::timeout(WAIT, session.close())
        .await
        .expect("close returns");
    assert_eq!(*clone.state().borrow(), ConnState::Closed);
    assert!(matches!(
        clone
            .publish("t/cmd", &b"x"[..], QoS::AtMostOnce, false)
            .await,
        Err(MqttError::SessionClosed)
    ));
    assert!(matches!(
        clone.try_publish("t/cmd", &b"x"[..], QoS::AtMostOnce, false),
        Err(MqttError::SessionClosed)
    ));
    let (_, payload) = tokio::time::timeout(WAIT, device_rx.recv())
        .await
        .expect("in time")
        .expect("the publish queued before close arrives");
    assert_eq!(&payload[..], b"last");
    assert!(
        recv(&mut inbound, WAIT).await.is_none(),
        "the inbound channel ends"
    );

    // Once only.
    assert!(matches!(
        broker.take_local_session(Vec::new(), 16),
        Err(MqttError::LocalSession(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_handle_ends_the_local_session() {
    let broker = embedded_broker_with_local("latchkey-local");
    let (session, mut inbound) = local_session(&broker, &[("t/#", QoS::AtMostOnce)], 16).await;
    drop(session);
    assert!(
        recv(&mut inbound, WAIT).await.is_none(),
        "the inbound channel ends"
    );
}

#[test]
fn no_local_session_unless_configured_and_ids_are_checked() {
    let broker = embedded_broker();
    assert!(matches!(
        broker.take_local_session(Vec::new(), 16),
        Err(MqttError::LocalSession(_))
    ));
    let err = latchkey_mqtt::EmbeddedBroker::start(latchkey_mqtt::BrokerOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        local_client: Some("latchkey/local".to_owned()),
        ..latchkey_mqtt::BrokerOptions::default()
    })
    .expect_err("a client id with `/` is refused");
    assert!(matches!(err, MqttError::LocalSession(_)), "{err:?}");

    let broker = embedded_broker_with_local("latchkey-local");
    assert!(matches!(
        broker.take_local_session(vec![("$SYS/#".to_owned(), QoS::AtMostOnce)], 16),
        Err(MqttError::LocalSession(_))
    ));
    // A refused filter does not use up the session.
    assert!(
        broker
            .take_local_session(vec![("t/#".to_owned(), QoS::AtMostOnce)], 16)
            .is_ok()
    );
}
