//! The console's ledger and incidents (docs/LOCKOUT.md, "In the staff console"). The ledger is
//! the API's (`App::ledger`, staff: the whole property) filtered on the page by date range,
//! kind and unit; its CSV is the API's writer (`ledger_csv`) over the same lines. Incidents are
//! the API's list (`App::incidents`, the `Staff` capability), one incident's page, closing
//! with a note (`may_close_incident` → `close_incident`), and opening one on a door from the
//! list's form (`may_open_incident` → `open_incident`): a door (required: an incident is always
//! about a door), what is wrong (service, or forced) and a note; a refused form comes back as
//! typed with the wrong field named, and nothing is opened.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use latchkey_app::AppError;
use latchkey_app::incidents::IncidentKind;
use latchkey_app::lockout::ledger_csv;
use latchkey_app::store::resolution::{Charge, Incident};
use latchkey_core::{DoorId, PropertyId, UnitId};
use serde::Deserialize;

use crate::WebState;
use crate::building::Choice;
use crate::console_cases::{local, money};
use crate::error::PageError;
use crate::guard::Signed;
#[allow(unused_imports)] // The base template names the tabs.
use crate::layout::{Layout, Tab};

#[derive(Deserialize, Default)]
pub(crate) struct LedgerQuery {
    property: Option<i64>,
    /// First day shown, `YYYY-MM-DD` in the property's zone.
    from: Option<String>,
    /// Last day shown.
    to: Option<String>,
    /// `staff_opening` or `locksmith`.
    kind: Option<String>,
    unit: Option<String>,
}

/// The filters, checked.
struct Filter {
    from: Option<Date>,
    to: Option<Date>,
    kind: Option<&'static str>,
    unit: Option<UnitId>,
}

fn some(v: Option<&String>) -> Option<&str> {
    v.map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn filter_of(q: &LedgerQuery) -> Result<Filter, AppError> {
    let day = |field: &'static str, v: Option<&String>| -> Result<Option<Date>, AppError> {
        some(v)
            .map(|d| {
                d.parse::<Date>()
                    .map_err(|_| AppError::invalid(field, "give a date like 2026-12-05"))
            })
            .transpose()
    };
    let from = day("from", q.from.as_ref())?;
    let to = day("to", q.to.as_ref())?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(AppError::invalid(
            "to",
            "the last day comes before the first",
        ));
    }
    let kind = match some(q.kind.as_ref()) {
        None => None,
        Some("staff_opening") => Some("staff_opening"),
        Some("locksmith") => Some("locksmith"),
        Some(_) => {
            return Err(AppError::invalid(
                "kind",
                "choose staff_opening or locksmith",
            ));
        }
    };
    let unit = some(q.unit.as_ref())
        .map(|u| {
            u.parse()
                .map(UnitId)
                .map_err(|_| AppError::invalid("unit", "choose one of the units"))
        })
        .transpose()?;
    Ok(Filter {
        from,
        to,
        kind,
        unit,
    })
}

fn keep(f: &Filter, tz: &TimeZone, c: &Charge) -> bool {
    let day = tz.to_datetime(c.created_at).date();
    f.from.is_none_or(|d| day >= d)
        && f.to.is_none_or(|d| day <= d)
        && f.kind.is_none_or(|k| c.kind == k)
}

/// The property's lines the filter keeps, with the property's zone and the units' labels.
async fn lines(
    state: &WebState,
    who: &Signed,
    q: &LedgerQuery,
) -> Result<(PropertyId, Filter, TimeZone, Vec<Charge>), PageError> {
    let p = crate::guard::staff_property(who, q.property, "the ledger")?;
    who.principal.staff(p)?;
    let f = filter_of(q)?;
    let (_, tz) = crate::console_cases::property_of(state, who, p).await?;
    let all = state.app.ledger(&who.principal, p, f.unit).await?;
    let kept = all.into_iter().filter(|c| keep(&f, &tz, c)).collect();
    Ok((p, f, tz, kept))
}

/// The property's unit labels by id, from the building the console reads.
async fn unit_labels(
    state: &WebState,
    who: &Signed,
    p: PropertyId,
) -> Result<(String, Vec<(i64, String)>, HashMap<i64, String>), PageError> {
    let b = state.app.building(who.principal.staff(p)?).await?;
    let mut units: Vec<(i64, String)> = b
        .doors
        .iter()
        .filter_map(|d| Some((d.door.unit_id?.0, d.unit.as_ref()?.0.clone())))
        .collect();
    units.sort_by(|a, b| a.1.cmp(&b.1));
    units.dedup();
    let doors = b
        .doors
        .iter()
        .map(|d| (d.door.id.0, d.door.name.clone()))
        .collect();
    Ok((b.property.name, units, doors))
}

pub struct LineRow {
    pub id: i64,
    pub at: String,
    pub unit: String,
    pub case: Option<i64>,
    pub kind: &'static str,
    pub payer: String,
    pub amount: String,
    pub waived: bool,
    pub reason: String,
    pub evidence: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console_ledger.html")]
struct LedgerPage {
    layout: Layout,
    css: String,
    property: i64,
    name: String,
    from: String,
    to: String,
    kinds: Vec<Choice>,
    units: Vec<Choice>,
    rows: Vec<LineRow>,
    total: String,
    csv: String,
}

pub(crate) async fn ledger(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<LedgerQuery>,
) -> Result<Response, PageError> {
    let (p, f, tz, kept) = lines(&state, &who, &q).await?;
    let (name, units, _) = unit_labels(&state, &who, p).await?;
    let label: HashMap<i64, String> = units.iter().cloned().collect();
    let total: i64 = kept
        .iter()
        .filter(|c| !c.waived && c.payer == "tenant")
        .map(|c| c.amount_cents)
        .sum();
    let rows = kept
        .iter()
        .map(|c| LineRow {
            id: c.id,
            at: local(&tz, c.created_at),
            unit: c
                .unit_id
                .map(|u| label.get(&u.0).cloned().unwrap_or_else(|| u.0.to_string()))
                .unwrap_or_default(),
            case: c.case_id.map(|k| k.0),
            kind: if c.kind == "locksmith" {
                "Locksmith"
            } else {
                "Staff opening"
            },
            payer: c.payer.clone(),
            amount: money(c.amount_cents),
            waived: c.waived,
            reason: c.reason.clone(),
            evidence: c
                .evidence
                .iter()
                .map(|s| format!("#{s}"))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let choice = |value: &str, label: &str, selected: bool| Choice {
        value: value.to_owned(),
        label: label.to_owned(),
        selected,
    };
    let kinds = vec![
        choice("", "Every kind", f.kind.is_none()),
        choice(
            "staff_opening",
            "Staff openings",
            f.kind == Some("staff_opening"),
        ),
        choice("locksmith", "Locksmiths", f.kind == Some("locksmith")),
    ];
    let mut unit_choices = vec![choice("", "Every unit", f.unit.is_none())];
    unit_choices.extend(units.iter().map(|(id, l)| {
        choice(
            &id.to_string(),
            &format!("Unit {l}"),
            f.unit == Some(UnitId(*id)),
        )
    }));
    let text = |d: Option<Date>| d.map(|d| d.to_string()).unwrap_or_default();
    let mut csv = format!("/console/ledger.csv?property={}", p.0);
    for (k, v) in [
        ("from", text(f.from)),
        ("to", text(f.to)),
        ("kind", f.kind.unwrap_or_default().to_owned()),
        ("unit", f.unit.map(|u| u.0.to_string()).unwrap_or_default()),
    ] {
        if !v.is_empty() {
            csv.push_str(&format!("&{k}={v}"));
        }
    }
    Ok(LedgerPage {
        layout: Layout::signed(format!("Ledger: {name}"), Some(Tab::Ledger), &who),
        css: crate::assets::assets().url("console.css"),
        property: p.0,
        name,
        from: text(f.from),
        to: text(f.to),
        kinds,
        units: unit_choices,
        rows,
        total: money(total),
        csv,
    }
    .into_response())
}

/// The ledger's CSV: the API's (`GET /api/v1/properties/{id}/ledger.csv`), of the lines the
/// page's filters keep.
pub(crate) async fn ledger_file(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<LedgerQuery>,
) -> Result<Response, PageError> {
    let (p, _, _, kept) = lines(&state, &who, &q).await?;
    let disposition = format!("attachment; filename=\"ledger-property-{}.csv\"", p.0);
    let mut res = ledger_csv(&kept).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

pub struct IncidentRow {
    pub id: i64,
    pub door: String,
    pub door_id: i64,
    pub kind: &'static str,
    pub case: Option<i64>,
    pub opened: String,
    pub closed: String,
    pub what: String,
    pub open: bool,
}

fn incident_row(i: &Incident, tz: &TimeZone, doors: &HashMap<i64, String>) -> IncidentRow {
    let d = &i.detail;
    let what = match i.kind.as_str() {
        "compromised" => format!(
            "Forced: {}",
            d.get("how")
                .and_then(|v| v.as_str())
                .unwrap_or("no details")
        ),
        _ if d.get("note").is_some() => format!(
            "Reported: {}",
            d.get("note").and_then(|v| v.as_str()).unwrap_or("")
        ),
        _ => {
            let work = d
                .get("work")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .replace('_', " ");
            let failed = d.get("lock_failed") == Some(&serde_json::Value::Bool(true));
            match (failed, work.is_empty()) {
                (true, false) => format!("The lock had failed; the locksmith's work: {work}"),
                (true, true) => "The lock had failed".to_owned(),
                (false, false) => format!("The locksmith's work: {work}"),
                (false, true) => "Service needed".to_owned(),
            }
        }
    };
    IncidentRow {
        id: i.id,
        door: doors
            .get(&i.door_id.0)
            .cloned()
            .unwrap_or_else(|| format!("door {}", i.door_id.0)),
        door_id: i.door_id.0,
        kind: if i.kind == "compromised" {
            "Compromised"
        } else {
            "Marked for service"
        },
        case: i.case_id.map(|c| c.0),
        opened: local(tz, i.opened_at),
        closed: i.closed_at.map(|t| local(tz, t)).unwrap_or_default(),
        what,
        open: i.closed_at.is_none(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console_incidents.html")]
struct IncidentsPage {
    layout: Layout,
    css: String,
    csrf: String,
    property: i64,
    name: String,
    open: Vec<IncidentRow>,
    closed: Vec<IncidentRow>,
    /// The property's doors, for the form.
    doors: Vec<Choice>,
    draft: Draft,
}

/// The form to open an incident, as typed, and why it was refused.
#[derive(Default)]
pub struct Draft {
    pub door: String,
    pub kind: String,
    pub note: String,
    /// The field at fault (`door`, `kind`, `note`) and the reason.
    pub error: Option<(&'static str, String)>,
    /// The incident just opened.
    pub opened: Option<i64>,
}

impl Draft {
    /// `aria-invalid` and `aria-describedby` for field `name`, when it is the one at fault.
    pub fn wrong(&self, name: &str) -> bool {
        self.error.as_ref().is_some_and(|(f, _)| *f == name)
    }

    /// Why the form was refused, or nothing.
    pub fn reason(&self) -> &str {
        self.error.as_ref().map_or("", |(_, why)| why.as_str())
    }
}

async fn incidents_page(
    state: &WebState,
    who: &Signed,
    p: PropertyId,
    draft: Draft,
) -> Result<IncidentsPage, PageError> {
    let all = state.app.incidents(&who.principal, p).await?;
    let (name, _, doors) = unit_labels(state, who, p).await?;
    let (_, tz) = crate::console_cases::property_of(state, who, p).await?;
    let (open, closed): (Vec<_>, Vec<_>) = all.iter().partition(|i| i.closed_at.is_none());
    let mut choices: Vec<Choice> = doors
        .iter()
        .map(|(id, n)| Choice {
            value: id.to_string(),
            label: n.clone(),
            selected: draft.door.trim() == id.to_string(),
        })
        .collect();
    choices.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(IncidentsPage {
        layout: Layout::signed_at(format!("Incidents: {name}"), Some(Tab::Incidents), who, p),
        css: crate::assets::assets().url("console.css"),
        csrf: who.csrf.clone(),
        property: p.0,
        name,
        open: open.iter().map(|i| incident_row(i, &tz, &doors)).collect(),
        closed: closed
            .iter()
            .map(|i| incident_row(i, &tz, &doors))
            .collect(),
        doors: choices,
        draft,
    })
}

#[derive(Deserialize)]
pub(crate) struct IncidentsQuery {
    property: Option<i64>,
    opened: Option<i64>,
}

pub(crate) async fn incidents(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<IncidentsQuery>,
) -> Result<Response, PageError> {
    let p = crate::guard::staff_property(&who, q.property, "the incidents")?;
    let draft = Draft {
        opened: q.opened,
        ..Draft::default()
    };
    Ok(incidents_page(&state, &who, p, draft)
        .await?
        .into_response())
}

#[derive(Deserialize)]
pub(crate) struct OpenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    property: String,
    #[serde(default)]
    door: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    note: String,
}

/// Opens an incident on a door of the property; a wrong field brings the form back as typed.
pub(crate) async fn open_incident(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Form(form): Form<OpenForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let p = PropertyId(
        form.property
            .trim()
            .parse()
            .map_err(|_| AppError::invalid("property", "is missing"))?,
    );
    who.principal.staff(p)?;
    let mut draft = Draft {
        door: form.door.clone(),
        kind: form.kind.clone(),
        note: form.note.clone(),
        ..Draft::default()
    };
    let kind = match form.kind.as_str() {
        "service" => Some(IncidentKind::Service),
        "compromised" => Some(IncidentKind::Compromised),
        _ => None,
    };
    let door = form.door.trim().parse::<i64>().ok().map(DoorId);
    let refused = match (door, kind) {
        (None, _) => Some(("door", "choose the door from the list".to_owned())),
        (_, None) => Some(("kind", "choose what is wrong from the list".to_owned())),
        (Some(door), Some(kind)) => {
            let tried = async {
                let staff = state
                    .app
                    .may_open_incident(&who.principal, door, &form.note)
                    .await?;
                if staff.record().property_id != p {
                    return Err(AppError::invalid("door", "is not a door of this property"));
                }
                state.app.open_incident(staff, kind, &form.note).await
            }
            .await;
            match tried {
                Ok(i) => {
                    return Ok(Redirect::to(&format!(
                        "/console/incidents?property={}&opened={}#incident-{}",
                        p.0, i.id, i.id
                    ))
                    .into_response());
                }
                Err(AppError::Invalid { field, message }) if field == "note" => {
                    Some(("note", message))
                }
                Err(AppError::Invalid { field, message }) if field == "door" => {
                    Some(("door", message))
                }
                // A door the caller may not see reads as one not in the list.
                Err(AppError::NotFound(_)) => {
                    Some(("door", "choose the door from the list".to_owned()))
                }
                Err(AppError::Conflict(message)) => Some(("door", message)),
                Err(e) => return Err(e.into()),
            }
        }
    };
    draft.error = refused;
    let page = incidents_page(&state, &who, p, draft).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "console_incident.html")]
struct IncidentPage {
    layout: Layout,
    css: String,
    csrf: String,
    property: i64,
    i: IncidentRow,
    closed_note: bool,
}

/// One incident of a property the caller staffs: found in the API's list, so its rule is the
/// list's.
async fn find_incident(
    state: &WebState,
    who: &Signed,
    id: i64,
) -> Result<(PropertyId, Incident), PageError> {
    for m in who.principal.active().filter(|m| m.role.is_staff()) {
        if let Some(i) = state
            .app
            .incidents(&who.principal, m.property_id)
            .await?
            .into_iter()
            .find(|i| i.id == id)
        {
            return Ok((m.property_id, i));
        }
    }
    Err(AppError::not_found("incident").into())
}

pub(crate) async fn incident(
    State(state): State<WebState>,
    who: Signed,
    Path(id): Path<i64>,
    Query(q): Query<CloseQuery>,
) -> Result<Response, PageError> {
    let (p, i) = find_incident(&state, &who, id).await?;
    let (_, _, doors) = unit_labels(&state, &who, p).await?;
    let (_, tz) = crate::console_cases::property_of(&state, &who, p).await?;
    Ok(IncidentPage {
        layout: Layout::signed_at(format!("Incident {id}"), Some(Tab::Incidents), &who, p),
        css: crate::assets::assets().url("console.css"),
        csrf: who.csrf.clone(),
        property: p.0,
        i: incident_row(&i, &tz, &doors),
        closed_note: q.closed.is_some(),
    }
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct CloseQuery {
    closed: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct CloseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

pub(crate) async fn close(
    State(state): State<WebState>,
    who: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<CloseForm>,
) -> Result<Response, PageError> {
    who.check(&state, &headers, &form.csrf)?;
    let staff = state
        .app
        .may_close_incident(&who.principal, id, &form.note)
        .await?;
    state.app.close_incident(staff, &form.note).await?;
    Ok(Redirect::to(&format!("/console/incidents/{id}?closed=1")).into_response())
}
