//! Web Push: the server's VAPID public key, and each person's own subscriptions (a browser or
//! installed web app that turned notifications on). Nobody lists or removes anyone else's.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use latchkey_app::push::SubscriptionInput;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{ApiJson, ApiPath, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

/// The key browsers subscribe with (`applicationServerKey`).
#[derive(Serialize, ToSchema)]
pub struct PublicKeyDto {
    /// The server's VAPID public key (RFC 8292): an uncompressed P-256 point, base64url
    /// without padding.
    pub public_key: String,
}

/// The server's VAPID public key, for `pushManager.subscribe`. 503 when push is off here.
#[utoipa::path(get, path = "/api/v1/push/public-key", tag = "notifications",
    responses((status = 200, body = PublicKeyDto), (status = 401, body = Problem), (status = 503, body = Problem)))]
pub async fn public_key(
    State(s): State<AppState>,
    Auth(_who): Auth,
) -> ApiResult<Json<PublicKeyDto>> {
    let key = s.app.push_public_key().await?;
    Ok(Json(PublicKeyDto { public_key: key }))
}

/// One of the caller's subscriptions. Its endpoint is not shown: only its push service.
#[derive(Serialize, ToSchema)]
pub struct SubscriptionDto {
    pub id: i64,
    pub name: String,
    /// The origin of the push service, e.g. `https://fcm.googleapis.com`.
    pub push_service: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When the push service last took a message for it.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_sent_at: Option<Timestamp>,
}

impl From<latchkey_app::push::Subscription> for SubscriptionDto {
    fn from(s: latchkey_app::push::Subscription) -> Self {
        let push_service = url::Url::parse(&s.endpoint)
            .ok()
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        SubscriptionDto {
            id: s.id,
            name: s.name,
            push_service,
            created_at: s.created_at,
            last_sent_at: s.last_sent_at,
        }
    }
}

/// The keys of a browser's `PushSubscription`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeysBody {
    /// base64url of the browser's P-256 public key: 65 bytes, uncompressed (87 characters
    /// without padding).
    #[schema(pattern = r"^[A-Za-z0-9_-]{87}=?$")]
    pub p256dh: String,
    /// base64url of the browser's 16-byte authentication secret (22 characters without
    /// padding).
    #[schema(pattern = r"^[A-Za-z0-9_-]{22}(==)?$")]
    pub auth: String,
}

/// A browser's `PushSubscription` as `toJSON()` gives it, and a name for it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionBody {
    /// The push service's URL for this browser: `https://`, at most 2,048 bytes.
    #[schema(max_length = 2048, pattern = "^https://")]
    pub endpoint: String,
    /// Ignored (browsers send `null`).
    #[serde(default, rename = "expirationTime")]
    pub expiration_time: Option<f64>,
    pub keys: KeysBody,
    /// What the person calls this device, 1–100 characters ("This browser" when left out).
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
}

/// Turns notifications on for the calling browser: adds its subscription (201), or refreshes
/// the keys of one the caller already has with this endpoint (200). 422 names the wrong field
/// (an endpoint that is not `https://`, keys of the wrong length or not on P-256, a bad name);
/// 409 when the endpoint is someone else's or the caller has 10 already; nothing is changed
/// then.
#[utoipa::path(post, path = "/api/v1/me/push-subscriptions", tag = "notifications", request_body = SubscriptionBody,
    responses((status = 201, body = SubscriptionDto), (status = 200, body = SubscriptionDto),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn add(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(b): ApiJson<SubscriptionBody>,
) -> ApiResult<(StatusCode, Json<SubscriptionDto>)> {
    // Not kept: the push service's 404 or 410 says when a subscription has ended.
    let _ = b.expiration_time;
    let input = SubscriptionInput {
        endpoint: b.endpoint,
        p256dh: b.keys.p256dh,
        auth: b.keys.auth,
        name: b.name.unwrap_or_else(|| "This browser".to_owned()),
    };
    let (sub, new) = s
        .app
        .add_push_subscription(who.own_account(), input)
        .await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(sub.into())))
}

/// The caller's subscriptions, oldest first.
#[utoipa::path(get, path = "/api/v1/me/push-subscriptions", tag = "notifications",
    responses((status = 200, body = Vec<SubscriptionDto>), (status = 401, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<Json<Vec<SubscriptionDto>>> {
    let v = s.app.my_push_subscriptions(who.own_account()).await?;
    Ok(Json(v.into_iter().map(Into::into).collect()))
}

/// Turns notifications off for one of the caller's subscriptions. 404 for an unknown one or
/// someone else's.
#[utoipa::path(delete, path = "/api/v1/me/push-subscriptions/{id}", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn remove(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let cap = s.app.may_manage_push_subscription(&who, id).await?;
    s.app.remove_push_subscription(cap).await?;
    Ok(StatusCode::NO_CONTENT)
}
