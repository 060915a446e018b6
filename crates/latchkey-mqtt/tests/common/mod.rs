//! Helpers shared by the integration tests: embedded broker, Mosquitto URL, v4 device client.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use latchkey_mqtt::{
    BrokerOptions, ConnState, EmbeddedBroker, Inbound, MqttUrl, QoS, Session, SessionHandle,
    SessionOptions,
};
use rumqttc::{AsyncClient, Event, MqttOptions, NetworkOptions, Packet};
use tokio::sync::mpsc;

pub use latchkey_testkit::mosquitto::Mosquitto;

/// `mosquitto.url()`: the broker's `mqtt://` URL for a session.
pub trait MosquittoUrl {
    fn url(&self) -> MqttUrl;
}

impl MosquittoUrl for Mosquitto {
    fn url(&self) -> MqttUrl {
        MqttUrl::tcp(self.addr())
    }
}

pub fn embedded_broker() -> EmbeddedBroker {
    EmbeddedBroker::start(BrokerOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..BrokerOptions::default()
    })
    .expect("embedded broker starts")
}

/// An embedded broker (v4 on a free port) with an in-process session for `local_client`.
pub fn embedded_broker_with_local(local_client: &str) -> EmbeddedBroker {
    EmbeddedBroker::start(BrokerOptions {
        listen: "127.0.0.1:0".parse().expect("addr"),
        local_client: Some(local_client.to_owned()),
        ..BrokerOptions::default()
    })
    .expect("embedded broker starts")
}

/// Takes the broker's in-process session and waits until it is subscribed.
pub async fn local_session(
    broker: &EmbeddedBroker,
    subscriptions: &[(&str, QoS)],
    inbound_capacity: usize,
) -> (SessionHandle, mpsc::Receiver<Inbound>) {
    let subscriptions = subscriptions
        .iter()
        .map(|(f, q)| ((*f).to_owned(), *q))
        .collect();
    let (handle, rx) = broker
        .take_local_session(subscriptions, inbound_capacity)
        .expect("local session starts");
    wait_for_state(&handle, ConnState::Connected, Duration::from_secs(10)).await;
    (handle, rx)
}

/// Starts a session and waits until it is connected and subscribed.
pub async fn connected_session(
    options: SessionOptions,
) -> (SessionHandle, mpsc::Receiver<Inbound>) {
    let (handle, rx) = Session::start(options).expect("session starts");
    wait_for_state(&handle, ConnState::Connected, Duration::from_secs(10)).await;
    (handle, rx)
}

pub async fn wait_for_state(handle: &SessionHandle, want: ConnState, within: Duration) {
    let mut state = handle.state();
    // Keep no watch guard alive: it would block the session task's next state update.
    let reached = tokio::time::timeout(within, state.wait_for(|s| *s == want))
        .await
        .is_ok_and(|r| r.is_ok());
    assert!(
        reached,
        "session did not reach {want:?}; it is {:?}",
        *handle.state().borrow()
    );
}

pub fn options(url: MqttUrl, client_id: &str, subscriptions: &[(&str, QoS)]) -> SessionOptions {
    let mut o = SessionOptions::new(url, client_id);
    o.subscriptions = subscriptions
        .iter()
        .map(|(f, q)| ((*f).to_owned(), *q))
        .collect();
    o
}

/// A device-side MQTT 3.1.1 client (like Zigbee2MQTT or a simulated lock), connected and
/// subscribed when this returns.
pub async fn v4_client(
    addr: SocketAddr,
    client_id: &str,
    subscriptions: &[&str],
) -> (AsyncClient, mpsc::Receiver<(String, Bytes)>) {
    let mut opts = MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(opts, 1024);
    let mut net = NetworkOptions::new();
    net.set_tcp_nodelay(true);
    eventloop.set_network_options(net);
    for s in subscriptions {
        client
            .subscribe(*s, rumqttc::QoS::AtLeastOnce)
            .await
            .expect("queue subscribe");
    }
    let (tx, rx) = mpsc::channel(4096);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let mut ready_tx = Some(ready_tx);
    let mut pending_subacks = subscriptions.len();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) if pending_subacks == 0 => {
                    if let Some(r) = ready_tx.take() {
                        let _ = r.send(());
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    pending_subacks = pending_subacks.saturating_sub(1);
                    if let (0, Some(r)) = (pending_subacks, ready_tx.take()) {
                        let _ = r.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send((p.topic, p.payload)).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                // Like a real device, retry a connection the broker refused or reset before it
                // was up (the 10 s wait below bounds it); once connected, an error ends the
                // client, which the tests that kill brokers rely on.
                Err(_) if ready_tx.is_some() => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(_) => return,
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .expect("v4 client connects in time")
        .expect("v4 client connects");
    (client, rx)
}

pub async fn recv(rx: &mut mpsc::Receiver<Inbound>, within: Duration) -> Option<Inbound> {
    tokio::time::timeout(within, rx.recv()).await.ok().flatten()
}

/// Two sessions in one shared group get every message exactly once between them.
pub async fn shared_split(url: MqttUrl, device_addr: SocketAddr) {
    const N: usize = 2_000;
    let mut a_opts = options(url.clone(), "replica-a", &[("shared/t", QoS::AtLeastOnce)]);
    a_opts.shared_group = Some("latchkey".to_owned());
    let mut b_opts = a_opts.clone();
    b_opts.client_id = "replica-b".to_owned();
    let (a, mut a_rx) = connected_session(a_opts).await;
    let (b, mut b_rx) = connected_session(b_opts).await;

    let (device, _rx) = v4_client(device_addr, "publisher", &[]).await;
    for i in 0..N {
        device
            .publish(
                "shared/t",
                rumqttc::QoS::AtLeastOnce,
                false,
                i.to_string().into_bytes(),
            )
            .await
            .expect("publish");
    }

    let mut seen = HashSet::new();
    let mut doubles = 0;
    let (mut from_a, mut from_b) = (0, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < N && tokio::time::Instant::now() < deadline {
        let msg = tokio::select! {
            Some(m) = a_rx.recv() => { from_a += 1; m }
            Some(m) = b_rx.recv() => { from_b += 1; m }
            () = tokio::time::sleep_until(deadline) => break,
        };
        let i: usize = std::str::from_utf8(&msg.payload)
            .expect("utf8")
            .parse()
            .expect("number");
        if !seen.insert(i) {
            doubles += 1;
        }
    }
    // Anything doubled late?
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(m) = a_rx.try_recv() {
        from_a += 1;
        let i: usize = std::str::from_utf8(&m.payload)
            .expect("utf8")
            .parse()
            .expect("number");
        doubles += usize::from(!seen.insert(i));
    }
    while let Ok(m) = b_rx.try_recv() {
        from_b += 1;
        let i: usize = std::str::from_utf8(&m.payload)
            .expect("utf8")
            .parse()
            .expect("number");
        doubles += usize::from(!seen.insert(i));
    }
    println!(
        "shared subscription split over {url}: replica-a {from_a}, replica-b {from_b}, doubles {doubles}"
    );
    assert_eq!(seen.len(), N, "every message arrived");
    assert_eq!(doubles, 0, "no message arrived twice");
    assert!(
        from_a > 0 && from_b > 0,
        "both replicas got a share: {from_a}/{from_b}"
    );
    a.close().await;
    b.close().await;
}
