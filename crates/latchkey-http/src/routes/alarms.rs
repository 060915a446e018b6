//! The property's alarms as the console's Alarms page shows them, and their acknowledgement
//! (docs/ARCHITECTURE.md, decisions 65 and 66). Staff of the property only.

use axum::Json;
use axum::extract::State;
use latchkey_app::alarms::console::{Alarm, AlarmFilter, AlarmGroup};
use latchkey_core::PropertyId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlarmsQuery {
    /// `open` (default): the groups with an alarm nobody acknowledged that has not cleared;
    /// `all`: every group, newest first.
    #[param(schema_with = show_values)]
    pub show: Option<String>,
}

fn show_values() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["open", "all"]))
        .build()
}

/// One alarm of a group.
#[derive(Serialize, ToSchema)]
pub struct AlarmDto {
    pub id: i64,
    pub door_id: Option<i64>,
    pub door: Option<String>,
    /// `open`, `acknowledged` or `cleared` (an offline lock heard again).
    pub state: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    pub acknowledged_by: Option<i64>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<jiff::Timestamp>,
    pub note: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cleared_at: Option<jiff::Timestamp>,
}

impl From<&Alarm> for AlarmDto {
    fn from(a: &Alarm) -> Self {
        AlarmDto {
            id: a.id,
            door_id: a.door_id.map(|d| d.0),
            door: a.door_name.clone(),
            state: a.state.clone(),
            at: a.at,
            acknowledged_by: a.acknowledged_by.map(|p| p.0),
            acknowledged_at: a.acknowledged_at,
            note: a.note.clone(),
            cleared_at: a.cleared_at,
        }
    }
}

/// A lone alarm, or a storm of one kind at the property (decision 66).
#[derive(Serialize, ToSchema)]
pub struct AlarmGroupDto {
    /// The id of its first alarm; acknowledge the group with it.
    pub id: i64,
    /// `forced_entry`, `offline`, `jammed`, `low_battery`, … as the lock's event names it.
    pub kind: String,
    /// `critical`, `high`, `medium` or `low` (decision 65).
    pub severity: String,
    pub open: usize,
    pub acknowledged: usize,
    pub cleared: usize,
    #[schema(value_type = String, format = DateTime)]
    pub first_at: jiff::Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub last_at: jiff::Timestamp,
    /// Oldest first.
    pub alarms: Vec<AlarmDto>,
}

impl From<&AlarmGroup> for AlarmGroupDto {
    fn from(g: &AlarmGroup) -> Self {
        AlarmGroupDto {
            id: g.id,
            kind: g.kind.clone(),
            severity: g.severity.as_str().to_owned(),
            open: g.open,
            acknowledged: g.acknowledged,
            cleared: g.cleared,
            first_at: g.first_at,
            last_at: g.last_at,
            alarms: g.alarms.iter().map(Into::into).collect(),
        }
    }
}

/// The property's alarms, grouped, newest group first (staff).
#[utoipa::path(get, path = "/api/v1/properties/{id}/alarms", tag = "alarms", params(("id" = i64, Path), AlarmsQuery),
    responses((status = 200, body = Vec<AlarmGroupDto>), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<AlarmsQuery>,
) -> ApiResult<Json<Vec<AlarmGroupDto>>> {
    let filter = match q.show.as_deref() {
        None | Some("open") => AlarmFilter::Open,
        Some("all") => AlarmFilter::All,
        Some(_) => {
            return Err(
                latchkey_app::AppError::invalid("show", "show must be `open` or `all`").into(),
            );
        }
    };
    let v = s.app.alarms(who.staff(PropertyId(id))?, filter).await?;
    Ok(Json(v.groups.iter().map(Into::into).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeBody {
    /// For the others on duty, e.g. "police called" (optional).
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AcknowledgedDto {
    /// How many alarms of the group were acknowledged.
    pub acknowledged: u64,
}

/// Acknowledges every open alarm of a group at once, with a note (staff of its property).
#[utoipa::path(post, path = "/api/v1/alarms/{id}/acknowledge", tag = "alarms", params(("id" = i64, Path)),
    request_body = AcknowledgeBody,
    responses((status = 200, body = AcknowledgedDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn acknowledge(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<AcknowledgeBody>,
) -> ApiResult<Json<AcknowledgedDto>> {
    let n = s
        .app
        .acknowledge_alarms(
            s.app.may_acknowledge_alarms(&who, id).await?,
            b.note.as_deref(),
        )
        .await?;
    Ok(Json(AcknowledgedDto { acknowledged: n }))
}
