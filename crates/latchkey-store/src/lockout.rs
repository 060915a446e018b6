//! Lockout cases, their timelines, and the notification outbox.

use jiff::Timestamp;
use latchkey_core::{LockoutCaseId, PersonId, PropertyId, UnitId};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{from_micros, opt_from_micros, to_micros};
use crate::{Conn, Result, StoreError};

/// A lockout case as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LockoutCase {
    pub id: LockoutCaseId,
    /// `None` when the request named a property that does not exist.
    pub property_id: Option<PropertyId>,
    /// The unit and person the request matched; `None` when it matched nobody.
    pub unit_id: Option<UnitId>,
    pub person_id: Option<PersonId>,
    /// `open`, `proven`, `resolved` or `cancelled`.
    pub state: String,
    /// `public` (no sign-in), `staff` (for a caller) or `resident`.
    pub opened_via: String,
    pub opened_by: Option<PersonId>,
    pub claimed_unit: String,
    pub claimed_identity: String,
    pub source: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub closed_at: Option<Timestamp>,
}

const CASE_COLUMNS: &str = "id, property_id, unit_id, person_id, state, opened_via, opened_by, \
     claimed_unit, claimed_identity, source, created_at, updated_at, closed_at";

fn case_row(row: &AnyRow) -> Result<LockoutCase> {
    Ok(LockoutCase {
        id: LockoutCaseId(row.try_get("id")?),
        property_id: row
            .try_get::<Option<i64>, _>("property_id")?
            .map(PropertyId),
        unit_id: row.try_get::<Option<i64>, _>("unit_id")?.map(UnitId),
        person_id: row.try_get::<Option<i64>, _>("person_id")?.map(PersonId),
        state: row.try_get("state")?,
        opened_via: row.try_get("opened_via")?,
        opened_by: row.try_get::<Option<i64>, _>("opened_by")?.map(PersonId),
        claimed_unit: row.try_get("claimed_unit")?,
        claimed_identity: row.try_get("claimed_identity")?,
        source: row.try_get("source")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
        closed_at: opt_from_micros(row.try_get("closed_at")?)?,
    })
}

/// A case to open.
#[derive(Clone, Debug)]
pub struct NewCase {
    pub property_id: Option<PropertyId>,
    pub unit_id: Option<UnitId>,
    pub person_id: Option<PersonId>,
    pub opened_via: &'static str,
    pub opened_by: Option<PersonId>,
    pub claimed_unit: String,
    pub claimed_identity: String,
    pub source: String,
}

/// # Errors
/// `Database` on a failed write.
pub async fn create_case(
    conn: &mut Conn,
    c: &NewCase,
    token_digest: &[u8],
    at: Timestamp,
) -> Result<LockoutCase> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO lockout_cases (property_id, unit_id, person_id, token_digest, state, opened_via, \
         opened_by, claimed_unit, claimed_identity, source, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, $9, $10, $10) RETURNING id",
    )
    .bind(c.property_id.map(|p| p.0))
    .bind(c.unit_id.map(|u| u.0))
    .bind(c.person_id.map(|p| p.0))
    .bind(token_digest.to_vec())
    .bind(c.opened_via)
    .bind(c.opened_by.map(|p| p.0))
    .bind(c.claimed_unit.clone())
    .bind(c.claimed_identity.clone())
    .bind(c.source.clone())
    .bind(to_micros(at))
    .fetch_one(&mut *conn)
    .await
    .map_err(StoreError::classify)?;
    get_case(conn, LockoutCaseId(id))
        .await?
        .ok_or_else(|| StoreError::Corrupt("a lockout case vanished after insert".into()))
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_case(conn: &mut Conn, id: LockoutCaseId) -> Result<Option<LockoutCase>> {
    let sql = format!("SELECT {CASE_COLUMNS} FROM lockout_cases WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(case_row).transpose()
}

/// The case whose token has this digest.
///
/// # Errors
/// `Database` on a failed read.
pub async fn case_by_token(conn: &mut Conn, digest: &[u8]) -> Result<Option<LockoutCase>> {
    let sql = format!("SELECT {CASE_COLUMNS} FROM lockout_cases WHERE token_digest = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(digest.to_vec())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(case_row).transpose()
}

/// The cases of a property, newest first.
///
/// # Errors
/// `Database` on a failed read.
pub async fn list_cases(conn: &mut Conn, property: PropertyId) -> Result<Vec<LockoutCase>> {
    let sql = format!(
        "SELECT {CASE_COLUMNS} FROM lockout_cases WHERE property_id = $1 ORDER BY id DESC LIMIT 500"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(property.0)
        .fetch_all(conn)
        .await?;
    rows.iter().map(case_row).collect()
}

/// Moves a case to `state` (closing it when the state is final).
///
/// # Errors
/// `Database` on a failed write.
pub async fn set_case_state(
    conn: &mut Conn,
    id: LockoutCaseId,
    state: &str,
    at: Timestamp,
) -> Result<()> {
    let closed = matches!(state, "resolved" | "cancelled").then(|| to_micros(at));
    sqlx::query(
        "UPDATE lockout_cases SET state = $1, updated_at = $2, closed_at = COALESCE($3, closed_at) WHERE id = $4",
    )
    .bind(state.to_owned())
    .bind(to_micros(at))
    .bind(closed)
    .bind(id.0)
    .execute(conn)
    .await?;
    Ok(())
}

/// One step of a case's timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub at: Timestamp,
    pub actor_id: Option<PersonId>,
    pub kind: String,
    pub detail: serde_json::Value,
}

/// # Errors
/// `Database` on a failed write.
pub async fn add_step(conn: &mut Conn, case: LockoutCaseId, step: &Step) -> Result<()> {
    sqlx::query(
        "INSERT INTO lockout_steps (case_id, at, actor_id, kind, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(case.0)
    .bind(to_micros(step.at))
    .bind(step.actor_id.map(|p| p.0))
    .bind(step.kind.clone())
    .bind(step.detail.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// A case's timeline, oldest first.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` for a detail that is not JSON.
pub async fn steps_of(conn: &mut Conn, case: LockoutCaseId) -> Result<Vec<Step>> {
    let rows = sqlx::query(
        "SELECT at, actor_id, kind, detail FROM lockout_steps WHERE case_id = $1 ORDER BY id",
    )
    .bind(case.0)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let detail: String = r.try_get("detail")?;
            Ok(Step {
                at: from_micros(r.try_get("at")?)?,
                actor_id: r.try_get::<Option<i64>, _>("actor_id")?.map(PersonId),
                kind: r.try_get("kind")?,
                detail: serde_json::from_str(&detail)
                    .map_err(|e| StoreError::Corrupt(format!("step detail: {e}")))?,
            })
        })
        .collect()
}

/// A message queued for a person.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Notification {
    pub property_id: Option<PropertyId>,
    pub person_id: PersonId,
    pub kind: String,
    pub case_id: Option<LockoutCaseId>,
    pub body: serde_json::Value,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

/// Queues messages inside the caller's transaction, and records in the change feed (same
/// transaction) that the outbox has work, so that the delivery workers of every process wake
/// when it commits.
///
/// # Errors
/// `Database` on a failed write.
pub async fn queue(conn: &mut Conn, messages: &[Notification]) -> Result<()> {
    let Some(first) = messages.first() else {
        return Ok(());
    };
    let backend = crate::backend_of(conn);
    crate::feed::append(
        conn,
        backend,
        first.created_at,
        "store",
        &[crate::feed::Change::Outbox],
    )
    .await?;
    for n in messages {
        sqlx::query(
            "INSERT INTO notifications (property_id, person_id, kind, case_id, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(n.property_id.map(|p| p.0))
        .bind(n.person_id.0)
        .bind(n.kind.clone())
        .bind(n.case_id.map(|c| c.0))
        .bind(n.body.to_string())
        .bind(to_micros(n.created_at))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn notification_row(r: &AnyRow) -> Result<Notification> {
    let body: String = r.try_get("body")?;
    Ok(Notification {
        property_id: r.try_get::<Option<i64>, _>("property_id")?.map(PropertyId),
        person_id: PersonId(r.try_get("person_id")?),
        kind: r.try_get("kind")?,
        case_id: r.try_get::<Option<i64>, _>("case_id")?.map(LockoutCaseId),
        body: serde_json::from_str(&body)
            .map_err(|e| StoreError::Corrupt(format!("notification body: {e}")))?,
        created_at: from_micros(r.try_get("created_at")?)?,
        sent_at: opt_from_micros(r.try_get("sent_at")?)?,
    })
}

/// Messages queued for a case, oldest first.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` for a body that is not JSON.
pub async fn notifications_of_case(
    conn: &mut Conn,
    case: LockoutCaseId,
) -> Result<Vec<Notification>> {
    let rows = sqlx::query(
        "SELECT property_id, person_id, kind, case_id, body, created_at, sent_at FROM notifications \
         WHERE case_id = $1 ORDER BY id",
    )
    .bind(case.0)
    .fetch_all(conn)
    .await?;
    rows.iter().map(notification_row).collect()
}

/// Someone who lives in a unit, as a lockout request is matched against.
#[derive(Clone, Debug, PartialEq)]
pub struct Occupant {
    pub unit_id: UnitId,
    pub person_id: PersonId,
    pub name: String,
    pub email: Option<String>,
}

/// The residents and household members (memberships in force at `at`) of the unit labelled
/// `label` (case-insensitive) at `property`. One query whether or not anything matches.
///
/// # Errors
/// `Database` on a failed read.
pub async fn occupants_by_label(
    conn: &mut Conn,
    property: i64,
    label: &str,
    at: Timestamp,
) -> Result<Vec<Occupant>> {
    occupants(
        conn,
        "u.property_id = $1 AND lower(u.label) = lower($2)",
        property,
        Some(label),
        at,
    )
    .await
}

/// The residents and household members (memberships in force at `at`) of `unit`.
///
/// # Errors
/// `Database` on a failed read.
pub async fn occupants_of_unit(
    conn: &mut Conn,
    unit: UnitId,
    at: Timestamp,
) -> Result<Vec<Occupant>> {
    occupants(conn, "u.id = $1 AND $2 IS NULL", unit.0, None, at).await
}

async fn occupants(
    conn: &mut Conn,
    unit_filter: &'static str,
    key: i64,
    label: Option<&str>,
    at: Timestamp,
) -> Result<Vec<Occupant>> {
    let sql = format!(
        "SELECT u.id AS unit_id, p.id AS person_id, p.name AS name, p.email AS email \
         FROM units u JOIN memberships m ON m.unit_id = u.id JOIN people p ON p.id = m.person_id \
         WHERE {unit_filter} AND m.role IN ('resident', 'household') \
         AND (m.valid_from IS NULL OR m.valid_from <= $3) AND (m.valid_until IS NULL OR m.valid_until > $3) \
         ORDER BY p.id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .bind(label.map(str::to_owned))
        .bind(to_micros(at))
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Occupant {
                unit_id: UnitId(r.try_get("unit_id")?),
                person_id: PersonId(r.try_get("person_id")?),
                name: r.try_get("name")?,
                email: r.try_get("email")?,
            })
        })
        .collect()
}

/// A person's sealed authenticator secret and the last time step accepted.
///
/// # Errors
/// `Database` on a failed read.
pub async fn totp_secret(
    conn: &mut Conn,
    person: PersonId,
) -> Result<Option<(Vec<u8>, Option<i64>)>> {
    let row = sqlx::query("SELECT sealed, last_step FROM totp_secrets WHERE person_id = $1")
        .bind(person.0)
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((r.try_get("sealed")?, r.try_get("last_step")?)))
        .transpose()
}

/// Stores (or replaces) a person's sealed authenticator secret.
///
/// # Errors
/// `Database` on a failed write.
pub async fn set_totp_secret(
    conn: &mut Conn,
    person: PersonId,
    sealed: &[u8],
    at: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO totp_secrets (person_id, sealed, last_step, created_at) VALUES ($1, $2, NULL, $3) \
         ON CONFLICT (person_id) DO UPDATE SET sealed = excluded.sealed, last_step = NULL, created_at = excluded.created_at",
    )
    .bind(person.0)
    .bind(sealed.to_vec())
    .bind(to_micros(at))
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the time step of an accepted code, only if it is later than the one stored: false
/// when another request used this step (or a later one) first.
///
/// # Errors
/// `Database` on a failed write.
pub async fn use_totp_step(conn: &mut Conn, person: PersonId, step: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE totp_secrets SET last_step = $1 WHERE person_id = $2 AND (last_step IS NULL OR last_step < $1)",
    )
    .bind(step)
    .bind(person.0)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces a person's recovery card: their unused codes go, `digests` (SHA-256 of the new
/// codes) come in.
///
/// # Errors
/// `Database` on a failed write.
pub async fn replace_recovery_codes(
    conn: &mut Conn,
    person: PersonId,
    digests: &[Vec<u8>],
    at: Timestamp,
) -> Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE person_id = $1 AND used_at IS NULL")
        .bind(person.0)
        .execute(&mut *conn)
        .await?;
    for d in digests {
        sqlx::query(
            "INSERT INTO recovery_codes (person_id, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(person.0)
        .bind(d.clone())
        .bind(to_micros(at))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Marks the person's unused recovery code with SHA-256 `digest` used: false when there is
/// none (wrong, another person's, or used before).
///
/// # Errors
/// `Database` on a failed write.
pub async fn use_recovery_code(
    conn: &mut Conn,
    person: PersonId,
    digest: &[u8],
    at: Timestamp,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE person_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(to_micros(at))
    .bind(person.0)
    .bind(digest.to_vec())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The people who hold at least one unused recovery code.
///
/// # Errors
/// `Database` on a failed read.
pub async fn people_with_recovery_codes(conn: &mut Conn) -> Result<Vec<PersonId>> {
    let rows = sqlx::query("SELECT DISTINCT person_id FROM recovery_codes WHERE used_at IS NULL")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok(PersonId(r.try_get("person_id")?)))
        .collect()
}

/// Every person with at least one passkey (the readiness drill counts it as a proof while the
/// phone is at hand).
///
/// # Errors
/// `Database` on a failed read.
pub async fn people_with_passkeys(conn: &mut Conn) -> Result<Vec<PersonId>> {
    let rows = sqlx::query("SELECT DISTINCT person_id FROM passkeys")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok(PersonId(r.try_get("person_id")?)))
        .collect()
}

/// Every person with an authenticator secret.
///
/// # Errors
/// `Database` on a failed read.
pub async fn people_with_totp(conn: &mut Conn) -> Result<Vec<PersonId>> {
    let rows = sqlx::query("SELECT person_id FROM totp_secrets")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok(PersonId(r.try_get("person_id")?)))
        .collect()
}

/// How many unused recovery codes a person holds.
///
/// # Errors
/// `Database` on a failed read.
pub async fn unused_recovery_codes(conn: &mut Conn, person: PersonId) -> Result<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM recovery_codes WHERE person_id = $1 AND used_at IS NULL",
    )
    .bind(person.0)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("n")?)
}

/// A proof given in a case.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Proof {
    pub kind: String,
    pub person_id: Option<PersonId>,
    pub recorded_by: Option<PersonId>,
    pub at: Timestamp,
    pub detail: serde_json::Value,
}

/// # Errors
/// `Database` on a failed write.
pub async fn add_proof(conn: &mut Conn, case: LockoutCaseId, p: &Proof) -> Result<()> {
    sqlx::query(
        "INSERT INTO case_proofs (case_id, kind, person_id, recorded_by, at, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(case.0)
    .bind(p.kind.clone())
    .bind(p.person_id.map(|x| x.0))
    .bind(p.recorded_by.map(|x| x.0))
    .bind(to_micros(p.at))
    .bind(p.detail.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// The proofs of a case, oldest first.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` for a detail that is not JSON.
pub async fn proofs_of(conn: &mut Conn, case: LockoutCaseId) -> Result<Vec<Proof>> {
    let rows = sqlx::query(
        "SELECT kind, person_id, recorded_by, at, detail FROM case_proofs WHERE case_id = $1 ORDER BY id",
    )
    .bind(case.0)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let detail: String = r.try_get("detail")?;
            Ok(Proof {
                kind: r.try_get("kind")?,
                person_id: r.try_get::<Option<i64>, _>("person_id")?.map(PersonId),
                recorded_by: r.try_get::<Option<i64>, _>("recorded_by")?.map(PersonId),
                at: from_micros(r.try_get("at")?)?,
                detail: serde_json::from_str(&detail)
                    .map_err(|e| StoreError::Corrupt(format!("proof detail: {e}")))?,
            })
        })
        .collect()
}

/// A link sent to a guardian.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GuardianLink {
    pub id: i64,
    pub case_id: LockoutCaseId,
    pub guardian_id: PersonId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
    /// `confirmed` or `denied` once used.
    pub outcome: Option<String>,
}

fn link_row(r: &AnyRow) -> Result<GuardianLink> {
    Ok(GuardianLink {
        id: r.try_get("id")?,
        case_id: LockoutCaseId(r.try_get("case_id")?),
        guardian_id: PersonId(r.try_get("guardian_id")?),
        created_at: from_micros(r.try_get("created_at")?)?,
        expires_at: from_micros(r.try_get("expires_at")?)?,
        used_at: opt_from_micros(r.try_get("used_at")?)?,
        outcome: r.try_get("outcome")?,
    })
}

/// # Errors
/// `Database` on a failed write.
pub async fn create_guardian_link(
    conn: &mut Conn,
    case: LockoutCaseId,
    guardian: PersonId,
    digest: &[u8],
    at: Timestamp,
    expires: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO guardian_links (case_id, guardian_id, token_digest, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(case.0)
    .bind(guardian.0)
    .bind(digest.to_vec())
    .bind(to_micros(at))
    .bind(to_micros(expires))
    .execute(conn)
    .await?;
    Ok(())
}

/// The link whose token has this digest.
///
/// # Errors
/// `Database` on a failed read.
pub async fn guardian_link_by_token(
    conn: &mut Conn,
    digest: &[u8],
) -> Result<Option<GuardianLink>> {
    let row = sqlx::query(
        "SELECT id, case_id, guardian_id, created_at, expires_at, used_at, outcome FROM guardian_links \
         WHERE token_digest = $1",
    )
    .bind(digest.to_vec())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(link_row).transpose()
}

/// The links of a case, oldest first.
///
/// # Errors
/// `Database` on a failed read.
pub async fn guardian_links_of(conn: &mut Conn, case: LockoutCaseId) -> Result<Vec<GuardianLink>> {
    let rows = sqlx::query(
        "SELECT id, case_id, guardian_id, created_at, expires_at, used_at, outcome FROM guardian_links \
         WHERE case_id = $1 ORDER BY id",
    )
    .bind(case.0)
    .fetch_all(conn)
    .await?;
    rows.iter().map(link_row).collect()
}

/// Uses a link once: false when it was already used (a replay, or a race with another use).
///
/// # Errors
/// `Database` on a failed write.
pub async fn use_guardian_link(
    conn: &mut Conn,
    id: i64,
    outcome: &str,
    at: Timestamp,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE guardian_links SET used_at = $1, outcome = $2 WHERE id = $3 AND used_at IS NULL",
    )
    .bind(to_micros(at))
    .bind(outcome.to_owned())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Messages of one kind queued for a person, oldest first.
///
/// # Errors
/// `Database` on a failed read; `Corrupt` for a body that is not JSON.
pub async fn notifications_of_person_kind(
    conn: &mut Conn,
    person: PersonId,
    kind: &str,
) -> Result<Vec<Notification>> {
    let rows = sqlx::query(
        "SELECT property_id, person_id, kind, case_id, body, created_at, sent_at FROM notifications \
         WHERE person_id = $1 AND kind = $2 ORDER BY id",
    )
    .bind(person.0)
    .bind(kind.to_owned())
    .fetch_all(conn)
    .await?;
    rows.iter().map(notification_row).collect()
}
