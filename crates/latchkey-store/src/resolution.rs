//! How lockout cases end: doors opened and codes released for a case, locksmith jobs, the
//! per-unit ledger of lockout charges, and incidents on doors (marked for service, compromised).

use jiff::Timestamp;
use latchkey_core::{CredentialId, DoorId, LockoutCaseId, LocksmithId, PersonId, PropertyId};
use latchkey_core::{SpareKeyId, UnitId};
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

/// # Errors
/// `Database` on a failed read.
pub async fn openings_of(conn: &mut Conn, case: LockoutCaseId) -> Result<Vec<Opening>> {
    let rows = sqlx::query(
        "SELECT kind, by_person, spare_key_id, door_id, credential_id, command_id, at \
         FROM case_openings WHERE case_id = $1 ORDER BY id",
    )
    .bind(case.0)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Opening {
                kind: r.try_get("kind")?,
                by_person: r.try_get::<Option<i64>, _>("by_person")?.map(PersonId),
                spare_key_id: r.try_get::<Option<i64>, _>("spare_key_id")?.map(SpareKeyId),
                door_id: r.try_get::<Option<i64>, _>("door_id")?.map(DoorId),
                credential_id: r
                    .try_get::<Option<i64>, _>("credential_id")?
                    .map(CredentialId),
                command_id: r.try_get("command_id")?,
                at: from_micros(r.try_get("at")?)?,
            })
        })
        .collect()
}

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

/// One line of a unit's lockout ledger.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Charge {
    pub id: i64,
    pub property_id: PropertyId,
    pub unit_id: Option<UnitId>,
    pub case_id: Option<LockoutCaseId>,
    /// `staff_opening` or `locksmith`.
    pub kind: String,
    /// `tenant` or `landlord`.
    pub payer: String,
    pub amount_cents: i64,
    /// Charged to nobody: the equipment was at fault (see `evidence`).
    pub waived: bool,
    pub reason: String,
    /// Sequence numbers of the audit events that show the fault.
    pub evidence: Vec<i64>,
    pub created_by: Option<PersonId>,
    pub created_at: Timestamp,
}

const CHARGE_COLUMNS: &str = "id, property_id, unit_id, case_id, kind, payer, amount_cents, \
     waived, reason, evidence, created_by, created_at";

fn charge_row(r: &AnyRow) -> Result<Charge> {
    let evidence: String = r.try_get("evidence")?;
    Ok(Charge {
        id: r.try_get("id")?,
        property_id: PropertyId(r.try_get("property_id")?),
        unit_id: r.try_get::<Option<i64>, _>("unit_id")?.map(UnitId),
        case_id: r.try_get::<Option<i64>, _>("case_id")?.map(LockoutCaseId),
        kind: r.try_get("kind")?,
        payer: r.try_get("payer")?,
        amount_cents: r.try_get("amount_cents")?,
        waived: r.try_get::<i64, _>("waived")? != 0,
        reason: r.try_get("reason")?,
        evidence: serde_json::from_str(&evidence)
            .map_err(|e| StoreError::Corrupt(format!("ledger evidence: {e}")))?,
        created_by: r.try_get::<Option<i64>, _>("created_by")?.map(PersonId),
        created_at: from_micros(r.try_get("created_at")?)?,
    })
}

/// # Errors
/// `Database` on a failed write.
pub async fn add_charge(conn: &mut Conn, c: &Charge) -> Result<Charge> {
    let evidence =
        serde_json::to_string(&c.evidence).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO ledger_entries (property_id, unit_id, case_id, kind, payer, amount_cents, \
         waived, reason, evidence, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(c.property_id.0)
    .bind(c.unit_id.map(|u| u.0))
    .bind(c.case_id.map(|k| k.0))
    .bind(c.kind.clone())
    .bind(c.payer.clone())
    .bind(c.amount_cents)
    .bind(i64::from(c.waived))
    .bind(c.reason.clone())
    .bind(evidence)
    .bind(c.created_by.map(|p| p.0))
    .bind(to_micros(c.created_at))
    .fetch_one(conn)
    .await
    .map_err(StoreError::classify)?;
    Ok(Charge { id, ..c.clone() })
}

/// The ledger of a property, or of one unit, oldest first.
///
/// # Errors
/// `Database` on a failed read.
pub async fn ledger(
    conn: &mut Conn,
    property: PropertyId,
    unit: Option<UnitId>,
) -> Result<Vec<Charge>> {
    let sql = format!(
        "SELECT {CHARGE_COLUMNS} FROM ledger_entries WHERE property_id = $1 \
         AND ($2 IS NULL OR unit_id = $2) ORDER BY id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(property.0)
        .bind(unit.map(|u| u.0))
        .fetch_all(conn)
        .await?;
    rows.iter().map(charge_row).collect()
}

/// The charges of a case.
///
/// # Errors
/// `Database` on a failed read.
pub async fn charges_of_case(conn: &mut Conn, case: LockoutCaseId) -> Result<Vec<Charge>> {
    let sql = format!("SELECT {CHARGE_COLUMNS} FROM ledger_entries WHERE case_id = $1 ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(case.0)
        .fetch_all(conn)
        .await?;
    rows.iter().map(charge_row).collect()
}

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
