//! The manager's building page: the doors of the property with what its lock last reported
//! (locked, unlocked, open, jammed, offline, battery) and how far its slots are (pending,
//! failed, unmanaged), filtered by floor and kind. A building of more than [`ALL_AT_ONCE`]
//! doors opens on the doors needing attention, with every floor one choice away and every door
//! two (decision 79); a smaller one shows every door. Staff of the property only (`Staff`, the
//! same capability the API's property-wide reads take); states change in place from the live
//! stream, as on the home page, within what the stream lets staff follow (decision 64).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use latchkey_app::AppError;
use latchkey_app::console::{ConsoleDoor, DoorGlance};
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
    /// A floor number, `shared` (doors of no unit), `attention` (the doors needing it), `all`
    /// (every door), or empty for the page's first view.
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
        let n = s.set + s.assumed;
        let codes = if n == 1 { "code" } else { "codes" };
        if s.assumed > 0 {
            // The lock took them but cannot show which code a slot holds (docs/DEVICES.md).
            (
                format!(
                    "In sync ({n} {codes}, {} assumed: this lock cannot show its codes)",
                    s.assumed
                ),
                false,
            )
        } else {
            (format!("In sync ({n} {codes})"), false)
        }
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
    /// The rows are the doors needing attention when the page was drawn.
    attention_only: bool,
    offline: usize,
    jammed: usize,
    failing: usize,
}

/// A building of at most this many doors is shown whole; a larger one opens on the doors
/// needing attention (decision 79).
pub const ALL_AT_ONCE: usize = 200;

/// Which doors the page draws, besides the kind chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pick {
    Every,
    Attention,
    /// A floor's doors, or (`None`) the doors of no unit.
    Floor(Option<i64>),
}

impl Pick {
    fn parse(text: Option<&str>) -> Result<Option<Pick>, AppError> {
        Ok(match text {
            None | Some("") => None,
            Some("all") => Some(Pick::Every),
            Some("attention") => Some(Pick::Attention),
            Some("shared") => Some(Pick::Floor(None)),
            Some(f) => Some(Pick::Floor(Some(f.parse().map_err(|_| {
                AppError::invalid(
                    "floor",
                    "floor must be a floor's number, `shared`, `attention` or `all`",
                )
            })?))),
        })
    }

    fn takes(self, g: &DoorGlance) -> bool {
        match self {
            Pick::Every => true,
            Pick::Attention => g.needs_attention(),
            Pick::Floor(f) => g.floor == f,
        }
    }

    fn value(self) -> String {
        match self {
            Pick::Every => "all".into(),
            Pick::Attention => "attention".into(),
            Pick::Floor(None) => "shared".into(),
            Pick::Floor(Some(f)) => f.to_string(),
        }
    }
}

fn needing(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => " (1 needs attention)".into(),
        n => format!(" ({n} need attention)"),
    }
}

pub(crate) async fn page(
    State(state): State<WebState>,
    who: Signed,
    Query(q): Query<BuildingQuery>,
) -> Result<Response, PageError> {
    let property = crate::guard::staff_property(&who, q.property, "the building page")?;
    let staff = who.principal.staff(property)?;
    let kind = match q.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(k.parse::<DoorKind>().map_err(|_| {
            AppError::invalid(
                "kind",
                "kind must be unit_entry, building_entrance, amenity, garage or back_door",
            )
        })?),
    };
    let asked = Pick::parse(q.floor.as_deref())?;
    // The log position first: whatever changes after it reaches the page through the stream.
    let after = state.app.audit_head().await?.0;
    let mut pick = Pick::Every;
    let b = state
        .app
        .building_page(staff, |glance| {
            pick = asked.unwrap_or(if glance.len() <= ALL_AT_ONCE {
                Pick::Every
            } else {
                Pick::Attention
            });
            glance
                .iter()
                .filter(|g| pick.takes(g) && kind.is_none_or(|k| g.kind == k))
                .map(|g| g.id)
                .collect()
        })
        .await?;
    let mut floors: Vec<(i64, usize)> = Vec::new();
    let mut shared_attention = 0;
    for g in &b.glance {
        let attention = usize::from(g.needs_attention());
        match g.floor {
            None => shared_attention += attention,
            Some(f) => match floors.iter_mut().find(|(x, _)| *x == f) {
                Some((_, n)) => *n += attention,
                None => floors.push((f, attention)),
            },
        }
    }
    floors.sort_unstable();
    let attention = b.glance.iter().filter(|g| g.needs_attention()).count();
    let count = |c: DoorCondition| b.glance.iter().filter(|g| g.condition == c).count();
    let choice = |p: Pick, label: String| Choice {
        value: p.value(),
        label,
        selected: pick == p,
    };
    let mut floor_choices = vec![
        choice(Pick::Attention, format!("Needing attention ({attention})")),
        choice(Pick::Every, "Every floor".into()),
        choice(
            Pick::Floor(None),
            format!("Shared doors{}", needing(shared_attention)),
        ),
    ];
    floor_choices.extend(
        floors
            .iter()
            .map(|(f, n)| choice(Pick::Floor(Some(*f)), format!("Floor {f}{}", needing(*n)))),
    );
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
        rows: b.doors.iter().map(row).collect(),
        total: b.glance.len(),
        attention_only: pick == Pick::Attention,
        offline: count(DoorCondition::Offline),
        jammed: count(DoorCondition::Jammed),
        failing: b.glance.iter().filter(|g| g.codes_in_trouble).count(),
    }
    .into_response())
}
