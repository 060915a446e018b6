//! Erasure of a person who moved out (docs/OPERATIONS.md, "Privacy"): their row stays, because
//! the ledger, lockout cases and the audit log refer to its id, but what names or reaches them
//! goes.

use jiff::Timestamp;
use latchkey_core::PersonId;

use crate::records::to_micros;
use crate::{Conn, Result};

/// The kind of the event that records an erasure; a person with one is not erased again.
pub const ERASED_KIND: &str = "privacy.person_erased";

/// Replaces the person's name with `placeholder`, clears their e-mail, phone and password, and
/// deletes their sessions, API tokens, passkeys, authenticator secret, invitations, queued
/// messages, push subscriptions, and the labels and sealed codes of their revoked credentials. Memberships, credentials (revoked), cases and
/// ledger entries stay, naming only the id.
///
/// # Errors
/// `Database` on a failed write.
pub async fn erase_person(conn: &mut Conn, id: PersonId, placeholder: &str) -> Result<()> {
    sqlx::query(
        "UPDATE people SET name = $1, email = NULL, phone = NULL, password_hash = NULL \
         WHERE id = $2",
    )
    .bind(placeholder)
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    for table in [
        "sessions",
        "api_tokens",
        "passkeys",
        "passkey_handles",
        "webauthn_ceremonies",
        "totp_secrets",
        "invitations",
        "notifications",
        "notification_preferences",
        "push_subscriptions",
        "alarm_notices",
        "alarm_windows",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE person_id = $1"
        )))
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "UPDATE credentials SET label = '', secret = NULL WHERE person_id = $1 \
         AND revoked_at IS NOT NULL",
    )
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// People (not admins, not erased yet) who had memberships and whose every membership ended
/// before `before`: moved out longer ago than the retention period.
///
/// # Errors
/// `Database` on a failed read.
pub async fn moved_out_before(conn: &mut Conn, before: Timestamp) -> Result<Vec<PersonId>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT p.id FROM people p WHERE p.is_admin = 0 \
         AND EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = p.id) \
         AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = p.id \
             AND (m.valid_until IS NULL OR m.valid_until >= $1)) \
         AND NOT EXISTS (SELECT 1 FROM events e WHERE e.kind = $2 \
             AND e.subject = 'person:' || CAST(p.id AS TEXT)) \
         ORDER BY p.id",
    )
    .bind(to_micros(before))
    .bind(ERASED_KIND)
    .fetch_all(conn)
    .await?;
    Ok(ids.into_iter().map(PersonId).collect())
}

/// Whether the person was erased already.
///
/// # Errors
/// `Database` on a failed read.
pub async fn is_erased(conn: &mut Conn, id: PersonId) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE kind = $1 AND subject = $2")
        .bind(ERASED_KIND)
        .bind(format!("person:{id}"))
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}
