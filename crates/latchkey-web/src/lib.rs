//! latchkey's web app for residents: server-rendered pages (askama templates, checked at compile
//! time) with htmx for in-place updates, served by the same binary beside the API. The pages call
//! the same use cases as the API, so they have the same authorization and audit; this crate
//! never reaches the store. Depends on `latchkey-core` and `latchkey-app` only.
//!
//! Security (docs/ARCHITECTURE.md, "The web app"): a strict Content-Security-Policy with no
//! inline script or style; the session cookie is `HttpOnly` and `SameSite=Strict`; every form
//! that changes something carries a token bound to the session (or to a pre-session cookie
//! before sign-in, or to the lockout case) and is refused from another origin; pages are never
//! cached.

mod alarms;
mod assets;
mod audit;
mod building;
mod cases;
mod console_case;
mod console_cases;
mod console_ledger;
mod devices;
mod devices_unpair;
mod door;
mod error;
mod guard;
mod home;
mod import;
mod layout;
mod links;
mod lockout;
mod mine;
mod mydata;
mod notifications;
mod people;
mod policy;
mod qr;
mod readiness;
mod roster;
mod security;
mod signin;
mod week;
mod welcome;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use latchkey_app::App;
use tower::ServiceExt;

pub use assets::Assets;

/// Largest form accepted, in bytes.
const MAX_FORM: usize = 16 * 1024;

/// Options of the web pages.
#[derive(Clone, Debug, Default)]
pub struct WebConfig {
    /// Mark cookies `Secure` (when served over HTTPS, directly or behind a proxy).
    pub secure_cookies: bool,
    /// Where people reach latchkey (`public_url`), for the links pages hand out; without it,
    /// the host the browser used.
    pub public_origin: Option<String>,
}

/// What every page handler can reach.
#[derive(Clone)]
pub(crate) struct WebState {
    pub app: App,
    pub config: WebConfig,
}

/// The Content-Security-Policy of every page: our own scripts, styles and images only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; manifest-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// The pages, with `api` answering everything under `/api/` and the operational endpoints
/// (`/healthz`, `/readyz`, `/metrics`).
pub fn router(app: App, config: WebConfig, api: Router) -> Router {
    let state = WebState { app, config };
    let pages = Router::new()
        .route("/", get(home::page))
        .route("/sign-in", get(signin::page).post(signin::submit))
        .route("/sign-out", post(signin::sign_out))
        .route("/sign-in/passkey", post(security::sign_in))
        .route("/sign-in/passkey/options", post(security::sign_in_options))
        .route("/welcome", get(welcome::page).post(welcome::submit))
        .route("/security", get(security::page))
        .route("/security/passkeys", post(security::register))
        .route(
            "/security/passkeys/options",
            post(security::register_options),
        )
        .route("/security/totp", post(security::enroll_totp))
        .route("/security/recovery-card", post(security::print_card))
        .route("/security/erasure", get(mydata::page).post(mydata::submit))
        .route("/locked-out/case/card", post(lockout::prove_card))
        .route(
            "/security/sessions/{id}/revoke",
            post(security::revoke_session),
        )
        .route("/security/passkeys/{id}/rename", post(security::rename))
        .route("/security/passkeys/{id}/remove", post(security::remove))
        .route("/doors/{id}/unlock/proof", post(security::unlock_options))
        .route("/doors/{id}/unlock", post(home::unlock))
        .route("/doors/{id}/lock", post(home::lock))
        .route("/doors/{id}/mode", post(home::set_mode))
        .route("/doors/{id}/card", get(home::card_fragment))
        .route("/cases", get(cases::panel))
        .route("/cases/{id}/spare-pin", post(cases::release_pin))
        .route("/cases/{id}/open", post(cases::open_door))
        .route("/cases/{id}/cancel", post(cases::cancel))
        .route("/codes", get(mine::codes))
        .route("/codes/{id}/reveal", post(mine::reveal))
        .route("/codes/{id}/freeze", post(mine::freeze))
        .route("/codes/{id}/revoke", post(mine::revoke))
        .route("/household", get(mine::household))
        .route("/household/guest-codes", post(mine::create_guest_code))
        .route("/activity", get(mine::activity))
        .route("/readiness", get(readiness::page))
        .route("/building", get(building::page))
        .route(
            "/building/import",
            get(import::page)
                .post(import::submit)
                .layer(import::body_limit()),
        )
        .route("/building/doors/{id}", get(door::page))
        .route("/building/doors/{id}/emergency", post(door::emergency))
        .route("/on-call", get(roster::page).post(roster::set_on_call))
        .route("/locksmiths", post(roster::add_locksmith))
        .route("/locksmiths/{id}/status", post(roster::locksmith_status))
        .route("/audit", get(audit::page))
        .route("/audit/verify", post(audit::verify))
        .route("/devices", get(devices::page))
        .route("/devices/pair", post(devices::pair))
        .route("/devices/pair-sensor", post(devices_unpair::pair_sensor))
        .route(
            "/devices/unpair",
            get(devices_unpair::confirm).post(devices_unpair::unpair),
        )
        .route("/people", get(people::list).post(people::add))
        .route("/policy", get(policy::page).post(policy::submit))
        .route("/people/{id}", get(people::person))
        .route("/people/memberships/{id}/end", post(people::end))
        .route("/people/memberships/{id}/receipt", get(people::receipt))
        .route(
            "/people/memberships/{id}/receipt/rows",
            get(people::receipt_fragment),
        )
        .route("/alarms", get(alarms::page))
        .route("/alarms/feed", get(alarms::fragment))
        .route("/alarms/{id}/acknowledge", post(alarms::acknowledge))
        // The console's lockout cases, ledger and incidents (docs/LOCKOUT.md).
        .route("/console/cases", get(console_cases::list))
        .route("/console/cases/rows", get(console_cases::list_rows))
        .route("/console/cases/{id}", get(console_case::page))
        .route("/console/cases/{id}/live", get(console_cases::live_part))
        .route("/console/cases/{id}/id-check", post(console_case::id_check))
        .route(
            "/console/cases/{id}/open",
            get(console_case::confirm_open).post(console_case::open),
        )
        .route("/console/cases/{id}/locksmith", post(console_case::book))
        .route(
            "/console/cases/{id}/jobs/{job}/complete",
            post(console_case::complete),
        )
        .route(
            "/console/cases/{id}/forced-entry",
            post(console_case::forced_entry),
        )
        .route("/console/ledger", get(console_ledger::ledger))
        .route("/console/ledger.csv", get(console_ledger::ledger_file))
        .route(
            "/console/incidents",
            get(console_ledger::incidents).post(console_ledger::open_incident),
        )
        .route("/console/incidents/{id}", get(console_ledger::incident))
        .route("/console/incidents/{id}/close", post(console_ledger::close))
        .route("/locked-out", get(lockout::page).post(lockout::start))
        .route("/locked-out/case", get(lockout::case))
        .route("/locked-out/case/totp", post(lockout::prove_totp))
        .route(
            "/guardian",
            get(links::guardian).post(links::guardian_answer),
        )
        .route("/job", get(links::job))
        .route("/job/code", post(links::job_code))
        .route("/notifications", get(notifications::page))
        .route(
            "/notifications/devices/{id}/remove",
            post(notifications::remove),
        )
        .route("/sw.js", get(notifications::service_worker))
        .route("/manifest.webmanifest", get(assets::manifest))
        .route("/assets/{file}", get(assets::serve))
        .method_not_allowed_fallback(error::method_not_allowed)
        .route_layer(middleware::from_fn(note_route))
        .with_state(state.clone());
    pages
        .fallback(move |req: Request| dispatch(req, api.clone()))
        .layer(DefaultBodyLimit::max(MAX_FORM))
        .layer(middleware::from_fn(page_headers))
}

/// Whether `path` is the API's (which answers it with problem documents) rather than a page.
fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || matches!(path, "/api" | "/healthz" | "/readyz" | "/metrics")
}

/// Copies the page's route template into its answer, where the server's request metrics read
/// it (they are counted outside the routers; see latchkey-http's `metrics::instrument`).
async fn note_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let mut res = next.run(req).await;
    if let Some(route) = route {
        res.extensions_mut().insert(route);
    }
    res
}

/// The API's paths go to the API (which answers problem documents); any other unknown path is a
/// page that says so in words.
async fn dispatch(req: Request, api: Router) -> Response {
    if is_api(req.uri().path()) {
        match api.oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        }
    } else {
        error::not_found_page().into_response()
    }
}

/// Security headers of every page and asset; the API's answers are left as they are.
async fn page_headers(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let api = is_api(path);
    let asset = path.starts_with("/assets/");
    let mut res = next.run(req).await;
    if api {
        return res;
    }
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !asset {
        // Pages show codes, doors and cases: nothing of them is kept by a browser or a proxy.
        h.entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    res
}
