//! Prometheus metrics (docs/OPERATIONS.md, "Monitoring"; docs/ARCHITECTURE.md, decision 59).
//!
//! - **Requests**: every answer is counted by route template (`/api/v1/doors/{id}/unlock`,
//!   never the raw path, so a scanner cannot grow the label set), method and status class, and
//!   timed by route and method. [`instrument`] wraps the whole server (API and pages); the
//!   routers note which route answered in the response ([`note_route`]).
//! - **The app's counts** are read at scrape time ([`scrape`]): its in-memory counters, one
//!   query per gauge, and the readiness probe.
//! - **Who may scrape**: only a caller presenting the configured scrape token as
//!   `Authorization: Bearer`; without a token configured `/metrics` is off (404).

mod scrape;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use scrape::ScrapeToken;
pub(crate) use scrape::scrape;

/// Upper bounds, in seconds, of the request duration histogram. A remote unlock waits for its
/// lock (up to its `wait_seconds`), hence the long tail.
const REQUEST_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 15.0,
];

/// The label a request gets when no route answered it (an unknown path).
const UNMATCHED: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

/// The HTTP layer's metrics, shared by the counting layer and the scrape endpoint. Cheap to
/// clone.
#[derive(Clone, Debug)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
}

impl Default for Telemetry {
    fn default() -> Self {
        fn histogram() -> Histogram {
            Histogram::new(REQUEST_BUCKETS)
        }
        Telemetry {
            inner: Arc::new(Inner {
                requests: Family::default(),
                durations: Family::new_with_constructor(histogram),
            }),
        }
    }
}

impl Telemetry {
    /// Registers the request metrics (clones that share the counts) in `registry`.
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status class",
            self.inner.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer's headers, by route template and method",
            self.inner.durations.clone(),
        );
    }

    fn observe(&self, route: String, method: &'static str, status: u16, took: f64) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.inner
            .durations
            .get_or_create(&RouteLabels {
                route: route.clone(),
                method,
            })
            .observe(took);
        self.inner
            .requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status: class,
            })
            .inc();
    }
}

/// A method as a label: the standard ones by name, anything else as `other` (a client may send
/// any token as a method).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts and times every request `router` answers. Wrap the whole server once.
pub fn instrument(router: axum::Router, telemetry: Telemetry) -> axum::Router {
    router.layer(axum::middleware::from_fn_with_state(
        telemetry,
        count_requests,
    ))
}

async fn count_requests(State(t): State<Telemetry>, req: Request, next: Next) -> Response {
    let method = method_label(req.method());
    let started = Instant::now();
    let res = next.run(req).await;
    let route = res
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_owned(), |p| p.as_str().to_owned());
    t.observe(
        route,
        method,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    res
}

/// Copies the route template that matched into the response, for [`instrument`]'s layer
/// outside the router (which runs before routing and cannot see it otherwise). Add with
/// `Router::route_layer`, so that it runs for matched routes only.
pub async fn note_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let mut res = next.run(req).await;
    if let Some(route) = route {
        res.extensions_mut().insert(route);
    }
    res
}
