//! The session against a Mosquitto of our own: shared subscriptions, manual acks, reconnects.

mod common;

use std::time::Duration;

use common::{
    Mosquitto, MosquittoUrl, connected_session, options, recv, v4_client, wait_for_state,
};
use latchkey_mqtt::{ConnState, QoS};

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_subscriptions_split_messages_on_mosquitto() {
    let Some(mosquitto) = Mosquitto::start() else {
        return;
    };
    common::shared_split(mosquitto.url(), mosquitto.addr()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacked_message_is_redelivered_to_the_resumed_session() {
    let Some(mosquitto) = Mosquitto::start() else {
        return;
    };
    let mut opts = options(mosquitto.url(), "ingest", &[("locks/#", QoS::AtLeastOnce)]);
    opts.clean_start = false;
    opts.session_expiry_secs = 300;
    opts.manual_acks = true;

    // First session: create it clean so no leftovers, receive, do not ack, go away.
    let mut first_opts = opts.clone();
    first_opts.clean_start = true;
    let (first, mut first_rx) = connected_session(first_opts).await;
    let (device, _rx) = v4_client(mosquitto.addr(), "lock-7", &[]).await;
    device
        .publish("locks/7", rumqttc::QoS::AtLeastOnce, false, &b"opened"[..])
        .await
        .expect("publish");
    let msg = recv(&mut first_rx, WAIT)
        .await
        .expect("first session receives");
    assert!(msg.ack.is_some(), "QoS 1 with manual acks carries a token");
    drop(msg); // never acked: not durable yet
    first.close().await;

    // Second session, same id, resumed: the broker redelivers; this time we ack.
    let (second, mut second_rx) = connected_session(opts.clone()).await;
    let msg = recv(&mut second_rx, WAIT)
        .await
        .expect("the unacked message comes back");
    assert_eq!(msg.topic, "locks/7");
    assert_eq!(&msg.payload[..], b"opened");
    second.ack(msg.ack.expect("token")).await.expect("ack");
    // Give the PUBACK a moment to leave before disconnecting.
    tokio::time::sleep(Duration::from_millis(200)).await;
    second.close().await;

    // Third session: nothing left to redeliver.
    let (third, mut third_rx) = connected_session(opts).await;
    assert!(
        recv(&mut third_rx, Duration::from_millis(700))
            .await
            .is_none(),
        "an acked message is not redelivered"
    );
    third.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_reconnects_after_the_broker_restarts() {
    let Some(mosquitto) = Mosquitto::start() else {
        return;
    };
    let port = mosquitto.port;
    let url = mosquitto.url();
    let (session, mut rx) =
        connected_session(options(url, "server", &[("locks/+", QoS::AtLeastOnce)])).await;

    mosquitto.kill();
    let mut state = session.state();
    let lost = tokio::time::timeout(
        WAIT,
        state.wait_for(|s| matches!(s, ConnState::Disconnected { .. })),
    )
    .await
    // Drop the watch guard at once: holding it would block the session task's next update.
    .is_ok_and(|r| r.is_ok());
    assert!(lost, "the session notices the broker is gone");
    println!(
        "state while the broker is down: {:?}",
        *session.state().borrow()
    );

    let mosquitto = Mosquitto::start_on(port).expect("mosquitto restarts");
    // Backoff is at most 5 s; the restarted broker has no session, so we resubscribe.
    wait_for_state(&session, ConnState::Connected, Duration::from_secs(10)).await;

    let (device, _rx) = v4_client(mosquitto.addr(), "lock-9", &[]).await;
    device
        .publish(
            "locks/9",
            rumqttc::QoS::AtLeastOnce,
            false,
            &b"after restart"[..],
        )
        .await
        .expect("publish");
    let msg = recv(&mut rx, WAIT)
        .await
        .expect("receives after the restart");
    assert_eq!(&msg.payload[..], b"after restart");
    session.close().await;
    assert_eq!(*session.state().borrow(), ConnState::Closed);
    assert!(
        session
            .publish("x", &b""[..], QoS::AtMostOnce, false)
            .await
            .is_err()
    );
}
