//! The manager's building page in one read: every door of a property with its unit, what its
//! lock last reported and its slots counted by status, aggregated by the database into a single
//! JSON value (docs/ARCHITECTURE.md, decision 76). The SQLite driver hands each row of a result
//! from its connection thread to the caller on its own, and a building of a thousand doors read
//! as four lists crossed that hand-off some four thousand times; one row crosses it once.

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
    /// The lock's managed slots: set; pending, probing or removing; failed; unmanaged.
    pub slots: [i64; 4],
}

/// The columns of one door, in the order of the array each door is aggregated into.
const COLUMNS: &str = "o.id, o.unit_id, o.name, o.kind, o.mode, o.lock_name, o.pin_slots, \
    o.keypad_disabled_until, u.label, u.floor, d.availability, d.lock_state, d.door_state, \
    d.battery, s.n_set, s.n_pending, s.n_failed, s.n_unmanaged";

const FROM: &str = " FROM doors o \
    LEFT JOIN units u ON u.id = o.unit_id \
    LEFT JOIN devices d ON d.friendly_name = o.lock_name \
    LEFT JOIN (SELECT door_id, \
        SUM(CASE WHEN status = 'set' THEN 1 ELSE 0 END) AS n_set, \
        SUM(CASE WHEN status IN ('pending', 'probing', 'removing') THEN 1 ELSE 0 END) AS n_pending, \
        SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS n_failed, \
        SUM(CASE WHEN status = 'unmanaged' THEN 1 ELSE 0 END) AS n_unmanaged \
        FROM lock_slots WHERE door_id IN (SELECT id FROM doors WHERE property_id = $1) \
        GROUP BY door_id) s ON s.door_id = o.id \
    WHERE o.property_id = $1";

/// Every door of `property` for the building page, in id order.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` for a row this binary cannot read.
pub async fn building_doors(conn: &mut Conn, property: PropertyId) -> Result<Vec<BuildingDoor>> {
    let sql = match crate::backend_of(conn) {
        Backend::Sqlite => format!("SELECT json_group_array(json_array({COLUMNS})) AS j{FROM}"),
        Backend::Postgres => {
            format!("SELECT CAST(json_agg(json_build_array({COLUMNS})) AS TEXT) AS j{FROM}")
        }
    };
    // Built from the constants above only; the property is a bound parameter.
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(property.0)
        .fetch_one(conn)
        .await?;
    let text: Option<String> = row.try_get("j")?;
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let corrupt = |why: &str| StoreError::Corrupt(format!("building page row: {why}"));
    let rows: Vec<Vec<Value>> = serde_json::from_str(&text).map_err(|e| corrupt(&e.to_string()))?;
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

/// One aggregated door; `None` for a value of the wrong type, `Some(Err)` for a bad name.
fn door_of(r: &[Value], property: PropertyId) -> Option<Result<BuildingDoor>> {
    if r.len() != 18 {
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
    let slots = [count(14)?, count(15)?, count(16)?, count(17)?];
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
