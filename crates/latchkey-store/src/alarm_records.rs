//! The alarms staff see and acknowledge on the console (docs/ARCHITECTURE.md, decisions 65 and
//! 66): one row per alarm, written in the transaction of the event that raised it, grouped
//! into storms as it is written, acknowledged a group at a time.

use jiff::Timestamp;
use latchkey_core::{DoorId, PersonId, PropertyId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{from_micros, opt_from_micros, to_micros};
use crate::sql::Sql;
use crate::{Conn, Result, StoreError};

/// An alarm to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAlarm {
    pub property_id: PropertyId,
    pub door_id: Option<DoorId>,
    /// `forced_entry`, `offline`, `jammed`, … as the raising event names it.
    pub kind: String,
    pub severity: String,
    /// The raising event's instant.
    pub at: Timestamp,
    /// When it is shown: `at`, or the end of an offline lock's grace.
    pub due_at: Timestamp,
}

/// A recorded alarm, with the names the console shows beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alarm {
    pub id: i64,
    pub property_id: PropertyId,
    pub door_id: Option<DoorId>,
    pub door_name: Option<String>,
    pub kind: String,
    pub severity: String,
    /// The id of the group's first alarm.
    pub group_id: i64,
    pub at: Timestamp,
    pub due_at: Timestamp,
    /// `open`, `acknowledged` or `cleared`.
    pub state: String,
    pub acknowledged_by: Option<PersonId>,
    pub acknowledged_by_name: Option<String>,
    pub acknowledged_at: Option<Timestamp>,
    pub note: Option<String>,
    pub cleared_at: Option<Timestamp>,
}

const COLUMNS: &str = "a.id, a.property_id, a.door_id, d.name AS door_name, a.kind, a.severity, \
     a.group_id, a.at, a.due_at, a.state, a.acknowledged_by, p.name AS acknowledged_by_name, \
     a.acknowledged_at, a.note, a.cleared_at FROM alarms a \
     LEFT JOIN doors d ON d.id = a.door_id LEFT JOIN people p ON p.id = a.acknowledged_by";

fn alarm_row(r: &AnyRow) -> Result<Alarm> {
    Ok(Alarm {
        id: r.try_get("id")?,
        property_id: PropertyId(r.try_get("property_id")?),
        door_id: r.try_get::<Option<i64>, _>("door_id")?.map(DoorId),
        door_name: r.try_get("door_name")?,
        kind: r.try_get("kind")?,
        severity: r.try_get("severity")?,
        group_id: r
            .try_get::<Option<i64>, _>("group_id")?
            .ok_or_else(|| StoreError::Corrupt("an alarm without a group".into()))?,
        at: from_micros(r.try_get("at")?)?,
        due_at: from_micros(r.try_get("due_at")?)?,
        state: r.try_get("state")?,
        acknowledged_by: r
            .try_get::<Option<i64>, _>("acknowledged_by")?
            .map(PersonId),
        acknowledged_by_name: r.try_get("acknowledged_by_name")?,
        acknowledged_at: opt_from_micros(r.try_get("acknowledged_at")?)?,
        note: r.try_get("note")?,
        cleared_at: opt_from_micros(r.try_get("cleared_at")?)?,
    })
}

/// The group a new alarm of `kind` at `property` joins: that of the newest open alarm of the
/// kind there raised at or after `since`, if any.
///
/// # Errors
/// `Database` on a failed read.
pub async fn storm_of(
    conn: &mut Conn,
    property: PropertyId,
    kind: &str,
    since: Timestamp,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT group_id FROM alarms WHERE property_id = $1 AND kind = $2 AND state = 'open' \
         AND at >= $3 ORDER BY at DESC, id DESC LIMIT 1",
    )
    .bind(property.0)
    .bind(kind)
    .bind(to_micros(since))
    .fetch_optional(conn)
    .await?
    .flatten())
}

/// Records `alarm` in `group`, or as the first of a new group. Returns the group.
///
/// # Errors
/// `Database` on a failed write.
pub async fn insert(conn: &mut Conn, alarm: &NewAlarm, group: Option<i64>) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO alarms (property_id, door_id, kind, severity, group_id, at, due_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(alarm.property_id.0)
    .bind(alarm.door_id.map(|d| d.0))
    .bind(alarm.kind.clone())
    .bind(alarm.severity.clone())
    .bind(group)
    .bind(to_micros(alarm.at))
    .bind(to_micros(alarm.due_at))
    .fetch_one(&mut *conn)
    .await
    .map_err(StoreError::classify)?;
    if let Some(g) = group {
        return Ok(g);
    }
    sqlx::query("UPDATE alarms SET group_id = id WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(id)
}

/// A lock was heard again: deletes its offline alarms still in their grace at `now` (a blip is
/// not an alarm) and clears the others. Returns (deleted, cleared).
///
/// # Errors
/// `Database` on a failed write.
pub async fn back_online(conn: &mut Conn, door: DoorId, now: Timestamp) -> Result<(u64, u64)> {
    let gone = sqlx::query(
        "DELETE FROM alarms WHERE door_id = $1 AND kind = 'offline' AND state = 'open' \
         AND due_at > $2",
    )
    .bind(door.0)
    .bind(to_micros(now))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let cleared = sqlx::query(
        "UPDATE alarms SET state = 'cleared', cleared_at = $2 WHERE door_id = $1 \
         AND kind = 'offline' AND state IN ('open', 'acknowledged')",
    )
    .bind(door.0)
    .bind(to_micros(now))
    .execute(conn)
    .await?
    .rows_affected();
    Ok((gone, cleared))
}

/// Any one alarm of group `group` shown at `now` (to learn its property), if there is one.
///
/// # Errors
/// `Database` on a failed read.
pub async fn group_sample(conn: &mut Conn, group: i64, now: Timestamp) -> Result<Option<Alarm>> {
    let sql =
        format!("SELECT {COLUMNS} WHERE a.group_id = $1 AND a.due_at <= $2 ORDER BY a.id LIMIT 1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(group)
        .bind(to_micros(now))
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(alarm_row).transpose()
}

/// The groups of `property` shown at `now`, newest first, at most `limit`, each with every
/// alarm of it shown then (oldest first); with `open_only`, the groups with an open alarm.
///
/// # Errors
/// `Database` on a failed read.
pub async fn list(
    conn: &mut Conn,
    property: PropertyId,
    open_only: bool,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<Alarm>> {
    let having = if open_only {
        " HAVING SUM(CASE WHEN state = 'open' THEN 1 ELSE 0 END) > 0"
    } else {
        ""
    };
    let sql = format!(
        "SELECT group_id, MAX(at) AS last FROM alarms WHERE property_id = $1 AND due_at <= $2 \
         GROUP BY group_id{having} ORDER BY last DESC, group_id DESC LIMIT $3"
    );
    let groups: Vec<i64> = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(property.0)
        .bind(to_micros(now))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<Option<i64>, _>("group_id"))
        .collect::<std::result::Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let backend = crate::backend_of(conn);
    let mut sql = Sql::new(backend, "SELECT ");
    sql.push(COLUMNS)
        .push(" WHERE a.property_id = ")
        .bind(property.0)
        .push(" AND a.due_at <= ")
        .bind(to_micros(now))
        .push(" AND a.group_id IN ")
        .bind_list(groups)
        .push(" ORDER BY a.at, a.id");
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter().map(alarm_row).collect()
}

/// When the next alarm of `property` not shown yet at `now` is due (an offline lock's grace).
///
/// # Errors
/// `Database` on a failed read.
pub async fn next_due(
    conn: &mut Conn,
    property: PropertyId,
    now: Timestamp,
) -> Result<Option<Timestamp>> {
    let due: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(due_at) FROM alarms WHERE property_id = $1 AND state = 'open' AND due_at > $2",
    )
    .bind(property.0)
    .bind(to_micros(now))
    .fetch_one(conn)
    .await?;
    due.map(from_micros).transpose()
}

/// Acknowledges every alarm of `group` open and shown at `at`. Returns how many.
///
/// # Errors
/// `Database` on a failed write.
pub async fn acknowledge(
    conn: &mut Conn,
    group: i64,
    by: PersonId,
    at: Timestamp,
    note: Option<&str>,
) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE alarms SET state = 'acknowledged', acknowledged_by = $1, acknowledged_at = $2, \
         note = $3 WHERE group_id = $4 AND state = 'open' AND due_at <= $2",
    )
    .bind(by.0)
    .bind(to_micros(at))
    .bind(note.map(str::to_owned))
    .bind(group)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
