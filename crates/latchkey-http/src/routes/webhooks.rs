//! Webhook endpoints of a property (its managers and installers; admins): create, list,
//! change, rotate the secret, delete (docs/OPERATIONS.md, "Webhooks"). The secret is returned
//! only on create and rotation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use latchkey_app::authz::webhook_kinds;
use latchkey_app::webhooks::{EndpointChange, EndpointInput, WebhookEndpoint, WithSecret};
use latchkey_core::PropertyId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{ApiJson, ApiPath, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

/// A webhook endpoint (never its secret).
#[derive(Serialize, ToSchema)]
pub struct WebhookDto {
    pub id: i64,
    pub property_id: i64,
    /// Who created it: it is sent only what they may read.
    pub created_by: i64,
    pub url: String,
    pub description: String,
    /// The event kinds it receives.
    pub kinds: Vec<String>,
    pub enabled: bool,
    /// Why it is disabled: by its owner, a 410 from the receiver, 24 hours of failures.
    pub disabled_reason: Option<String>,
    /// Until when the secret before the last rotation is still used to sign as well.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub previous_secret_until: Option<Timestamp>,
    /// Since when every attempt has failed.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub failing_since: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<WebhookEndpoint> for WebhookDto {
    fn from(e: WebhookEndpoint) -> Self {
        WebhookDto {
            id: e.id,
            property_id: e.property_id.0,
            created_by: e.created_by.0,
            url: e.url,
            description: e.description,
            kinds: e.kinds,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            previous_secret_until: e.previous_secret_until,
            failing_since: e.failing_since,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint and its signing secret, shown only now.
#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecretDto {
    pub endpoint: WebhookDto,
    /// `whsec_` and the base64 of 32 random bytes: the HMAC-SHA256 key.
    pub secret: String,
}

impl From<WithSecret> for WebhookWithSecretDto {
    fn from(w: WithSecret) -> Self {
        WebhookWithSecretDto {
            endpoint: w.endpoint.into(),
            secret: w.secret,
        }
    }
}

/// The kinds an endpoint may receive.
fn kind_names() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(
            utoipa::openapi::schema::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .enum_values(Some(webhook_kinds())),
        )
        .min_items(Some(1))
        .max_items(Some(100))
        .build()
}

/// A field that may be left out but, when present, is not `null`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A new endpoint.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookBody {
    /// `http://` or `https://`, with a host, no user name or password, no `#fragment`.
    #[schema(
        min_length = 8,
        max_length = 2000,
        pattern = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s@#]+$"
    )]
    pub url: String,
    /// Event kinds to receive: door, lock and sensor kinds, never a household's comings and
    /// goings (docs/OPERATIONS.md, "Webhooks").
    #[schema(schema_with = kind_names)]
    pub kinds: Vec<String>,
    /// What receives it, for the people who manage it (no line breaks).
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub description: String,
}

/// What to change; a field left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatchBody {
    /// Left out: unchanged. `null` is refused, as the schema says (an array or nothing).
    #[schema(schema_with = kind_names)]
    #[serde(default, deserialize_with = "present")]
    pub kinds: Option<Vec<String>>,
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub description: Option<String>,
    /// `true` enables it again (what waited is sent, oldest first); `false` disables it.
    pub enabled: Option<bool>,
}

/// The property's webhook endpoints (managers, installers, admins).
#[utoipa::path(get, path = "/api/v1/properties/{id}/webhooks", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<WebhookDto>), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<WebhookDto>>> {
    let v = s.app.webhooks(who.webhook_manager(PropertyId(id))?).await?;
    Ok(Json(v.into_iter().map(Into::into).collect()))
}

/// Creates a webhook endpoint (managers, installers, admins); its secret is returned only
/// now. 422 names the field: a URL that is not http(s), a kind that is unknown or one of a
/// household's comings and goings, a description too long.
#[utoipa::path(post, path = "/api/v1/properties/{id}/webhooks", tag = "notifications", params(("id" = i64, Path)),
    request_body = NewWebhookBody,
    responses((status = 201, body = WebhookWithSecretDto), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<NewWebhookBody>,
) -> ApiResult<(StatusCode, Json<WebhookWithSecretDto>)> {
    let made = s
        .app
        .create_webhook(
            who.webhook_manager(PropertyId(id))?,
            EndpointInput {
                url: b.url,
                description: b.description,
                kinds: b.kinds,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(made.into())))
}

/// Changes an endpoint's kinds, description or state.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "notifications", params(("id" = i64, Path)),
    request_body = WebhookPatchBody,
    responses((status = 200, body = WebhookDto), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<WebhookPatchBody>,
) -> ApiResult<Json<WebhookDto>> {
    let cap = s.app.may_change_webhook(&who, id).await?;
    let e = s
        .app
        .update_webhook(
            cap,
            EndpointChange {
                kinds: b.kinds,
                description: b.description,
                enabled: b.enabled,
            },
        )
        .await?;
    Ok(Json(e.into()))
}

/// Gives an endpoint a new secret, returned only now. The previous one keeps signing for 24
/// hours beside it (two signatures per request), so receivers can switch without a gap.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 200, body = WebhookWithSecretDto), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn rotate_secret(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<WebhookWithSecretDto>> {
    let cap = s.app.may_change_webhook(&who, id).await?;
    Ok(Json(s.app.rotate_webhook_secret(cap).await?.into()))
}

/// Deletes an endpoint and what it had not been sent.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let cap = s.app.may_change_webhook(&who, id).await?;
    s.app.delete_webhook(cap).await?;
    Ok(StatusCode::NO_CONTENT)
}
