//! Logins of the embedded MQTT broker's device listener (admins): one per Zigbee2MQTT gateway,
//! or a read-only observer. The password is returned once, with Zigbee2MQTT's `mqtt:` settings
//! (docs/DEVICES.md, "Broker logins"); rotating or revoking cuts the login's connections at once.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use latchkey_app::broker_logins::{BrokerRole, NewBrokerLogin};
use latchkey_app::store::broker_logins::BrokerLogin;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{ApiJson, ApiPath, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

/// A broker login (never its password).
#[derive(Serialize, ToSchema)]
pub struct BrokerLoginDto {
    pub id: i64,
    /// The MQTT user name.
    pub name: String,
    /// `gateway` (publishes device state, never a command), `observer` (reads device state) or
    /// `home_assistant` (reads discovery and latchkey's state, publishes only door commands).
    pub role: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub rotated_at: Option<Timestamp>,
}

impl From<BrokerLogin> for BrokerLoginDto {
    fn from(l: BrokerLogin) -> Self {
        BrokerLoginDto {
            id: l.id,
            name: l.name,
            role: l.role,
            created_at: l.created_at,
            rotated_at: l.rotated_at,
        }
    }
}

/// Zigbee2MQTT's `mqtt:` settings for the login.
#[derive(Serialize, ToSchema)]
pub struct Zigbee2MqttDto {
    pub base_topic: String,
    /// `mqtt://HOST:PORT` (`mqtts://` with TLS); `THIS-HOST` when the broker listens on every
    /// address: the address the gateway reaches this machine at.
    pub server: String,
    pub user: String,
    pub password: String,
    pub client_id: String,
    /// The same as YAML, to paste into Zigbee2MQTT's `configuration.yaml`.
    pub yaml: String,
}

/// A login just created or rotated: its password, shown only now.
#[derive(Serialize, ToSchema)]
pub struct NewBrokerLoginDto {
    pub login: BrokerLoginDto,
    /// Shown only now; latchkey keeps a digest.
    pub password: String,
    /// `null` when this server runs no embedded broker (an external broker or none).
    pub zigbee2mqtt: Option<Zigbee2MqttDto>,
}

fn new_login(s: &AppState, made: NewBrokerLogin) -> NewBrokerLoginDto {
    let zigbee2mqtt = s.config.broker.as_ref().map(|b| {
        let z = b.settings_for(&made);
        Zigbee2MqttDto {
            base_topic: z.base_topic,
            server: z.server,
            user: z.user,
            password: z.password,
            client_id: z.client_id,
            yaml: z.yaml,
        }
    });
    NewBrokerLoginDto {
        login: made.login.into(),
        password: made.password,
        zigbee2mqtt,
    }
}

/// A new broker login.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrokerLoginBody {
    /// The MQTT user name: 1–64 letters, digits, `-`, `_` or `.`.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9._-]+$")]
    pub name: String,
    /// `gateway`, `observer` or `home_assistant`.
    #[schema(schema_with = role_names)]
    pub role: String,
}

/// The roles a broker login can have.
fn role_names() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["gateway", "observer", "home_assistant"]))
        .build()
}

/// Every broker login (admins).
#[utoipa::path(get, path = "/api/v1/broker-logins", tag = "devices",
    responses((status = 200, body = Vec<BrokerLoginDto>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<Json<Vec<BrokerLoginDto>>> {
    let admin = who.admin()?;
    let logins = s.app.list_broker_logins(&admin).await?;
    Ok(Json(logins.into_iter().map(Into::into).collect()))
}

/// Creates a broker login (admins); the password and Zigbee2MQTT's settings are returned
/// only now.
#[utoipa::path(post, path = "/api/v1/broker-logins", tag = "devices", request_body = BrokerLoginBody,
    responses((status = 201, body = NewBrokerLoginDto), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(b): ApiJson<BrokerLoginBody>,
) -> ApiResult<(StatusCode, Json<NewBrokerLoginDto>)> {
    let admin = who.admin()?;
    let role = BrokerRole::parse(&b.role)?;
    let made = s.app.create_broker_login(&admin, &b.name, role).await?;
    Ok((StatusCode::CREATED, Json(new_login(&s, made))))
}

/// Gives a broker login a new password (admins), returned only now; connections made with the
/// old one are cut at once.
#[utoipa::path(post, path = "/api/v1/broker-logins/{id}/rotate", tag = "devices", params(("id" = i64, Path)),
    responses((status = 200, body = NewBrokerLoginDto), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn rotate(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<NewBrokerLoginDto>> {
    let admin = who.admin()?;
    let name = s.app.broker_login_name(&admin, id).await?;
    let made = s.app.rotate_broker_login(&admin, &name).await?;
    Ok(Json(new_login(&s, made)))
}

/// Revokes a broker login (admins): it cannot connect again, and its connections are cut at
/// once.
#[utoipa::path(delete, path = "/api/v1/broker-logins/{id}", tag = "devices", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let admin = who.admin()?;
    let name = s.app.broker_login_name(&admin, id).await?;
    s.app.revoke_broker_login(&admin, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
