//! Runs a [`Core`] on an MQTT session of `latchkey-mqtt`: one task reads the broker, the
//! commands and the clock, and publishes what the core asks (QoS 1, never retained).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use latchkey_mqtt::{ConnState, MqttUrl, QoS, SessionHandle, SessionOptions};
use latchkey_zwave::Rejections;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::core::{Core, Counters};
use super::{JobId, ZwaveCommand, ZwaveEvent, ZwaveOptions};

/// The options of an MQTT session for the gateway at `topics`: everything under its prefix,
/// QoS 1, a clean start (nothing queued for latchkey while it is away: the node list and
/// read-backs rebuild the picture), packets up to the decoder's API answer limit.
pub fn session_options(
    url: MqttUrl,
    client_id: &str,
    topics: &latchkey_zwave::Topics,
) -> SessionOptions {
    let mut opts = SessionOptions::new(url, client_id);
    opts.subscriptions = vec![(topics.subscription(), QoS::AtLeastOnce)];
    opts.max_packet_size =
        u32::try_from(latchkey_zwave::Limits::DEFAULT.max_api_payload_bytes + 1024)
            .unwrap_or(u32::MAX);
    opts
}

/// What the session counted, for metrics and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZwaveStats {
    pub counters: Counters,
    pub rejections: Rejections,
}

type Submit = (ZwaveCommand, oneshot::Sender<JobId>);

/// Submits commands to a running session and reads its counters. Cheap to clone.
#[derive(Clone)]
pub struct ZwaveGateway {
    commands: mpsc::Sender<Submit>,
    relist: mpsc::Sender<()>,
    stats: Arc<Mutex<ZwaveStats>>,
}

impl ZwaveGateway {
    /// Submits a command; its outcome comes on the event stream under the returned id. `None`
    /// when the session has ended.
    pub async fn submit(&self, command: ZwaveCommand) -> Option<JobId> {
        let (tx, rx) = oneshot::channel();
        self.commands.send((command, tx)).await.ok()?;
        rx.await.ok()
    }

    /// Asks the gateway for its nodes again (a [`ZwaveEvent::Nodes`] follows).
    pub async fn relist(&self) {
        let _ = self.relist.send(()).await;
    }

    /// The counters so far.
    pub fn stats(&self) -> ZwaveStats {
        lock(&self.stats).clone()
    }
}

fn lock(m: &Mutex<ZwaveStats>) -> MutexGuard<'_, ZwaveStats> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts the session on `handle` (whose subscriptions must cover the gateway's prefix, see
/// [`session_options`]) reading `inbound`. Events go to the returned receiver; when it is
/// full the session waits (and stops reading the broker), so keep draining it.
pub fn start(
    handle: SessionHandle,
    mut inbound: mpsc::Receiver<latchkey_mqtt::Inbound>,
    opts: ZwaveOptions,
) -> (ZwaveGateway, mpsc::Receiver<ZwaveEvent>, JoinHandle<()>) {
    let (cmd_tx, mut cmd_rx) = mpsc::channel::<Submit>(1024);
    let (relist_tx, mut relist_rx) = mpsc::channel::<()>(4);
    let (event_tx, event_rx) = mpsc::channel(4096);
    let stats = Arc::new(Mutex::new(ZwaveStats::default()));
    let gateway = ZwaveGateway {
        commands: cmd_tx,
        relist: relist_tx,
        stats: Arc::clone(&stats),
    };
    let mut state: watch::Receiver<ConnState> = handle.state();
    let task = tokio::spawn(async move {
        let mut core = Core::new(opts, Instant::now());
        if *state.borrow_and_update() == ConnState::Connected {
            core.connected(Instant::now());
        }
        loop {
            let sleep = core.until_due(Instant::now());
            tokio::select! {
                m = inbound.recv() => match m {
                    Some(m) => core.on_message(&m.topic, &m.payload, Instant::now()),
                    None => break,
                },
                c = cmd_rx.recv() => match c {
                    Some((command, reply)) => {
                        let id = core.submit(command, Instant::now());
                        let _ = reply.send(id);
                    }
                    None => break,
                },
                Some(()) = relist_rx.recv() => core.relist(Instant::now()),
                changed = state.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let now = state.borrow_and_update().clone();
                    match now {
                        ConnState::Connected => core.connected(Instant::now()),
                        ConnState::Disconnected { .. } => core.disconnected(),
                        ConnState::Closed => break,
                        ConnState::Connecting => {}
                    }
                },
                () = async {
                    match sleep {
                        Some(d) => tokio::time::sleep(d).await,
                        None => std::future::pending().await,
                    }
                } => core.tick(Instant::now()),
            }
            let (publish, events) = core.drain();
            for out in publish {
                // Never retained: a retained call would be replayed on every reconnect.
                let retain = out.retain();
                if let Err(e) = handle
                    .publish(out.topic, out.payload, QoS::AtLeastOnce, retain)
                    .await
                {
                    tracing::warn!(error = %e, api = out.api, "a Z-Wave gateway call was not queued");
                }
            }
            {
                let mut s = lock(&stats);
                s.counters = core.counters().clone();
                s.rejections = core.rejections().clone();
            }
            for e in events {
                if event_tx.send(e).await.is_err() {
                    return;
                }
            }
        }
    });
    (gateway, event_rx, task)
}
