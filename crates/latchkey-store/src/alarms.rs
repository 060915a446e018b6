//! Alarms waiting to be told to the property's staff, and each person's digest window
//! (docs/ARCHITECTURE.md, decisions 61 and 62).
//!
//! A notice is written per alarm and staff member in the transaction of the event that raised
//! the alarm. Composing a person's digest is claimed in the database: the person's window row
//! is taken by a conditional upsert (on PostgreSQL a second replica waits on the row and then
//! finds the window closed; on SQLite the write transaction serialises them), and the notices
//! summarised are deleted with `DELETE … RETURNING`, so each is told exactly once.

use jiff::Timestamp;
use latchkey_core::{DoorId, PersonId, PropertyId};
use sqlx::Row;

use crate::records::{from_micros, opt_from_micros, to_micros};
use crate::sql::Sql;
use crate::{Conn, Result, StoreError};

/// Rows per multi-row insert (7 binds each, well under either backend's limit).
const ROWS: usize = 1_000;

/// One alarm for one staff member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlarmNotice {
    pub person_id: PersonId,
    pub property_id: PropertyId,
    pub door_id: Option<DoorId>,
    /// `offline`, `forced_entry`, `jammed`, … as the `lock.alarm` event names it.
    pub alarm: String,
    /// Told without a hold (forced entry, tamper, duress, unexpected opening).
    pub security: bool,
    pub at: Timestamp,
    pub due_at: Timestamp,
}

/// Writes notices inside the caller's transaction and records in the change feed that the
/// outbox has work, so that a worker wakes when it commits.
///
/// # Errors
/// `Database` on a failed write.
pub async fn queue(conn: &mut Conn, notices: &[AlarmNotice]) -> Result<()> {
    let Some(first) = notices.first() else {
        return Ok(());
    };
    let backend = crate::backend_of(conn);
    crate::feed::append(
        conn,
        backend,
        first.at,
        "store",
        &[crate::feed::Change::Outbox],
    )
    .await?;
    for chunk in notices.chunks(ROWS) {
        let mut sql = Sql::new(
            backend,
            "INSERT INTO alarm_notices (person_id, property_id, door_id, alarm, security, at, \
             due_at) VALUES ",
        );
        for (i, n) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            sql.bind(n.person_id.0)
                .push(", ")
                .bind(n.property_id.0)
                .push(", ")
                .bind(n.door_id.map(|d| d.0))
                .push(", ")
                .bind(n.alarm.clone())
                .push(", ")
                .bind(i64::from(n.security))
                .push(", ")
                .bind(to_micros(n.at))
                .push(", ")
                .bind(to_micros(n.due_at))
                .push(")");
        }
        sql.query()
            .execute(&mut *conn)
            .await
            .map_err(StoreError::classify)?;
    }
    Ok(())
}

/// Deletes the `offline` notices of `door` still in their grace at `now` (the lock came back
/// in time: a blip is not an alarm). Returns how many.
///
/// # Errors
/// `Database` on a failed write.
pub async fn cancel_offline(conn: &mut Conn, door: DoorId, now: Timestamp) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM alarm_notices WHERE door_id = $1 AND alarm = 'offline' AND due_at > $2",
    )
    .bind(door.0)
    .bind(to_micros(now))
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// A person with notices due, as the digest rule needs them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub person_id: PersonId,
    /// When the earliest due notice came due.
    pub first_due: Timestamp,
    /// Whether a security alarm is among them.
    pub security: bool,
    /// The person's last digest, if any.
    pub last_digest: Option<Timestamp>,
}

/// Everyone with notices due at `now`, at most `limit`, longest waiting first.
///
/// # Errors
/// `Database` on a failed read.
pub async fn waiting(conn: &mut Conn, now: Timestamp, limit: i64) -> Result<Vec<Waiting>> {
    let rows = sqlx::query(
        "SELECT a.person_id, MIN(a.due_at) AS first_due, MAX(a.security) AS security, \
         MAX(w.last_digest_at) AS last_digest FROM alarm_notices a \
         LEFT JOIN alarm_windows w ON w.person_id = a.person_id \
         WHERE a.due_at <= $1 GROUP BY a.person_id ORDER BY first_due LIMIT $2",
    )
    .bind(to_micros(now))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Waiting {
                person_id: PersonId(r.try_get("person_id")?),
                first_due: from_micros(r.try_get("first_due")?)?,
                security: r.try_get::<i64, _>("security")? != 0,
                last_digest: opt_from_micros(r.try_get("last_digest")?)?,
            })
        })
        .collect()
}

/// Takes `person`'s window for a digest at `now` if their last digest was at or before
/// `closed_before` (or there was none). Returns whether it did; a caller that did not must
/// compose nothing.
///
/// # Errors
/// `Database` on a failed write.
pub async fn take_window(
    conn: &mut Conn,
    person: PersonId,
    now: Timestamp,
    closed_before: Timestamp,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO alarm_windows (person_id, last_digest_at) VALUES ($1, $2) \
         ON CONFLICT (person_id) DO UPDATE SET last_digest_at = excluded.last_digest_at \
         WHERE alarm_windows.last_digest_at <= $3",
    )
    .bind(person.0)
    .bind(to_micros(now))
    .bind(to_micros(closed_before))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes and returns `person`'s notices due at `now`, oldest first.
///
/// # Errors
/// `Database` on a failed write.
pub async fn take_due(
    conn: &mut Conn,
    person: PersonId,
    now: Timestamp,
) -> Result<Vec<AlarmNotice>> {
    let rows = sqlx::query(
        "DELETE FROM alarm_notices WHERE person_id = $1 AND due_at <= $2 \
         RETURNING id, person_id, property_id, door_id, alarm, security, at, due_at",
    )
    .bind(person.0)
    .bind(to_micros(now))
    .fetch_all(conn)
    .await?;
    let mut out = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<i64, _>("id")?,
                AlarmNotice {
                    person_id: PersonId(r.try_get("person_id")?),
                    property_id: PropertyId(r.try_get("property_id")?),
                    door_id: r.try_get::<Option<i64>, _>("door_id")?.map(DoorId),
                    alarm: r.try_get("alarm")?,
                    security: r.try_get::<i64, _>("security")? != 0,
                    at: from_micros(r.try_get("at")?)?,
                    due_at: from_micros(r.try_get("due_at")?)?,
                },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|(id, n)| (n.at, *id));
    Ok(out.into_iter().map(|(_, n)| n).collect())
}

/// Notices waiting for `person` (due or not), for tests and the bench.
///
/// # Errors
/// `Database` on a failed read.
pub async fn count_waiting(conn: &mut Conn, person: PersonId) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM alarm_notices WHERE person_id = $1")
            .bind(person.0)
            .fetch_one(conn)
            .await?,
    )
}

/// Deletes notices created before `before` that were never told (no worker ran to compose
/// them). Returns how many.
///
/// # Errors
/// `Database` on a failed write.
pub async fn prune(conn: &mut Conn, before: Timestamp) -> Result<u64> {
    let done = sqlx::query("DELETE FROM alarm_notices WHERE at < $1")
        .bind(to_micros(before))
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
