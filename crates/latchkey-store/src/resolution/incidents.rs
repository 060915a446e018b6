//! Incidents on doors: marked for service, or compromised.

use jiff::Timestamp;
use latchkey_core::{DoorId, LockoutCaseId, PersonId, PropertyId};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{from_micros, opt_from_micros, to_micros};
use crate::{Conn, Result, StoreError};

/// Something wrong with a door until staff close it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Incident {
    pub id: i64,
    pub property_id: PropertyId,
    pub door_id: DoorId,
    pub case_id: Option<LockoutCaseId>,
    /// `service` (the lock failed) or `compromised` (forced entry).
    pub kind: String,
    pub detail: serde_json::Value,
    pub opened_by: Option<PersonId>,
    pub opened_at: Timestamp,
    pub closed_by: Option<PersonId>,
    pub closed_at: Option<Timestamp>,
}

const INCIDENT_COLUMNS: &str =
    "id, property_id, door_id, case_id, kind, detail, opened_by, opened_at, closed_by, closed_at";

fn incident_row(r: &AnyRow) -> Result<Incident> {
    let detail: String = r.try_get("detail")?;
    Ok(Incident {
        id: r.try_get("id")?,
        property_id: PropertyId(r.try_get("property_id")?),
        door_id: DoorId(r.try_get("door_id")?),
        case_id: r.try_get::<Option<i64>, _>("case_id")?.map(LockoutCaseId),
        kind: r.try_get("kind")?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::Corrupt(format!("incident detail: {e}")))?,
        opened_by: r.try_get::<Option<i64>, _>("opened_by")?.map(PersonId),
        opened_at: from_micros(r.try_get("opened_at")?)?,
        closed_by: r.try_get::<Option<i64>, _>("closed_by")?.map(PersonId),
        closed_at: opt_from_micros(r.try_get("closed_at")?)?,
    })
}

/// Opens an incident unless one of the same kind is already open on the door (then `None`).
///
/// # Errors
/// `Database` on a failed write.
pub async fn open_incident(conn: &mut Conn, i: &Incident) -> Result<Option<Incident>> {
    let open: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM door_incidents WHERE door_id = $1 AND kind = $2 AND closed_at IS NULL",
    )
    .bind(i.door_id.0)
    .bind(i.kind.clone())
    .fetch_optional(&mut *conn)
    .await?;
    if open.is_some() {
        return Ok(None);
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO door_incidents (property_id, door_id, case_id, kind, detail, opened_by, opened_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(i.property_id.0)
    .bind(i.door_id.0)
    .bind(i.case_id.map(|c| c.0))
    .bind(i.kind.clone())
    .bind(i.detail.to_string())
    .bind(i.opened_by.map(|p| p.0))
    .bind(to_micros(i.opened_at))
    .fetch_one(conn)
    .await
    .map_err(StoreError::classify)?;
    Ok(Some(Incident { id, ..i.clone() }))
}

/// The incidents of a property, open ones first, newest first.
///
/// # Errors
/// `Database` on a failed read.
pub async fn incidents(conn: &mut Conn, property: PropertyId) -> Result<Vec<Incident>> {
    let sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM door_incidents WHERE property_id = $1 \
         ORDER BY CASE WHEN closed_at IS NULL THEN 0 ELSE 1 END, id DESC LIMIT 500"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(property.0)
        .fetch_all(conn)
        .await?;
    rows.iter().map(incident_row).collect()
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_incident(conn: &mut Conn, id: i64) -> Result<Option<Incident>> {
    let sql = format!("SELECT {INCIDENT_COLUMNS} FROM door_incidents WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(incident_row).transpose()
}

/// Closes an open incident; returns whether it was open.
///
/// # Errors
/// `Database` on a failed write.
pub async fn close_incident(conn: &mut Conn, id: i64, by: PersonId, at: Timestamp) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE door_incidents SET closed_by = $1, closed_at = $2 WHERE id = $3 AND closed_at IS NULL",
    )
    .bind(by.0)
    .bind(to_micros(at))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
