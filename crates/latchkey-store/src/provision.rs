//! Creating and dropping whole PostgreSQL databases, for test harnesses that give every test a
//! fresh database (`latchkey-testkit`). The server itself never calls these.
//!
//! PostgreSQL cannot bind a database name as a parameter, so the name is interpolated into the
//! statement; it is checked to be `[a-z0-9_]+` first, which leaves nothing to quote or escape.

use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::{Result, StoreError};

/// Creates the empty database `name` on the server `admin_url` points at; the user of
/// `admin_url` needs the `CREATEDB` privilege.
///
/// Errors: `Database` wrapping `sqlx::Error::Configuration` when `name` is not `[a-z0-9_]+`
/// (nothing is sent to the server then); `Database` when the server cannot be reached or
/// refuses, e.g. because the database already exists.
pub async fn create_postgres_database(admin_url: &str, name: &str) -> Result<()> {
    execute(admin_url, &format!("CREATE DATABASE {}", checked(name)?)).await
}

/// Drops the database `name` if it exists, disconnecting whoever is still connected to it
/// (PostgreSQL 13 or newer).
///
/// Errors: as for [`create_postgres_database`]; a database that does not exist is not an error.
pub async fn drop_postgres_database(admin_url: &str, name: &str) -> Result<()> {
    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", checked(name)?);
    execute(admin_url, &sql).await
}

/// `name` when it is a non-empty string of lowercase ASCII letters, digits and underscores.
fn checked(name: &str) -> Result<&str> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(name)
    } else {
        Err(StoreError::Database(sqlx::Error::Configuration(
            format!("`{name}` is not a database name of the form [a-z0-9_]+").into(),
        )))
    }
}

/// Runs one statement on its own connection: CREATE/DROP DATABASE cannot run in a transaction
/// or in the pool of the database being dropped.
async fn execute(admin_url: &str, sql: &str) -> Result<()> {
    let mut admin = PgConnection::connect(admin_url).await?;
    let outcome = sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(&mut admin)
        .await;
    // Close politely whatever happened; the statement's error is the one worth reporting.
    let closed = admin.close().await;
    outcome?;
    closed?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::checked;

    #[test]
    fn only_lowercase_letters_digits_and_underscores_make_a_database_name() {
        assert!(checked("lk_test_123_0_42").is_ok());
        for bad in [
            "",
            "Upper",
            "a-b",
            "a b",
            "x; DROP DATABASE test",
            "\"q\"",
            "é",
        ] {
            assert!(checked(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
