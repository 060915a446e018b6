//! The readiness drill (docs/LOCKOUT.md): per resident, hour of the week and failure, the free
//! ways back in that are left and the gaps with what would close them; and the staff's heat map.

use axum::Json;
use axum::extract::State;
use latchkey_app::AppError;
use latchkey_app::readiness::{
    FailureReadiness, FailureSummary, Fallback, HeatMap, HeatMapUnit, Readiness, ResidentReadiness,
};
use latchkey_core::PropertyId;
use latchkey_core::drill::{Failure, Gap};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiPath, ApiQuery, Auth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

fn name_of<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A stretch of hours with fewer than two ways back in after one failure.
#[derive(Serialize, ToSchema)]
pub struct GapDto {
    /// `phone_gone`, `pin_forgotten` or `phone_and_keys_gone`.
    pub failure: String,
    /// First and last day (`mon` … `sun`) with the same gap.
    pub from_day: String,
    pub to_day: String,
    /// Local hours `[from_hour, until_hour)`; 24 is midnight.
    pub from_hour: u8,
    pub until_hour: u8,
    /// The ways still left then (none or one): `pin`, `phone_key`, `keys`, `household`,
    /// `spare_key`, `staff`, `recovery_card`.
    pub ways: Vec<String>,
    /// What would close it: `pin`, `phone_key`, `spare_key`, `recovery_card`, `on_call`; each
    /// alone, or all together when `fixes_together`.
    pub fixes: Vec<String>,
    pub fixes_together: bool,
    /// The gap and its fix in one sentence.
    pub fix: String,
}

impl From<Gap> for GapDto {
    fn from(g: Gap) -> Self {
        GapDto {
            failure: g.failure.as_str().to_owned(),
            from_day: g.from_day.as_str().to_owned(),
            to_day: g.to_day.as_str().to_owned(),
            from_hour: g.from_hour,
            until_hour: g.until_hour,
            ways: g.ways.iter().map(name_of).collect(),
            fixes: g.fixes.iter().map(name_of).collect(),
            fixes_together: g.fixes_together,
            fix: g.fix,
        }
    }
}

/// One resident's week after one failure.
#[derive(Serialize, ToSchema)]
pub struct FailureReadinessDto {
    pub failure: String,
    /// Hours with fewer than two ways left.
    pub short_hours: usize,
    pub hours_without_any_way: usize,
    pub gaps: Vec<GapDto>,
    /// The resident's PIN counts here but is only assumed on the door's lock: the lock took it
    /// and cannot show which code it holds.
    pub pin_assumed: bool,
}

impl From<FailureReadiness> for FailureReadinessDto {
    fn from(f: FailureReadiness) -> Self {
        FailureReadinessDto {
            failure: f.failure.as_str().to_owned(),
            short_hours: f.short_hours,
            hours_without_any_way: f.hours_without_any_way,
            gaps: f.gaps.into_iter().map(Into::into).collect(),
            pin_assumed: f.pin_assumed,
        }
    }
}

/// One resident's week.
#[derive(Serialize, ToSchema)]
pub struct ResidentReadinessDto {
    pub person_id: i64,
    pub name: String,
    pub unit_id: i64,
    pub unit: String,
    /// Hours of the week (0–168) each way works while PIN and phone are at hand, by way.
    #[schema(value_type = Object)]
    pub hours_by_way: serde_json::Value,
    /// The week after each failure.
    pub failures: Vec<FailureReadinessDto>,
}

impl From<ResidentReadiness> for ResidentReadinessDto {
    fn from(r: ResidentReadiness) -> Self {
        ResidentReadinessDto {
            person_id: r.person_id.0,
            name: r.name,
            unit_id: r.unit_id.0,
            unit: r.unit,
            hours_by_way: serde_json::to_value(&r.hours_by_way).unwrap_or_default(),
            failures: r.failures.into_iter().map(Into::into).collect(),
        }
    }
}

/// A building's totals for one failure.
#[derive(Serialize, ToSchema)]
pub struct FailureSummaryDto {
    pub failure: String,
    pub residents_with_gaps: usize,
    pub resident_hours_short: usize,
}

impl From<FailureSummary> for FailureSummaryDto {
    fn from(f: FailureSummary) -> Self {
        FailureSummaryDto {
            failure: f.failure.as_str().to_owned(),
            residents_with_gaps: f.residents_with_gaps,
            resident_hours_short: f.resident_hours_short,
        }
    }
}

/// The paid last resort, never counted as readiness.
#[derive(Serialize, ToSchema)]
pub struct FallbackDto {
    /// Hours of the week some verified locksmith works.
    pub locksmith_hours: usize,
    /// The lowest call-out fee, in the smallest unit of the currency.
    pub locksmith_from_cents: Option<i64>,
}

impl From<Fallback> for FallbackDto {
    fn from(f: Fallback) -> Self {
        FallbackDto {
            locksmith_hours: f.locksmith_hours,
            locksmith_from_cents: f.locksmith_from_cents,
        }
    }
}

/// The drill of a property: every resident and household member for staff, the caller's own
/// units for residents.
#[derive(Serialize, ToSchema)]
pub struct ReadinessDto {
    pub property_id: i64,
    /// The local date the 168 hours start on.
    pub week_from: String,
    pub residents: usize,
    /// Residents with a gap after some failure.
    pub residents_with_gaps: usize,
    pub failures: Vec<FailureSummaryDto>,
    pub fallback: FallbackDto,
    pub report: Vec<ResidentReadinessDto>,
}

impl From<Readiness> for ReadinessDto {
    fn from(r: Readiness) -> Self {
        ReadinessDto {
            property_id: r.property_id.0,
            week_from: r.week_from,
            residents: r.residents,
            residents_with_gaps: r.residents_with_gaps,
            failures: r.failures.into_iter().map(Into::into).collect(),
            fallback: r.fallback.into(),
            report: r.report.into_iter().map(Into::into).collect(),
        }
    }
}

/// The readiness drill: for each resident, each hour of the week and each failure (phone dead
/// or lost, PIN forgotten, phone and keys both gone), the free ways back in that are left, and
/// every stretch with fewer than two named with what would close it. The locksmith is the paid
/// fallback (`fallback`), never counted.
#[utoipa::path(get, path = "/api/v1/properties/{id}/readiness", tag = "recovery", params(("id" = i64, Path)),
    responses((status = 200, body = ReadinessDto), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn readiness(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ReadinessDto>> {
    Ok(Json(s.app.readiness(&who, PropertyId(id)).await?.into()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MapQuery {
    /// `phone_gone` (default), `pin_forgotten` or `phone_and_keys_gone`.
    #[param(schema_with = failure_names)]
    pub failure: Option<String>,
}

/// The failures the drill models, as the query names them.
fn failure_names() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["phone_gone", "pin_forgotten", "phone_and_keys_gone"]))
        .build()
}

/// One unit's row of the heat map.
#[derive(Serialize, ToSchema)]
pub struct HeatMapUnitDto {
    pub unit_id: i64,
    pub unit: String,
    /// 168 numbers, Monday 00:00 first: the fewest ways left to anyone living there.
    pub cells: Vec<u8>,
    pub worst: u8,
    pub short_hours: usize,
    /// Each resident's gaps after this failure.
    #[schema(value_type = Vec<Object>)]
    pub residents: Vec<serde_json::Value>,
}

impl From<HeatMapUnit> for HeatMapUnitDto {
    fn from(u: HeatMapUnit) -> Self {
        HeatMapUnitDto {
            unit_id: u.unit_id.0,
            unit: u.unit,
            cells: u.cells,
            worst: u.worst,
            short_hours: u.short_hours,
            residents: u
                .residents
                .into_iter()
                .map(|r| {
                    let gaps: Vec<GapDto> = r.gaps.into_iter().map(Into::into).collect();
                    serde_json::json!({ "person_id": r.person_id.0, "name": r.name, "gaps": gaps })
                })
                .collect(),
        }
    }
}

/// The heat map: units × hours after one failure, worst units first.
#[derive(Serialize, ToSchema)]
pub struct HeatMapDto {
    pub property_id: i64,
    pub failure: String,
    pub week_from: String,
    pub units: Vec<HeatMapUnitDto>,
    pub fallback: FallbackDto,
}

impl From<HeatMap> for HeatMapDto {
    fn from(m: HeatMap) -> Self {
        HeatMapDto {
            property_id: m.property_id.0,
            failure: m.failure.as_str().to_owned(),
            week_from: m.week_from,
            units: m.units.into_iter().map(Into::into).collect(),
            fallback: m.fallback.into(),
        }
    }
}

/// The readiness heat map of a property after one failure: every unit × the 168 hours of the
/// week, each cell the fewest ways back in left to anyone living there, worst units first.
/// Staff of the property only.
#[utoipa::path(get, path = "/api/v1/properties/{id}/readiness/map", tag = "recovery", params(("id" = i64, Path), MapQuery),
    responses((status = 200, body = HeatMapDto), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn readiness_map(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<MapQuery>,
) -> ApiResult<Json<HeatMapDto>> {
    let failure = parse_failure(q.failure.as_deref())?;
    let staff = who.staff(PropertyId(id))?;
    Ok(Json(
        std::sync::Arc::unwrap_or_clone(s.app.readiness_map(staff, failure).await?).into(),
    ))
}

/// The failure named in a query; none is `phone_gone`.
///
/// # Errors
/// `Invalid` for a name that is not a failure.
pub fn parse_failure(name: Option<&str>) -> Result<Failure, AppError> {
    match name {
        None | Some("") => Ok(Failure::PhoneGone),
        Some(n) => Failure::parse(n).ok_or_else(|| {
            AppError::invalid(
                "failure",
                "failure must be phone_gone, pin_forgotten or phone_and_keys_gone",
            )
        }),
    }
}
