//! What an operator's Prometheus sees move while the building lives: a remote unlock through
//! the API answered by a virtual lock (its round trip timed), a notification delivered after a
//! failed attempt, a lock going offline; and `/readyz` following the broker down and back up.
//! The API in-process, a real broker and the virtual locks; every backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use common::{Broker, Rig, rig_on_db};
use http_body_util::BodyExt;
use latchkey_app::outbox::{Channels, Email, Mailer, OutboxConfig, SendError, Sending};
use latchkey_http::{HttpConfig, ScrapeToken, Telemetry};
use latchkey_mqtt::{BrokerOptions, EmbeddedBroker};
use latchkey_testkit::openmetrics::{self, Scrape, value};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "bridge-scrape-token-0123456789abcdef0123";

/// The server as `serve` builds it: the API with the scrape token and this replica's lease
/// name, every answer counted.
struct Server {
    router: axum::Router,
    api_token: String,
}

impl Server {
    async fn of(rig: &Rig) -> Server {
        let telemetry = Telemetry::default();
        let api = latchkey_http::router(
            rig.app.clone(),
            HttpConfig {
                telemetry: telemetry.clone(),
                metrics_token: Some(ScrapeToken::new(TOKEN).unwrap()),
                // The rig's reconciler holds the lease under its default name.
                replica: Some(format!("latchkey-{}", std::process::id())),
                ..HttpConfig::default()
            },
        );
        let (api_token, _) = rig
            .app
            .create_api_token(rig.admin.own_account(), "monitoring tests")
            .await
            .unwrap();
        Server {
            router: latchkey_http::metrics::instrument(api, telemetry),
            api_token,
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        auth: &str,
        body: Option<Value>,
    ) -> (u16, String) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", auth);
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn scrape(&self) -> Scrape {
        let (status, body) = self
            .call("GET", "/metrics", &format!("Bearer {TOKEN}"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        openmetrics::parse(&body)
    }

    async fn readyz(&self) -> (u16, Value) {
        let (status, body) = self.call("GET", "/readyz", "", None).await;
        (status, serde_json::from_str(&body).unwrap())
    }

    /// Waits (a liveness bound only) until `/readyz` answers `want`.
    async fn readyz_becomes(&self, want: u16) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = self.readyz().await;
            if status == want {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "/readyz never answered {want}: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Scrapes until `check` holds (a liveness bound only).
    async fn scrape_until(&self, what: &str, check: impl Fn(&Scrape) -> bool) -> Scrape {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.scrape().await;
            if check(&s) {
                return s;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never happened: {what}: {s:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A relay that refuses the first message for now (a 4xx SMTP reply) and takes the rest.
#[derive(Default)]
struct Flaky {
    refusals_left: AtomicU32,
    delivered: Mutex<Vec<String>>,
}

impl Mailer for Flaky {
    fn send<'a>(&'a self, email: &'a Email) -> Sending<'a> {
        Box::pin(async move {
            if self
                .refusals_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(SendError::Transient("451 try again later".into()));
            }
            self.delivered.lock().unwrap().push(email.to.clone());
            Ok(())
        })
    }
}

fn gauge(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(s, name, labels).unwrap_or(0.0)
}

async fn the_metrics_move_as_the_building_lives(db: latchkey_testkit::TestDb) {
    let broker = EmbeddedBroker::start(BrokerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..BrokerOptions::default()
    })
    .unwrap();
    let rig = rig_on_db("metrics_scenario", db, Broker::Embedded(broker)).await;
    let server = Server::of(&rig).await;
    let ready = server.readyz_becomes(200).await;
    assert_eq!(
        ready,
        json!({"status": "ready", "database": "ok", "broker": "ok", "reconciler": "holder"})
    );
    let before = server
        .scrape_until("the virtual locks are online", |s| {
            gauge(s, "latchkey_locks", &[("availability", "online")]) >= 2.0
        })
        .await;
    let head_before = gauge(&before, "latchkey_audit_head_sequence", &[]);
    assert!(head_before > 0.0);
    assert_eq!(
        gauge(
            &before,
            "latchkey_remote_command_round_trip_seconds_count",
            &[("action", "unlock")]
        ),
        0.0
    );

    // A remote unlock through the API, answered by the virtual lock.
    let admin = format!("Bearer {}", server.api_token);
    let (status, body) = server
        .call(
            "POST",
            &format!("/api/v1/doors/{}/unlock", rig.door.0),
            &admin,
            Some(json!({ "emergency_reason": "checking the bolt", "wait_seconds": 30 })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"confirmed\""), "{body}");
    let s = server.scrape().await;
    let unlock = [("action", "unlock")];
    assert_eq!(
        value(
            &s,
            "latchkey_remote_command_round_trip_seconds_count",
            &unlock
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            "latchkey_remote_command_round_trip_seconds_bucket",
            &[("action", "unlock"), ("le", "+Inf")]
        ),
        Some(1.0)
    );
    let took = gauge(
        &s,
        "latchkey_remote_command_round_trip_seconds_sum",
        &unlock,
    );
    assert!(took > 0.0, "the round trip took some time: {took}");
    assert_eq!(
        value(
            &s,
            "latchkey_remote_commands_total",
            &[("action", "unlock"), ("status", "confirmed")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            "latchkey_http_requests_total",
            &[
                ("route", "/api/v1/doors/{id}/unlock"),
                ("method", "POST"),
                ("status", "2xx")
            ]
        ),
        Some(1.0)
    );
    assert!(
        gauge(&s, "latchkey_audit_head_sequence", &[]) > head_before,
        "the command and its answer are in the log"
    );
    // The emergency opening is told to the household: a notification waits to be routed.
    assert_eq!(
        gauge(&s, "latchkey_outbox_unrouted_notifications", &[]),
        1.0
    );

    // Its delivery: refused once by the relay, then taken.
    let mailer = std::sync::Arc::new(Flaky {
        refusals_left: AtomicU32::new(1),
        ..Flaky::default()
    });
    let worker = rig.app.outbox_worker(
        OutboxConfig {
            // Long enough that the pass does not retry it itself, short for the test.
            first_backoff: Duration::from_millis(300),
            max_backoff: Duration::from_millis(300),
            ..OutboxConfig::default()
        },
        Channels {
            email: Some(mailer.clone()),
            ..Channels::default()
        },
    );
    worker.pass().await.unwrap();
    let s = server.scrape().await;
    let email = [("channel", "email")];
    assert_eq!(
        value(&s, "latchkey_outbox_delivery_failures_total", &email),
        Some(1.0)
    );
    assert_eq!(
        gauge(
            &s,
            "latchkey_outbox_deliveries",
            &[("channel", "email"), ("state", "pending")]
        ),
        1.0,
        "the refused delivery waits for its retry"
    );
    assert_eq!(
        gauge(&s, "latchkey_outbox_unrouted_notifications", &[]),
        0.0
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    worker.pass().await.unwrap();
    assert_eq!(
        *mailer.delivered.lock().unwrap(),
        vec!["rita@example.org".to_owned()]
    );
    let s = server.scrape().await;
    assert_eq!(
        gauge(
            &s,
            "latchkey_outbox_deliveries",
            &[("channel", "email"), ("state", "pending")]
        ),
        0.0,
        "delivered"
    );
    assert_eq!(
        value(&s, "latchkey_outbox_delivery_failures_total", &email),
        Some(1.0),
        "a success is no failure"
    );

    // A lock goes offline.
    rig.fleet.set_offline("lock-0", true).unwrap();
    server
        .scrape_until("the lock is offline", |s| {
            gauge(s, "latchkey_locks", &[("availability", "offline")]) == 1.0
                && gauge(s, "latchkey_locks", &[("availability", "online")]) == 1.0
        })
        .await;
    rig.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_move_as_an_unlock_a_delivery_and_an_outage_happen() {
    for db in latchkey_testkit::backends("metrics_scenario").await {
        eprintln!("on {:?}", db.backend);
        the_metrics_move_as_the_building_lives(db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_turns_503_while_the_broker_is_down_and_200_when_it_is_back() {
    let Some(broker) = Broker::mosquitto() else {
        return;
    };
    let db = latchkey_testkit::TestDb::sqlite("readyz_broker");
    let mut rig = rig_on_db("readyz_broker", db, broker).await;
    let server = Server::of(&rig).await;
    server.readyz_becomes(200).await;

    rig.broker.kill();
    let down = server.readyz_becomes(503).await;
    assert_eq!(
        down,
        json!({"status": "not_ready", "database": "ok", "broker": "failed", "reconciler": "holder"})
    );
    let s = server.scrape().await;
    assert_eq!(value(&s, "latchkey_up", &[("check", "broker")]), Some(0.0));

    rig.broker.restart();
    let up = server.readyz_becomes(200).await;
    assert_eq!(up["broker"], "ok", "{up}");
    rig.remove().await;
}
