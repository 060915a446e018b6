//! Storage for latchkey: sqlx over SQLite (the default) and PostgreSQL, one schema in two
//! dialects (`migrations/sqlite`, `migrations/postgres`), and the audit append that runs inside
//! the caller's transaction so that a change and the event that records it commit together.
//!
//! This is the only crate that uses sqlx. It depends on `latchkey-core` for ids and model types.
//! Every read returns `Result<Option<T>, StoreError>`: a failure is never reported as an absence.

pub mod alarm_records;
pub mod alarms;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod broker_logins;
pub mod building;
pub mod credentials;
pub mod devices;
pub mod entry;
pub mod feed;
mod files;
pub mod gauges;
pub mod limits;
pub mod lockout;
mod migrate;
pub mod outbox;
pub mod passkeys;
pub mod people;
pub mod privacy;
pub mod property;
pub mod provision;
pub mod pruning;
pub mod push;
pub mod records;
pub mod recovery;
pub mod resolution;
pub mod restore;
mod sql;
pub mod webhooks;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Transaction};

pub use migrate::{MIGRATIONS, Migration};

/// A connection usable for reads and writes; a transaction dereferences to one.
pub type Conn = AnyConnection;

/// Which database a store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed the operation.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A unique constraint was violated; the string names the constraint or column.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A row referred to something that does not exist.
    #[error("reference to a missing row: {0}")]
    MissingReference(String),
    /// The database holds data this binary cannot read (a bad enum name, broken JSON).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database schema is newer than this binary knows.
    #[error(
        "the database is at schema version {found}, newer than this binary's {known}; upgrade latchkey"
    )]
    SchemaTooNew { found: i64, known: i64 },
    /// This process's earlier writers held SQLite's one write turn for longer than a write
    /// waits.
    #[error("the database stayed busy with this process's other writes for {0:?}")]
    Busy(Duration),
    /// The database URL is not one latchkey can use.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
}

impl StoreError {
    /// Turns a unique or foreign-key violation into `Conflict` / `MissingReference`.
    pub(crate) fn classify(err: sqlx::Error) -> StoreError {
        if let sqlx::Error::Database(db) = &err {
            let msg = db.message().to_owned();
            if db.is_unique_violation() {
                return StoreError::Conflict(db.constraint().map(str::to_owned).unwrap_or(msg));
            }
            if db.is_foreign_key_violation() {
                return StoreError::MissingReference(msg);
            }
        }
        StoreError::Database(err)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A write transaction. On SQLite it holds the write lock from its first statement
/// (`BEGIN IMMEDIATE`), so read-then-write sequences such as the audit append never fail on a
/// stale snapshot; on PostgreSQL the audit append locks the chain head row.
pub struct WriteTx {
    pub(crate) tx: Transaction<'static, sqlx::Any>,
    pub(crate) backend: Backend,
    /// The chain head this process last wrote, which an append checks instead of reading it
    /// (`audit::append`).
    pub(crate) head: audit::HeadCache,
    /// On SQLite, this process's turn to write, held until the commit or the rollback.
    _turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl WriteTx {
    /// The connection of this transaction.
    pub fn conn(&mut self) -> &mut Conn {
        &mut self.tx
    }

    /// The backend this transaction runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Commits the change and every event appended to it.
    ///
    /// # Errors
    /// The database refused the commit; nothing was written.
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await.map_err(StoreError::classify)
    }
}

/// How long a PostgreSQL connection may sit idle in the pool and still be handed out without a
/// ping: the pool pinged it when it was given back.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// How long a SQLite write waits for this process's earlier writers, as long as SQLite waits
/// for another process's (the busy timeout).
const WRITE_TURN: Duration = Duration::from_secs(10);

/// A pool of connections to one database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// PostgreSQL's URL, for the change feed's LISTEN connection.
    postgres_url: Option<std::sync::Arc<str>>,
    /// The database file, for readers that go around the pool (audit verification).
    sqlite_file: Option<std::sync::Arc<std::path::Path>>,
    /// The audit chain head as this process last wrote it.
    head: audit::HeadCache,
    /// SQLite has one writer at a time. A transaction that finds the database locked is put
    /// to sleep by SQLite for a millisecond or more before it tries again, ten times a
    /// transaction's length; so this process's writers take their turns here, in order of
    /// arrival, and only another process's writer is waited for by SQLite (decision 95).
    turns: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Store {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    ///
    /// SQLite runs in WAL mode with `synchronous=FULL` (a committed change survives power loss),
    /// foreign keys on and a busy timeout, set on every connection. Its files are readable by
    /// their owner only (`files.rs`).
    ///
    /// # Errors
    /// `UnsupportedUrl` for a URL that is neither SQLite nor PostgreSQL; `SchemaTooNew` when the
    /// database was written by a newer latchkey; `Database` when it cannot be reached.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };
        let url = if backend == Backend::Sqlite && !url.contains("mode=") {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}mode=rwc")
        } else {
            url.to_owned()
        };
        if backend == Backend::Sqlite
            && let Some(file) = sqlite_file(&url)
            && !url.contains("mode=ro")
        {
            files::make_private(&file, url.contains("mode=rwc"))?;
        }
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            // A SQLite connection is a file handle that cannot go stale, and pinging it is one
            // more hand-off to its connection thread on every acquire (docs/ARCHITECTURE.md,
            // decision 46). PostgreSQL connections can drop: the pool already pings each one
            // when it is given back, so one is pinged again on acquire only after sitting idle
            // (decision 72), not on every request.
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if backend == Backend::Postgres && meta.idle_for >= IDLE_CHECK {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlx::raw_sql(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                        )
                        .execute(&mut *conn)
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let sqlite_file = (backend == Backend::Sqlite)
            .then(|| sqlite_file(&url))
            .flatten()
            .map(std::sync::Arc::from);
        let store = Store {
            pool,
            backend,
            postgres_url: (backend == Backend::Postgres)
                .then(|| std::sync::Arc::from(url.as_str())),
            sqlite_file,
            head: audit::HeadCache::default(),
            turns: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
        };
        migrate::run(&store).await?;
        Ok(store)
    }

    /// The backend of this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection for reads.
    ///
    /// # Errors
    /// The pool could not hand out a connection in time.
    pub async fn read(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.pool.acquire().await?)
    }

    /// Begins a write transaction (see [`WriteTx`]).
    ///
    /// # Errors
    /// The database could not start a transaction.
    pub async fn write(&self) -> Result<WriteTx> {
        let (tx, turn) = match self.backend {
            Backend::Sqlite => {
                let turn = tokio::time::timeout(WRITE_TURN, self.turns.clone().acquire_owned())
                    .await
                    .map_err(|_| StoreError::Busy(WRITE_TURN))?
                    .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
                (self.pool.begin_with("BEGIN IMMEDIATE").await?, Some(turn))
            }
            Backend::Postgres => (self.pool.begin().await?, None),
        };
        Ok(WriteTx {
            tx,
            backend: self.backend,
            head: self.head.clone(),
            _turn: turn,
        })
    }

    /// Closes every connection (checkpointing SQLite's WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn url(&self) -> Option<&str> {
        self.postgres_url.as_deref()
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The SQLite database file (`None` on PostgreSQL and for in-memory databases).
    pub(crate) fn sqlite_file(&self) -> Option<&std::path::Path> {
        self.sqlite_file.as_deref()
    }
}

/// The file of a `sqlite:` URL, as sqlx reads it: the part after the scheme and before `?`.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.contains("mode=memory") {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

/// The backend a connection talks to.
pub(crate) fn backend_of(conn: &Conn) -> Backend {
    if conn.backend_name() == "PostgreSQL" {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

/// Hides the password of a database URL for logs and errors.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only URLs that cannot have a password refuse one, and this one has one.
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) if url.contains('@') => "(not shown: it may contain a password)".to_owned(),
        Err(_) => url.to_owned(),
    }
}

/// Reads a named enum stored as text, reporting a bad value as corruption.
pub(crate) fn parse_named<T: FromStr>(value: &str, what: &str) -> Result<T> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} `{value}`")))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_appear_in_a_redacted_url() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/latchkey"),
            "postgres://app:****@db:5432/latchkey"
        );
        assert_eq!(redact_url("sqlite://./x.db"), "sqlite://./x.db");
        assert_eq!(
            redact_url("postgres://app:p%40ss@db/latchkey"),
            "postgres://app:****@db/latchkey"
        );
        assert!(!redact_url("postgres://app:s3cret@db:99999/x").contains("s3cret"));
    }
}
