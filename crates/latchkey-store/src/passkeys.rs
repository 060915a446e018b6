//! Invitation links, passkeys, WebAuthn ceremonies in progress, and a session's last fresh proof.
//! Invitation tokens and ceremony ids are stored only as SHA-256 digests (computed by the
//! caller), so a copy of the database can neither accept an invitation nor finish a ceremony.

use jiff::Timestamp;
use latchkey_core::PersonId;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{from_micros, opt_from_micros, to_micros};
use crate::{Conn, Result, StoreError};

/// An invitation link as stored (never its token).
#[derive(Clone, Debug, PartialEq)]
pub struct Invitation {
    pub id: i64,
    pub person_id: PersonId,
    pub created_by: Option<PersonId>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

const INVITATION: &str = "id, person_id, created_by, created_at, expires_at, used_at, revoked_at";

fn invitation_row(row: &AnyRow) -> Result<Invitation> {
    Ok(Invitation {
        id: row.try_get("id")?,
        person_id: PersonId(row.try_get("person_id")?),
        created_by: row.try_get::<Option<i64>, _>("created_by")?.map(PersonId),
        created_at: from_micros(row.try_get("created_at")?)?,
        expires_at: from_micros(row.try_get("expires_at")?)?,
        used_at: opt_from_micros(row.try_get("used_at")?)?,
        revoked_at: opt_from_micros(row.try_get("revoked_at")?)?,
    })
}

/// Revokes every live link of `person` (used or revoked ones keep their instant). Returns how
/// many were revoked.
///
/// # Errors
/// `Database` on a failed write.
pub async fn revoke_invitations(conn: &mut Conn, person: PersonId, at: Timestamp) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE invitations SET revoked_at = $1 \
         WHERE person_id = $2 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(to_micros(at))
    .bind(person.0)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// # Errors
/// `Conflict` if the digest exists (a random 256-bit token never collides).
pub async fn create_invitation(
    conn: &mut Conn,
    digest: &[u8],
    person: PersonId,
    by: PersonId,
    at: Timestamp,
    expires: Timestamp,
) -> Result<Invitation> {
    let row = sqlx::query(
        "INSERT INTO invitations (token_hash, person_id, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, person_id, created_by, created_at, expires_at, used_at, revoked_at",
    )
    .bind(digest.to_vec())
    .bind(person.0)
    .bind(by.0)
    .bind(to_micros(at))
    .bind(to_micros(expires))
    .fetch_one(conn)
    .await
    .map_err(StoreError::classify)?;
    invitation_row(&row)
}

/// The invitation whose token has this digest, in any state.
///
/// # Errors
/// `Database` on a failed read.
pub async fn find_invitation(conn: &mut Conn, digest: &[u8]) -> Result<Option<Invitation>> {
    let sql = format!("SELECT {INVITATION} FROM invitations WHERE token_hash = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(digest.to_vec())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(invitation_row).transpose()
}

/// Marks a live invitation used. Returns false when it was used or revoked meanwhile (so two
/// requests with the same link cannot both succeed).
///
/// # Errors
/// `Database` on a failed write.
pub async fn use_invitation(conn: &mut Conn, id: i64, at: Timestamp) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE invitations SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(to_micros(at))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A stored passkey.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredPasskey {
    pub id: i64,
    pub person_id: PersonId,
    pub credential_id: Vec<u8>,
    pub name: String,
    /// webauthn-rs's record of the credential, as JSON.
    pub passkey: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

const PASSKEY: &str = "id, person_id, credential_id, name, passkey, created_at, last_used_at";

fn passkey_row(row: &AnyRow) -> Result<StoredPasskey> {
    Ok(StoredPasskey {
        id: row.try_get("id")?,
        person_id: PersonId(row.try_get("person_id")?),
        credential_id: row.try_get("credential_id")?,
        name: row.try_get("name")?,
        passkey: row.try_get("passkey")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        last_used_at: opt_from_micros(row.try_get("last_used_at")?)?,
    })
}

/// # Errors
/// `Conflict` when the credential id is already registered (to anyone).
pub async fn create_passkey(
    conn: &mut Conn,
    person: PersonId,
    credential_id: &[u8],
    name: &str,
    passkey: &str,
    at: Timestamp,
) -> Result<StoredPasskey> {
    let sql = format!(
        "INSERT INTO passkeys (person_id, credential_id, name, passkey, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {PASSKEY}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(person.0)
        .bind(credential_id.to_vec())
        .bind(name.to_owned())
        .bind(passkey.to_owned())
        .bind(to_micros(at))
        .fetch_one(conn)
        .await
        .map_err(StoreError::classify)?;
    passkey_row(&row)
}

/// A person's passkeys, oldest first.
///
/// # Errors
/// `Database` on a failed read.
pub async fn list_passkeys(conn: &mut Conn, person: PersonId) -> Result<Vec<StoredPasskey>> {
    let sql = format!("SELECT {PASSKEY} FROM passkeys WHERE person_id = $1 ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(person.0)
        .fetch_all(conn)
        .await?;
    rows.iter().map(passkey_row).collect()
}

/// The passkey with this row id, whoever's it is.
///
/// # Errors
/// `Database` on a failed read.
pub async fn get_passkey(conn: &mut Conn, id: i64) -> Result<Option<StoredPasskey>> {
    let sql = format!("SELECT {PASSKEY} FROM passkeys WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(passkey_row).transpose()
}

/// The passkey with this credential id.
///
/// # Errors
/// `Database` on a failed read.
pub async fn find_passkey(conn: &mut Conn, credential_id: &[u8]) -> Result<Option<StoredPasskey>> {
    let sql = format!("SELECT {PASSKEY} FROM passkeys WHERE credential_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(credential_id.to_vec())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(passkey_row).transpose()
}

/// After a use: the updated record (counter) and the instant.
///
/// # Errors
/// `Database` on a failed write.
pub async fn passkey_used(conn: &mut Conn, id: i64, passkey: &str, at: Timestamp) -> Result<()> {
    sqlx::query("UPDATE passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3")
        .bind(passkey.to_owned())
        .bind(to_micros(at))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Renames one of `person`'s passkeys; false when they have none with that id.
///
/// # Errors
/// `Database` on a failed write.
pub async fn rename_passkey(
    conn: &mut Conn,
    person: PersonId,
    id: i64,
    name: &str,
) -> Result<bool> {
    let done = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND person_id = $3")
        .bind(name.to_owned())
        .bind(id)
        .bind(person.0)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes one of `person`'s passkeys; false when they have none with that id.
///
/// # Errors
/// `Database` on a failed write.
pub async fn delete_passkey(conn: &mut Conn, person: PersonId, id: i64) -> Result<bool> {
    let done = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND person_id = $2")
        .bind(id)
        .bind(person.0)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The person's WebAuthn user handle, if they have one.
///
/// # Errors
/// `Database` on a failed read.
pub async fn user_handle(conn: &mut Conn, person: PersonId) -> Result<Option<Vec<u8>>> {
    Ok(
        sqlx::query_scalar("SELECT user_handle FROM passkey_handles WHERE person_id = $1")
            .bind(person.0)
            .fetch_optional(conn)
            .await?,
    )
}

/// # Errors
/// `Conflict` when the person already has one.
pub async fn set_user_handle(conn: &mut Conn, person: PersonId, handle: &[u8]) -> Result<()> {
    sqlx::query("INSERT INTO passkey_handles (person_id, user_handle) VALUES ($1, $2)")
        .bind(person.0)
        .bind(handle.to_vec())
        .execute(conn)
        .await
        .map_err(StoreError::classify)?;
    Ok(())
}

/// The person whose user handle this is.
///
/// # Errors
/// `Database` on a failed read.
pub async fn person_of_handle(conn: &mut Conn, handle: &[u8]) -> Result<Option<PersonId>> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT person_id FROM passkey_handles WHERE user_handle = $1")
            .bind(handle.to_vec())
            .fetch_optional(conn)
            .await?;
    Ok(id.map(PersonId))
}

/// A ceremony in progress.
#[derive(Clone, Debug, PartialEq)]
pub struct Ceremony {
    pub kind: String,
    pub person_id: Option<PersonId>,
    pub session_id: Option<i64>,
    /// webauthn-rs's state of the ceremony, as JSON.
    pub state: String,
    pub expires_at: Timestamp,
}

/// Records a ceremony, pruning a few that have expired.
///
/// # Errors
/// `Database` on a failed write.
pub async fn start_ceremony(
    conn: &mut Conn,
    id_digest: &[u8],
    c: &Ceremony,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM webauthn_ceremonies WHERE id_hash IN \
         (SELECT id_hash FROM webauthn_ceremonies WHERE expires_at <= $1 LIMIT 100)",
    )
    .bind(to_micros(now))
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO webauthn_ceremonies (id_hash, kind, person_id, session_id, state, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id_digest.to_vec())
    .bind(c.kind.clone())
    .bind(c.person_id.map(|p| p.0))
    .bind(c.session_id)
    .bind(c.state.clone())
    .bind(to_micros(c.expires_at))
    .execute(conn)
    .await
    .map_err(StoreError::classify)?;
    Ok(())
}

/// Takes a ceremony out (it can be finished once), expired or not: the caller checks.
///
/// # Errors
/// `Database` on a failed write.
pub async fn take_ceremony(conn: &mut Conn, id_digest: &[u8]) -> Result<Option<Ceremony>> {
    let row = sqlx::query(
        "DELETE FROM webauthn_ceremonies WHERE id_hash = $1 \
         RETURNING kind, person_id, session_id, state, expires_at",
    )
    .bind(id_digest.to_vec())
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(Ceremony {
            kind: r.try_get("kind")?,
            person_id: r.try_get::<Option<i64>, _>("person_id")?.map(PersonId),
            session_id: r.try_get("session_id")?,
            state: r.try_get("state")?,
            expires_at: from_micros(r.try_get("expires_at")?)?,
        })
    })
    .transpose()
}

/// When the session last gave a fresh proof.
///
/// # Errors
/// `Database` on a failed read.
pub async fn session_proven_at(conn: &mut Conn, session: i64) -> Result<Option<Timestamp>> {
    let us: Option<Option<i64>> =
        sqlx::query_scalar("SELECT proven_at FROM sessions WHERE id = $1")
            .bind(session)
            .fetch_optional(conn)
            .await?;
    opt_from_micros(us.flatten())
}

/// # Errors
/// `Database` on a failed write.
pub async fn set_session_proven(conn: &mut Conn, session: i64, at: Timestamp) -> Result<()> {
    sqlx::query("UPDATE sessions SET proven_at = $1 WHERE id = $2")
        .bind(to_micros(at))
        .bind(session)
        .execute(conn)
        .await?;
    Ok(())
}
