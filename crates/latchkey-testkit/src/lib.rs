//! Dev-only helpers for latchkey's tests; no shipped crate depends on this one.
//!
//! Test databases for every backend (which run on every backend): a fresh SQLite file per test and, when
//! `LATCHKEY_TEST_POSTGRES_URL` is set, a fresh PostgreSQL database per test as well. It depends
//! on `latchkey-store` (which alone speaks sqlx and so creates and drops the PostgreSQL
//! databases, see `latchkey_store::provision`) and on tokio.
//!
//! A private Mosquitto per test ([`mosquitto`], std only) for the MQTT test suites, and a
//! checked reader of `/metrics` answers ([`openmetrics`]).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use latchkey_store::provision::{create_postgres_database, drop_postgres_database};
use latchkey_store::{Backend, Store};

pub mod mosquitto;
pub mod openmetrics;

/// The environment variable naming a PostgreSQL server (any database on it) where tests may
/// create databases, e.g. `postgres://postgres@127.0.0.1:5432/test`.
pub const POSTGRES_ENV: &str = "LATCHKEY_TEST_POSTGRES_URL";

/// One database a test body runs against.
#[derive(Clone)]
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Clone)]
enum Cleanup {
    SqliteFile(PathBuf),
    PostgresDatabase { admin_url: String, name: String },
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}_{}_{}", std::process::id(), n, nanos)
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let cut = base.rfind('/').expect("a PostgreSQL URL has a path");
    let mut out = format!("{}/{name}", &base[..cut]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl TestDb {
    /// A fresh SQLite file named after `test`, in `/dev/shm` where there is one (the
    /// authorization matrix opens hundreds of stores and runs markedly faster off the disk),
    /// else in the temporary directory. The file is created when the store is opened;
    /// [`TestDb::remove`] deletes it. For suites that need SQLite only; everything else goes
    /// through [`each_backend`].
    pub fn sqlite(test: &str) -> TestDb {
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let path = dir.join(format!("latchkey_{test}_{}.db", unique_suffix()));
        TestDb {
            backend: Backend::Sqlite,
            url: format!("sqlite://{}", path.display()),
            cleanup: Cleanup::SqliteFile(path),
        }
    }

    async fn postgres(admin_url: &str) -> TestDb {
        let name = format!("lk_test_{}", unique_suffix());
        create_postgres_database(admin_url, &name)
            .await
            .unwrap_or_else(|e| panic!("create the test database {name}: {e}"));
        TestDb {
            backend: Backend::Postgres,
            url: with_database(admin_url, &name),
            cleanup: Cleanup::PostgresDatabase {
                admin_url: admin_url.to_owned(),
                name,
            },
        }
    }

    /// Opens (and migrates) the store.
    pub async fn open(&self) -> Store {
        Store::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("open {:?} store: {e}", self.backend))
    }

    /// Deletes the database. Best effort: a database that cannot be removed is left behind
    /// rather than failing the test that used it.
    pub async fn remove(self) {
        match self.cleanup {
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::PostgresDatabase { admin_url, name } => {
                let _ = drop_postgres_database(&admin_url, &name).await;
            }
        }
    }
}

/// Whether this run is CI's (`CI=true`), where every service a test needs must be there.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// A test that would skip for want of `service` skips only outside CI: under `CI=true` a
/// missing service is a failure, never a silent pass.
///
/// # Panics
/// Under `CI=true`, always, naming the missing service.
pub fn require_in_ci(service: &str) {
    assert!(
        !in_ci(),
        "CI=true and {service} is missing: a test that needs it cannot pass without it"
    );
}

/// The databases a test runs on: SQLite always, PostgreSQL when its URL is set (under
/// `CI=true` the URL must be set).
pub async fn backends(test: &str) -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite(test)];
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => dbs.push(TestDb::postgres(url.trim()).await),
        _ => {
            require_in_ci(&format!("PostgreSQL ({POSTGRES_ENV} is not set)"));
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                println!("skipping PostgreSQL: {POSTGRES_ENV} is not set");
            });
        }
    }
    dbs
}

/// Runs `body` once per backend, each time on a fresh database, and removes the database
/// afterwards. Every backend runs even when an earlier one fails, so one run shows whether a
/// failure is SQLite's, PostgreSQL's or both; a failing backend leaves its database behind.
pub async fn each_backend<F, Fut>(test: &str, body: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut failed = Vec::new();
    for db in backends(test).await {
        let backend = db.backend;
        eprintln!("{test}: running on {backend:?}");
        match tokio::spawn(body(db.clone())).await {
            Ok(()) => db.remove().await,
            Err(e) if e.is_panic() => failed.push(format!("{backend:?}")),
            Err(e) => panic!("{test} on {backend:?} did not finish: {e}"),
        }
    }
    assert!(
        failed.is_empty(),
        "{test} failed on {}",
        failed.join(" and ")
    );
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database("postgres://u@h:5432/test", "lk_test_1"),
            "postgres://u@h:5432/lk_test_1"
        );
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "lk_test_1"),
            "postgres://u@h/lk_test_1?sslmode=disable"
        );
    }
}
