//! Pruning the outbox: sent deliveries and routed notifications past their retention, dead
//! letters past a longer one (docs/OPERATIONS.md, "Notifications"). Each call deletes at most
//! `limit` rows, so a first run over a long history holds the writer briefly.

use jiff::Timestamp;

use crate::records::to_micros;
use crate::{Conn, Result};

/// Deletes up to `limit` deliveries sent before `before`. Returns how many.
///
/// # Errors
/// `Database` on a failed write.
pub async fn sent_deliveries(conn: &mut Conn, before: Timestamp, limit: i64) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries \
         WHERE state = 'sent' AND sent_at < $1 ORDER BY id LIMIT $2)",
    )
    .bind(to_micros(before))
    .bind(limit)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes up to `limit` dead letters given up on before `before` (a redelivered one is
/// pending again and is not touched). Returns how many.
///
/// # Errors
/// `Database` on a failed write.
pub async fn dead_deliveries(conn: &mut Conn, before: Timestamp, limit: i64) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries \
         WHERE state = 'dead' AND dead_at < $1 ORDER BY id LIMIT $2)",
    )
    .bind(to_micros(before))
    .bind(limit)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes up to `limit` notifications routed before `before` that have no delivery left (all
/// sent and pruned, or none was made). A lockout case's messages stay with the case. Returns
/// how many.
///
/// # Errors
/// `Database` on a failed write.
pub async fn routed_notifications(conn: &mut Conn, before: Timestamp, limit: i64) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM notifications WHERE id IN (SELECT n.id FROM notifications n \
         WHERE n.routed_at IS NOT NULL AND n.routed_at < $1 AND n.case_id IS NULL \
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id) \
         ORDER BY n.id LIMIT $2)",
    )
    .bind(to_micros(before))
    .bind(limit)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
