//! latchkey's side of the round trips: one MQTT client and the decoder.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::time::Duration;

use latchkey_zwave::{
    Decoder, Inbound, Limits, Origin, Pin, Report, Request, SlotContents, Topics, WriteOutcome,
};
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, NetworkOptions, QoS};
use tokio::sync::mpsc;

pub const WAIT: Duration = Duration::from_secs(10);
pub const NODE: u16 = 12;
const API_ANSWERS: &str = "zwave/_CLIENTS/+/api/+";

pub fn set_code(slot: u16, pin: &str) -> Request {
    Request::SetCode {
        node: NODE,
        slot,
        pin: Pin::new(pin).expect("valid PIN"),
    }
}

/// latchkey's side: one MQTT client, the decoder, and a request counter.
pub struct Server {
    pub client: AsyncClient,
    rx: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    pub decoder: Decoder,
    next: u32,
    _task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn connect(port: u16, login: Option<(&str, &str)>) -> Server {
        let mut opts = MqttOptions::new("latchkey-test", "127.0.0.1", port);
        if let Some((user, password)) = login {
            opts.set_credentials(user, password);
        }
        opts.set_max_packet_size(16 << 20, 16 << 20);
        let (client, mut eventloop) = AsyncClient::new(opts, 1024);
        let mut net = NetworkOptions::new();
        net.set_tcp_nodelay(true);
        eventloop.set_network_options(net);
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        let _ = tx.send((p.topic.clone(), p.payload.to_vec()));
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        // API answers first: node topics are about nodes the decoder knows only after
        // `getNodes` (see `discover`).
        client
            .subscribe(API_ANSWERS, QoS::AtLeastOnce)
            .await
            .expect("subscribe");
        Server {
            client,
            rx,
            decoder: Decoder::new(Topics::default(), Limits::default()),
            next: 0,
            _task: task,
        }
    }

    /// Publishes a request; returns the id of its (first) call.
    pub async fn send(&mut self, request: Request) -> String {
        self.next += 1;
        let id = format!("r{}", self.next);
        for out in request.encode(self.decoder.topics(), &id).expect("encodes") {
            assert!(!out.retain());
            self.client
                .publish(
                    out.topic.clone(),
                    QoS::AtLeastOnce,
                    out.retain(),
                    out.payload.clone(),
                )
                .await
                .expect("publish");
        }
        id
    }

    /// Decodes messages until `pick` returns something; decoded messages it skips are kept in
    /// the returned log.
    pub async fn until<T>(
        &mut self,
        mut pick: impl FnMut(&Inbound) -> Option<T>,
    ) -> (T, Vec<Inbound>) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let (topic, payload) = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("nothing matching within {WAIT:?}; saw {seen:#?}"))
                .expect("client alive");
            let Ok(Some(inbound)) = self.decoder.decode(&topic, &payload) else {
                continue;
            };
            if let Some(t) = pick(&inbound) {
                return (t, seen);
            }
            seen.push(inbound);
        }
    }

    /// Lists the nodes (the decoder learns them).
    pub async fn discover(&mut self) {
        let id = self.send(Request::GetNodes).await;
        let (nodes, _) = self
            .until(|i| match i {
                Inbound::Nodes {
                    request_id, nodes, ..
                } if request_id.as_deref() == Some(id.as_str()) => Some(nodes.clone()),
                _ => None,
            })
            .await;
        let lock = nodes.iter().find(|n| n.id == NODE).expect("node listed");
        assert!(lock.is_lock());
        // Now everything: the retained values arrive for a node the decoder knows.
        self.client
            .unsubscribe(API_ANSWERS)
            .await
            .expect("unsubscribe");
        self.client
            .subscribe("zwave/#", QoS::AtLeastOnce)
            .await
            .expect("subscribe");
        // The broker sends the retained values on this subscription before anything the
        // gateway publishes later, so no wait is needed here.
    }

    pub async fn write(&mut self, request: Request) -> (WriteOutcome, Vec<Inbound>) {
        let id = self.send(request).await;
        self.until(|i| match i {
            Inbound::Written {
                request_id,
                outcome,
                ..
            } if request_id.as_deref() == Some(id.as_str()) => Some(*outcome),
            _ => None,
        })
        .await
    }

    /// Reads a slot back from the lock: status, then code, both as the lock's answer.
    pub async fn read_slot(&mut self, slot: u16) -> SlotContents {
        let id = self
            .send(Request::ReadSlotStatus { node: NODE, slot })
            .await;
        let (status, _) = self
            .until(|i| match i {
                Inbound::Node {
                    report: Report::SlotStatus { status, .. },
                    origin: Origin::ReadBack { request_id },
                    ..
                } if request_id.as_deref() == Some(id.as_str()) => Some(*status),
                _ => None,
            })
            .await;
        let id = self.send(Request::ReadSlotCode { node: NODE, slot }).await;
        let (code, _) = self
            .until(|i| match i {
                Inbound::Node {
                    report: Report::SlotCode { code, .. },
                    origin: Origin::ReadBack { request_id },
                    ..
                } if request_id.as_deref() == Some(id.as_str()) => Some(code.clone()),
                _ => None,
            })
            .await;
        SlotContents::of(status, code)
    }
}
