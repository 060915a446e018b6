//! The schema's versions, embedded in the binary. Both dialects carry the same file names (a test
//! checks it); a database whose version is newer than the newest known here is refused.

use sqlx::AssertSqlSafe;

use crate::{Backend, Result, Store, StoreError};

/// One schema version in both dialects.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init.sql",
        sqlite: include_str!("../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_devices.sql",
        sqlite: include_str!("../migrations/sqlite/0002_devices.sql"),
        postgres: include_str!("../migrations/postgres/0002_devices.sql"),
    },
    Migration {
        version: 3,
        name: "0003_recovery.sql",
        sqlite: include_str!("../migrations/sqlite/0003_recovery.sql"),
        postgres: include_str!("../migrations/postgres/0003_recovery.sql"),
    },
    Migration {
        version: 4,
        name: "0004_lockout.sql",
        sqlite: include_str!("../migrations/sqlite/0004_lockout.sql"),
        postgres: include_str!("../migrations/postgres/0004_lockout.sql"),
    },
    Migration {
        version: 5,
        name: "0005_proofs.sql",
        sqlite: include_str!("../migrations/sqlite/0005_proofs.sql"),
        postgres: include_str!("../migrations/postgres/0005_proofs.sql"),
    },
    Migration {
        version: 6,
        name: "0006_guardians.sql",
        sqlite: include_str!("../migrations/sqlite/0006_guardians.sql"),
        postgres: include_str!("../migrations/postgres/0006_guardians.sql"),
    },
    Migration {
        version: 7,
        name: "0007_resolution.sql",
        sqlite: include_str!("../migrations/sqlite/0007_resolution.sql"),
        postgres: include_str!("../migrations/postgres/0007_resolution.sql"),
    },
    Migration {
        version: 8,
        name: "0008_entry_notices.sql",
        sqlite: include_str!("../migrations/sqlite/0008_entry_notices.sql"),
        postgres: include_str!("../migrations/postgres/0008_entry_notices.sql"),
    },
    Migration {
        version: 9,
        name: "0009_lockout_secrets.sql",
        sqlite: include_str!("../migrations/sqlite/0009_lockout_secrets.sql"),
        postgres: include_str!("../migrations/postgres/0009_lockout_secrets.sql"),
    },
    Migration {
        version: 10,
        name: "0010_change_feed.sql",
        sqlite: include_str!("../migrations/sqlite/0010_change_feed.sql"),
        postgres: include_str!("../migrations/postgres/0010_change_feed.sql"),
    },
    Migration {
        version: 11,
        name: "0011_limits.sql",
        sqlite: include_str!("../migrations/sqlite/0011_limits.sql"),
        postgres: include_str!("../migrations/postgres/0011_limits.sql"),
    },
    Migration {
        version: 12,
        name: "0012_pin_origin.sql",
        sqlite: include_str!("../migrations/sqlite/0012_pin_origin.sql"),
        postgres: include_str!("../migrations/postgres/0012_pin_origin.sql"),
    },
    Migration {
        version: 13,
        name: "0013_lock_asks.sql",
        sqlite: include_str!("../migrations/sqlite/0013_lock_asks.sql"),
        postgres: include_str!("../migrations/postgres/0013_lock_asks.sql"),
    },
    Migration {
        version: 14,
        name: "0014_lease_epoch.sql",
        sqlite: include_str!("../migrations/sqlite/0014_lease_epoch.sql"),
        postgres: include_str!("../migrations/postgres/0014_lease_epoch.sql"),
    },
    Migration {
        version: 15,
        name: "0015_passkeys.sql",
        sqlite: include_str!("../migrations/sqlite/0015_passkeys.sql"),
        postgres: include_str!("../migrations/postgres/0015_passkeys.sql"),
    },
    Migration {
        version: 16,
        name: "0016_lock_settings.sql",
        sqlite: include_str!("../migrations/sqlite/0016_lock_settings.sql"),
        postgres: include_str!("../migrations/postgres/0016_lock_settings.sql"),
    },
    Migration {
        version: 17,
        name: "0017_restore.sql",
        sqlite: include_str!("../migrations/sqlite/0017_restore.sql"),
        postgres: include_str!("../migrations/postgres/0017_restore.sql"),
    },
    Migration {
        version: 18,
        name: "0018_recovery_codes.sql",
        sqlite: include_str!("../migrations/sqlite/0018_recovery_codes.sql"),
        postgres: include_str!("../migrations/postgres/0018_recovery_codes.sql"),
    },
    Migration {
        version: 19,
        name: "0019_broker_logins.sql",
        sqlite: include_str!("../migrations/sqlite/0019_broker_logins.sql"),
        postgres: include_str!("../migrations/postgres/0019_broker_logins.sql"),
    },
    Migration {
        version: 20,
        name: "0020_outbox.sql",
        sqlite: include_str!("../migrations/sqlite/0020_outbox.sql"),
        postgres: include_str!("../migrations/postgres/0020_outbox.sql"),
    },
    Migration {
        version: 21,
        name: "0021_webhooks.sql",
        sqlite: include_str!("../migrations/sqlite/0021_webhooks.sql"),
        postgres: include_str!("../migrations/postgres/0021_webhooks.sql"),
    },
    Migration {
        version: 22,
        name: "0022_push.sql",
        sqlite: include_str!("../migrations/sqlite/0022_push.sql"),
        postgres: include_str!("../migrations/postgres/0022_push.sql"),
    },
    Migration {
        version: 23,
        name: "0023_home_assistant.sql",
        sqlite: include_str!("../migrations/sqlite/0023_home_assistant.sql"),
        postgres: include_str!("../migrations/postgres/0023_home_assistant.sql"),
    },
    Migration {
        version: 24,
        name: "0024_alarm_digest.sql",
        sqlite: include_str!("../migrations/sqlite/0024_alarm_digest.sql"),
        postgres: include_str!("../migrations/postgres/0024_alarm_digest.sql"),
    },
    Migration {
        version: 25,
        name: "0025_alarms.sql",
        sqlite: include_str!("../migrations/sqlite/0025_alarms.sql"),
        postgres: include_str!("../migrations/postgres/0025_alarms.sql"),
    },
    Migration {
        version: 26,
        name: "0026_slots_in_trouble.sql",
        sqlite: include_str!("../migrations/sqlite/0026_slots_in_trouble.sql"),
        postgres: include_str!("../migrations/postgres/0026_slots_in_trouble.sql"),
    },
];

pub(crate) async fn run(store: &Store) -> Result<()> {
    let mut conn = store.pool().acquire().await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS latchkey_schema \
         (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    drop(conn);
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    let mut tx = store.write().await?;
    if tx.backend() == Backend::Postgres {
        // Several replicas may start at once: one migrates, the others wait here.
        sqlx::raw_sql("LOCK TABLE latchkey_schema IN EXCLUSIVE MODE")
            .execute(tx.conn())
            .await?;
    }
    let found: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM latchkey_schema")
        .fetch_one(tx.conn())
        .await?;
    let found = found.unwrap_or(0);
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > found) {
        let sql = match tx.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(tx.conn()).await?;
        sqlx::query("INSERT INTO latchkey_schema (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(m.version)
            .bind(m.name)
            .bind(jiff::Timestamp::now().as_microsecond())
            .execute(tx.conn())
            .await?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied schema migration"
        );
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    fn names(dir: &str) -> Vec<String> {
        let path = format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<String> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn both_dialects_have_the_same_migration_files_and_all_are_embedded() {
        let sqlite = names("sqlite");
        assert_eq!(sqlite, names("postgres"));
        let embedded: Vec<String> = MIGRATIONS.iter().map(|m| m.name.to_owned()).collect();
        assert_eq!(sqlite, embedded);
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "versions are contiguous");
        }
    }
}
