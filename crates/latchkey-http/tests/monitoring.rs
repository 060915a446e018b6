//! `/metrics`, `/readyz` and `/healthz`: who may scrape, what a scrape says (read as Prometheus
//! reads it), requests counted by route template, and readiness that follows the database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::fixture;
use http_body_util::BodyExt;
use latchkey_app::secrets::Keys;
use latchkey_app::{App, AppConfig, NoDevices, SystemClock};
use latchkey_http::{HttpConfig, ScrapeToken, Telemetry, metrics, router};
use latchkey_store::{Backend, Store};
use latchkey_testkit::openmetrics::{self, value};
use latchkey_testkit::{TestDb, backends, each_backend};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

const TOKEN: &str = "0123456789abcdef0123456789abcdef-scrape";

/// The server as `serve` builds it around the API: the scrape token set, every answer counted.
fn server(app: &App) -> axum::Router {
    let telemetry = Telemetry::default();
    let api = router(
        app.clone(),
        HttpConfig {
            telemetry: telemetry.clone(),
            metrics_token: Some(ScrapeToken::new(TOKEN).unwrap()),
            ..HttpConfig::default()
        },
    );
    metrics::instrument(api, telemetry)
}

async fn get(router: &axum::Router, path: &str, auth: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::builder().uri(path);
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    let res = router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn scrape(router: &axum::Router) -> openmetrics::Scrape {
    let (status, body) = get(router, "/metrics", Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    openmetrics::parse(&body)
}

#[tokio::test]
async fn metrics_are_off_until_a_scrape_token_is_configured() {
    let db = TestDb::sqlite("metrics_off");
    let f = fixture(&db).await;
    let (status, body) = get(&f.router, "/metrics", Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("metrics-off"), "{body}");
    assert!(!body.contains("latchkey_"), "no metric leaks: {body}");
    db.remove().await;
}

#[tokio::test]
async fn a_scrape_without_the_token_or_with_a_wrong_one_is_refused() {
    let db = TestDb::sqlite("metrics_refused");
    let f = fixture(&db).await;
    let server = server(&f.app);
    let admin_token = f.tokens["admin"].0.clone();
    let wrong_last = format!("Bearer {}x", &TOKEN[..TOKEN.len() - 1]);
    let longer = format!("Bearer {TOKEN}0");
    let admin = format!("Bearer {admin_token}");
    let basic = format!("Basic {TOKEN}");
    for (what, auth) in [
        ("no token", None),
        (
            "a token differing in its last character",
            Some(wrong_last.as_str()),
        ),
        ("the token with one more character", Some(longer.as_str())),
        ("an admin's API token", Some(admin.as_str())),
        ("the token under another scheme", Some(basic.as_str())),
        ("the token alone", Some(TOKEN)),
    ] {
        let (status, body) = get(&server, "/metrics", auth).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert!(
            !body.contains("latchkey_"),
            "{what}: no metric leaks: {body}"
        );
    }
    let res = server
        .clone()
        .oneshot(
            Request::builder()
                .uri("/metrics")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"metrics\"",
        "a refusal names the scheme"
    );
    scrape(&server).await;
    db.remove().await;
}

#[test]
fn a_short_or_unprintable_scrape_token_is_refused() {
    assert!(ScrapeToken::new("short").is_err());
    assert!(ScrapeToken::new(&"a b".repeat(20)).is_err());
    let t = ScrapeToken::new(TOKEN).unwrap();
    assert_eq!(format!("{t:?}"), "****", "the token never reaches a log");
}

#[tokio::test]
async fn requests_are_counted_by_route_template_and_the_gauges_read_the_database() {
    each_backend("metrics_counts", |db| async move {
        let f = fixture(&db).await;
        let server = server(&f.app);
        let admin = format!("Bearer {}", f.tokens["admin"].0);
        let door = format!("/api/v1/doors/{}", f.door);
        for _ in 0..2 {
            let (status, body) = get(&server, &door, Some(&admin)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let (status, _) = get(&server, "/api/v1/doors/987654", Some(&admin)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = get(&server, "/no/such/thing-4711", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = get(&server, "/healthz", None).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));

        let s = scrape(&server).await;
        let requests = |route: &str, status: &str| {
            value(
                &s,
                "latchkey_http_requests_total",
                &[("route", route), ("method", "GET"), ("status", status)],
            )
        };
        assert_eq!(requests("/api/v1/doors/{id}", "2xx"), Some(2.0));
        assert_eq!(requests("/api/v1/doors/{id}", "4xx"), Some(1.0));
        assert_eq!(requests("unmatched", "4xx"), Some(1.0));
        assert_eq!(requests("/healthz", "2xx"), Some(1.0));
        assert_eq!(
            value(
                &s,
                "latchkey_http_request_duration_seconds_count",
                &[("route", "/api/v1/doors/{id}"), ("method", "GET")],
            ),
            Some(3.0),
            "every answer is timed"
        );
        for sample in &s.samples {
            for v in sample.labels.values() {
                assert!(
                    !v.contains("987654") && !v.contains("4711"),
                    "a raw path became a label: {sample:?}"
                );
            }
        }
        // What the fixture left in the database and in the app's counters: dead letters (its
        // relay refused each for good, at the first attempt), and the audit log's head.
        let dead = value(
            &s,
            "latchkey_outbox_deliveries",
            &[("channel", "email"), ("state", "dead")],
        )
        .unwrap();
        assert!(dead >= 1.0, "the fixture's dead letters: {dead}");
        assert_eq!(
            value(
                &s,
                "latchkey_outbox_delivery_failures_total",
                &[("channel", "email")]
            ),
            Some(dead),
            "one failed attempt for each"
        );
        assert_eq!(
            value(&s, "latchkey_audit_head_sequence", &[]),
            Some(f.event_count().await as f64)
        );
        assert_eq!(
            value(&s, "latchkey_up", &[("check", "database")]),
            Some(1.0)
        );
        assert_eq!(
            value(&s, "latchkey_up", &[("check", "broker")]),
            None,
            "no broker here, so no broker check"
        );
        assert_eq!(value(&s, "latchkey_ready", &[]), Some(1.0));
        assert_eq!(
            value(&s, "latchkey_reconcile_lag_seconds", &[]),
            Some(0.0),
            "nothing is due without locks"
        );
        // The scrape itself is counted, under its route, by the next one.
        let s = scrape(&server).await;
        assert_eq!(
            value(
                &s,
                "latchkey_http_requests_total",
                &[("route", "/metrics"), ("status", "2xx")]
            ),
            Some(1.0)
        );
    })
    .await;
}

#[tokio::test]
async fn readyz_without_a_device_side_checks_the_database_only() {
    each_backend("readyz_plain", |db| async move {
        let f = fixture(&db).await;
        let (status, body) = get(&f.router, "/readyz", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "status": "ready", "database": "ok", "broker": "off", "reconciler": "off"
            })
        );
    })
    .await;
}

/// A TCP relay to PostgreSQL that can be cut (every connection through it dropped, the port
/// closed) and restored on the same port: the database as the server sees it when the network
/// or the database goes away.
struct Relay {
    port: u16,
    target: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    async fn start(target: &str) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut r = Relay {
            port,
            target: target.to_owned(),
            task: None,
        };
        r.serve(listener);
        r
    }

    fn serve(&mut self, listener: TcpListener) {
        let target = self.target.clone();
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                conns.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Drops every connection and closes the port.
    fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    async fn restore(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

async fn readyz(router: &axum::Router) -> (StatusCode, serde_json::Value) {
    let (status, body) = get(router, "/readyz", None).await;
    (status, serde_json::from_str(&body).unwrap())
}

#[tokio::test]
async fn readyz_turns_503_while_the_database_is_unreachable_and_200_after() {
    // An SQLite database is a file the process holds open: it cannot become unreachable the
    // way a database server can, so this runs on PostgreSQL only.
    for db in backends("readyz_db").await {
        if db.backend != Backend::Postgres {
            db.remove().await;
            continue;
        }
        let authority = db
            .url
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('/'))
            .map(|(auth, _)| auth.rsplit('@').next().unwrap().to_owned())
            .unwrap();
        let mut relay = Relay::start(&authority).await;
        let url = db
            .url
            .replace(&authority, &format!("127.0.0.1:{}", relay.port));
        let store = Store::open(&url).await.unwrap();
        let app = App::new(
            store,
            Keys::from_master(&[5; 32]),
            Arc::new(SystemClock),
            Arc::new(NoDevices),
            AppConfig::default(),
        );
        let server = server(&app);
        let (status, body) = readyz(&server).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        relay.cut();
        let (status, body) = readyz(&server).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["database"], "failed", "{body}");
        assert_eq!(body["status"], "not_ready", "{body}");
        let text = body.to_string();
        assert!(
            !text.contains("127.0.0.1") && !text.contains("postgres"),
            "no address or driver detail: {text}"
        );
        // The scrape still answers, and says the database is down.
        let s = scrape(&server).await;
        assert_eq!(
            value(&s, "latchkey_up", &[("check", "database")]),
            Some(0.0)
        );
        assert_eq!(value(&s, "latchkey_ready", &[]), Some(0.0));

        relay.restore().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (status, body) = readyz(&server).await;
            if status == StatusCode::OK {
                assert_eq!(body["database"], "ok");
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still not ready after the database came back: {body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        app.close().await;
        relay.cut();
        db.remove().await;
    }
}
