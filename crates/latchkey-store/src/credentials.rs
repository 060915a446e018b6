//! Credentials and the doors they open. A PIN is stored only as ciphertext (`secret`, sealed by
//! the app layer) plus a keyed digest per door that makes "one PIN per door" a database rule.

use std::collections::HashMap;

use jiff::Timestamp;
use latchkey_core::model::{CredentialKind, CredentialStatus};
use latchkey_core::{CredentialId, DoorId, PersonId, PropertyId, UnitId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{Credential, from_micros, opt_from_micros, to_micros};
use crate::sql::Sql;
use crate::{Conn, Result, StoreError, parse_named};

/// What a new credential needs; the caller has validated everything.
#[derive(Clone, Debug)]
pub struct NewCredential {
    pub property_id: PropertyId,
    pub person_id: PersonId,
    pub unit_id: Option<UnitId>,
    pub kind: CredentialKind,
    pub label: String,
    pub schedule: latchkey_core::schedule::Schedule,
    pub max_uses: Option<i64>,
    pub duress: bool,
    /// A presence challenge: on the lock as a `non_access` user, reported, never opening.
    pub non_access: bool,
    /// Sealed PIN (nonce ‖ ciphertext), for PINs only.
    pub secret: Option<Vec<u8>>,
    /// Keyed digest of the PIN, for the per-door uniqueness rule.
    pub pin_digest: Option<Vec<u8>>,
    /// Whether a person chose the PIN's code (rather than latchkey generating it).
    pub pin_chosen: bool,
    pub card_uid: Option<String>,
    pub doors: Vec<DoorId>,
}

fn credential_row(row: &AnyRow, doors: Vec<DoorId>) -> Result<Credential> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let schedule: String = row.try_get("schedule")?;
    Ok(Credential {
        id: CredentialId(row.try_get("id")?),
        property_id: PropertyId(row.try_get("property_id")?),
        person_id: PersonId(row.try_get("person_id")?),
        unit_id: row.try_get::<Option<i64>, _>("unit_id")?.map(UnitId),
        kind: parse_named::<CredentialKind>(&kind, "credential kind")?,
        label: row.try_get("label")?,
        status: parse_named::<CredentialStatus>(&status, "credential status")?,
        schedule: serde_json::from_str(&schedule)
            .map_err(|e| StoreError::Corrupt(format!("schedule: {e}")))?,
        max_uses: row.try_get("max_uses")?,
        uses: row.try_get("uses")?,
        duress: row.try_get::<i64, _>("duress")? != 0,
        non_access: row.try_get::<i64, _>("non_access")? != 0,
        pin_chosen: row.try_get::<i64, _>("pin_chosen")? != 0,
        card_uid: row.try_get("card_uid")?,
        doors,
        created_at: from_micros(row.try_get("created_at")?)?,
        revoked_at: opt_from_micros(row.try_get("revoked_at")?)?,
    })
}

/// # Errors
/// `Conflict` naming `credential_doors_pin_unique` when the PIN is already used on one of the
/// doors; `MissingReference` when a door or person does not exist.
pub async fn create_credential(
    conn: &mut Conn,
    c: &NewCredential,
    at: Timestamp,
) -> Result<Credential> {
    let schedule =
        serde_json::to_string(&c.schedule).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO credentials (property_id, person_id, unit_id, kind, label, status, schedule, max_uses, uses, \
         duress, secret, card_uid, created_at, non_access, pin_chosen) VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, 0, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(c.property_id.0)
    .bind(c.person_id.0)
    .bind(c.unit_id.map(|u| u.0))
    .bind(c.kind.as_str())
    .bind(c.label.clone())
    .bind(schedule)
    .bind(c.max_uses)
    .bind(i64::from(c.duress))
    .bind(c.secret.clone())
    .bind(c.card_uid.clone())
    .bind(to_micros(at))
    .bind(i64::from(c.non_access))
    .bind(i64::from(c.pin_chosen))
    .fetch_one(&mut *conn)
    .await
    .map_err(StoreError::classify)?;
    let mut doors = c.doors.clone();
    doors.sort_unstable();
    doors.dedup();
    for door in &doors {
        sqlx::query(
            "INSERT INTO credential_doors (credential_id, door_id, pin_digest) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(door.0)
        .bind(c.pin_digest.clone())
        .execute(&mut *conn)
        .await
        .map_err(StoreError::classify)?;
    }
    get_credential(conn, CredentialId(id))
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("credential {id} vanished after insert")))
}

async fn doors_of(conn: &mut Conn, id: CredentialId) -> Result<Vec<DoorId>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT door_id FROM credential_doors WHERE credential_id = $1 ORDER BY door_id",
    )
    .bind(id.0)
    .fetch_all(conn)
    .await?;
    Ok(ids.into_iter().map(DoorId).collect())
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_credential(conn: &mut Conn, id: CredentialId) -> Result<Option<Credential>> {
    let row = sqlx::query(
        "SELECT id, property_id, person_id, unit_id, kind, label, status, schedule, max_uses, uses, \
         duress, non_access, pin_chosen, card_uid, created_at, revoked_at FROM credentials WHERE id = $1",
    )
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let doors = doors_of(conn, id).await?;
    Ok(Some(credential_row(&row, doors)?))
}

/// Credentials of a property, optionally only one person's, with their doors; two queries
/// whatever the count.
///
/// # Errors
/// `Database` on a failed read.
pub async fn list_credentials(
    conn: &mut Conn,
    property: PropertyId,
    person: Option<PersonId>,
) -> Result<Vec<Credential>> {
    let links = sqlx::query(
        "SELECT cd.credential_id, cd.door_id FROM credential_doors cd \
         JOIN credentials c ON c.id = cd.credential_id \
         WHERE c.property_id = $1 AND ($2 IS NULL OR c.person_id = $2) ORDER BY cd.door_id",
    )
    .bind(property.0)
    .bind(person.map(|p| p.0))
    .fetch_all(&mut *conn)
    .await?;
    let rows = sqlx::query(
        "SELECT id, property_id, person_id, unit_id, kind, label, status, schedule, max_uses, uses, \
         duress, non_access, pin_chosen, card_uid, created_at, revoked_at FROM credentials \
         WHERE property_id = $1 AND ($2 IS NULL OR person_id = $2) ORDER BY id",
    )
    .bind(property.0)
    .bind(person.map(|p| p.0))
    .fetch_all(conn)
    .await?;
    with_doors(&links, &rows)
}

/// The credentials at `property` of one of `units` or held by `holder` (and only `person`'s
/// when given), in id order: the narrowed read behind a caller who sees only their own units'
/// credentials (the app still applies its rule to what this returns, so the narrowing can never
/// widen it).
///
/// # Errors
/// `Database` on a failed read.
pub async fn list_credentials_near(
    conn: &mut Conn,
    property: PropertyId,
    units: &[UnitId],
    holder: PersonId,
    person: Option<PersonId>,
) -> Result<Vec<Credential>> {
    let backend = crate::backend_of(conn);
    let near = |head: &'static str, tail: &'static str| {
        let mut sql = Sql::new(backend, head);
        sql.bind(property.0);
        if let Some(p) = person {
            sql.push(" AND c.person_id = ").bind(p.0);
        }
        sql.push(" AND (c.person_id = ").bind(holder.0);
        if !units.is_empty() {
            sql.push(" OR c.unit_id IN ")
                .bind_list(units.iter().map(|u| u.0));
        }
        sql.push(")").push(tail);
        sql
    };
    let links = near(
        "SELECT cd.credential_id, cd.door_id FROM credential_doors cd \
         JOIN credentials c ON c.id = cd.credential_id WHERE c.property_id = ",
        " ORDER BY cd.door_id",
    )
    .query()
    .fetch_all(&mut *conn)
    .await?;
    let rows = near(
        "SELECT id, property_id, person_id, unit_id, kind, label, status, schedule, max_uses, \
         uses, duress, non_access, pin_chosen, card_uid, created_at, revoked_at \
         FROM credentials c WHERE c.property_id = ",
        " ORDER BY c.id",
    )
    .query()
    .fetch_all(conn)
    .await?;
    with_doors(&links, &rows)
}

/// Credential rows with their doors from `(credential_id, door_id)` link rows.
fn with_doors(links: &[AnyRow], rows: &[AnyRow]) -> Result<Vec<Credential>> {
    let mut door_map: HashMap<i64, Vec<DoorId>> = HashMap::new();
    for link in links {
        door_map
            .entry(link.try_get(0)?)
            .or_default()
            .push(DoorId(link.try_get(1)?));
    }
    rows.iter()
        .map(|row| {
            let id: i64 = row.try_get("id")?;
            credential_row(row, door_map.remove(&id).unwrap_or_default())
        })
        .collect()
}

/// The credentials listed on a door, in id order.
///
/// # Errors
/// `Database` on a failed read.
pub async fn credential_ids_on_door(conn: &mut Conn, door: DoorId) -> Result<Vec<CredentialId>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT credential_id FROM credential_doors WHERE door_id = $1 ORDER BY credential_id",
    )
    .bind(door.0)
    .fetch_all(conn)
    .await?;
    Ok(ids.into_iter().map(CredentialId).collect())
}

/// Changes the status. Revoking also releases the PIN on every door so it can be reused.
///
/// # Errors
/// `Database` on a failed write.
pub async fn set_status(
    conn: &mut Conn,
    id: CredentialId,
    status: CredentialStatus,
    at: Timestamp,
) -> Result<()> {
    let revoked_at = (status == CredentialStatus::Revoked).then(|| to_micros(at));
    sqlx::query(
        "UPDATE credentials SET status = $1, revoked_at = COALESCE(revoked_at, $2) WHERE id = $3",
    )
    .bind(status.as_str())
    .bind(revoked_at)
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    if status == CredentialStatus::Revoked {
        sqlx::query("UPDATE credential_doors SET pin_digest = NULL WHERE credential_id = $1")
            .bind(id.0)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Replaces the schedule and use limit.
///
/// # Errors
/// `Database` on a failed write.
pub async fn set_schedule(
    conn: &mut Conn,
    id: CredentialId,
    schedule: &latchkey_core::schedule::Schedule,
    max_uses: Option<i64>,
) -> Result<()> {
    let schedule =
        serde_json::to_string(schedule).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query("UPDATE credentials SET schedule = $1, max_uses = $2 WHERE id = $3")
        .bind(schedule)
        .bind(max_uses)
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Counts one use (a granted opening).
///
/// # Errors
/// `Database` on a failed write.
pub async fn add_use(conn: &mut Conn, id: CredentialId) -> Result<()> {
    sqlx::query("UPDATE credentials SET uses = uses + 1 WHERE id = $1")
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks the PIN as shown to its owner; returns false if it had been shown already.
///
/// # Errors
/// `Database` on a failed write.
pub async fn mark_revealed(conn: &mut Conn, id: CredentialId) -> Result<bool> {
    let done =
        sqlx::query("UPDATE credentials SET pin_revealed = 1 WHERE id = $1 AND pin_revealed = 0")
            .bind(id.0)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// The sealed PIN of a credential, if it has one.
///
/// # Errors
/// `Database` on a failed read.
pub async fn secret(conn: &mut Conn, id: CredentialId) -> Result<Option<Vec<u8>>> {
    let row = sqlx::query("SELECT secret FROM credentials WHERE id = $1")
        .bind(id.0)
        .fetch_optional(conn)
        .await?;
    match row {
        Some(row) => Ok(row.try_get("secret")?),
        None => Ok(None),
    }
}

/// Whether an active PIN with this digest is on any of `doors` (checked before an insert inside
/// a larger transaction, where a unique-index failure would abort the whole transaction). One
/// lookup by digest, however many doors.
///
/// # Errors
/// `Database` on a failed read.
pub async fn pin_taken(conn: &mut Conn, doors: &[DoorId], digest: &[u8]) -> Result<bool> {
    let on: Vec<i64> =
        sqlx::query_scalar("SELECT door_id FROM credential_doors WHERE pin_digest = $1")
            .bind(digest.to_vec())
            .fetch_all(&mut *conn)
            .await?;
    Ok(on.iter().any(|d| doors.contains(&DoorId(*d))))
}

/// Doors per statement when a list of doors is bound (well under either backend's limit).
const DOORS_PER_STATEMENT: usize = 500;

/// The live (not revoked) credentials of one household — or of nobody's household, for
/// property-wide ones — on one door.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HolderGroup {
    /// The unit of these credentials; `None` for property-wide (staff, locksmith) ones.
    pub unit_id: Option<UnitId>,
    pub credentials: i64,
    /// Of them, PINs holding a code on the door.
    pub pins: i64,
    /// Of those, PINs whose code a person chose.
    pub chosen_pins: i64,
}

/// Who can open a door: the unit it belongs to and its live credentials by household.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoorHolders {
    pub door_id: DoorId,
    /// The unit the door belongs to (its entry door); `None` for the building's doors.
    pub door_unit: Option<UnitId>,
    pub holders: Vec<HolderGroup>,
}

impl DoorHolders {
    /// The one household that alone can open this door: the door is that unit's, and every
    /// live credential on it is of that unit. `None` for a door more than one household (or
    /// staff, or a property-wide role) can open.
    pub fn private_to(&self) -> Option<UnitId> {
        let unit = self.door_unit?;
        self.holders
            .iter()
            .all(|h| h.unit_id == Some(unit))
            .then_some(unit)
    }

    /// Live PINs on the door.
    pub fn pins(&self) -> i64 {
        self.holders.iter().map(|h| h.pins).sum()
    }

    /// Live PINs on the door whose code a person chose.
    pub fn chosen_pins(&self) -> i64 {
        self.holders.iter().map(|h| h.chosen_pins).sum()
    }
}

/// Who can open each of `doors` (unknown doors are left out), in door order: two statements
/// per 500 doors.
///
/// # Errors
/// `Database` on a failed read.
pub async fn door_holders(conn: &mut Conn, doors: &[DoorId]) -> Result<Vec<DoorHolders>> {
    let backend = crate::backend_of(conn);
    let mut ids: Vec<i64> = doors.iter().map(|d| d.0).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out: Vec<DoorHolders> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(DOORS_PER_STATEMENT) {
        let mut sql = crate::sql::Sql::new(backend, "SELECT id, unit_id FROM doors WHERE id IN ");
        sql.bind_list(chunk.iter().copied()).push(" ORDER BY id");
        for row in sql.query().fetch_all(&mut *conn).await? {
            out.push(DoorHolders {
                door_id: DoorId(row.try_get("id")?),
                door_unit: row.try_get::<Option<i64>, _>("unit_id")?.map(UnitId),
                holders: Vec::new(),
            });
        }
        let mut sql = crate::sql::Sql::new(
            backend,
            "SELECT cd.door_id, c.unit_id, COUNT(*) AS credentials, COUNT(cd.pin_digest) AS pins, \
             COUNT(CASE WHEN cd.pin_digest IS NOT NULL AND c.pin_chosen = 1 THEN 1 END) AS chosen \
             FROM credential_doors cd JOIN credentials c ON c.id = cd.credential_id \
             WHERE c.status <> 'revoked' AND cd.door_id IN ",
        );
        sql.bind_list(chunk.iter().copied())
            .push(" GROUP BY cd.door_id, c.unit_id");
        for row in sql.query().fetch_all(&mut *conn).await? {
            let door = DoorId(row.try_get("door_id")?);
            let group = HolderGroup {
                unit_id: row.try_get::<Option<i64>, _>("unit_id")?.map(UnitId),
                credentials: row.try_get("credentials")?,
                pins: row.try_get("pins")?,
                chosen_pins: row.try_get("chosen")?,
            };
            if let Ok(i) = out.binary_search_by_key(&door, |d| d.door_id) {
                out[i].holders.push(group);
            }
        }
    }
    Ok(out)
}

/// Holds `doors` until the end of the transaction, so that two credentials being added to one
/// door are decided one after the other (on PostgreSQL by locking the door rows in id order;
/// a SQLite write transaction already holds the whole database).
///
/// The lock is `FOR NO KEY UPDATE`: it excludes another holder and any update of the rows, but
/// not the key-share lock PostgreSQL takes on a door when a row referring to it is inserted (a
/// slot, a credential's door). `FOR UPDATE` would also wait for those, and a transaction that
/// inserted slots for two doors in another order than id order could then deadlock with it.
///
/// # Errors
/// `Database` on a failed statement.
pub async fn lock_doors(conn: &mut Conn, doors: &[DoorId]) -> Result<()> {
    let backend = crate::backend_of(conn);
    if backend != crate::Backend::Postgres {
        return Ok(());
    }
    let mut ids: Vec<i64> = doors.iter().map(|d| d.0).collect();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(DOORS_PER_STATEMENT) {
        let mut sql = crate::sql::Sql::new(backend, "SELECT id FROM doors WHERE id IN ");
        sql.bind_list(chunk.iter().copied())
            .push(" ORDER BY id FOR NO KEY UPDATE");
        sql.query().fetch_all(&mut *conn).await?;
    }
    Ok(())
}

/// Takes `doors` off a credential; returns how many it listed.
///
/// # Errors
/// `Database` on a failed write.
pub async fn remove_doors(conn: &mut Conn, id: CredentialId, doors: &[DoorId]) -> Result<u64> {
    let mut removed = 0;
    for d in doors {
        removed +=
            sqlx::query("DELETE FROM credential_doors WHERE credential_id = $1 AND door_id = $2")
                .bind(id.0)
                .bind(d.0)
                .execute(&mut *conn)
                .await?
                .rows_affected();
    }
    Ok(removed)
}
