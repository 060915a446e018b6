//! The manager's building page: every door of the property with what its lock last reported
//! (locked, unlocked, open, jammed, offline, battery) and how far its slots are (pending,
//! failed, unmanaged), filtered by floor and kind. Staff of the property only (`Staff`, the same
//! capability the API's property-wide reads take); states change in place from the live stream,
//! as on the home page, within what the stream lets staff follow (decision 64).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use latchkey_app::AppError;
use latchkey_app::console::ConsoleDoor;
use latchkey_app::pages::DoorCondition;
use latchkey_core::model::DoorKind;
use serde::Deserialize;

use crate::WebState;
use crate::error::PageError;
use crate::guard::Signed;
#[allow(unused_imports)] // The base template names the tabs.
use crate::layout::{Layout, Tab};

#[derive(Deserialize)]
pub(crate) struct BuildingQuery {
    property: Option<i64>,
    /// A floor number, `shared` (doors of no unit), or empty for every floor.
    floor: Option<String>,
    kind: Option<String>,
}

/// A door's state in the words of the page, and the class the live script keeps in step.
pub fn state_of(c: DoorCondition) -> (&'static str, &'static str) {
    match c {
        DoorCondition::Locked => ("locked", "Locked"),
        DoorCondition::Unlocked => ("unlocked", "Unlocked"),
        DoorCondition::Open => ("open", "Open"),
        DoorCondition::Jammed => ("jammed", "Jammed: the bolt is stuck"),
        DoorCondition::Offline => ("offline", "Offline: the lock does not answer"),
        DoorCondition::Unknown => ("unknown", "No report from the lock yet"),
    }
}

pub fn kind_words(k: DoorKind) -> &'static str {
    match k {
        DoorKind::UnitEntry => "Unit entry",
        DoorKind::BuildingEntrance => "Building entrance",
        DoorKind::Amenity => "Amenity",
        DoorKind::Garage => "Garage",
        DoorKind::BackDoor => "Back door",
    }
}

/// One row of the table.
pub struct Row {
    pub id: i64,
    pub name: String,
    pub place: String,
    pub kind: &'static str,
    pub state_class: &'static str,
    pub state_words: &'static str,
    pub battery: String,
    pub battery_low: bool,
    /// The slots' sync in words, empty when every code is on the lock.
    pub sync: String,
    pub sync_bad: bool,
}

/// The sync status of a door's slots, in words.
pub fn sync_words(d: &ConsoleDoor) -> (String, bool) {
    let s = d.slots;
    let mut parts = Vec::new();
    if s.pending > 0 {
        parts.push(format!("{} pending", s.pending));
    }
    if s.failed > 0 {
        parts.push(format!("{} failed", s.failed));
    }
    if s.unmanaged > 0 {
        parts.push(format!("{} unmanaged", s.unmanaged));
    }
    if d.door.lock_name.is_none() {
        return ("No lock paired".to_owned(), false);
    }
    let bad = s.failed > 0 || s.unmanaged > 0;
    if parts.is_empty() {
        let codes = if s.set == 1 { "code" } else { "codes" };
        (format!("In sync ({} {codes})", s.set), false)
    } else {
        (parts.join(", "), bad)
    }
}

pub fn place_of(d: &ConsoleDoor) -> String {
    match &d.unit {
        Some((label, floor)) => format!("Unit {label}, floor {floor}"),
        None => "Shared".to_owned(),
    }
}

fn row(d: &ConsoleDoor) -> Row {
    let (state_class, state_words) = state_of(d.condition);
    let (sync, sync_bad) = sync_words(d);
    Row {
        id: d.door.id.0,
        name: d.door.name.clone(),
        place: place_of(d),
        kind: kind_words(d.door.kind),
        state_class,
        state_words,
        battery: d.battery.map_or_else(String::new, |b| format!("{b} %")),
        battery_low: d.battery_low,
        sync,
        sync_bad,
    }
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "building.html")]
struct BuildingPage {
    layout: Layout,
    css: String,
    property: i64,
    name: String,
    after: i64,
    floors: Vec<Choice>,
    kinds: Vec<Choice>,
    rows: Vec<Row>,
    total: usize,
    offline: usize,
    jammed: usize,
    failing: usize,
}

pub(crate) async fn page(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<BuildingQuery>,
) -> Result<Response, PageError> {
    let property = crate::guard::staff_property(&who, q.property, "the building page")?;
    let staff = who.principal.staff(property)?;
    let floor = q.floor.filter(|f| !f.is_empty());
    let kind = match q.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(k.parse::<DoorKind>().map_err(|_| {
            AppError::invalid(
                "kind",
                "kind must be unit_entry, building_entrance, amenity, garage or back_door",
            )
        })?),
    };
    let wanted_floor: Option<Option<i64>> = match floor.as_deref() {
        None => None,
        Some("shared") => Some(None),
        Some(f) => Some(Some(f.parse().map_err(|_| {
            AppError::invalid("floor", "floor must be a floor's number or `shared`")
        })?)),
    };
    // The log position first: whatever changes after it reaches the page through the stream.
    let after = state.app.audit_head().await?.0;
    let b = state.app.building(staff).await?;
    let mut floors: Vec<i64> = b
        .doors
        .iter()
        .filter_map(|d| d.unit.as_ref().map(|u| u.1))
        .collect();
    floors.sort_unstable();
    floors.dedup();
    let shown: Vec<&ConsoleDoor> = b
        .doors
        .iter()
        .filter(|d| wanted_floor.is_none_or(|f| d.unit.as_ref().map(|u| u.1) == f))
        .filter(|d| kind.is_none_or(|k| d.door.kind == k))
        .collect();
    let count = |c: DoorCondition| b.doors.iter().filter(|d| d.condition == c).count();
    let mut floor_choices = vec![
        Choice {
            value: String::new(),
            label: "Every floor".into(),
            selected: floor.is_none(),
        },
        Choice {
            value: "shared".into(),
            label: "Shared doors".into(),
            selected: floor.as_deref() == Some("shared"),
        },
    ];
    floor_choices.extend(floors.iter().map(|f| Choice {
        value: f.to_string(),
        label: format!("Floor {f}"),
        selected: wanted_floor == Some(Some(*f)),
    }));
    let mut kinds = vec![Choice {
        value: String::new(),
        label: "Every kind".into(),
        selected: kind.is_none(),
    }];
    kinds.extend(DoorKind::ALL.iter().map(|k| Choice {
        value: k.as_str().into(),
        label: kind_words(*k).into(),
        selected: kind == Some(*k),
    }));
    Ok(BuildingPage {
        layout: Layout::signed(
            format!("Building: {}", b.property.name),
            Some(Tab::Building),
            &who,
        ),
        css: crate::assets::assets().url("console.css"),
        property: property.0,
        name: b.property.name.clone(),
        after,
        floors: floor_choices,
        kinds,
        rows: shown.iter().map(|d| row(d)).collect(),
        total: b.doors.len(),
        offline: count(DoorCondition::Offline),
        jammed: count(DoorCondition::Jammed),
        failing: b
            .doors
            .iter()
            .filter(|d| d.slots.failed > 0 || d.slots.unmanaged > 0)
            .count(),
    }
    .into_response())
}
