//! A plain rumqttc client that records what it sees (the private Mosquitto is
//! `latchkey_testkit::mosquitto`).

#![allow(dead_code)] // each test binary uses a different part of this module

use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, NetworkOptions, QoS};
use serde_json::Value;
use tokio::sync::mpsc;

/// A received message.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub payload: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.payload).unwrap_or(Value::Null)
    }
}

/// A plain MQTT client standing in for the server.
pub struct TestClient {
    pub client: AsyncClient,
    rx: mpsc::UnboundedReceiver<Received>,
    task: tokio::task::JoinHandle<()>,
}

impl TestClient {
    pub async fn connect(port: u16, id: &str, subscriptions: &[&str]) -> Self {
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_max_packet_size(64 << 20, 1 << 20);
        opts.set_keep_alive(Duration::from_secs(30));
        let (client, mut eventloop) = AsyncClient::new(opts, 4096);
        let mut net = NetworkOptions::new();
        net.set_tcp_nodelay(true);
        eventloop.set_network_options(net);
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        let _ = tx.send(Received {
                            topic: p.topic.clone(),
                            payload: String::from_utf8_lossy(&p.payload).into_owned(),
                        });
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        for s in subscriptions {
            client
                .subscribe(*s, QoS::AtLeastOnce)
                .await
                .expect("subscribe");
        }
        Self { client, rx, task }
    }

    pub async fn publish(&self, topic: &str, payload: &str) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.as_bytes().to_vec())
            .await
            .expect("publish");
    }

    /// The next message on `topic` whose payload satisfies `pred`, skipping others.
    pub async fn expect(
        &mut self,
        topic: &str,
        timeout: Duration,
        pred: impl Fn(&Received) -> bool,
    ) -> Received {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) if m.topic == topic && pred(&m) => return m,
                Ok(Some(_)) => {}
                Ok(None) => panic!("client stopped while waiting on {topic}"),
                Err(_) => panic!("nothing matching on {topic} within {timeout:?}"),
            }
        }
    }

    /// Every message received within `window`.
    pub async fn drain(&mut self, window: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + window;
        let mut all = Vec::new();
        while let Ok(Some(m)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            all.push(m);
        }
        all
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub async fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}
