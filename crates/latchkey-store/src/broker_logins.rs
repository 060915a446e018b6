//! Logins of the embedded MQTT broker's device listener (one per Zigbee2MQTT gateway, or a
//! read-only observer). Only a SHA-256 digest of each password is stored: the password is a
//! random 256-bit token, shown once.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{from_micros, opt_from_micros, to_micros};
use crate::{Conn, Result, StoreError};

/// A broker login as listed (never its password).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BrokerLogin {
    pub id: i64,
    /// The MQTT user name.
    pub name: String,
    /// `gateway` or `observer`.
    pub role: String,
    pub created_at: Timestamp,
    pub rotated_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, name, role, created_at, rotated_at";

fn login_row(row: &AnyRow) -> Result<BrokerLogin> {
    Ok(BrokerLogin {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        rotated_at: opt_from_micros(row.try_get("rotated_at")?)?,
    })
}

/// # Errors
/// `Conflict` when a login has this name already.
pub async fn create(
    conn: &mut Conn,
    name: &str,
    role: &str,
    digest: &[u8],
    at: Timestamp,
) -> Result<BrokerLogin> {
    let sql = format!(
        "INSERT INTO broker_logins (name, role, secret_hash, created_at) VALUES ($1, $2, $3, $4) \
         RETURNING {COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name.to_owned())
        .bind(role.to_owned())
        .bind(digest.to_vec())
        .bind(to_micros(at))
        .fetch_one(conn)
        .await
        .map_err(StoreError::classify)?;
    login_row(&row)
}

/// Replaces the password digest; `None` when no login has this name.
///
/// # Errors
/// `Database` on a failed write.
pub async fn rotate(
    conn: &mut Conn,
    name: &str,
    digest: &[u8],
    at: Timestamp,
) -> Result<Option<BrokerLogin>> {
    let sql = format!(
        "UPDATE broker_logins SET secret_hash = $1, rotated_at = $2 WHERE name = $3 \
         RETURNING {COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(digest.to_vec())
        .bind(to_micros(at))
        .bind(name.to_owned())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(login_row).transpose()
}

/// Deletes the login; `false` when none had this name.
///
/// # Errors
/// `Database` on a failed write.
pub async fn delete(conn: &mut Conn, name: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM broker_logins WHERE name = $1")
        .bind(name.to_owned())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The login with this name and password digest.
///
/// # Errors
/// `Database` on a failed read.
pub async fn find(conn: &mut Conn, name: &str, digest: &[u8]) -> Result<Option<BrokerLogin>> {
    let sql = format!("SELECT {COLUMNS} FROM broker_logins WHERE name = $1 AND secret_hash = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name.to_owned())
        .bind(digest.to_vec())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(login_row).transpose()
}

/// The login with this id.
///
/// # Errors
/// `Database` on a failed read.
pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<BrokerLogin>> {
    let sql = format!("SELECT {COLUMNS} FROM broker_logins WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(login_row).transpose()
}

/// Every login, by name.
///
/// # Errors
/// `Database` on a failed read.
pub async fn list(conn: &mut Conn) -> Result<Vec<BrokerLogin>> {
    let sql = format!("SELECT {COLUMNS} FROM broker_logins ORDER BY name");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await?;
    rows.iter().map(login_row).collect()
}
