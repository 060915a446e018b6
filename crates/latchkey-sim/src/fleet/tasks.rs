//! The fleet's background tasks: the MQTT event loop, the publisher, the ticker and the saver.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, Incoming, Outgoing};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::{BACKOFF_MAX, BACKOFF_MIN, Outbound, Shared};

/// The event loop: connection, reconnection with backoff, incoming messages.
pub(super) async fn drive(shared: &Arc<Shared>, eventloop: &mut EventLoop) {
    let mut stop = shared.stop.subscribe();
    let mut backoff = BACKOFF_MIN;
    loop {
        let event = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                backoff = BACKOFF_MIN;
                shared.counters.connects.fetch_add(1, Ordering::Relaxed);
                info!(base = %shared.base, "connected to the broker");
                shared.connected.send_replace(true);
                shared.announce();
            }
            Ok(Event::Incoming(Incoming::Publish(p))) => shared.on_publish(&p.topic, &p.payload),
            Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(e) => {
                if shared.stopping.load(Ordering::Relaxed) {
                    return;
                }
                if shared.connected.send_replace(false) {
                    warn!(error = %e, "lost the broker; devices keep working offline");
                } else {
                    debug!(error = %e, ?backoff, "broker unreachable");
                }
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// The only task that calls the client, so the event loop never blocks on its own request queue.
pub(super) async fn publisher(
    shared: Arc<Shared>,
    client: AsyncClient,
    mut rx: mpsc::UnboundedReceiver<Outbound>,
) {
    while let Some(item) = rx.recv().await {
        if matches!(item, Outbound::Disconnect) {
            if let Err(e) = client.disconnect().await {
                debug!(error = %e, "disconnect request not delivered");
            }
            shared.stop.send_replace(true);
            continue;
        }
        if !*shared.connected.borrow() {
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let result = match item {
            Outbound::Publish {
                topic,
                payload,
                qos,
                retain,
            } => {
                let r = client.publish(topic, qos, retain, payload).await;
                if r.is_ok() {
                    shared.counters.messages_out.fetch_add(1, Ordering::Relaxed);
                }
                r
            }
            Outbound::Subscribe(filters) => client.subscribe_many(filters).await,
            Outbound::Disconnect => Ok(()),
        };
        if let Err(e) = result {
            warn!(error = %e, "MQTT request not queued");
        }
    }
}

pub(super) async fn ticker(shared: Arc<Shared>, every: Duration) {
    let mut interval = tokio::time::interval(every.max(Duration::from_millis(1)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        let now = shared.now();
        let mut devices = shared.devices();
        for lock in &mut devices.locks {
            if lock.next_deadline().is_some_and(|d| d <= now) {
                let msgs = lock.tick(now);
                shared.emit(lock.name(), msgs);
            }
        }
    }
}

pub(super) async fn saver(shared: Arc<Shared>) {
    if shared.state_file.is_none() {
        return;
    }
    loop {
        shared.save.notified().await;
        let s = Arc::clone(&shared);
        let written = tokio::task::spawn_blocking(move || s.save_now()).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "could not save the fleet state"),
            Err(e) => warn!(error = %e, "state saver panicked"),
        }
    }
}
