//! What lockout recovery and the readiness drill read: digital spare keys, the on-call roster and
//! the property's locksmiths.

use jiff::Timestamp;
use latchkey_core::schedule::Schedule;
use latchkey_core::{LocksmithId, PersonId, PropertyId, SpareKeyId, UnitId};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{from_micros, opt_from_micros, to_micros};
use crate::{Conn, Result, StoreError};

fn schedule_of(text: &str, what: &str) -> Result<Schedule> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn schedule_text(s: &Schedule) -> Result<String> {
    serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A digital spare key: dormant, it lets its holder help the unit's residents in a proven
/// lockout case, and nothing else.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpareKey {
    pub id: SpareKeyId,
    pub property_id: PropertyId,
    pub unit_id: UnitId,
    pub granted_by: PersonId,
    pub holder_id: PersonId,
    /// When the holder can usually be reached.
    pub reachable: Schedule,
    /// `active` or `revoked`.
    pub status: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

const SPARE_KEY_COLUMNS: &str =
    "id, property_id, unit_id, granted_by, holder_id, reachable, status, created_at, revoked_at";

fn spare_key_row(row: &AnyRow) -> Result<SpareKey> {
    let reachable: String = row.try_get("reachable")?;
    Ok(SpareKey {
        id: SpareKeyId(row.try_get("id")?),
        property_id: PropertyId(row.try_get("property_id")?),
        unit_id: UnitId(row.try_get("unit_id")?),
        granted_by: PersonId(row.try_get("granted_by")?),
        holder_id: PersonId(row.try_get("holder_id")?),
        reachable: schedule_of(&reachable, "spare key reachability")?,
        status: row.try_get("status")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        revoked_at: opt_from_micros(row.try_get("revoked_at")?)?,
    })
}

/// A new spare key; the caller has checked the unit, the grantor and the holder.
#[derive(Clone, Debug)]
pub struct NewSpareKey {
    pub property_id: PropertyId,
    pub unit_id: UnitId,
    pub granted_by: PersonId,
    pub holder_id: PersonId,
    pub reachable: Schedule,
}

/// # Errors
/// `Conflict` naming `spare_keys_one_active` when the holder already has an active key to the
/// unit; `MissingReference` when a row it names does not exist.
pub async fn create_spare_key(conn: &mut Conn, k: &NewSpareKey, at: Timestamp) -> Result<SpareKey> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO spare_keys (property_id, unit_id, granted_by, holder_id, reachable, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'active', $6) RETURNING id",
    )
    .bind(k.property_id.0)
    .bind(k.unit_id.0)
    .bind(k.granted_by.0)
    .bind(k.holder_id.0)
    .bind(schedule_text(&k.reachable)?)
    .bind(to_micros(at))
    .fetch_one(&mut *conn)
    .await
    .map_err(StoreError::classify)?;
    get_spare_key(conn, SpareKeyId(id))
        .await?
        .ok_or_else(|| StoreError::Corrupt("a spare key vanished after insert".into()))
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_spare_key(conn: &mut Conn, id: SpareKeyId) -> Result<Option<SpareKey>> {
    let sql = format!("SELECT {SPARE_KEY_COLUMNS} FROM spare_keys WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(spare_key_row).transpose()
}

/// Spare keys of a property (of one unit, when given), oldest first, revoked ones included.
///
/// # Errors
/// `Database` on a failed read.
pub async fn list_spare_keys(
    conn: &mut Conn,
    property: PropertyId,
    unit: Option<UnitId>,
) -> Result<Vec<SpareKey>> {
    let sql = format!(
        "SELECT {SPARE_KEY_COLUMNS} FROM spare_keys WHERE property_id = $1 \
         AND ($2 IS NULL OR unit_id = $2) ORDER BY id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(property.0)
        .bind(unit.map(|u| u.0))
        .fetch_all(conn)
        .await?;
    rows.iter().map(spare_key_row).collect()
}

/// Revokes a spare key (a revoked key stays listed, with when).
///
/// # Errors
/// `Database` on a failed write.
pub async fn revoke_spare_key(conn: &mut Conn, id: SpareKeyId, at: Timestamp) -> Result<()> {
    sqlx::query(
        "UPDATE spare_keys SET status = 'revoked', revoked_at = $1 WHERE id = $2 AND status = 'active'",
    )
    .bind(to_micros(at))
    .bind(id.0)
    .execute(conn)
    .await?;
    Ok(())
}

/// One person's place in the after-hours roster.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OnCall {
    pub property_id: PropertyId,
    pub person_id: PersonId,
    /// When they answer.
    pub schedule: Schedule,
}

/// Puts a person on call for `schedule` (replacing their previous hours).
///
/// # Errors
/// `MissingReference` when the property or person does not exist.
pub async fn set_on_call(conn: &mut Conn, entry: &OnCall, at: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO on_call (property_id, person_id, schedule, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (property_id, person_id) DO UPDATE SET schedule = excluded.schedule",
    )
    .bind(entry.property_id.0)
    .bind(entry.person_id.0)
    .bind(schedule_text(&entry.schedule)?)
    .bind(to_micros(at))
    .execute(conn)
    .await
    .map_err(StoreError::classify)?;
    Ok(())
}

/// Takes a person off the roster; false when they were not on it.
///
/// # Errors
/// `Database` on a failed write.
pub async fn remove_on_call(
    conn: &mut Conn,
    property: PropertyId,
    person: PersonId,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM on_call WHERE property_id = $1 AND person_id = $2")
        .bind(property.0)
        .bind(person.0)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The roster of a property.
///
/// # Errors
/// `Database` on a failed read.
pub async fn list_on_call(conn: &mut Conn, property: PropertyId) -> Result<Vec<OnCall>> {
    let rows = sqlx::query(
        "SELECT property_id, person_id, schedule FROM on_call WHERE property_id = $1 ORDER BY person_id",
    )
    .bind(property.0)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let schedule: String = r.try_get("schedule")?;
            Ok(OnCall {
                property_id: PropertyId(r.try_get("property_id")?),
                person_id: PersonId(r.try_get("person_id")?),
                schedule: schedule_of(&schedule, "on-call schedule")?,
            })
        })
        .collect()
}

/// A locksmith company registered with a property.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Locksmith {
    pub id: LocksmithId,
    pub property_id: PropertyId,
    pub company: String,
    pub licence: String,
    pub phone: String,
    /// When they take jobs.
    pub hours: Schedule,
    /// Their quoted call-out price, in the property's currency's smallest unit.
    pub callout_cents: i64,
    /// `unverified`, `verified` or `suspended`; only verified ones are offered.
    pub status: String,
    pub verified_by: Option<PersonId>,
    pub verified_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

const LOCKSMITH_COLUMNS: &str = "id, property_id, company, licence, phone, hours, callout_cents, status, \
     verified_by, verified_at, created_at";

fn locksmith_row(row: &AnyRow) -> Result<Locksmith> {
    let hours: String = row.try_get("hours")?;
    Ok(Locksmith {
        id: LocksmithId(row.try_get("id")?),
        property_id: PropertyId(row.try_get("property_id")?),
        company: row.try_get("company")?,
        licence: row.try_get("licence")?,
        phone: row.try_get("phone")?,
        hours: schedule_of(&hours, "locksmith hours")?,
        callout_cents: row.try_get("callout_cents")?,
        status: row.try_get("status")?,
        verified_by: row.try_get::<Option<i64>, _>("verified_by")?.map(PersonId),
        verified_at: opt_from_micros(row.try_get("verified_at")?)?,
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}

/// A locksmith to register; it starts unverified.
#[derive(Clone, Debug)]
pub struct NewLocksmith {
    pub property_id: PropertyId,
    pub company: String,
    pub licence: String,
    pub phone: String,
    pub hours: Schedule,
    pub callout_cents: i64,
}

/// # Errors
/// `Conflict` when the property already has a locksmith of that company name.
pub async fn create_locksmith(
    conn: &mut Conn,
    l: &NewLocksmith,
    at: Timestamp,
) -> Result<Locksmith> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO locksmiths (property_id, company, licence, phone, hours, callout_cents, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'unverified', $7) RETURNING id",
    )
    .bind(l.property_id.0)
    .bind(l.company.clone())
    .bind(l.licence.clone())
    .bind(l.phone.clone())
    .bind(schedule_text(&l.hours)?)
    .bind(l.callout_cents)
    .bind(to_micros(at))
    .fetch_one(&mut *conn)
    .await
    .map_err(StoreError::classify)?;
    get_locksmith(conn, LocksmithId(id))
        .await?
        .ok_or_else(|| StoreError::Corrupt("a locksmith vanished after insert".into()))
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_locksmith(conn: &mut Conn, id: LocksmithId) -> Result<Option<Locksmith>> {
    let sql = format!("SELECT {LOCKSMITH_COLUMNS} FROM locksmiths WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(locksmith_row).transpose()
}

/// The locksmiths of a property, by company name.
///
/// # Errors
/// `Database` on a failed read.
pub async fn list_locksmiths(conn: &mut Conn, property: PropertyId) -> Result<Vec<Locksmith>> {
    let sql = format!(
        "SELECT {LOCKSMITH_COLUMNS} FROM locksmiths WHERE property_id = $1 ORDER BY company"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(property.0)
        .fetch_all(conn)
        .await?;
    rows.iter().map(locksmith_row).collect()
}

/// Sets a locksmith's verification status, recording who decided and when.
///
/// # Errors
/// `Database` on a failed write.
pub async fn set_locksmith_status(
    conn: &mut Conn,
    id: LocksmithId,
    status: &str,
    by: PersonId,
    at: Timestamp,
) -> Result<()> {
    sqlx::query(
        "UPDATE locksmiths SET status = $1, verified_by = $2, verified_at = $3 WHERE id = $4",
    )
    .bind(status.to_owned())
    .bind(by.0)
    .bind(to_micros(at))
    .bind(id.0)
    .execute(conn)
    .await?;
    Ok(())
}
