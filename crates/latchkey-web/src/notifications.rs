//! Notifications on a person's devices (Web Push): the page that turns them on in this browser
//! and lists the devices that have them, each with a button to turn it off; and the service
//! worker, served from the site's root so that its scope is the whole site.
//!
//! Turning notifications on happens in `assets/app.js`: it registers `/sw.js`, asks the
//! browser for permission, subscribes with the server's VAPID key (in the page, from
//! [`latchkey_app::App::push_public_key`]) and posts the subscription to the API
//! (`POST /api/v1/me/push-subscriptions`), as the person themself.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_app::AppError;
use serde::Deserialize;

use crate::WebState;
use crate::assets::assets;
use crate::error::PageError;
use crate::guard::Signed;
#[allow(unused_imports)] // named by the templates
use crate::layout::{Layout, Tab};

/// A device with notifications on.
pub struct DeviceRow {
    pub id: i64,
    pub name: String,
    pub since: String,
    pub last: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    layout: Layout,
    csrf: String,
    /// The VAPID public key, or `None` when push is off on this server.
    vapid_key: Option<String>,
    devices: Vec<DeviceRow>,
    notice: Option<String>,
}

fn day(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

async fn render(
    state: &WebState,
    who: &Signed,
    notice: Option<String>,
) -> Result<Response, PageError> {
    let vapid_key = match state.app.push_public_key().await {
        Ok(k) => Some(k),
        Err(AppError::Unavailable(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let devices = state
        .app
        .my_push_subscriptions(who.principal.own_account())
        .await?
        .into_iter()
        .map(|s| DeviceRow {
            id: s.id,
            name: s.name,
            since: day(s.created_at),
            last: s.last_sent_at.map_or_else(|| "nothing yet".to_owned(), day),
        })
        .collect();
    Ok(NotificationsPage {
        layout: Layout::signed("Notifications", Some(Tab::Security), who),
        csrf: who.csrf.clone(),
        vapid_key,
        devices,
        notice,
    }
    .into_response())
}

pub(crate) async fn page(
    State(state): State<WebState>,
    who: Signed,
) -> Result<Response, PageError> {
    render(&state, &who, None).await
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    csrf: String,
}

/// Turns notifications off for one of the person's devices.
pub(crate) async fn remove(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let cap = state
        .app
        .may_manage_push_subscription(&who.principal, id)
        .await?;
    let name = cap.subscription().name.clone();
    state.app.remove_push_subscription(cap).await?;
    render(
        &state,
        &who,
        Some(format!("Notifications are off for {name}.")),
    )
    .await
}

/// The service worker: shows a pushed notice, opens its page when tapped. Served from the
/// root so that it may control every page; never cached long, so a new build reaches it.
pub(crate) async fn service_worker() -> Response {
    let body = include_str!("../assets/sw.js").replace("__ICON__", &assets().url("icon.svg"));
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}
