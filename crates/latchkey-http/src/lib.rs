//! latchkey's HTTP API: the axum router under `/api/v1`, RFC 9457 problem responses, typed DTOs
//! and the OpenAPI document at `/api/openapi.json`. Handlers are thin: extract, call one app
//! function, map to a DTO. It never reaches the store except through `latchkey-app`.

use latchkey_app::App;

/// Options of the HTTP layer.
#[derive(Clone, Debug, Default)]
pub struct HttpConfig {
    /// Mark the session cookie `Secure` (when served over HTTPS, directly or behind a proxy).
    pub secure_cookies: bool,
}

/// The whole API as a router.
pub fn router(app: App, config: HttpConfig) -> axum::Router {
    let _ = (app, config);
    axum::Router::new()
}
