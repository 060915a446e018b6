//! Entry notices: a scheduled visit by staff to one unit, with a purpose and a time window,
//! told to the household in advance. The notice's window is the only time staff may open the
//! unit's door without an emergency.

use jiff::Timestamp;
use latchkey_core::{DoorId, PersonId, PropertyId, UnitId};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{from_micros, opt_from_micros, to_micros};
use crate::{Conn, Result, StoreError};

/// A scheduled visit to a unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EntryNotice {
    pub id: i64,
    pub property_id: PropertyId,
    pub unit_id: UnitId,
    /// The unit's doors it covers, sorted.
    pub doors: Vec<DoorId>,
    pub purpose: String,
    /// The window `[from, until)` in which staff may open the doors.
    pub window_from: Timestamp,
    pub window_until: Timestamp,
    pub created_by: Option<PersonId>,
    pub created_at: Timestamp,
    pub cancelled_by: Option<PersonId>,
    pub cancelled_at: Option<Timestamp>,
}

impl EntryNotice {
    /// Whether it lets staff open `door` at `at`: not cancelled, the door is one of its own,
    /// and `at` is inside the window.
    pub fn opens(&self, door: DoorId, at: Timestamp) -> bool {
        self.cancelled_at.is_none()
            && self.doors.contains(&door)
            && self.window_from <= at
            && at < self.window_until
    }
}

/// A notice to record; the caller has checked the unit, the doors and the window.
#[derive(Clone, Debug)]
pub struct NewEntryNotice {
    pub property_id: PropertyId,
    pub unit_id: UnitId,
    pub doors: Vec<DoorId>,
    pub purpose: String,
    pub window_from: Timestamp,
    pub window_until: Timestamp,
    pub created_by: PersonId,
}

const COLUMNS: &str = "id, property_id, unit_id, doors, purpose, window_from, window_until, \
     created_by, created_at, cancelled_by, cancelled_at";

fn notice_row(r: &AnyRow) -> Result<EntryNotice> {
    let doors: String = r.try_get("doors")?;
    Ok(EntryNotice {
        id: r.try_get("id")?,
        property_id: PropertyId(r.try_get("property_id")?),
        unit_id: UnitId(r.try_get("unit_id")?),
        doors: serde_json::from_str(&doors)
            .map_err(|e| StoreError::Corrupt(format!("entry notice doors: {e}")))?,
        purpose: r.try_get("purpose")?,
        window_from: from_micros(r.try_get("window_from")?)?,
        window_until: from_micros(r.try_get("window_until")?)?,
        created_by: r.try_get::<Option<i64>, _>("created_by")?.map(PersonId),
        created_at: from_micros(r.try_get("created_at")?)?,
        cancelled_by: r.try_get::<Option<i64>, _>("cancelled_by")?.map(PersonId),
        cancelled_at: opt_from_micros(r.try_get("cancelled_at")?)?,
    })
}

/// # Errors
/// `Database` on a failed write; `MissingReference` for an unknown unit or property.
pub async fn create_notice(
    conn: &mut Conn,
    n: &NewEntryNotice,
    at: Timestamp,
) -> Result<EntryNotice> {
    let mut doors = n.doors.clone();
    doors.sort_unstable();
    doors.dedup();
    let doors = serde_json::to_string(&doors)
        .map_err(|e| StoreError::Corrupt(format!("entry notice doors: {e}")))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO entry_notices (property_id, unit_id, doors, purpose, window_from, \
         window_until, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(n.property_id.0)
    .bind(n.unit_id.0)
    .bind(doors)
    .bind(n.purpose.clone())
    .bind(to_micros(n.window_from))
    .bind(to_micros(n.window_until))
    .bind(n.created_by.0)
    .bind(to_micros(at))
    .fetch_one(&mut *conn)
    .await
    .map_err(StoreError::classify)?;
    get_notice(conn, id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("an entry notice vanished after insert".into()))
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_notice(conn: &mut Conn, id: i64) -> Result<Option<EntryNotice>> {
    let sql = format!("SELECT {COLUMNS} FROM entry_notices WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(notice_row).transpose()
}

/// A property's notices, or one unit's, latest window first.
///
/// # Errors
/// `Database` on a failed read.
pub async fn list_notices(
    conn: &mut Conn,
    property: PropertyId,
    unit: Option<UnitId>,
) -> Result<Vec<EntryNotice>> {
    let order = "ORDER BY window_from DESC, id DESC";
    let rows = match unit {
        Some(u) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM entry_notices WHERE property_id = $1 AND unit_id = $2 {order}"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(property.0)
                .bind(u.0)
                .fetch_all(conn)
                .await?
        }
        None => {
            let sql = format!("SELECT {COLUMNS} FROM entry_notices WHERE property_id = $1 {order}");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(property.0)
                .fetch_all(conn)
                .await?
        }
    };
    rows.iter().map(notice_row).collect()
}

/// Cancels a notice that is not cancelled yet; `false` when it already was.
///
/// # Errors
/// `Database` on a failed write.
pub async fn cancel_notice(conn: &mut Conn, id: i64, by: PersonId, at: Timestamp) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE entry_notices SET cancelled_by = $1, cancelled_at = $2 \
         WHERE id = $3 AND cancelled_at IS NULL",
    )
    .bind(by.0)
    .bind(to_micros(at))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
