//! People and their memberships (roles at a property or unit, with validity).

use jiff::Timestamp;
use latchkey_core::model::Role;
use latchkey_core::{MembershipId, PersonId, PropertyId, UnitId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{Membership, Person, from_micros, opt_from_micros, to_micros};
use crate::sql::Sql;
use crate::{Conn, Result, StoreError, parse_named};

pub(crate) fn person_row(row: &AnyRow) -> Result<Person> {
    Ok(Person {
        id: PersonId(row.try_get("id")?),
        name: row.try_get("name")?,
        // An unconfirmed address (one that was already someone else's when this person was
        // added) is shown as the person's address but never signs anyone in.
        email: row
            .try_get::<Option<String>, _>("email")?
            .or(row.try_get("unconfirmed_email")?),
        phone: row.try_get("phone")?,
        is_admin: row.try_get::<i64, _>("is_admin")? != 0,
        has_password: row.try_get::<Option<String>, _>("password_hash")?.is_some(),
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}

/// What a new person needs. E-mail addresses are stored lower-cased by the caller.
#[derive(Clone, Debug)]
pub struct NewPerson {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub password_hash: Option<String>,
    pub is_admin: bool,
}

/// # Errors
/// `Conflict` when the e-mail address is taken.
pub async fn create_person(conn: &mut Conn, p: &NewPerson, at: Timestamp) -> Result<Person> {
    let row = sqlx::query(
        "INSERT INTO people (name, email, phone, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, name, email, unconfirmed_email, phone, password_hash, is_admin, created_at",
    )
    .bind(p.name.clone())
    .bind(p.email.clone())
    .bind(p.phone.clone())
    .bind(p.password_hash.clone())
    .bind(i64::from(p.is_admin))
    .bind(to_micros(at))
    .fetch_one(conn)
    .await
    .map_err(StoreError::classify)?;
    person_row(&row)
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_person(conn: &mut Conn, id: PersonId) -> Result<Option<Person>> {
    let row = sqlx::query(
        "SELECT id, name, email, unconfirmed_email, phone, password_hash, is_admin, created_at FROM people WHERE id = $1",
    )
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(person_row).transpose()
}

/// Takes the person's row lock until the transaction ends, so that a check-then-write about
/// this person (e.g. "is an erasure request pending?") cannot interleave with another one on
/// PostgreSQL, where two writers run at once. On SQLite a write transaction holds the whole
/// database already. `false` when no such person exists.
///
/// # Errors
/// `Database` on a failed read.
pub async fn lock_person(tx: &mut crate::WriteTx, id: PersonId) -> Result<bool> {
    let sql = match tx.backend() {
        crate::Backend::Sqlite => "SELECT id FROM people WHERE id = $1",
        crate::Backend::Postgres => "SELECT id FROM people WHERE id = $1 FOR UPDATE",
    };
    let found: Option<i64> = sqlx::query_scalar(sql)
        .bind(id.0)
        .fetch_optional(tx.conn())
        .await?;
    Ok(found.is_some())
}

/// The person with this e-mail address and their password hash, if any.
///
/// # Errors
/// `Database` on a failed read.
pub async fn find_by_email(
    conn: &mut Conn,
    email: &str,
) -> Result<Option<(Person, Option<String>)>> {
    let row = sqlx::query(
        "SELECT id, name, email, unconfirmed_email, phone, password_hash, is_admin, created_at FROM people WHERE email = $1",
    )
    .bind(email.to_owned())
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => Ok(Some((person_row(&row)?, row.try_get("password_hash")?))),
        None => Ok(None),
    }
}

/// People holding any membership at the property.
///
/// # Errors
/// `Database` on a failed read.
pub async fn list_people(conn: &mut Conn, property: PropertyId) -> Result<Vec<Person>> {
    let rows = sqlx::query(
        "SELECT id, name, email, unconfirmed_email, phone, password_hash, is_admin, created_at FROM people \
         WHERE id IN (SELECT person_id FROM memberships WHERE property_id = $1) ORDER BY id",
    )
    .bind(property.0)
    .fetch_all(conn)
    .await?;
    rows.iter().map(person_row).collect()
}

/// People at `property` among `ids`, in id order: the narrowed read behind a caller who sees
/// only their own units' people (the app still applies its rule to what this returns).
///
/// # Errors
/// `Database` on a failed read.
pub async fn list_people_among(
    conn: &mut Conn,
    property: PropertyId,
    ids: &[PersonId],
) -> Result<Vec<Person>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(
        crate::backend_of(conn),
        "SELECT id, name, email, unconfirmed_email, phone, password_hash, is_admin, created_at \
         FROM people WHERE id IN (SELECT person_id FROM memberships WHERE property_id = ",
    );
    sql.bind(property.0)
        .push(") AND id IN ")
        .bind_list(ids.iter().map(|p| p.0))
        .push(" ORDER BY id");
    sql.query()
        .fetch_all(conn)
        .await?
        .iter()
        .map(person_row)
        .collect()
}

/// Whether any admin exists (the first admin is created from the CLI).
///
/// # Errors
/// `Database` on a failed read.
pub async fn any_admin(conn: &mut Conn) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM people WHERE is_admin = 1")
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}

/// The admin created first, if any (whom terminal commands act as by default).
///
/// # Errors
/// `Database` on a failed read.
pub async fn first_admin(conn: &mut Conn) -> Result<Option<Person>> {
    let row = sqlx::query(
        "SELECT id, name, email, unconfirmed_email, phone, password_hash, is_admin, created_at FROM people \
         WHERE is_admin = 1 ORDER BY id LIMIT 1",
    )
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(person_row).transpose()
}

/// Records `email` as `person`'s unconfirmed address: shown as theirs, never a sign-in address.
///
/// # Errors
/// `Database` on a failed write.
pub async fn set_unconfirmed_email(conn: &mut Conn, person: PersonId, email: &str) -> Result<()> {
    sqlx::query("UPDATE people SET unconfirmed_email = $1 WHERE id = $2")
        .bind(email.to_owned())
        .bind(person.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// # Errors
/// `Conflict` when the e-mail address is taken.
pub async fn update_person(conn: &mut Conn, p: &Person) -> Result<()> {
    // An unconfirmed address left as it was stays unconfirmed; any other address given becomes
    // the sign-in address and the unconfirmed one goes.
    sqlx::query(
        "UPDATE people SET name = $1, phone = $3, \
         email = CASE WHEN unconfirmed_email = $2 THEN email ELSE $2 END, \
         unconfirmed_email = CASE WHEN unconfirmed_email = $2 THEN unconfirmed_email ELSE NULL END \
         WHERE id = $4",
    )
    .bind(p.name.clone())
    .bind(p.email.clone())
    .bind(p.phone.clone())
    .bind(p.id.0)
    .execute(conn)
    .await
    .map_err(StoreError::classify)?;
    Ok(())
}

/// # Errors
/// `Database` on a failed write.
pub async fn set_password_hash(conn: &mut Conn, id: PersonId, hash: &str) -> Result<()> {
    sqlx::query("UPDATE people SET password_hash = $1 WHERE id = $2")
        .bind(hash.to_owned())
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

// ---- memberships ----

fn membership_row(row: &AnyRow) -> Result<Membership> {
    membership_row_as(row, "")
}

/// A membership from columns named with `prefix` (`m_id`, `m_role`, … for `"m_"`).
pub(crate) fn membership_row_as(row: &AnyRow, prefix: &str) -> Result<Membership> {
    let col = |name: &str| format!("{prefix}{name}");
    let role: String = row.try_get(col("role").as_str())?;
    Ok(Membership {
        id: MembershipId(row.try_get(col("id").as_str())?),
        person_id: PersonId(row.try_get(col("person_id").as_str())?),
        property_id: PropertyId(row.try_get(col("property_id").as_str())?),
        unit_id: row
            .try_get::<Option<i64>, _>(col("unit_id").as_str())?
            .map(UnitId),
        role: parse_named::<Role>(&role, "role")?,
        valid_from: opt_from_micros(row.try_get(col("valid_from").as_str())?)?,
        valid_until: opt_from_micros(row.try_get(col("valid_until").as_str())?)?,
        created_at: from_micros(row.try_get(col("created_at").as_str())?)?,
    })
}

/// What a new membership needs; the caller has checked that the unit is in the property.
#[derive(Clone, Debug)]
pub struct NewMembership {
    pub person_id: PersonId,
    pub property_id: PropertyId,
    pub unit_id: Option<UnitId>,
    pub role: Role,
    pub valid_from: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
}

/// # Errors
/// `MissingReference` when the person, property or unit does not exist.
pub async fn create_membership(
    conn: &mut Conn,
    m: &NewMembership,
    at: Timestamp,
) -> Result<Membership> {
    let row = sqlx::query(
        "INSERT INTO memberships (person_id, property_id, unit_id, role, valid_from, valid_until, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         RETURNING id, person_id, property_id, unit_id, role, valid_from, valid_until, created_at",
    )
    .bind(m.person_id.0)
    .bind(m.property_id.0)
    .bind(m.unit_id.map(|u| u.0))
    .bind(m.role.as_str())
    .bind(m.valid_from.map(to_micros))
    .bind(m.valid_until.map(to_micros))
    .bind(to_micros(at))
    .fetch_one(conn)
    .await
    .map_err(StoreError::classify)?;
    membership_row(&row)
}

/// # Errors
/// `Database` on a failed read.
pub async fn get_membership(conn: &mut Conn, id: MembershipId) -> Result<Option<Membership>> {
    let row = sqlx::query(
        "SELECT id, person_id, property_id, unit_id, role, valid_from, valid_until, created_at \
         FROM memberships WHERE id = $1",
    )
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(membership_row).transpose()
}

/// Every membership of a person, at any property, in force or not.
///
/// # Errors
/// `Database` on a failed read.
pub async fn memberships_of(conn: &mut Conn, person: PersonId) -> Result<Vec<Membership>> {
    let rows = sqlx::query(
        "SELECT id, person_id, property_id, unit_id, role, valid_from, valid_until, created_at \
         FROM memberships WHERE person_id = $1 ORDER BY id",
    )
    .bind(person.0)
    .fetch_all(conn)
    .await?;
    rows.iter().map(membership_row).collect()
}

/// Every membership at a property.
///
/// # Errors
/// `Database` on a failed read.
pub async fn list_memberships(conn: &mut Conn, property: PropertyId) -> Result<Vec<Membership>> {
    let rows = sqlx::query(
        "SELECT id, person_id, property_id, unit_id, role, valid_from, valid_until, created_at \
         FROM memberships WHERE property_id = $1 ORDER BY id",
    )
    .bind(property.0)
    .fetch_all(conn)
    .await?;
    rows.iter().map(membership_row).collect()
}

/// Memberships at `property` in one of `units` or held by `person`, in id order: the narrowed
/// read behind a caller who sees only their own units (the app still applies its rule to what
/// this returns, so the narrowing can never widen it).
///
/// # Errors
/// `Database` on a failed read.
pub async fn list_memberships_near(
    conn: &mut Conn,
    property: PropertyId,
    units: &[UnitId],
    person: PersonId,
) -> Result<Vec<Membership>> {
    let mut sql = Sql::new(
        crate::backend_of(conn),
        "SELECT id, person_id, property_id, unit_id, role, valid_from, valid_until, created_at \
         FROM memberships WHERE property_id = ",
    );
    sql.bind(property.0)
        .push(" AND (person_id = ")
        .bind(person.0);
    if !units.is_empty() {
        sql.push(" OR unit_id IN ")
            .bind_list(units.iter().map(|u| u.0));
    }
    sql.push(") ORDER BY id");
    sql.query()
        .fetch_all(conn)
        .await?
        .iter()
        .map(membership_row)
        .collect()
}

/// Sets the end of a membership (move-out).
///
/// # Errors
/// `Database` on a failed write.
pub async fn end_membership(conn: &mut Conn, id: MembershipId, until: Timestamp) -> Result<()> {
    sqlx::query("UPDATE memberships SET valid_until = $1 WHERE id = $2")
        .bind(to_micros(until))
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}
