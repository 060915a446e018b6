//! Notification delivery: dead letters and failing deliveries for staff (of their property)
//! and admins (everywhere), the redeliver action, and each person's preferences.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use latchkey_app::outbox::{Channel, Delivery, Preferences, QuietHours, Trouble};
use latchkey_core::PropertyId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

/// One delivery of a notification through one channel. Its `id` is the stable id receivers
/// drop duplicates by (in e-mail, the `Message-ID`).
#[derive(Serialize, ToSchema)]
pub struct DeliveryDto {
    pub id: i64,
    pub notification_id: i64,
    /// `email` or `push` (one delivery per subscribed browser).
    pub channel: String,
    /// `pending`, `sent` or `dead`.
    pub state: String,
    pub attempts: i64,
    pub kind: String,
    pub person_id: i64,
    pub property_id: Option<i64>,
    pub last_error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub dead_at: Option<Timestamp>,
}

impl From<Delivery> for DeliveryDto {
    fn from(d: Delivery) -> Self {
        DeliveryDto {
            id: d.id,
            notification_id: d.notification_id,
            channel: d.channel,
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            kind: d.kind,
            person_id: d.person_id.0,
            property_id: d.property_id.map(|p| p.0),
            last_error: d.last_error,
            created_at: d.created_at,
            next_attempt_at: d.next_attempt_at,
            sent_at: d.sent_at,
            dead_at: d.dead_at,
        }
    }
}

#[derive(Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TroubleParam {
    /// Given up on: waiting for a redelivery.
    Dead,
    /// Failed at least once, still being retried.
    Failing,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TroubleQuery {
    /// `dead` (the default) or `failing`.
    pub state: Option<TroubleParam>,
}

fn which(q: &TroubleQuery) -> Trouble {
    match q.state {
        None | Some(TroubleParam::Dead) => Trouble::Dead,
        Some(TroubleParam::Failing) => Trouble::Failing,
    }
}

/// Dead letters (or failing deliveries) of the property's notifications, newest first, at
/// most 500 (staff).
#[utoipa::path(get, path = "/api/v1/properties/{id}/deliveries", tag = "notifications",
    params(("id" = i64, Path), TroubleQuery),
    responses((status = 200, body = Vec<DeliveryDto>), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_at_property(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<TroubleQuery>,
) -> ApiResult<Json<Vec<DeliveryDto>>> {
    let v = s
        .app
        .deliveries_in_trouble(who.outbox_reader(Some(PropertyId(id)))?, which(&q))
        .await?;
    Ok(Json(v.into_iter().map(Into::into).collect()))
}

/// Dead letters (or failing deliveries) everywhere, including notifications of no property,
/// newest first, at most 500 (admins).
#[utoipa::path(get, path = "/api/v1/deliveries", tag = "notifications", params(TroubleQuery),
    responses((status = 200, body = Vec<DeliveryDto>), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
pub async fn list_all(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<TroubleQuery>,
) -> ApiResult<Json<Vec<DeliveryDto>>> {
    let v = s
        .app
        .deliveries_in_trouble(who.outbox_reader(None)?, which(&q))
        .await?;
    Ok(Json(v.into_iter().map(Into::into).collect()))
}

/// Sends a dead or failing delivery again now, its retry horizon restarted (staff of its
/// property; admins). 409 for a delivery already sent.
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/redeliver", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 200, body = DeliveryDto), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn redeliver(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DeliveryDto>> {
    let cap = s.app.may_redeliver(&who, id).await?;
    Ok(Json(s.app.redeliver(cap).await?.into()))
}

/// Quiet hours: notices that can wait are held from `from` until `until` in `timezone`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursDto {
    /// `HH:MM`, e.g. `22:00`.
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "22:00")]
    pub from: String,
    /// `HH:MM`, e.g. `07:00`; before `from` spans midnight.
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "07:00")]
    pub until: String,
    /// An IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: String,
}

/// How a person wants to be told. Security notices (anything about a lockout case, a forced
/// entry, a staff or unexpected opening of their door, a change of their e-mail address)
/// always go out, whatever these say, and are never held by quiet hours.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesDto {
    /// Channels for every kind not named in `kinds` (`email`, `push`).
    #[schema(value_type = Vec<String>)]
    pub default_channels: Vec<Channel>,
    /// Channels per notification kind, e.g. `{"door.mode_changed": []}`.
    #[schema(value_type = BTreeMap<String, Vec<String>>)]
    pub kinds: BTreeMap<String, Vec<Channel>>,
    pub quiet_hours: Option<QuietHoursDto>,
}

impl From<Preferences> for PreferencesDto {
    fn from(p: Preferences) -> Self {
        PreferencesDto {
            default_channels: p.default_channels,
            kinds: p.kinds,
            quiet_hours: p.quiet_hours.map(|q| QuietHoursDto {
                from: q.from,
                until: q.until,
                timezone: q.timezone,
            }),
        }
    }
}

impl From<PreferencesDto> for Preferences {
    fn from(p: PreferencesDto) -> Self {
        Preferences {
            default_channels: p.default_channels,
            kinds: p.kinds,
            quiet_hours: p.quiet_hours.map(|q| QuietHours {
                from: q.from,
                until: q.until,
                timezone: q.timezone,
            }),
        }
    }
}

/// The caller's notification preferences (the defaults when they set none).
#[utoipa::path(get, path = "/api/v1/me/notification-preferences", tag = "notifications",
    responses((status = 200, body = PreferencesDto), (status = 401, body = Problem)))]
pub async fn get_preferences(
    State(s): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<Json<PreferencesDto>> {
    Ok(Json(
        s.app
            .my_notification_preferences(who.own_account())
            .await?
            .into(),
    ))
}

/// Replaces the caller's notification preferences. 422 names the wrong field (an unknown
/// channel, a kind that is not one, a security notice given no channel, a time that is not
/// `HH:MM`, equal `from` and `until`, an unknown time zone); nothing is changed then.
#[utoipa::path(put, path = "/api/v1/me/notification-preferences", tag = "notifications", request_body = PreferencesDto,
    responses((status = 200, body = PreferencesDto), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 422, body = Problem)))]
pub async fn put_preferences(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(b): ApiJson<PreferencesDto>,
) -> ApiResult<Json<PreferencesDto>> {
    Ok(Json(
        s.app
            .set_my_notification_preferences(who.own_account(), b.into())
            .await?
            .into(),
    ))
}
