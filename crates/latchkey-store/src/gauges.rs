//! Counts for monitoring, read when a scraper asks: one bounded query each, grouped by a
//! column whose values are a fixed set (availability, slot status, delivery state), so a
//! scrape costs the same whatever the number of rows, give or take a scan of the table.

use jiff::Timestamp;
use sqlx::Row;

use crate::records::{from_micros, opt_from_micros, to_micros};
use crate::{Conn, Result};

/// Whether the database answers at all.
///
/// # Errors
/// `Database` when it does not.
pub async fn ping(conn: &mut Conn) -> Result<()> {
    let _: i64 = sqlx::query_scalar("SELECT CAST(1 AS BIGINT)")
        .fetch_one(conn)
        .await?;
    Ok(())
}

/// Locks (not sensors) by their last reported availability: `online`, `offline`, `unknown`.
///
/// # Errors
/// `Database` on a failed read.
pub async fn locks_by_availability(conn: &mut Conn) -> Result<Vec<(String, i64)>> {
    grouped(
        conn,
        "SELECT availability, COUNT(*) FROM devices WHERE is_lock = 1 GROUP BY availability",
    )
    .await
}

/// Managed PIN slots that are not simply settled, by status (`pending`, `failed`, `removing`,
/// `probing`, `unmanaged`; `set`, `assumed` and `removed` are left out: they are the quiet
/// majority).
///
/// # Errors
/// `Database` on a failed read.
pub async fn slots_by_status(conn: &mut Conn) -> Result<Vec<(String, i64)>> {
    grouped(
        conn,
        "SELECT status, COUNT(*) FROM lock_slots WHERE status NOT IN ('set', 'assumed', 'removed') \
         GROUP BY status",
    )
    .await
}

/// Deliveries not sent, by channel and state (`pending` or `dead`).
///
/// # Errors
/// `Database` on a failed read.
pub async fn unsent_deliveries(conn: &mut Conn) -> Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query(
        "SELECT channel, state, COUNT(*) FROM deliveries WHERE state IN ('pending', 'dead') \
         GROUP BY channel, state",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

/// Notifications not yet turned into deliveries.
///
/// # Errors
/// `Database` on a failed read.
pub async fn unrouted_notifications(conn: &mut Conn) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE routed_at IS NULL")
            .fetch_one(conn)
            .await?,
    )
}

/// When the longest-waiting slot that is due at `now` (pending, removing or probing, its next
/// attempt at or before `now`) became due; `None` when nothing is due. A reconciler that keeps
/// up picks due slots within a tick, so the distance from `now` is how far it lags.
///
/// # Errors
/// `Database` on a failed read.
pub async fn oldest_due_slot(conn: &mut Conn, now: Timestamp) -> Result<Option<Timestamp>> {
    let at: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(next_attempt_at) FROM lock_slots \
         WHERE status IN ('pending', 'removing', 'probing') AND next_attempt_at <= $1",
    )
    .bind(to_micros(now))
    .fetch_one(conn)
    .await?;
    opt_from_micros(at)
}

/// Who holds the lease `name` and until when, whether or not it has expired.
///
/// # Errors
/// `Database` on a failed read.
pub async fn lease(conn: &mut Conn, name: &str) -> Result<Option<(String, Timestamp)>> {
    let row = sqlx::query("SELECT holder, expires_at FROM leases WHERE name = $1")
        .bind(name.to_owned())
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((r.try_get(0)?, from_micros(r.try_get(1)?)?)))
        .transpose()
}

async fn grouped(conn: &mut Conn, sql: &'static str) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query(sql).fetch_all(conn).await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}
