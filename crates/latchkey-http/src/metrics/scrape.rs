//! `GET /metrics`: who may scrape, and what a scrape reads.

use std::fmt;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_app::monitoring::{Check, Gauges};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::problem::Problem;
use crate::state::AppState;

/// The secret a scraper presents as `Authorization: Bearer`. `Debug` prints `****`.
#[derive(Clone)]
pub struct ScrapeToken(String);

impl ScrapeToken {
    /// Shortest token accepted: long enough that guessing is out of the question.
    pub const MIN_LEN: usize = 32;

    /// Checks a configured token.
    ///
    /// # Errors
    /// A sentence saying what is wrong: too short, or characters a header cannot carry.
    pub fn new(token: &str) -> Result<ScrapeToken, String> {
        let token = token.trim();
        if token.len() < Self::MIN_LEN {
            return Err(format!(
                "the metrics token must be at least {} characters (e.g. `openssl rand -hex 32`)",
                Self::MIN_LEN
            ));
        }
        if !token.chars().all(|c| c.is_ascii_graphic()) {
            return Err("the metrics token may hold printable ASCII only, no spaces".to_owned());
        }
        Ok(ScrapeToken(token.to_owned()))
    }

    /// Whether `presented` is this token, compared in time that does not depend on where they
    /// first differ.
    fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for ScrapeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// OpenMetrics text, which Prometheus reads.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub(crate) async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = &state.config.metrics_token else {
        return Problem::new(
            StatusCode::NOT_FOUND,
            "metrics-off",
            "metrics are off on this server; set metrics_token_file to turn them on \
             (docs/OPERATIONS.md, \"Monitoring\")",
        )
        .into_response();
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !presented.is_some_and(|p| token.matches(p)) {
        let mut res = Problem::new(
            StatusCode::UNAUTHORIZED,
            "metrics-token",
            "scraping needs the metrics token as `Authorization: Bearer …`",
        )
        .into_response();
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        return res;
    }
    let mut registry = Registry::with_prefix("latchkey");
    state.config.telemetry.register(&mut registry);
    registry.register_collector(Box::new(AppCounters(state.app.clone())));
    let probe = state.app.probe(state.config.replica.as_deref()).await;
    register_probe(&mut registry, probe, state.config.replica.is_some());
    match state.app.gauges().await {
        Ok(g) => register_gauges(&mut registry, &g),
        // The request metrics and counters are still worth having; the database check above
        // says why the gauges are missing.
        Err(e) => tracing::warn!(error = %e, "metrics: the gauges could not be read"),
    }
    let mut body = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut body, &registry) {
        tracing::error!(error = %e, "metrics: encoding failed");
        return Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
        .into_response();
    }
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
}

type Labels = Vec<(&'static str, String)>;

fn gauge_family(
    registry: &mut Registry,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (Labels, i64)>,
) {
    let family = Family::<Labels, Gauge>::default();
    for (labels, v) in values {
        family.get_or_create(&labels).set(v);
    }
    registry.register(name, help, family);
}

fn single_gauge(registry: &mut Registry, name: &str, help: &str, v: i64) {
    let g = Gauge::<i64>::default();
    g.set(v);
    registry.register(name, help, g);
}

fn register_probe(
    registry: &mut Registry,
    probe: latchkey_app::monitoring::Probe,
    reconciles: bool,
) {
    let up = |c: Check| match c {
        Check::Ok => Some(1),
        Check::Failed => Some(0),
        Check::Off => None,
    };
    gauge_family(
        registry,
        "up",
        "Whether each dependency answers this replica (1) or not (0): database, broker",
        [("database", probe.database), ("broker", probe.broker)]
            .into_iter()
            .filter_map(|(name, c)| up(c).map(|v| (vec![("check", name.to_owned())], v))),
    );
    let role = crate::health::lease_role(reconciles, probe.reconciler);
    gauge_family(
        registry,
        "reconciler_lease",
        "The reconciler's lease as this replica sees it: 1 for the role that applies",
        [(vec![("role", role.to_owned())], 1)],
    );
    single_gauge(
        registry,
        "ready",
        "Whether /readyz answers 200 (1) or 503 (0)",
        i64::from(probe.ready()),
    );
}

fn register_gauges(registry: &mut Registry, g: &Gauges) {
    gauge_family(
        registry,
        "locks",
        "Locks by their last reported availability",
        g.locks
            .iter()
            .map(|(a, n)| (vec![("availability", a.clone())], *n)),
    );
    gauge_family(
        registry,
        "slots",
        "PIN slots not simply set, by status (pending, failed, removing, probing, unmanaged)",
        g.slots
            .iter()
            .map(|(s, n)| (vec![("status", s.clone())], *n)),
    );
    gauge_family(
        registry,
        "outbox_deliveries",
        "Notification deliveries not sent, by channel and state (pending, dead)",
        g.deliveries
            .iter()
            .map(|(c, s, n)| (vec![("channel", c.clone()), ("state", s.clone())], *n)),
    );
    single_gauge(
        registry,
        "outbox_unrouted_notifications",
        "Notifications not yet turned into deliveries",
        g.unrouted,
    );
    let lag = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
    lag.set(g.reconcile_lag_seconds);
    registry.register(
        "reconcile_lag_seconds",
        "How long the PIN slot due longest has waited for the reconciler (0: nothing is due)",
        lag,
    );
    single_gauge(
        registry,
        "audit_head_sequence",
        "The audit log's last sequence number",
        g.audit_head,
    );
}

/// The app's in-memory counters, read when encoded.
struct AppCounters(latchkey_app::App);

impl fmt::Debug for AppCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppCounters")
    }
}

impl Collector for AppCounters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let counters = self.0.counters();
        let mut e = encoder.encode_descriptor(
            "remote_command_round_trip_seconds",
            "Remote lock and unlock commands confirmed by their lock: time from the request to \
             the committed confirmation, by action.",
            None,
            MetricType::Histogram,
        )?;
        for (action, h) in counters.round_trips() {
            let labels = [("action", action.as_str())];
            e.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                h.sum_seconds,
                h.count,
                &h.buckets,
                None,
            )?;
        }
        let outcomes = counters.command_outcomes();
        let mut e = encoder.encode_descriptor(
            "remote_commands",
            "Remote lock and unlock commands by action and how they ended (confirmed, failed, \
             unconfirmed, unsent).",
            None,
            MetricType::Counter,
        )?;
        for (action, status, n) in outcomes {
            let labels = [("action", action), ("status", status)];
            ConstCounter::new(n).encode(e.encode_family(&labels)?)?;
        }
        let failures = counters.delivery_failures();
        let mut e = encoder.encode_descriptor(
            "outbox_delivery_failures",
            "Failed delivery attempts by channel, retried or given up on.",
            None,
            MetricType::Counter,
        )?;
        for (channel, n) in failures {
            let labels = [("channel", channel.as_str())];
            ConstCounter::new(n).encode(e.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
