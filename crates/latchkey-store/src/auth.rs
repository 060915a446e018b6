//! Sessions and API tokens. Only a SHA-256 digest of each token is stored, so a copy of the
//! database cannot be replayed as a login.

use jiff::Timestamp;
use latchkey_core::PersonId;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::people::{membership_row_as, person_row};
use crate::records::{Membership, Person, from_micros, opt_from_micros, to_micros};
use crate::{Conn, Result, StoreError};

/// A sign-in session or an API token, as listed to its owner (never the token itself).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Grant {
    pub id: i64,
    pub person_id: PersonId,
    /// The token's name (API tokens) or the source address (sessions).
    pub name: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// Which table a grant lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantKind {
    Session,
    ApiToken,
}

fn grant_row(row: &AnyRow, kind: GrantKind) -> Result<Grant> {
    let (name, expires) = match kind {
        GrantKind::Session => (
            row.try_get("source")?,
            opt_from_micros(Some(row.try_get("expires_at")?))?,
        ),
        GrantKind::ApiToken => (row.try_get("name")?, None),
    };
    Ok(Grant {
        id: row.try_get("id")?,
        person_id: PersonId(row.try_get("person_id")?),
        name,
        created_at: from_micros(row.try_get("created_at")?)?,
        expires_at: expires,
        revoked_at: opt_from_micros(row.try_get("revoked_at")?)?,
    })
}

/// # Errors
/// `Conflict` if the digest already exists (a random 256-bit token never collides).
pub async fn create_session(
    conn: &mut Conn,
    digest: &[u8],
    person: PersonId,
    at: Timestamp,
    expires: Timestamp,
    source: &str,
) -> Result<Grant> {
    let row = sqlx::query(
        "INSERT INTO sessions (token_hash, person_id, created_at, expires_at, source) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, person_id, source, created_at, expires_at, revoked_at",
    )
    .bind(digest.to_vec())
    .bind(person.0)
    .bind(to_micros(at))
    .bind(to_micros(expires))
    .bind(source.to_owned())
    .fetch_one(conn)
    .await
    .map_err(StoreError::classify)?;
    grant_row(&row, GrantKind::Session)
}

/// # Errors
/// `Conflict` if the digest already exists.
pub async fn create_api_token(
    conn: &mut Conn,
    digest: &[u8],
    person: PersonId,
    name: &str,
    at: Timestamp,
) -> Result<Grant> {
    let row = sqlx::query(
        "INSERT INTO api_tokens (token_hash, person_id, name, created_at) VALUES ($1, $2, $3, $4) \
         RETURNING id, person_id, name, created_at, revoked_at",
    )
    .bind(digest.to_vec())
    .bind(person.0)
    .bind(name.to_owned())
    .bind(to_micros(at))
    .fetch_one(conn)
    .await
    .map_err(StoreError::classify)?;
    grant_row(&row, GrantKind::ApiToken)
}

/// The grant whose token has this digest, revoked or not.
///
/// # Errors
/// `Database` on a failed read.
pub async fn find(conn: &mut Conn, kind: GrantKind, digest: &[u8]) -> Result<Option<Grant>> {
    let sql = match kind {
        GrantKind::Session => {
            "SELECT id, person_id, source, created_at, expires_at, revoked_at FROM sessions WHERE token_hash = $1"
        }
        GrantKind::ApiToken => {
            "SELECT id, person_id, name, created_at, revoked_at FROM api_tokens WHERE token_hash = $1"
        }
    };
    let row = sqlx::query(sql)
        .bind(digest.to_vec())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(|r| grant_row(r, kind)).transpose()
}

/// The grant whose token has this digest (revoked or not), with its person (`None` when the
/// account is gone) and the person's memberships, oldest first: everything authenticating a
/// request reads, in one statement.
///
/// # Errors
/// `Database` on a failed read.
pub async fn find_signed_in(
    conn: &mut Conn,
    kind: GrantKind,
    digest: &[u8],
) -> Result<Option<(Grant, Option<Person>, Vec<Membership>)>> {
    const PERSON_AND_MEMBERSHIPS: &str = "p.id, p.name, p.email, p.unconfirmed_email, p.phone, \
         p.password_hash, p.is_admin, p.created_at, \
         m.id AS m_id, m.person_id AS m_person_id, m.property_id AS m_property_id, \
         m.unit_id AS m_unit_id, m.role AS m_role, m.valid_from AS m_valid_from, \
         m.valid_until AS m_valid_until, m.created_at AS m_created_at";
    let (grant_cols, table) = match kind {
        GrantKind::Session => (
            "g.id AS g_id, g.person_id AS g_person_id, g.source AS g_name, \
             g.created_at AS g_created_at, g.expires_at AS g_expires_at, g.revoked_at AS g_revoked_at",
            "sessions",
        ),
        GrantKind::ApiToken => (
            "g.id AS g_id, g.person_id AS g_person_id, g.name AS g_name, \
             g.created_at AS g_created_at, g.revoked_at AS g_revoked_at",
            "api_tokens",
        ),
    };
    let sql = format!(
        "SELECT {grant_cols}, {PERSON_AND_MEMBERSHIPS} FROM {table} g \
         LEFT JOIN people p ON p.id = g.person_id \
         LEFT JOIN memberships m ON m.person_id = p.id \
         WHERE g.token_hash = $1 ORDER BY m.id"
    );
    // Built from the constants above only.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(digest.to_vec())
        .fetch_all(conn)
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let grant = Grant {
        id: first.try_get("g_id")?,
        person_id: PersonId(first.try_get("g_person_id")?),
        name: first.try_get("g_name")?,
        created_at: from_micros(first.try_get("g_created_at")?)?,
        expires_at: match kind {
            GrantKind::Session => opt_from_micros(Some(first.try_get("g_expires_at")?))?,
            GrantKind::ApiToken => None,
        },
        revoked_at: opt_from_micros(first.try_get("g_revoked_at")?)?,
    };
    if first.try_get::<Option<i64>, _>("id")?.is_none() {
        return Ok(Some((grant, None, Vec::new())));
    }
    let person = person_row(first)?;
    let mut memberships = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get::<Option<i64>, _>("m_id")?.is_some() {
            memberships.push(membership_row_as(row, "m_")?);
        }
    }
    Ok(Some((grant, Some(person), memberships)))
}

/// A person's grants of one kind, newest first.
///
/// # Errors
/// `Database` on a failed read.
pub async fn list(conn: &mut Conn, kind: GrantKind, person: PersonId) -> Result<Vec<Grant>> {
    let sql = match kind {
        GrantKind::Session => {
            "SELECT id, person_id, source, created_at, expires_at, revoked_at FROM sessions WHERE person_id = $1 ORDER BY id DESC"
        }
        GrantKind::ApiToken => {
            "SELECT id, person_id, name, created_at, revoked_at FROM api_tokens WHERE person_id = $1 ORDER BY id DESC"
        }
    };
    let rows = sqlx::query(sql).bind(person.0).fetch_all(conn).await?;
    rows.iter().map(|r| grant_row(r, kind)).collect()
}

/// # Errors
/// `Database` on a failed read.
pub async fn get(conn: &mut Conn, kind: GrantKind, id: i64) -> Result<Option<Grant>> {
    let sql = match kind {
        GrantKind::Session => {
            "SELECT id, person_id, source, created_at, expires_at, revoked_at FROM sessions WHERE id = $1"
        }
        GrantKind::ApiToken => {
            "SELECT id, person_id, name, created_at, revoked_at FROM api_tokens WHERE id = $1"
        }
    };
    let row = sqlx::query(sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(|r| grant_row(r, kind)).transpose()
}

/// Revokes one grant (idempotent: a second revoke keeps the first instant).
///
/// # Errors
/// `Database` on a failed write.
pub async fn revoke(conn: &mut Conn, kind: GrantKind, id: i64, at: Timestamp) -> Result<()> {
    let sql = match kind {
        GrantKind::Session => {
            "UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2"
        }
        GrantKind::ApiToken => {
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2"
        }
    };
    sqlx::query(sql)
        .bind(to_micros(at))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
