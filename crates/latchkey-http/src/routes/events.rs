//! The audit log, with filters and cursor paging.

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use latchkey_app::store::audit::EventFilter;
use latchkey_core::{PersonId, PropertyId};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::dto::EventPageDto;
use crate::extract::{ApiQuery, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    pub property_id: Option<i64>,
    /// Events whose kind starts with this, e.g. `credential.` or `auth.login`.
    pub kind: Option<String>,
    pub actor_id: Option<i64>,
    /// e.g. `door:12`, `credential:5`.
    pub subject: Option<String>,
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<Timestamp>,
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<Timestamp>,
    /// Cursor: only events older than this sequence number (the previous page's `next_before`).
    pub before: Option<i64>,
    /// Page size, 1–500, default 100.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Staff only: an open record that is the reason to read one unit's door activity, as
    /// `case:<id>`, `incident:<id>`, `alarm:<seq of a lock.alarm event>` or
    /// `entry_notice:<id>`. Without one, staff do not see the openings of units' doors by their
    /// households; with one, they also see that unit's, and the household is shown that they
    /// looked (a `privacy.activity_viewed` event).
    #[param(
        example = "case:42",
        pattern = r"^(case|incident|alarm|entry_notice):[1-9][0-9]{0,17}$"
    )]
    pub reason: Option<String>,
}

/// Events the caller may read, newest first. Staff read their properties' events except the
/// comings and goings at units' own doors, which need a `reason`.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventQuery),
    responses((status = 200, body = EventPageDto), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> ApiResult<Json<EventPageDto>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=latchkey_app::events::MAX_PAGE).contains(&limit) {
        return Err(latchkey_app::AppError::invalid("limit", "must be between 1 and 500").into());
    }
    if let (Some(a), Some(b)) = (q.since, q.until)
        && b <= a
    {
        return Err(latchkey_app::AppError::invalid("until", "must be after since").into());
    }
    let filter = EventFilter {
        properties: None,
        kind_prefix: q.kind,
        actor_id: q.actor_id.map(PersonId),
        subject: q.subject,
        since: q.since,
        until: q.until,
        before: q.before,
        visible_to: None,
        hidden: None,
        limit,
    };
    let property = q.property_id.map(PropertyId);
    let events = match q.reason.as_deref() {
        None => s.app.list_events(&who, property, filter).await?,
        Some(reason) => {
            let read = s.app.may_read_activity(&who, reason.parse()?).await?;
            s.app
                .list_events_with_reason(read, property, filter)
                .await?
        }
    };
    let next_before = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    Ok(Json(EventPageDto {
        events: events.into_iter().map(Into::into).collect(),
        next_before,
    }))
}
