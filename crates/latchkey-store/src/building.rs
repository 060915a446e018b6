//! The manager's building page in two reads, each a single row: a glance at every door of a
//! property (where it is, what its lock last reported, whether a code failed on it), and the
//! doors the page draws with their units and their slots counted by status, aggregated by the
//! database into a single JSON value (docs/ARCHITECTURE.md, decisions 76 and 79). The SQLite
//! driver hands each row of a result from its connection thread to the caller on its own, and a
//! building of a thousand doors read as four lists crossed that hand-off some four thousand
//! times; one row crosses it once. Counting every slot of a thousand locks is what the page
//! cost most after that, so the slots are counted only for the doors drawn.

use latchkey_core::model::{DoorKind, DoorMode};
use latchkey_core::{DoorId, PropertyId, UnitId};
use serde_json::Value;
use sqlx::Row;

use crate::records::{Door, opt_from_micros};
use crate::{Backend, Conn, Result, StoreError, parse_named};

/// One door of the building page.
#[derive(Clone, Debug)]
pub struct BuildingDoor {
    pub door: Door,
    /// The unit's label and floor, for a unit's door.
    pub unit: Option<(String, i64)>,
    /// What the paired lock last reported (`None` without a lock or a report).
    pub availability: Option<String>,
    pub lock_state: Option<String>,
    pub door_state: Option<String>,
    pub battery: Option<i64>,
    /// The lock's managed slots: set; pending, probing or removing; failed; unmanaged;
    /// assumed.
    pub slots: [i64; 5],
}

/// The columns of one door, in the order of the array each door is aggregated into.
const COLUMNS: &str = "o.id, o.unit_id, o.name, o.kind, o.mode, o.lock_name, o.pin_slots, \
    o.keypad_disabled_until, u.label, u.floor, d.availability, d.lock_state, d.door_state, \
    d.battery, s.n_set, s.n_pending, s.n_failed, s.n_unmanaged, s.n_assumed";

/// The doors read: `{doors}` is replaced by the doors whose slots are counted.
const FROM: &str = " FROM doors o \
    LEFT JOIN units u ON u.id = o.unit_id \
    LEFT JOIN devices d ON d.friendly_name = o.lock_name \
    LEFT JOIN (SELECT door_id, \
        SUM(CASE WHEN status = 'set' THEN 1 ELSE 0 END) AS n_set, \
        SUM(CASE WHEN status IN ('pending', 'probing', 'removing') THEN 1 ELSE 0 END) AS n_pending, \
        SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS n_failed, \
        SUM(CASE WHEN status = 'unmanaged' THEN 1 ELSE 0 END) AS n_unmanaged, \
        SUM(CASE WHEN status = 'assumed' THEN 1 ELSE 0 END) AS n_assumed \
        FROM lock_slots WHERE door_id IN ({doors}) \
        GROUP BY door_id) s ON s.door_id = o.id \
    WHERE o.property_id = $1 AND o.id IN ({doors})";

/// Every door of the property (`$1`).
const EVERY_DOOR: &str = "SELECT id FROM doors WHERE property_id = $1";

/// The doors named in `$2`, a JSON array of ids.
fn listed_doors(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SELECT value FROM json_each($2)",
        Backend::Postgres => {
            "SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST($2 AS JSON))"
        }
    }
}

/// One JSON array of `columns` per door, aggregated into a single value.
fn aggregated(backend: Backend, columns: &str, from: &str) -> String {
    match backend {
        Backend::Sqlite => format!("SELECT json_group_array(json_array({columns})) AS j{from}"),
        Backend::Postgres => {
            format!("SELECT CAST(json_agg(json_build_array({columns})) AS TEXT) AS j{from}")
        }
    }
}

fn corrupt(why: &str) -> StoreError {
    StoreError::Corrupt(format!("building page row: {why}"))
}

/// Reads the single aggregated row; an empty list for no door.
async fn read_rows(
    conn: &mut Conn,
    sql: String,
    property: PropertyId,
    doors: Option<&[DoorId]>,
) -> Result<Vec<Vec<Value>>> {
    // Built from the constants of this module only; the property and the ids are bound.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(property.0);
    if let Some(ids) = doors {
        let list = serde_json::to_string(&ids.iter().map(|d| d.0).collect::<Vec<i64>>())
            .map_err(|e| corrupt(&e.to_string()))?;
        q = q.bind(list);
    }
    let row = q.fetch_one(conn).await?;
    let text: Option<String> = row.try_get("j")?;
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    serde_json::from_str(&text).map_err(|e| corrupt(&e.to_string()))
}

/// Every door of `property` for the building page, in id order.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` for a row this binary cannot read.
pub async fn building_doors(conn: &mut Conn, property: PropertyId) -> Result<Vec<BuildingDoor>> {
    doors_of(conn, property, None).await
}

/// The doors `ids` of `property` (others are left out), in id order.
///
/// # Errors
/// As [`building_doors`].
pub async fn building_doors_among(
    conn: &mut Conn,
    property: PropertyId,
    ids: &[DoorId],
) -> Result<Vec<BuildingDoor>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    doors_of(conn, property, Some(ids)).await
}

async fn doors_of(
    conn: &mut Conn,
    property: PropertyId,
    ids: Option<&[DoorId]>,
) -> Result<Vec<BuildingDoor>> {
    let backend = crate::backend_of(conn);
    let doors = match ids {
        None => EVERY_DOOR,
        Some(_) => listed_doors(backend),
    };
    let sql = aggregated(backend, COLUMNS, &FROM.replace("{doors}", doors));
    let rows = read_rows(conn, sql, property, ids).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(door_of(r, property).ok_or_else(|| corrupt("a column of an unexpected type"))??);
    }
    out.sort_by_key(|d| d.door.id.0);
    Ok(out)
}

fn int(v: &Value) -> Option<Option<i64>> {
    match v {
        Value::Null => Some(None),
        // PostgreSQL's SUM of integers is a bigint; SQLite's an integer: both are JSON numbers.
        Value::Number(n) => n.as_i64().map(Some),
        _ => None,
    }
}

fn text(v: &Value) -> Option<Option<String>> {
    match v {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        _ => None,
    }
}

/// A glance at one door: enough to count the building's troubles and to choose the doors to
/// draw, not to draw them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoorGlance {
    pub id: DoorId,
    /// The unit's floor, for a unit's door.
    pub floor: Option<i64>,
    pub kind: DoorKind,
    pub paired: bool,
    pub availability: Option<String>,
    pub lock_state: Option<String>,
    pub door_state: Option<String>,
    pub battery: Option<i64>,
    /// A slot of its lock failed, or holds a code latchkey does not know.
    pub codes_in_trouble: bool,
}

const GLANCE: &str = "o.id, u.floor, o.kind, o.lock_name, d.availability, d.lock_state, \
    d.door_state, d.battery, \
    CASE WHEN o.id IN (SELECT door_id FROM lock_slots \
        WHERE door_id IN (SELECT id FROM doors WHERE property_id = $1) \
        AND status IN ('failed', 'unmanaged')) THEN 1 ELSE 0 END";

const GLANCE_FROM: &str = " FROM doors o \
    LEFT JOIN units u ON u.id = o.unit_id \
    LEFT JOIN devices d ON d.friendly_name = o.lock_name \
    WHERE o.property_id = $1";

/// A glance at every door of `property`, in id order.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` for a row this binary cannot read.
pub async fn building_glance(conn: &mut Conn, property: PropertyId) -> Result<Vec<DoorGlance>> {
    let sql = aggregated(crate::backend_of(conn), GLANCE, GLANCE_FROM);
    let rows = read_rows(conn, sql, property, None).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(glance_of(r).ok_or_else(|| corrupt("a column of an unexpected type"))??);
    }
    out.sort_by_key(|d| d.id.0);
    Ok(out)
}

fn glance_of(r: &[Value]) -> Option<Result<DoorGlance>> {
    if r.len() != 9 {
        return None;
    }
    let kind = text(&r[2])??;
    let glance = DoorGlance {
        id: DoorId(int(&r[0])??),
        floor: int(&r[1])?,
        kind: match parse_named::<DoorKind>(&kind, "door kind") {
            Ok(k) => k,
            Err(e) => return Some(Err(e)),
        },
        paired: text(&r[3])?.is_some(),
        availability: text(&r[4])?,
        lock_state: text(&r[5])?,
        door_state: text(&r[6])?,
        battery: int(&r[7])?,
        codes_in_trouble: int(&r[8])?? != 0,
    };
    Some(Ok(glance))
}

/// One aggregated door; `None` for a value of the wrong type, `Some(Err)` for a bad name.
fn door_of(r: &[Value], property: PropertyId) -> Option<Result<BuildingDoor>> {
    if r.len() != 19 {
        return None;
    }
    let id = int(&r[0])??;
    let unit_id = int(&r[1])?;
    let name = text(&r[2])??;
    let kind = text(&r[3])??;
    let mode = text(&r[4])??;
    let lock_name = text(&r[5])?;
    let pin_slots = int(&r[6])??;
    let keypad = int(&r[7])?;
    let unit = match (text(&r[8])?, int(&r[9])?) {
        (Some(label), Some(floor)) => Some((label, floor)),
        _ => None,
    };
    let (availability, lock_state, door_state) = (text(&r[10])?, text(&r[11])?, text(&r[12])?);
    let battery = int(&r[13])?;
    let count = |i: usize| int(&r[i]).map(Option::unwrap_or_default);
    let slots = [count(14)?, count(15)?, count(16)?, count(17)?, count(18)?];
    let door = || -> Result<Door> {
        Ok(Door {
            id: DoorId(id),
            property_id: property,
            unit_id: unit_id.map(UnitId),
            name,
            kind: parse_named::<DoorKind>(&kind, "door kind")?,
            mode: parse_named::<DoorMode>(&mode, "door mode")?,
            lock_name,
            pin_slots,
            keypad_disabled_until: opt_from_micros(keypad)?,
        })
    };
    Some(door().map(|door| BuildingDoor {
        door,
        unit,
        availability,
        lock_state,
        door_state,
        battery,
        slots,
    }))
}
