//! latchkey's HTTP API: the axum router under `/api/v1`, RFC 9457 problem responses, typed DTOs
//! and the OpenAPI document at `/api/openapi.json`, generated from the same route table that
//! builds the router (utoipa-axum), so a route cannot exist without its documentation.
//! Handlers are thin: extract, call one app function, map to a DTO. This crate never reaches
//! the store except through `latchkey-app`.

pub mod bodies;
mod browser;
pub mod dto;
pub mod extract;
mod health;
pub mod metrics;
pub mod openapi;
pub mod problem;
mod routes;
pub mod state;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use latchkey_app::App;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use crate::browser::PublicOrigin;
pub use crate::metrics::{ScrapeToken, Telemetry};
use crate::problem::Problem;
use crate::state::AppState;

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// Options of the HTTP layer.
#[derive(Clone, Debug, Default)]
pub struct HttpConfig {
    /// Mark the session cookie `Secure` (when served over HTTPS, directly or behind a proxy).
    pub secure_cookies: bool,
    /// The origin browsers reach latchkey at; `None`: `http://` and the request's `Host`.
    /// Requests that change something from any other origin are refused (see `browser.rs`).
    pub public_origin: Option<PublicOrigin>,
    /// Where Zigbee2MQTT reaches the embedded broker, for the settings returned with a new
    /// broker login; `None` without an embedded broker.
    pub broker: Option<latchkey_app::broker_settings::BrokerAddress>,
    /// The request metrics, shared with [`metrics::instrument`]'s layer around the server.
    pub telemetry: Telemetry,
    /// Who may read `/metrics`; `None`: nobody (the endpoint answers 404).
    pub metrics_token: Option<ScrapeToken>,
    /// The name this replica holds the reconciler's lease under, for `/readyz`; `None` when
    /// it runs no reconciler.
    pub replica: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "latchkey",
        description = "Self-hosted access server for homes and apartment buildings."
    ),
    components(schemas(Problem))
)]
struct ApiDoc;

fn api() -> OpenApiRouter<AppState> {
    use routes::*;
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::list_sessions))
        .routes(routes!(auth::revoke_session))
        .routes(routes!(auth::list_tokens, auth::create_token))
        .routes(routes!(auth::revoke_token))
        .routes(routes!(properties::list, properties::create))
        .routes(routes!(properties::get, properties::update))
        .routes(routes!(units::list, units::create))
        .routes(routes!(units::get, units::update))
        .routes(routes!(units::list_groups, units::create_group))
        .routes(routes!(units::get_group, units::set_group))
        .routes(routes!(import::import))
        .routes(routes!(doors::list, doors::create))
        .routes(routes!(doors::get, doors::update))
        .routes(routes!(doors::list_sensors, doors::create_sensor))
        .routes(routes!(doors::get_sensor))
        .routes(routes!(people::list, people::create))
        .routes(routes!(people::get, people::update))
        .routes(routes!(people::invite, people::uninvite))
        .routes(routes!(people::list_memberships, people::create_membership))
        .routes(routes!(people::get_membership))
        .routes(routes!(people::end_membership))
        .routes(routes!(privacy::export))
        .routes(routes!(privacy::erase))
        .routes(routes!(privacy::request_erasure))
        .routes(routes!(privacy::list_erasure_requests))
        .routes(routes!(credentials::list, credentials::create))
        .routes(routes!(credentials::get, credentials::update))
        .routes(routes!(credentials::revoke))
        .routes(routes!(credentials::freeze))
        .routes(routes!(credentials::unfreeze))
        .routes(routes!(credentials::reveal))
        .routes(routes!(access::check))
        .routes(routes!(events::list))
        .routes(routes!(stream::stream))
        .routes(routes!(devices::list))
        .routes(routes!(broker_logins::list, broker_logins::create))
        .routes(routes!(broker_logins::rotate))
        .routes(routes!(broker_logins::revoke))
        .routes(routes!(devices::pair_lock))
        .routes(routes!(devices::pair_sensor))
        .routes(routes!(devices::unlock))
        .routes(routes!(devices::lock))
        .routes(routes!(devices::get_command))
        .routes(routes!(devices::slots))
        .routes(routes!(devices::credential_locks))
        .routes(routes!(devices::receipt))
        .routes(routes!(restore::review))
        .routes(routes!(restore::adopt))
        .routes(routes!(restore::remove))
        .routes(routes!(restore::end))
        .routes(routes!(lockouts::start_public))
        .routes(routes!(lockouts::lookup))
        .routes(routes!(lockouts::prove_totp))
        .routes(routes!(lockouts::ask_guardians))
        .routes(routes!(lockouts::answer_guardian))
        .routes(routes!(lockouts::id_check))
        .routes(routes!(lockouts::enroll_totp))
        .routes(routes!(recovery_card::print))
        .routes(routes!(recovery_card::prove))
        .routes(routes!(lockouts::get))
        .routes(routes!(lockouts::cancel))
        .routes(routes!(lockouts::list, lockouts::start_for))
        .routes(routes!(resolution::spare_pin))
        .routes(routes!(resolution::presence))
        .routes(routes!(resolution::request_new_pin))
        .routes(routes!(resolution::collect_new_pin))
        .routes(routes!(resolution::cancel_change))
        .routes(routes!(resolution::spare_unlock))
        .routes(routes!(resolution::staff_open))
        .routes(routes!(locksmith_jobs::book_locksmith))
        .routes(routes!(locksmith_jobs::locksmith_code))
        .routes(routes!(locksmith_jobs::complete_job))
        .routes(routes!(ledger::forced_entry))
        .routes(routes!(ledger::ledger))
        .routes(routes!(ledger::ledger_as_csv))
        .routes(routes!(ledger::incidents))
        .routes(routes!(ledger::close_incident))
        .routes(routes!(ledger::open_incident))
        .routes(routes!(alarms::list))
        .routes(routes!(alarms::acknowledge))
        .routes(routes!(readiness::readiness))
        .routes(routes!(readiness::readiness_map))
        .routes(routes!(
            recovery::list_spare_keys,
            recovery::grant_spare_key
        ))
        .routes(routes!(recovery::revoke_spare_key))
        .routes(routes!(recovery::list_on_call))
        .routes(routes!(recovery::set_on_call))
        .routes(routes!(recovery::list_locksmiths, recovery::add_locksmith))
        .routes(routes!(recovery::set_locksmith_status))
        .routes(routes!(entry_notices::list, entry_notices::create))
        .routes(routes!(entry_notices::cancel))
        .routes(routes!(notifications::list_at_property))
        .routes(routes!(notifications::list_all))
        .routes(routes!(notifications::redeliver))
        .routes(routes!(
            notifications::get_preferences,
            notifications::put_preferences
        ))
        .routes(routes!(push::public_key))
        .routes(routes!(push::list, push::add))
        .routes(routes!(push::remove))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::rotate_secret))
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api().split_for_parts().1;
    openapi::finish(&mut doc);
    doc
}

async fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "no-route",
        "there is no such endpoint; see /api/openapi.json",
    )
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this endpoint does not take that method; see /api/openapi.json",
    )
}

/// The whole API as a router.
pub fn router(app: App, config: HttpConfig) -> axum::Router {
    let (api, mut doc) = api().split_for_parts();
    openapi::finish(&mut doc);
    let doc_json = std::sync::Arc::new(doc.to_pretty_json().unwrap_or_default());
    let state = AppState { app, config };
    api.route(
        "/api/openapi.json",
        get(move || {
            let body = doc_json.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    (*body).clone(),
                )
            }
        }),
    )
    .route("/healthz", get(|| async { "ok" }))
    .route("/readyz", get(health::ready))
    .route("/metrics", get(metrics::scrape))
    .route_layer(axum::middleware::from_fn(metrics::note_route))
    .fallback(not_found)
    .method_not_allowed_fallback(method_not_allowed)
    .layer(DefaultBodyLimit::max(MAX_BODY))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        browser::refuse_cross_site,
    ))
    .layer(axum::middleware::map_response(browser::security_headers))
    .with_state(state)
}
