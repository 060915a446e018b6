//! Locksmith jobs.

use jiff::Timestamp;
use latchkey_core::{CredentialId, DoorId, LockoutCaseId, LocksmithId, PersonId};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{from_micros, opt_from_micros, to_micros};
use crate::{Conn, Result, StoreError};

/// A locksmith sent to a case.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Job {
    pub id: i64,
    pub case_id: LockoutCaseId,
    pub locksmith_id: LocksmithId,
    pub door_id: DoorId,
    /// Shown to the resident and said by the locksmith at the door.
    pub check_word: String,
    pub window_from: Timestamp,
    pub window_until: Timestamp,
    /// The lock itself had failed when the job was booked: no code, physical work.
    pub lock_failed: bool,
    pub quoted_cents: i64,
    #[serde(skip)]
    pub credential_id: Option<CredentialId>,
    /// `booked`, `code_released`, `done` or `cancelled`.
    pub status: String,
    pub cost_cents: Option<i64>,
    pub work: Option<String>,
    pub booked_by: Option<PersonId>,
    pub created_at: Timestamp,
    pub completed_at: Option<Timestamp>,
}

const JOB_COLUMNS: &str = "id, case_id, locksmith_id, door_id, check_word, window_from, \
     window_until, lock_failed, quoted_cents, credential_id, status, cost_cents, work, booked_by, \
     created_at, completed_at";

fn job_row(r: &AnyRow) -> Result<Job> {
    Ok(Job {
        id: r.try_get("id")?,
        case_id: LockoutCaseId(r.try_get("case_id")?),
        locksmith_id: LocksmithId(r.try_get("locksmith_id")?),
        door_id: DoorId(r.try_get("door_id")?),
        check_word: r.try_get("check_word")?,
        window_from: from_micros(r.try_get("window_from")?)?,
        window_until: from_micros(r.try_get("window_until")?)?,
        lock_failed: r.try_get::<i64, _>("lock_failed")? != 0,
        quoted_cents: r.try_get("quoted_cents")?,
        credential_id: r
            .try_get::<Option<i64>, _>("credential_id")?
            .map(CredentialId),
        status: r.try_get("status")?,
        cost_cents: r.try_get("cost_cents")?,
        work: r.try_get("work")?,
        booked_by: r.try_get::<Option<i64>, _>("booked_by")?.map(PersonId),
        created_at: from_micros(r.try_get("created_at")?)?,
        completed_at: opt_from_micros(r.try_get("completed_at")?)?,
    })
}

/// A job to book; the caller has checked the case, the locksmith and the door.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub case_id: LockoutCaseId,
    pub locksmith_id: LocksmithId,
    pub door_id: DoorId,
    pub check_word: String,
    pub window_from: Timestamp,
    pub window_until: Timestamp,
    pub lock_failed: bool,
    pub quoted_cents: i64,
    pub booked_by: Option<PersonId>,
}

/// # Errors
/// `Database` on a failed write.
pub async fn create_job(
    conn: &mut Conn,
    j: &NewJob,
    token_digest: &[u8],
    at: Timestamp,
) -> Result<Job> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO locksmith_jobs (case_id, locksmith_id, door_id, check_word, token_digest, \
         window_from, window_until, lock_failed, quoted_cents, booked_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(j.case_id.0)
    .bind(j.locksmith_id.0)
    .bind(j.door_id.0)
    .bind(j.check_word.clone())
    .bind(token_digest.to_vec())
    .bind(to_micros(j.window_from))
    .bind(to_micros(j.window_until))
    .bind(i64::from(j.lock_failed))
    .bind(j.quoted_cents)
    .bind(j.booked_by.map(|p| p.0))
    .bind(to_micros(at))
    .fetch_one(&mut *conn)
    .await
    .map_err(StoreError::classify)?;
    get_job(conn, id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("a locksmith job vanished after insert".into()))
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_job(conn: &mut Conn, id: i64) -> Result<Option<Job>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM locksmith_jobs WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(job_row).transpose()
}

/// # Errors
/// `Database` on a failed read.
pub async fn job_by_token(conn: &mut Conn, digest: &[u8]) -> Result<Option<Job>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM locksmith_jobs WHERE token_digest = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(digest.to_vec())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(job_row).transpose()
}

/// # Errors
/// `Database` on a failed read.
pub async fn jobs_of_case(conn: &mut Conn, case: LockoutCaseId) -> Result<Vec<Job>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM locksmith_jobs WHERE case_id = $1 ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(case.0)
        .fetch_all(conn)
        .await?;
    rows.iter().map(job_row).collect()
}

/// Moves a job on, only from the state `from` (so two requests cannot both release a code).
/// Returns whether it moved.
///
/// # Errors
/// `Database` on a failed write.
pub async fn advance_job(conn: &mut Conn, job: &Job, from: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE locksmith_jobs SET status = $1, credential_id = $2, cost_cents = $3, work = $4, \
         completed_at = $5 WHERE id = $6 AND status = $7",
    )
    .bind(job.status.clone())
    .bind(job.credential_id.map(|c| c.0))
    .bind(job.cost_cents)
    .bind(job.work.clone())
    .bind(job.completed_at.map(to_micros))
    .bind(job.id)
    .bind(from.to_owned())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
