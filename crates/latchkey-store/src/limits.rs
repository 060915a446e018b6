//! Attempt counters shared by every replica on one database: fixed windows, one row per key
//! digest. A hit is a single upsert of one row found through the primary key, so its cost does
//! not grow with the number of keys; rows whose window has ended are pruned in bounded batches.

use jiff::Timestamp;
use sqlx::Row;

use crate::records::{from_micros, to_micros};
use crate::{Conn, Result};

/// How many attempts a key has in its current window, and when that window ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count {
    pub hits: i64,
    pub resets_at: Timestamp,
}

/// Counts one attempt under `key` and returns the count including it. A key whose window has
/// ended (or that has none) starts a new window ending at `resets_at`.
///
/// # Errors
/// `Database` on a failed write.
pub async fn hit(
    conn: &mut Conn,
    key: &[u8],
    now: Timestamp,
    resets_at: Timestamp,
) -> Result<Count> {
    let row = sqlx::query(
        "INSERT INTO rate_limits (key_digest, hits, resets_at) VALUES ($1, 1, $3) \
         ON CONFLICT (key_digest) DO UPDATE SET \
           hits = CASE WHEN rate_limits.resets_at <= $2 THEN 1 ELSE rate_limits.hits + 1 END, \
           resets_at = CASE WHEN rate_limits.resets_at <= $2 THEN $3 ELSE rate_limits.resets_at END \
         RETURNING hits, resets_at",
    )
    .bind(key.to_vec())
    .bind(to_micros(now))
    .bind(to_micros(resets_at))
    .fetch_one(conn)
    .await?;
    Ok(Count {
        hits: row.try_get("hits")?,
        resets_at: from_micros(row.try_get("resets_at")?)?,
    })
}

/// The attempts under `key` in its current window, without counting one.
///
/// # Errors
/// `Database` on a failed read.
pub async fn peek(conn: &mut Conn, key: &[u8], now: Timestamp) -> Result<Option<Count>> {
    let row = sqlx::query(
        "SELECT hits, resets_at FROM rate_limits WHERE key_digest = $1 AND resets_at > $2",
    )
    .bind(key.to_vec())
    .bind(to_micros(now))
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(Count {
            hits: r.try_get("hits")?,
            resets_at: from_micros(r.try_get("resets_at")?)?,
        })
    })
    .transpose()
}

/// Takes back one attempt counted under `key` in its current window (an attempt that turned
/// out to succeed).
///
/// # Errors
/// `Database` on a failed write.
pub async fn forgive(conn: &mut Conn, key: &[u8], now: Timestamp) -> Result<()> {
    sqlx::query(
        "UPDATE rate_limits SET hits = hits - 1 WHERE key_digest = $1 AND resets_at > $2 AND hits > 0",
    )
    .bind(key.to_vec())
    .bind(to_micros(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes at most `batch` rows whose window ended by `now`; returns how many went.
///
/// # Errors
/// `Database` on a failed write.
pub async fn prune(conn: &mut Conn, now: Timestamp, batch: i64) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM rate_limits WHERE key_digest IN \
         (SELECT key_digest FROM rate_limits WHERE resets_at <= $1 ORDER BY resets_at LIMIT $2)",
    )
    .bind(to_micros(now))
    .bind(batch)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// How many counters there are, live or not (for tests and operators).
///
/// # Errors
/// `Database` on a failed read.
pub async fn rows(conn: &mut Conn) -> Result<i64> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM rate_limits")
        .fetch_one(conn)
        .await?
        .try_get("n")?)
}
