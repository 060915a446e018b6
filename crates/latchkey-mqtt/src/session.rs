//! The client session: one tokio task owns rumqttc's MQTT 5 event loop.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS as RQoS;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, Publish, Subscribe, SubscribeReasonCode};
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions, Request};
use rumqttc::{NetworkOptions, Outgoing, TlsConfiguration, Transport};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep, sleep_until};

use crate::{MqttError, MqttUrl};

/// First reconnect delay; doubles after each failure up to [`MAX_BACKOFF`].
pub(crate) const MIN_BACKOFF: Duration = Duration::from_millis(100);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Requests (publishes, acks) rumqttc buffers before `publish` waits.
pub(crate) const REQUEST_CAPACITY: usize = 1024;
/// How long `close` lets the DISCONNECT packet reach the broker.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// MQTT quality of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QoS {
    AtMostOnce,
    AtLeastOnce,
    ExactlyOnce,
}

impl From<QoS> for RQoS {
    fn from(q: QoS) -> Self {
        match q {
            QoS::AtMostOnce => RQoS::AtMostOnce,
            QoS::AtLeastOnce => RQoS::AtLeastOnce,
            QoS::ExactlyOnce => RQoS::ExactlyOnce,
        }
    }
}

impl From<RQoS> for QoS {
    fn from(q: RQoS) -> Self {
        match q {
            RQoS::AtMostOnce => QoS::AtMostOnce,
            RQoS::AtLeastOnce => QoS::AtLeastOnce,
            RQoS::ExactlyOnce => QoS::ExactlyOnce,
        }
    }
}

/// How to connect and what to subscribe to.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// The broker; for the embedded one, `MqttUrl::tcp(broker.internal_v5_addr())`.
    pub url: MqttUrl,
    pub client_id: String,
    /// Start a new session on every connect (the broker forgets subscriptions and unacked
    /// messages). Use `false` with a `session_expiry_secs` > 0 to have the broker keep QoS 1
    /// messages while latchkey is away and redeliver unacknowledged ones.
    pub clean_start: bool,
    /// How long the broker keeps the session after a disconnect (MQTT 5). 0 ends it at once.
    pub session_expiry_secs: u32,
    pub keep_alive: Duration,
    /// Topic filters to subscribe to, (re)subscribed after each connect that starts a new
    /// session.
    pub subscriptions: Vec<(String, QoS)>,
    /// When set, each filter is subscribed as `$share/<group>/<filter>` (MQTT 5 shared
    /// subscription): replicas in the same group split the messages instead of each getting all.
    pub shared_group: Option<String>,
    /// Filters every replica subscribes to on its own, even with a `shared_group`: brokers do
    /// not deliver retained messages on shared subscriptions (MQTT 5 §4.8.2), so a retained
    /// message every replica must see (Zigbee2MQTT's `bridge/devices`) needs one of these.
    pub unshared_subscriptions: Vec<(String, QoS)>,
    /// Capacity of the inbound channel; when it is full the session stops reading from the
    /// broker (see [`Session::start`]).
    pub inbound_capacity: usize,
    /// How many outgoing requests (publishes, acks) may wait for the connection; a full queue
    /// makes `try_publish` fail with `QueueFull`. A server that writes to ten thousand locks at
    /// once wants this large.
    pub request_capacity: usize,
    /// Acknowledge QoS 1/2 messages only when the consumer calls [`SessionHandle::ack`].
    pub manual_acks: bool,
    /// Largest packet accepted from the broker, in bytes (rumqttc's default is only 10 KiB).
    pub max_packet_size: u32,
    /// The message the broker publishes when this session's connection is lost without a
    /// DISCONNECT (its last will), e.g. `offline` on an availability topic.
    pub last_will: Option<Will>,
}

/// A last will: published by the broker for a client that vanished.
#[derive(Debug, Clone)]
pub struct Will {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
}

impl SessionOptions {
    /// Options with defaults: clean start, no session expiry, 30 s keep-alive, no subscriptions,
    /// an inbound channel of 1,024, automatic acks, 1 MiB packets.
    pub fn new(url: MqttUrl, client_id: impl Into<String>) -> Self {
        Self {
            url,
            client_id: client_id.into(),
            clean_start: true,
            session_expiry_secs: 0,
            keep_alive: Duration::from_secs(30),
            subscriptions: Vec::new(),
            shared_group: None,
            unshared_subscriptions: Vec::new(),
            inbound_capacity: 1024,
            request_capacity: REQUEST_CAPACITY,
            manual_acks: false,
            max_packet_size: 1024 * 1024 + 1024,
            last_will: None,
        }
    }

    /// The filters as sent to the broker, with the shared-subscription prefix if any.
    fn broker_filters(&self) -> Vec<Filter> {
        self.subscriptions
            .iter()
            .map(|(filter, qos)| {
                let path = match &self.shared_group {
                    Some(group) => format!("$share/{group}/{filter}"),
                    None => filter.clone(),
                };
                Filter::new(path, (*qos).into())
            })
            .chain(
                self.unshared_subscriptions
                    .iter()
                    .map(|(filter, qos)| Filter::new(filter.clone(), (*qos).into())),
            )
            .collect()
    }
}

/// The state of the broker connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    /// Connecting (or waiting before the next attempt).
    Connecting,
    /// Connected, and the subscriptions are in place.
    Connected,
    /// The connection was lost or refused; a reconnect follows.
    Disconnected { reason: String },
    /// The session has ended: `close()` was called or every handle was dropped.
    Closed,
}

/// A message from the broker.
#[derive(Debug)]
pub struct Inbound {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// With `manual_acks` and QoS ≥ 1: pass it to [`SessionHandle::ack`] once the message is
    /// durable. Until then the broker holds the message and redelivers it after a reconnect
    /// that resumes the session (so consumers must be idempotent).
    pub ack: Option<AckToken>,
}

/// The right to acknowledge one received message. An ack is tied to the connection that
/// delivered the message: after a reconnect, old tokens are ignored (the broker redelivers the
/// message with a new token, or has dropped it with a clean start).
#[derive(Debug)]
pub struct AckToken {
    epoch: u64,
    pkid: u16,
    qos: RQoS,
}

/// Acks have to reach rumqttc's request queue only while the connection that delivered the
/// message is up; this gate, shared by the handles and the task, decides that.
#[derive(Debug, Default)]
struct AckGate {
    /// Counts connections; bumped on each CONNACK.
    epoch: u64,
    connected: bool,
    /// Acks that found rumqttc's request queue full; the task retries them after each poll.
    deferred: VecDeque<(u16, RQoS)>,
}

#[derive(Debug)]
struct Shared {
    gate: Mutex<AckGate>,
}

impl Shared {
    fn gate(&self) -> MutexGuard<'_, AckGate> {
        // A panic while holding this lock leaves plain data that is still consistent.
        self.gate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Talks to the session task. Cheap to clone; dropping every clone closes the session.
///
/// The same type serves a TCP session ([`Session::start`]) and the embedded broker's in-process
/// one ([`EmbeddedBroker::take_local_session`](crate::EmbeddedBroker::take_local_session)).
#[derive(Debug, Clone)]
pub struct SessionHandle {
    transport: Link,
    state: watch::Receiver<ConnState>,
    close: Arc<watch::Sender<bool>>,
}

#[derive(Debug, Clone)]
enum Link {
    /// rumqttc's MQTT 5 client over TCP (or TLS).
    Tcp {
        client: AsyncClient,
        shared: Arc<Shared>,
    },
    /// rumqttd's in-process link; publishes go through the session thread.
    Local {
        requests: mpsc::Sender<LocalPublish>,
    },
}

/// A publish queued for the in-process session's thread.
#[derive(Debug)]
pub(crate) struct LocalPublish {
    pub(crate) topic: String,
    pub(crate) payload: Bytes,
    pub(crate) retain: bool,
}

/// Entry point: see [`Session::start`].
#[derive(Debug)]
pub struct Session;

impl Session {
    /// Spawns the session task on the current tokio runtime and starts connecting.
    ///
    /// Incoming PUBLISHes arrive on the returned bounded receiver. When it is full the task
    /// waits and stops reading from the socket, so TCP flow control throttles the broker: this
    /// is intended (the broker queues, nothing is dropped here). Keep draining it: while the
    /// task waits it sends no keep-alive pings, and a consumer stalled for 1.5 × `keep_alive`
    /// gets disconnected by the broker. If the receiver is dropped, the session ends at the next
    /// message.
    ///
    /// On connection errors it reconnects with exponential backoff from 100 ms to 5 s, and
    /// resubscribes when the broker did not keep the session. The state is in
    /// [`SessionHandle::state`].
    ///
    /// # Errors
    /// [`MqttError::Tls`] when an `mqtts://` URL is given and no root certificate can be loaded.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn start(
        options: SessionOptions,
    ) -> Result<(SessionHandle, mpsc::Receiver<Inbound>), MqttError> {
        let mut mqtt = MqttOptions::new(
            options.client_id.clone(),
            options.url.host().to_owned(),
            options.url.port(),
        );
        let mut net = NetworkOptions::new();
        // Without it every QoS 1 request/response pair stalls ≈ 40 ms (Nagle + delayed ACK).
        net.set_tcp_nodelay(true);
        mqtt.set_network_options(net)
            .set_clean_start(options.clean_start)
            .set_keep_alive(options.keep_alive)
            .set_manual_acks(options.manual_acks)
            .set_max_packet_size(Some(options.max_packet_size))
            .set_connection_timeout(5);
        if options.session_expiry_secs > 0 {
            mqtt.set_session_expiry_interval(Some(options.session_expiry_secs));
        }
        if let Some(will) = &options.last_will {
            mqtt.set_last_will(rumqttc::v5::mqttbytes::v5::LastWill::new(
                will.topic.clone(),
                will.payload.clone(),
                will.qos.into(),
                will.retain,
                None,
            ));
        }
        if let Some(user) = options.url.username() {
            mqtt.set_credentials(user, options.url.password().unwrap_or_default());
        }
        if options.url.is_tls() {
            mqtt.set_transport(Transport::Tls(TlsConfiguration::Rustls(Arc::new(
                tls_client_config()?,
            ))));
        }

        let (client, eventloop) = AsyncClient::new(mqtt, options.request_capacity.max(1));
        let (inbound_tx, inbound_rx) = mpsc::channel(options.inbound_capacity.max(1));
        let (state_tx, state_rx) = watch::channel(ConnState::Connecting);
        let (close_tx, close_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            gate: Mutex::new(AckGate::default()),
        });
        let task = Task {
            eventloop,
            client: client.clone(),
            shared: shared.clone(),
            state: state_tx,
            close: close_rx,
            inbound: inbound_tx,
            filters: options.broker_filters(),
            clean_start: options.clean_start,
        };
        tokio::spawn(task.run());
        let handle = SessionHandle {
            transport: Link::Tcp { client, shared },
            state: state_rx,
            close: Arc::new(close_tx),
        };
        Ok((handle, inbound_rx))
    }
}

impl SessionHandle {
    /// The handle of an in-process session (see `crate::local`).
    pub(crate) fn local(
        requests: mpsc::Sender<LocalPublish>,
        state: watch::Receiver<ConnState>,
        close: Arc<watch::Sender<bool>>,
    ) -> Self {
        Self {
            transport: Link::Local { requests },
            state,
            close,
        }
    }

    /// Queues a PUBLISH. Returns once rumqttc has the request, not when the broker has it; it
    /// waits only while rumqttc's request queue (1,024) is full. Publishes queued while
    /// disconnected go out after the reconnect (QoS 1/2 are also retransmitted if unacked).
    ///
    /// In-process session: the same, with its own queue of 1,024; `qos` is ignored (see
    /// [`EmbeddedBroker::take_local_session`](crate::EmbeddedBroker::take_local_session)).
    ///
    /// # Errors
    /// [`MqttError::InvalidTopic`] for an empty or wildcard topic; [`MqttError::SessionClosed`]
    /// when the session has ended.
    pub async fn publish(
        &self,
        topic: impl Into<String>,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Result<(), MqttError> {
        let topic = check_topic(topic.into())?;
        if self.is_closed() {
            return Err(MqttError::SessionClosed);
        }
        match &self.transport {
            Link::Tcp { client, .. } => client
                .publish_bytes(topic, qos.into(), retain, payload.into())
                .await
                .map_err(|_| MqttError::SessionClosed),
            Link::Local { requests } => requests
                .send(LocalPublish {
                    topic,
                    payload: payload.into(),
                    retain,
                })
                .await
                .map_err(|_| MqttError::SessionClosed),
        }
    }

    /// Like [`publish`](Self::publish) but never waits.
    ///
    /// # Errors
    /// As `publish`, plus [`MqttError::QueueFull`] when rumqttc's request queue is full.
    pub fn try_publish(
        &self,
        topic: impl Into<String>,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Result<(), MqttError> {
        let topic = check_topic(topic.into())?;
        if self.is_closed() {
            return Err(MqttError::SessionClosed);
        }
        let sent = match &self.transport {
            Link::Tcp { client, .. } => client
                .try_publish(topic, qos.into(), retain, payload.into())
                .is_ok(),
            Link::Local { requests } => match requests.try_send(LocalPublish {
                topic,
                payload: payload.into(),
                retain,
            }) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => false,
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    return Err(MqttError::SessionClosed);
                }
            },
        };
        match sent {
            true => Ok(()),
            false if self.is_closed() => Err(MqttError::SessionClosed),
            false => Err(MqttError::QueueFull),
        }
    }

    /// Acknowledges a message received with `manual_acks` (sends its PUBACK). Call it only
    /// after the message's effects are durable. Never waits: if rumqttc's queue is full the ack
    /// is queued for the session task. A token from an earlier connection is ignored (the
    /// broker redelivers that message). The in-process session hands out no tokens; a token
    /// given to it is ignored.
    ///
    /// # Errors
    /// [`MqttError::SessionClosed`] when the session has ended.
    pub async fn ack(&self, token: AckToken) -> Result<(), MqttError> {
        if self.is_closed() {
            return Err(MqttError::SessionClosed);
        }
        let Link::Tcp { client, shared } = &self.transport else {
            return Ok(());
        };
        let mut gate = shared.gate();
        if !gate.connected || gate.epoch != token.epoch {
            tracing::debug!(
                pkid = token.pkid,
                "stale MQTT ack ignored; the broker will redeliver"
            );
            return Ok(());
        }
        if !gate.deferred.is_empty() || !try_ack(client, token.pkid, token.qos) {
            gate.deferred.push_back((token.pkid, token.qos));
        }
        Ok(())
    }

    /// The current connection state; `.changed().await` on it to follow transitions.
    pub fn state(&self) -> watch::Receiver<ConnState> {
        self.state.clone()
    }

    /// Sends DISCONNECT and ends the session task; returns when it has ended (at most about a
    /// second when the broker does not answer). Further calls on any handle fail with
    /// [`MqttError::SessionClosed`]. Publishes queued before `close` still go out.
    pub async fn close(&self) {
        self.close.send_replace(true);
        let mut state = self.state.clone();
        // Err means the task is gone, which is what we wait for.
        let _ = state.wait_for(|s| *s == ConnState::Closed).await;
    }

    fn is_closed(&self) -> bool {
        *self.close.borrow() || *self.state.borrow() == ConnState::Closed
    }
}

fn check_topic(topic: String) -> Result<String, MqttError> {
    if topic.is_empty() || topic.contains(['+', '#', '\0']) {
        Err(MqttError::InvalidTopic(topic))
    } else {
        Ok(topic)
    }
}

/// Queues a PUBACK (or PUBREC for QoS 2); false when rumqttc's request queue is full or gone.
fn try_ack(client: &AsyncClient, pkid: u16, qos: RQoS) -> bool {
    let mut publish = Publish::new("", qos, Bytes::new(), None);
    publish.pkid = pkid;
    client.try_ack(&publish).is_ok()
}

fn tls_client_config() -> Result<rustls::ClientConfig, MqttError> {
    let mut roots = rustls::RootCertStore::empty();
    let loaded = rustls_native_certs::load_native_certs();
    for err in &loaded.errors {
        tracing::warn!(error = %err, "could not load a system root certificate");
    }
    let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
    if added == 0 {
        return Err(MqttError::Tls(
            "no system root certificates found (install ca-certificates)".to_owned(),
        ));
    }
    // Explicit ring provider: no dependence on a process-wide default, and no aws-lc.
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| MqttError::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(config)
}

/// The session task's state.
struct Task {
    eventloop: EventLoop,
    client: AsyncClient,
    shared: Arc<Shared>,
    state: watch::Sender<ConnState>,
    close: watch::Receiver<bool>,
    inbound: mpsc::Sender<Inbound>,
    filters: Vec<Filter>,
    clean_start: bool,
}

impl Task {
    async fn run(mut self) {
        let mut backoff = MIN_BACKOFF;
        let mut closing = false;
        let mut close_deadline: Option<Instant> = None;
        let mut awaiting_suback = false;
        loop {
            let polled = tokio::select! {
                polled = self.eventloop.poll() => polled,
                // Err: every handle was dropped, which closes the session too.
                _ = self.close.changed(), if !closing => {
                    closing = true;
                    if !self.shared.gate().connected || self.client.try_disconnect().is_err() {
                        break;
                    }
                    close_deadline = Some(Instant::now() + CLOSE_GRACE);
                    continue;
                }
                () = sleep_until(close_deadline.unwrap_or_else(Instant::now)), if close_deadline.is_some() => break,
            };
            match polled {
                Ok(Event::Incoming(Packet::ConnAck(connack))) => {
                    backoff = MIN_BACKOFF;
                    {
                        let mut gate = self.shared.gate();
                        gate.epoch += 1;
                        gate.connected = true;
                        gate.deferred.clear();
                    }
                    let resubscribe = self.clean_start || !connack.session_present;
                    tracing::info!(session_present = connack.session_present, "MQTT connected");
                    if resubscribe && !self.filters.is_empty() {
                        // Straight into the event loop's queue, which it serves first: the task
                        // must not wait on the request channel it alone drains.
                        self.eventloop
                            .pending
                            .push_back(Request::Subscribe(Subscribe::new_many(
                                self.filters.clone(),
                                None,
                            )));
                        awaiting_suback = true;
                    } else {
                        self.state.send_replace(ConnState::Connected);
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(suback))) if awaiting_suback => {
                    awaiting_suback = false;
                    for (filter, code) in self.filters.iter().zip(&suback.return_codes) {
                        if !matches!(code, SubscribeReasonCode::Success(_)) {
                            tracing::error!(filter = %filter.path, ?code, "MQTT subscription refused");
                        }
                    }
                    self.state.send_replace(ConnState::Connected);
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let Some(message) = self.inbound_message(publish) else {
                        continue;
                    };
                    tokio::select! {
                        sent = self.inbound.send(message) => if sent.is_err() {
                            tracing::info!("MQTT inbound receiver dropped; ending the session");
                            let _ = self.client.try_disconnect();
                            closing = true;
                            close_deadline.get_or_insert(Instant::now() + CLOSE_GRACE);
                        },
                        _ = self.close.changed(), if !closing => break,
                    }
                }
                Ok(Event::Incoming(Packet::Disconnect(d))) => {
                    tracing::warn!(reason = ?d.reason_code, "MQTT broker sent DISCONNECT");
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) if closing => break,
                Ok(_) => {}
                Err(e) => {
                    {
                        let mut gate = self.shared.gate();
                        gate.connected = false;
                        gate.deferred.clear();
                        // A handle may have queued an ack between the event loop's own clean-up
                        // and this point; this drops it so it cannot reach the next connection.
                        self.eventloop.clean();
                    }
                    if closing {
                        break;
                    }
                    awaiting_suback = false;
                    tracing::warn!(error = %e, retry_in = ?backoff, "MQTT connection lost");
                    self.state.send_replace(ConnState::Disconnected {
                        reason: e.to_string(),
                    });
                    tokio::select! {
                        () = sleep(backoff) => {}
                        _ = self.close.changed() => break,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    self.state.send_replace(ConnState::Connecting);
                    continue;
                }
            }
            self.flush_deferred_acks();
        }
        self.shared.gate().connected = false;
        // Drop the event loop (and with it rumqttc's request queue) before announcing Closed, so
        // a publish after `close()` returns fails instead of vanishing into the queue.
        let Task {
            eventloop, state, ..
        } = self;
        drop(eventloop);
        state.send_replace(ConnState::Closed);
        tracing::debug!("MQTT session ended");
    }

    fn inbound_message(&self, publish: Publish) -> Option<Inbound> {
        let Ok(topic) = String::from_utf8(publish.topic.to_vec()) else {
            tracing::warn!("MQTT message with a non-UTF-8 topic dropped");
            return None;
        };
        let manual = self.eventloop.options.manual_acks();
        let ack = (manual && publish.qos != RQoS::AtMostOnce).then(|| AckToken {
            epoch: self.shared.gate().epoch,
            pkid: publish.pkid,
            qos: publish.qos,
        });
        Some(Inbound {
            topic,
            payload: publish.payload,
            qos: publish.qos.into(),
            retain: publish.retain,
            ack,
        })
    }

    fn flush_deferred_acks(&self) {
        let mut gate = self.shared.gate();
        while let Some(&(pkid, qos)) = gate.deferred.front() {
            if !try_ack(&self.client, pkid, qos) {
                break;
            }
            gate.deferred.pop_front();
        }
    }
}
