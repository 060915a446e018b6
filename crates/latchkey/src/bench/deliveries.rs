//! `latchkey bench deliveries`: webhook deliveries per second to one endpoint, through the
//! outbox as `serve` runs it (route the events, claim in order, sign, POST with the real HTTP
//! sender, record), beside the floor: the bare POST rate of the same sender to the same
//! receiver, one request at a time, in the same run. A temporary SQLite database; the receiver
//! is an HTTP server in this process on 127.0.0.1.
//!
//! Then the latency of one event at a time: from its commit until the receiver has it, with the
//! worker's own loop running (it hears of new events by the change feed's poll on SQLite).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use latchkey_app::outbox::{Channels, OutboxConfig, WebhookRequest, WebhookSender};
use latchkey_app::secrets::Keys;
use latchkey_app::webhooks::EndpointInput;
use latchkey_app::{App, AppConfig, NoDevices, SystemClock};
use latchkey_store::audit::{self, NewEvent};
use serde_json::json;
use tokio::sync::Notify;

use super::{TempDir, store_err};

#[derive(Default)]
struct Receiver {
    got: AtomicUsize,
    arrived: Notify,
}

async fn receiver() -> Result<(String, Arc<Receiver>)> {
    let r = Arc::new(Receiver::default());
    let state = r.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |_body: axum::body::Bytes| {
            let r = state.clone();
            async move {
                r.got.fetch_add(1, Ordering::SeqCst);
                r.arrived.notify_waiters();
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((format!("http://{addr}/hook"), r))
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// # Errors
/// The temporary database, the receiver or a delivery failed.
pub async fn run(events: usize, samples: usize) -> Result<()> {
    let dir = TempDir::new("deliveries")?;
    let store = dir.store().await?;
    let keys = Keys::from_master(&[0x42; 32]);
    let app = App::new(
        store.clone(),
        keys.clone(),
        Arc::new(SystemClock),
        Arc::new(NoDevices),
        AppConfig::default(),
    );
    let err = |e: latchkey_app::AppError| anyhow!("{e}");
    let admin = app
        .create_admin("Bench Admin", "bench@example.org", "bench's long password")
        .await
        .map_err(err)?;
    let admin = app.terminal_principal(admin.id).await.map_err(err)?;
    let property = app
        .create_property(
            admin.admin().map_err(err)?,
            latchkey_app::directory::PropertyInput {
                name: "Bench House".into(),
                address: "1 Bench Road".into(),
                timezone: "UTC".into(),
                policy: latchkey_core::model::Policy::default(),
                office_hours: latchkey_core::schedule::Schedule::Always,
            },
        )
        .await
        .map_err(err)?
        .id;
    let (url, rx) = receiver().await?;
    app.create_webhook(
        admin.webhook_manager(property).map_err(err)?,
        EndpointInput {
            url: url.clone(),
            description: "bench receiver".into(),
            kinds: vec!["lock.jammed".into()],
        },
    )
    .await
    .map_err(err)?;
    let sender = Arc::new(latchkey_webhook::HttpSender::new(
        latchkey_webhook::HttpConfig::default(),
    ));

    // The floor: the same sender, the same receiver, one POST at a time.
    let body = json!({"type": "lock.jammed", "timestamp": "2026-12-05T00:00:00Z",
        "data": {"seq": 1, "property_id": property.0, "subject": "door:1", "actor_id": null,
        "event": {"door": 1}}})
    .to_string()
    .into_bytes();
    let t = Instant::now();
    for i in 0..events {
        let r = WebhookRequest {
            url: url.clone(),
            id: i.to_string(),
            timestamp: 0,
            signature: "v1,floor".into(),
            body: body.clone(),
        };
        let status = sender.post(&r).await.map_err(|e| anyhow!(e))?;
        if status != 204 {
            return Err(anyhow!("the receiver answered {status}"));
        }
    }
    let floor = t.elapsed();
    rx.got.store(0, Ordering::SeqCst);

    // Deliveries: N events committed at once, then the worker drains them.
    let mut tx = store.write().await.map_err(store_err)?;
    let at = jiff::Timestamp::now();
    let batch: Vec<NewEvent> = (0..events)
        .map(|i| {
            NewEvent::new("lock.jammed", "door:1")
                .property(property)
                .data(json!({ "door": 1, "n": i }))
        })
        .collect();
    audit::append(&mut tx, keys.chain_key(), at, &batch)
        .await
        .map_err(store_err)?;
    tx.commit().await.map_err(store_err)?;
    let worker = app.outbox_worker(
        OutboxConfig {
            worker: "bench".into(),
            ..OutboxConfig::default()
        },
        Channels {
            webhook: Some(sender.clone() as Arc<dyn WebhookSender>),
            ..Channels::default()
        },
    );
    let t = Instant::now();
    while rx.got.load(Ordering::SeqCst) < events {
        let pass = worker.pass().await.map_err(err)?;
        if pass.sent == 0 && pass.routed == 0 && pass.retried == 0 {
            return Err(anyhow!(
                "the worker stopped with {} of {events} delivered",
                rx.got.load(Ordering::SeqCst)
            ));
        }
    }
    let drained = t.elapsed();

    // Latency: one event at a time, the worker's own loop running.
    let running = tokio::spawn(
        app.outbox_worker(
            OutboxConfig {
                worker: "bench-loop".into(),
                ..OutboxConfig::default()
            },
            Channels {
                webhook: Some(sender.clone() as Arc<dyn WebhookSender>),
                ..Channels::default()
            },
        )
        .run(),
    );
    let mut lat = Vec::with_capacity(samples);
    for i in 0..samples {
        let before = rx.got.load(Ordering::SeqCst);
        let arrived = rx.arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        let mut tx = store.write().await.map_err(store_err)?;
        let t = Instant::now();
        audit::append(
            &mut tx,
            keys.chain_key(),
            jiff::Timestamp::now(),
            &[NewEvent::new("lock.jammed", "door:1")
                .property(property)
                .data(json!({ "door": 1, "sample": i }))],
        )
        .await
        .map_err(store_err)?;
        tx.commit().await.map_err(store_err)?;
        tokio::time::timeout(Duration::from_secs(10), async {
            while rx.got.load(Ordering::SeqCst) == before {
                arrived.as_mut().await;
                arrived.set(rx.arrived.notified());
                arrived.as_mut().enable();
            }
        })
        .await
        .context("an event was not delivered within 10 s")?;
        lat.push(t.elapsed());
    }
    running.abort();
    lat.sort();

    let per_s = |n: usize, d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    let floor_rate = per_s(events, floor);
    let rate = per_s(events, drained);
    println!("webhook deliveries to one endpoint, in order, SQLite, receiver on 127.0.0.1");
    println!(
        "floor (bare POSTs, one at a time):  {events} in {:.2} s = {floor_rate:.0} POST/s",
        floor.as_secs_f64()
    );
    println!(
        "deliveries (route, claim, sign, POST, record): {events} in {:.2} s = {rate:.0} deliveries/s ({:.0} % of the floor)",
        drained.as_secs_f64(),
        100.0 * rate / floor_rate.max(1e-9)
    );
    println!(
        "latency of one event, commit to receipt ({samples} samples): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
    println!(
        "{}",
        json!({
            "bench": "deliveries", "events": events, "floor_per_s": floor_rate.round(),
            "deliveries_per_s": rate.round(), "latency_p50_ms": pct(&lat, 0.5),
            "latency_p99_ms": pct(&lat, 0.99), "samples": samples,
        })
    );
    drop(store);
    Ok(())
}
