//! The embedded broker's in-process session: a rumqttd link instead of a TCP connection.
//!
//! rumqttd never sets `TCP_NODELAY` on the sockets it accepts, so when it forwards two messages
//! back to back to a TCP client (a lock's action event, then its state report) the second waits
//! for the client's delayed ACK, ≈ 40 ms. A link is two in-memory queues into the router: no
//! socket, no Nagle.
//!
//! One thread (`mqtt-local-session`) runs the link on a current-thread runtime: rumqttd's
//! `LinkTx` sends into the router's bounded channel with a blocking `send`, and making a link
//! waits for the router's answer, so neither may run on a tokio worker of the application.

use std::sync::Arc;

use bytes::Bytes;
use rumqttd::Notification;
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::protocol::{
    Disconnect, DisconnectReasonCode, Filter, Packet, Publish, QoS as DQoS, RetainForwardRule,
    Subscribe, SubscribeReasonCode,
};
use tokio::sync::{mpsc, watch};
use tokio::time::sleep;

use crate::session::{LocalPublish, MAX_BACKOFF, MIN_BACKOFF, REQUEST_CAPACITY};
use crate::{ConnState, Inbound, MqttError, QoS, SessionHandle};

/// Both halves of one connection to rumqttd's router.
pub(crate) type Link = (LinkTx, LinkRx);

/// Makes a link for a client id (a closure over the router channel, whose type rumqttd does not
/// export). The error is rumqttd's `LinkError`, as text (the type is 800 bytes).
pub(crate) type Connector = Arc<dyn Fn(&str) -> Result<Link, String> + Send + Sync>;

/// The router silently drops a connect whose id contains one of these.
pub(crate) fn check_client_id(id: &str) -> Result<(), MqttError> {
    if id.is_empty() || id.contains(['+', '#', '/', '$']) {
        return Err(MqttError::LocalSession(format!(
            "`{id}` is not a usable client id (empty, or contains + # / $)"
        )));
    }
    Ok(())
}

/// The router disconnects a link that subscribes to `$…` (other than `$share/…`).
pub(crate) fn check_filter(filter: &str) -> Result<(), MqttError> {
    if filter.is_empty() || (filter.starts_with('$') && !filter.starts_with("$share/")) {
        return Err(MqttError::LocalSession(format!(
            "cannot subscribe to `{filter}`"
        )));
    }
    Ok(())
}

/// Spawns the session thread on `link` and returns the handle and inbound channel.
pub(crate) fn start(
    client_id: String,
    link: Link,
    connector: Connector,
    filters: Vec<String>,
    inbound_capacity: usize,
) -> Result<(SessionHandle, mpsc::Receiver<Inbound>), MqttError> {
    let (requests_tx, requests_rx) = mpsc::channel(REQUEST_CAPACITY);
    let (inbound_tx, inbound_rx) = mpsc::channel(inbound_capacity.max(1));
    let (state_tx, state_rx) = watch::channel(ConnState::Connecting);
    let (close_tx, close_rx) = watch::channel(false);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| MqttError::LocalSession(format!("cannot build its runtime: {e}")))?;
    let driver = Driver {
        client_id,
        connector,
        filters: filters
            .into_iter()
            .map(|path| Filter {
                path,
                // A link is served in memory: QoS 0 loses nothing between the router and here,
                // and needs no acks or inflight window.
                qos: DQoS::AtMostOnce,
                nolocal: false,
                preserve_retain: false,
                // rumqttd 0.20 ignores this (retained messages go to every new non-shared
                // subscription); say what we want anyway.
                retain_forward_rule: RetainForwardRule::OnEverySubscribe,
            })
            .collect(),
        requests: requests_rx,
        inbound: inbound_tx,
        state: state_tx,
        close: close_rx,
    };
    std::thread::Builder::new()
        .name("mqtt-local-session".to_owned())
        .spawn(move || runtime.block_on(driver.run(link)))
        .map_err(|e| MqttError::LocalSession(format!("cannot spawn its thread: {e}")))?;
    let handle = SessionHandle::local(requests_tx, state_rx, Arc::new(close_tx));
    Ok((handle, inbound_rx))
}

struct Driver {
    client_id: String,
    connector: Connector,
    filters: Vec<Filter>,
    requests: mpsc::Receiver<LocalPublish>,
    inbound: mpsc::Sender<Inbound>,
    state: watch::Sender<ConnState>,
    close: watch::Receiver<bool>,
}

/// Why [`Driver::serve`] returned.
enum End {
    /// `close()`, every handle dropped, or the inbound receiver dropped.
    Close,
    /// The router dropped the link.
    Lost(String),
}

impl Driver {
    async fn run(mut self, first: Link) {
        let mut link = Some(first);
        let mut backoff = MIN_BACKOFF;
        loop {
            let made = match link.take() {
                Some(l) => Ok(l),
                // Blocks this thread until the router answers, which it does at once.
                None => (self.connector)(&self.client_id),
            };
            let reason = match made {
                Ok((mut tx, mut rx)) => match self.serve(&mut tx, &mut rx).await {
                    End::Close => {
                        self.disconnect(&mut tx).await;
                        break;
                    }
                    End::Lost(reason) => reason,
                },
                Err(e) => format!("the broker refused the in-process link: {e}"),
            };
            tracing::warn!(%reason, retry_in = ?backoff, "in-process MQTT session lost");
            self.state.send_replace(ConnState::Disconnected { reason });
            tokio::select! {
                () = sleep(backoff) => {}
                _ = self.close.changed() => break,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            self.state.send_replace(ConnState::Connecting);
        }
        // Fail publishes from now on rather than queueing them for nobody.
        self.requests.close();
        self.state.send_replace(ConnState::Closed);
        tracing::debug!("in-process MQTT session ended");
    }

    /// Subscribes, then moves messages both ways until the session ends or the link is lost.
    async fn serve(&mut self, tx: &mut LinkTx, rx: &mut LinkRx) -> End {
        if self.filters.is_empty() {
            self.state.send_replace(ConnState::Connected);
        } else {
            let subscribe = Subscribe {
                pkid: 1,
                filters: self.filters.clone(),
            };
            if let Err(e) = tx.send(Packet::Subscribe(subscribe, None)).await {
                return End::Lost(e.to_string());
            }
        }
        // A message the inbound channel had no room for; the link is not read meanwhile.
        let mut pending: Option<Inbound> = None;
        loop {
            tokio::select! {
                biased;
                // Ok: `close()`; Err: every handle was dropped.
                _ = self.close.changed() => return End::Close,
                request = self.requests.recv() => {
                    let Some(request) = request else { return End::Close };
                    if let Err(e) = tx.send(publish_packet(request)).await {
                        return End::Lost(e.to_string());
                    }
                }
                permit = self.inbound.reserve(), if pending.is_some() => match permit {
                    Ok(permit) => permit.send(pending.take().expect("checked by the guard")),
                    Err(_) => {
                        tracing::info!("MQTT inbound receiver dropped; ending the in-process session");
                        return End::Close;
                    }
                },
                notification = rx.next(), if pending.is_none() => match notification {
                    Ok(Some(n)) => match self.on_notification(n, rx).await {
                        Ok(message) => pending = message,
                        Err(end) => return end,
                    },
                    Ok(None) => {}
                    Err(e) => return End::Lost(e.to_string()),
                },
            }
        }
    }

    async fn on_notification(
        &self,
        notification: Notification,
        rx: &mut LinkRx,
    ) -> Result<Option<Inbound>, End> {
        match notification {
            Notification::Forward(forward) => {
                let publish = forward.publish;
                let Ok(topic) = String::from_utf8(publish.topic.to_vec()) else {
                    tracing::warn!("MQTT message with a non-UTF-8 topic dropped");
                    return Ok(None);
                };
                return Ok(Some(Inbound {
                    topic,
                    payload: publish.payload,
                    qos: QoS::AtMostOnce,
                    retain: publish.retain,
                    ack: None,
                }));
            }
            // The router filled this link's buffer (200 notifications) and paused it: it sends
            // no more until told the buffer was drained, which it now is.
            Notification::Unschedule => {
                if let Err(e) = rx.wake().await {
                    return Err(End::Lost(e.to_string()));
                }
            }
            // Acks and disconnects only convert to packets through this (rumqttd does not
            // export its `Ack` type).
            other => match Option::<Packet>::from(other) {
                Some(Packet::SubAck(suback, _)) => {
                    for (filter, code) in self.filters.iter().zip(&suback.return_codes) {
                        if matches!(
                            code,
                            SubscribeReasonCode::Failure | SubscribeReasonCode::Unspecified
                        ) {
                            tracing::error!(filter = %filter.path, ?code, "MQTT subscription refused");
                        }
                    }
                    self.state.send_replace(ConnState::Connected);
                }
                Some(Packet::Disconnect(d, _)) => {
                    return Err(End::Lost(format!(
                        "the broker disconnected the in-process link ({:?})",
                        d.reason_code
                    )));
                }
                _ => {}
            },
        }
        Ok(None)
    }

    /// Sends what was queued before `close()`, then DISCONNECT, so the router forgets the link
    /// (a link that is merely dropped stays registered).
    async fn disconnect(&mut self, tx: &mut LinkTx) {
        while let Ok(request) = self.requests.try_recv() {
            if tx.send(publish_packet(request)).await.is_err() {
                return;
            }
        }
        let disconnect = Disconnect {
            reason_code: DisconnectReasonCode::NormalDisconnection,
        };
        let _ = tx.send(Packet::Disconnect(disconnect, None)).await;
    }
}

/// Links publish at QoS 0 (rumqttd's `Publish::new`): the router takes it in memory, and
/// forwards it to each subscriber at that subscriber's QoS.
fn publish_packet(request: LocalPublish) -> Packet {
    let publish = Publish::new(Bytes::from(request.topic), request.payload, request.retain);
    Packet::Publish(publish, None)
}
