//! The readiness heat map (docs/LOCKOUT.md, "The readiness drill"): the property's units × the
//! 168 hours of the week, each cell coloured by the fewest free ways back in left to anyone
//! living there after the chosen failure, worst units first. A cell links to its explanation:
//! who has which gap then and what would close it. Staff of the property only, through the
//! same use case and capability as `GET /api/v1/properties/{id}/readiness/map`.
//!
//! A row is drawn as runs of equal cells (`colspan`), so a 500-unit building is a few thousand
//! cells rather than 84,000.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use latchkey_app::AppError;
use latchkey_app::readiness::HeatMapUnit;
use latchkey_core::drill::Failure;
use latchkey_core::schedule::Day;
use serde::Deserialize;

use crate::WebState;
use crate::assets::assets;
use crate::error::PageError;
use crate::guard::Signed;
#[allow(unused_imports)] // The base template names the tabs.
use crate::layout::{Layout, Tab};

#[derive(Deserialize)]
pub(crate) struct MapQuery {
    property: Option<i64>,
    failure: Option<String>,
    unit: Option<i64>,
    hour: Option<usize>,
}

pub struct FailureLink {
    pub name: &'static str,
    pub label: &'static str,
    pub current: &'static str,
}

pub struct Run {
    pub span: usize,
    /// `w0`, `w1`, `w2` (two or more).
    pub class: &'static str,
    pub href: String,
    pub label: String,
}

pub struct Row {
    pub unit_id: i64,
    pub unit: String,
    pub worst: u8,
    pub short_hours: usize,
    pub runs: Vec<Run>,
    /// Each resident's gap sentences.
    pub residents: Vec<(String, Vec<String>)>,
}

pub struct Explained {
    pub unit: String,
    pub when: String,
    pub ways: u8,
    pub lines: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "readiness.html")]
struct MapPage {
    layout: Layout,
    css: String,
    property: i64,
    failure_label: &'static str,
    failures: Vec<FailureLink>,
    days: Vec<&'static str>,
    rows: Vec<Row>,
    explained: Option<Explained>,
    fallback: String,
}

fn when(h: usize) -> String {
    format!("{} {:02}:00", Day::ALL[(h / 24) % 7].short_name(), h % 24)
}

fn class_of(n: u8) -> &'static str {
    match n {
        0 => "w0",
        1 => "w1",
        _ => "w2",
    }
}

fn runs(u: &HeatMapUnit, property: i64, failure: Failure) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    let mut start = 0;
    while start < u.cells.len() {
        let n = u.cells[start];
        let mut end = start + 1;
        // A run never crosses midnight, so each day's column lines up.
        while end < u.cells.len() && u.cells[end] == n && end % 24 != 0 {
            end += 1;
        }
        let ways = if n == 1 { "way" } else { "ways" };
        out.push(Run {
            span: end - start,
            class: class_of(n),
            href: format!(
                "/readiness?property={property}&failure={}&unit={}&hour={start}#explained",
                failure.as_str(),
                u.unit_id.0
            ),
            label: format!(
                "Unit {}, {}–{:02}:00: {n} {ways} back in",
                u.unit,
                when(start),
                (end - 1) % 24 + 1
            ),
        });
        start = end;
    }
    out
}

pub(crate) async fn page(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<MapQuery>,
) -> Result<Response, PageError> {
    let failure = match q.failure.as_deref() {
        None | Some("") => Failure::PhoneGone,
        Some(n) => Failure::parse(n).ok_or_else(|| {
            AppError::invalid(
                "failure",
                "failure must be phone_gone, pin_forgotten or phone_and_keys_gone",
            )
        })?,
    };
    let property = crate::guard::staff_property(&who, q.property, "the readiness heat map")?;
    let map = state
        .app
        .readiness_map(who.principal.staff(property)?, failure)
        .await?;
    let p = property.0;
    let explained = match (q.unit, q.hour) {
        (Some(unit), Some(h)) if h < 168 => {
            map.units
                .iter()
                .find(|u| u.unit_id.0 == unit)
                .map(|u| Explained {
                    unit: u.unit.clone(),
                    when: when(h),
                    ways: u.cells[h],
                    lines: u
                        .gaps_at(h)
                        .into_iter()
                        .map(|(name, g)| format!("{name}: {}", g.fix))
                        .collect(),
                })
        }
        _ => None,
    };
    let rows = map
        .units
        .iter()
        .map(|u| Row {
            unit_id: u.unit_id.0,
            unit: u.unit.clone(),
            worst: u.worst,
            short_hours: u.short_hours,
            runs: runs(u, p, failure),
            residents: u
                .residents
                .iter()
                .filter(|r| !r.gaps.is_empty() || r.pin_assumed)
                .map(|r| {
                    let mut said: Vec<String> = r.gaps.iter().map(|g| g.fix.clone()).collect();
                    if r.pin_assumed {
                        said.push(assumed_sentence());
                    }
                    (r.name.clone(), said)
                })
                .collect(),
        })
        .collect();
    let fallback = match map.fallback.locksmith_from_cents {
        Some(c) => format!(
            "Paid fallback, not counted above: a verified locksmith {} hours of the week, call-out from {}.{:02}.",
            map.fallback.locksmith_hours,
            c / 100,
            c % 100
        ),
        None => "Paid fallback, not counted above: no verified locksmith.".to_owned(),
    };
    Ok(MapPage {
        layout: Layout::signed("Readiness", Some(Tab::Readiness), &who),
        css: assets().url("readiness.css"),
        property: p,
        failure_label: failure.phrase(),
        failures: Failure::ALL
            .into_iter()
            .map(|f| FailureLink {
                name: f.as_str(),
                label: f.phrase(),
                current: if f == failure { "page" } else { "false" },
            })
            .collect(),
        days: Day::ALL.iter().map(|d| d.short_name()).collect(),
        rows,
        explained,
        fallback,
    }
    .into_response())
}

/// The drill's word on a PIN that counts but is only assumed on the lock, as a sentence.
fn assumed_sentence() -> String {
    let s = latchkey_core::drill::PIN_ASSUMED;
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}
