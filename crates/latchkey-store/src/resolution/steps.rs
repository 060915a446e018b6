//! What a case did: doors opened and codes released, presence challenges, credential changes.

use jiff::Timestamp;
use latchkey_core::{CredentialId, DoorId, LockoutCaseId, PersonId, SpareKeyId};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{from_micros, opt_from_micros, to_micros};
use crate::{Conn, Result, StoreError};

/// A door opened or a code released for a case.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Opening {
    /// `spare_pin`, `spare_unlock`, `staff_opening` or `locksmith_code`.
    pub kind: String,
    pub by_person: Option<PersonId>,
    pub spare_key_id: Option<SpareKeyId>,
    pub door_id: Option<DoorId>,
    pub credential_id: Option<CredentialId>,
    pub command_id: Option<i64>,
    pub at: Timestamp,
}

/// # Errors
/// `Conflict` when this spare key already opened this way in this case.
pub async fn add_opening(conn: &mut Conn, case: LockoutCaseId, o: &Opening) -> Result<()> {
    sqlx::query(
        "INSERT INTO case_openings (case_id, kind, by_person, spare_key_id, door_id, credential_id, \
         command_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(case.0)
    .bind(o.kind.clone())
    .bind(o.by_person.map(|p| p.0))
    .bind(o.spare_key_id.map(|k| k.0))
    .bind(o.door_id.map(|d| d.0))
    .bind(o.credential_id.map(|c| c.0))
    .bind(o.command_id)
    .bind(to_micros(o.at))
    .execute(conn)
    .await
    .map_err(StoreError::classify)?;
    Ok(())
}

/// The case and kind of opening that released the code `credential`, if a case did.
///
/// # Errors
/// `Database` on a failed read.
pub async fn opening_of_code(
    conn: &mut Conn,
    credential: CredentialId,
) -> Result<Option<(LockoutCaseId, String)>> {
    let row = sqlx::query("SELECT case_id, kind FROM case_openings WHERE credential_id = $1")
        .bind(credential.0)
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((LockoutCaseId(r.try_get("case_id")?), r.try_get("kind")?)))
        .transpose()
}

/// A presence challenge: the code on the lock as a `non_access` user, waiting to be typed.
#[derive(Clone, Debug, PartialEq)]
pub struct Challenge {
    pub id: i64,
    pub case_id: LockoutCaseId,
    pub credential_id: CredentialId,
    pub door_id: DoorId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub seen_at: Option<Timestamp>,
}

/// # Errors
/// `Database` on a failed write.
pub async fn create_challenge(conn: &mut Conn, c: &Challenge) -> Result<()> {
    sqlx::query(
        "INSERT INTO presence_challenges (case_id, credential_id, door_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(c.case_id.0)
    .bind(c.credential_id.0)
    .bind(c.door_id.0)
    .bind(to_micros(c.created_at))
    .bind(to_micros(c.expires_at))
    .execute(conn)
    .await
    .map_err(StoreError::classify)?;
    Ok(())
}

/// Marks the challenge behind `credential` seen, once; returns it if it was waiting.
///
/// # Errors
/// `Database` on a failed write.
pub async fn see_challenge(
    conn: &mut Conn,
    credential: CredentialId,
    at: Timestamp,
) -> Result<Option<Challenge>> {
    let row = sqlx::query(
        "SELECT id, case_id, credential_id, door_id, created_at, expires_at, seen_at \
         FROM presence_challenges WHERE credential_id = $1 AND seen_at IS NULL",
    )
    .bind(credential.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let c = Challenge {
        id: r.try_get("id")?,
        case_id: LockoutCaseId(r.try_get("case_id")?),
        credential_id: CredentialId(r.try_get("credential_id")?),
        door_id: DoorId(r.try_get("door_id")?),
        created_at: from_micros(r.try_get("created_at")?)?,
        expires_at: from_micros(r.try_get("expires_at")?)?,
        seen_at: Some(at),
    };
    let done = sqlx::query(
        "UPDATE presence_challenges SET seen_at = $1 WHERE id = $2 AND seen_at IS NULL",
    )
    .bind(to_micros(at))
    .bind(c.id)
    .execute(conn)
    .await?;
    Ok((done.rows_affected() == 1).then_some(c))
}

/// A credential change asked for in a lockout case, waiting out the policy's delay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub id: i64,
    pub case_id: LockoutCaseId,
    pub person_id: PersonId,
    /// `new_pin`.
    pub kind: String,
    /// `pending`, `cancelled` or `applied`.
    pub status: String,
    pub effective_at: Timestamp,
    pub created_at: Timestamp,
    pub cancelled_by: Option<PersonId>,
    pub applied_at: Option<Timestamp>,
    pub credential_id: Option<CredentialId>,
}

const CHANGE_COLUMNS: &str = "id, case_id, person_id, kind, status, effective_at, created_at, \
     cancelled_by, applied_at, credential_id";

fn change_row(r: &AnyRow) -> Result<Change> {
    Ok(Change {
        id: r.try_get("id")?,
        case_id: LockoutCaseId(r.try_get("case_id")?),
        person_id: PersonId(r.try_get("person_id")?),
        kind: r.try_get("kind")?,
        status: r.try_get("status")?,
        effective_at: from_micros(r.try_get("effective_at")?)?,
        created_at: from_micros(r.try_get("created_at")?)?,
        cancelled_by: r.try_get::<Option<i64>, _>("cancelled_by")?.map(PersonId),
        applied_at: opt_from_micros(r.try_get("applied_at")?)?,
        credential_id: r
            .try_get::<Option<i64>, _>("credential_id")?
            .map(CredentialId),
    })
}

/// # Errors
/// `Database` on a failed write.
pub async fn create_change(conn: &mut Conn, c: &Change) -> Result<Change> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO credential_changes (case_id, person_id, kind, status, effective_at, created_at) \
         VALUES ($1, $2, $3, 'pending', $4, $5) RETURNING id",
    )
    .bind(c.case_id.0)
    .bind(c.person_id.0)
    .bind(c.kind.clone())
    .bind(to_micros(c.effective_at))
    .bind(to_micros(c.created_at))
    .fetch_one(conn)
    .await
    .map_err(StoreError::classify)?;
    Ok(Change { id, ..c.clone() })
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_change(conn: &mut Conn, id: i64) -> Result<Option<Change>> {
    let sql = format!("SELECT {CHANGE_COLUMNS} FROM credential_changes WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(change_row).transpose()
}

/// The newest change of a case, if any.
///
/// # Errors
/// `Database` on a failed read.
pub async fn latest_change(conn: &mut Conn, case: LockoutCaseId) -> Result<Option<Change>> {
    let sql = format!(
        "SELECT {CHANGE_COLUMNS} FROM credential_changes WHERE case_id = $1 ORDER BY id DESC LIMIT 1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(case.0)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(change_row).transpose()
}

/// Moves a pending change on (cancelled or applied); returns whether it was still pending.
///
/// # Errors
/// `Database` on a failed write.
pub async fn finish_change(conn: &mut Conn, c: &Change) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE credential_changes SET status = $1, cancelled_by = $2, applied_at = $3, \
         credential_id = $4 WHERE id = $5 AND status = 'pending'",
    )
    .bind(c.status.clone())
    .bind(c.cancelled_by.map(|p| p.0))
    .bind(c.applied_at.map(to_micros))
    .bind(c.credential_id.map(|k| k.0))
    .bind(c.id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
