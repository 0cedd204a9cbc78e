//! The event store adapters: PostgreSQL (production) and SQLite (the embedded default)
//! behind one repository. Every SQL statement of the server is here (the benchmarks'
//! own aside).
//!
//! Reads go through postgres-es / sqlite-es. Appends go through the ledger's own
//! transaction, because more than the events must commit atomically with them: the
//! gapless invoice counter now, idempotency records and hash chains later. cqrs-es 0.5's
//! repositories open and commit their transaction internally, so they cannot carry those.
//!
//! One module per table or concern: `event_table` (appends, stream reads, chain checks,
//! cqrs-es's repository interface, the export's scan), `ledgers` (the stored
//! projections), `invoice_numbers`, `idempotency`, `sweeps`, `tokens` (`api_tokens`),
//! `import` (loading an export), `usage` (the usage records, BILLING.md 3), `statements`
//! (bank statements and their lines, INTEGRATION.md 2); this module
//! holds the connection, the location, the errors, and how code is written once for
//! both databases:
//! - `Dialect` names the SQL a statement is written in. Most statements have one text
//!   for both (sqlx binds `$1`, `$2`... on SQLite too, and `serde_json::Value` reads and
//!   writes jsonb and SQLite's text alike); where the SQL differs, `Dialect::pick`
//!   chooses the text.
//! - `on_pool!`, `on_connection!` and `on_transaction!` run one body with the pool,
//!   connection or transaction of whichever database is in use: the body is written once
//!   and compiled for each driver.
//! - What differs beyond the SQL text is a `match` on the driver, in few places:
//!   PostgreSQL writes many rows in one statement (arrays and `UNNEST`), SQLite one row a
//!   statement with its `global_position` computed; SQLite reads a rebuild's events
//!   before it begins writing, PostgreSQL streams them.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use events::{AgreementEvent, InvoiceNumber};
use futures::{StreamExt as _, TryStreamExt};
use postgres_es::PostgresEventRepository;
use projections::AgreementLedger;
use serde_json::Value;
use sqlite_es::SqliteEventRepository;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Row, SqlitePool};
use std::sync::Arc;

/// Runs `$body` with `$pool` bound to the database's pool (`PgPool` or `SqlitePool`) and
/// `$dialect` to its [`Dialect`]: written once, compiled for each driver.
macro_rules! on_pool {
    ($backend:expr, |$pool:ident, $dialect:ident| $body:expr) => {
        on_backend!($backend, pool, |$pool, $dialect| $body)
    };
}

/// `on_pool!` for any field of [`Backend`] (`pool`, `reads`).
macro_rules! on_backend {
    ($backend:expr, $field:ident, |$value:ident, $dialect:ident| $body:expr) => {
        match $backend {
            $crate::store::Backend::Postgres { $field: $value, .. } => {
                #[allow(unused_variables)]
                let $dialect = $crate::store::Dialect::Postgres;
                $body
            }
            $crate::store::Backend::Sqlite { $field: $value, .. } => {
                #[allow(unused_variables)]
                let $dialect = $crate::store::Dialect::Sqlite;
                $body
            }
        }
    };
}

/// Runs `$body` with `$value` bound to what a value of the enum `$either` (one variant per
/// database: [`CommandConnection`], [`Transaction`]) holds, and `$dialect` to its
/// [`Dialect`]: written once, compiled for each driver.
macro_rules! on_either {
    ($either:ident, $value_of:expr, |$value:ident, $dialect:ident| $body:expr) => {
        match $value_of {
            $crate::store::$either::Postgres($value) => {
                #[allow(unused_variables)]
                let $dialect = $crate::store::Dialect::Postgres;
                $body
            }
            $crate::store::$either::Sqlite($value) => {
                #[allow(unused_variables)]
                let $dialect = $crate::store::Dialect::Sqlite;
                $body
            }
        }
    };
}

/// `on_either!` on a held [`CommandConnection`] (`$connection`: a `PoolConnection`).
macro_rules! on_connection {
    ($connection:expr, |$value:ident, $dialect:ident| $body:expr) => {
        on_either!(CommandConnection, $connection, |$value, $dialect| $body)
    };
}

/// `on_either!` on a [`Transaction`] (`$tx`: an `sqlx::Transaction`).
macro_rules! on_transaction {
    ($tx:expr, |$value:ident, $dialect:ident| $body:expr) => {
        on_either!(Transaction, $tx, |$value, $dialect| $body)
    };
}

mod billing_runs;
mod esf;
mod event_table;
mod feed;
mod idempotency;
mod import;
mod invoice_numbers;
mod ledgers;
pub mod multi_host;
mod periods;
mod statements;
mod sweeps;
mod tokens;
mod ui_sessions;
mod usage;
mod webhooks;

pub use esf::EsfProducedRow;
pub use event_table::{EventRow, StoredEvent};
pub use feed::{final_prefix, FeedEvent, FEED_PAGE_MAX};
pub use idempotency::IdempotencyRecord;
pub use import::ImportTransaction;
pub use ledgers::{
    LedgerRow, RebuildCount, StoredAgreementState, LEDGERS_TABLE, PAGE_SIZE_MAX,
    SCRATCH_LEDGERS_TABLE,
};
pub use periods::PeriodGuard;
pub use statements::{StatementCompletion, StatementLineRow, StatementRow};
pub use tokens::{ActiveToken, TokenRow};
pub use ui_sessions::UiSessionRow;
pub use usage::{
    usage_through_of, StoredUsageRecord, UsageConflict, UsageInsertError, UsageInsertion,
    UsageRecord, UsageRow, UsageWindow, USAGE_ID_CHARS_MAX,
};
pub use webhooks::{DeliveryRow, WebhookRow};
// What the store's modules share with each other.
use event_table::*;
use invoice_numbers::*;
use ledgers::*;

/// The file name of the embedded store inside the data directory.
pub const SQLITE_FILE_NAME: &str = "edoc-ledger.db";

/// How long a connection may be waited for before the store counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long SQLite waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The most connections the server keeps to PostgreSQL.
const POSTGRES_CONNECTIONS_MAX: u32 = 16;

/// A pooled PostgreSQL connection idle longer than this is pinged before it is handed out.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

const SQLITE_CONNECTIONS_MAX: u32 = 8;

/// Where the events are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// `DATABASE_URL=postgres://...`
    Postgres(String),
    /// A SQLite file, created on first start.
    Sqlite(PathBuf),
}

impl StoreLocation {
    /// PostgreSQL when a URL is given, otherwise the SQLite file under `data_dir`.
    pub fn choose(database_url: Option<&str>, data_dir: &Path) -> Result<Self, StoreError> {
        match database_url.map(str::trim).filter(|url| !url.is_empty()) {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Self::Postgres(url.to_owned()))
            }
            Some(url) if url.starts_with("sqlite:") => Ok(Self::Sqlite(PathBuf::from(
                url.trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:"),
            ))),
            Some(url) => Err(StoreError::Configuration(format!(
                "DATABASE_URL must start with postgres:// or sqlite: (got `{}`)",
                redact(url)
            ))),
            None => Ok(Self::Sqlite(data_dir.join(SQLITE_FILE_NAME))),
        }
    }

    /// A description safe to print: passwords are never shown.
    pub fn describe(&self) -> String {
        match self {
            Self::Postgres(url) => format!("PostgreSQL at {}", redact(url)),
            Self::Sqlite(path) => format!("SQLite at {}", path.display()),
        }
    }
}

/// Hides the password of a connection URL.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store configuration: {0}")]
    Configuration(String),
    #[error("the event store is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("the event store failed: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migrating the event store failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("creating the data directory {path}: {source}")]
    DataDirectory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the event store holds data the ledger cannot read: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if is_unavailable(&error) {
            Self::Unavailable(error)
        } else {
            Self::Database(error)
        }
    }
}

/// Whether the database could not be reached or went away, rather than refused a
/// statement: the caller may retry. Besides I/O and pool errors, PostgreSQL tells
/// connections it is going away with SQLSTATE class 08 (connection exception) and 57P01-03
/// (admin/crash shutdown, cannot connect now: a fast or immediate stop, or recovery), and
/// refuses new ones with 53300 (too many connections); a write reaching a server demoted to
/// a standby in a failover is refused with 25006 (read-only transaction).
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(database_error) => database_error.code().is_some_and(|code| {
            code.starts_with("08")
                || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300" | "25006")
        }),
        _ => false,
    }
}

/// Why an append did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another writer got there first: a sequence of this agreement, or the invoice
    /// number claimed, was taken meanwhile. Nothing was written; load and decide again.
    #[error("a concurrent write took {0} first")]
    Conflict(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn append_error(error: sqlx::Error) -> AppendError {
    if let sqlx::Error::Database(database_error) = &error {
        // PostgreSQL unique_violation; SQLite SQLITE_CONSTRAINT_PRIMARYKEY and _UNIQUE.
        if matches!(
            database_error.code().as_deref(),
            Some("23505") | Some("1555") | Some("2067")
        ) {
            return AppendError::Conflict("the same event sequence");
        }
    }
    AppendError::Store(error.into())
}

/// The SQL a statement is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    /// What this dialect writes where the two differ (a statement's text, mostly).
    const fn pick<T: Copy>(self, postgres: T, sqlite: T) -> T {
        match self {
            Dialect::Postgres => postgres,
            Dialect::Sqlite => sqlite,
        }
    }

    /// How a writing transaction begins. SQLite's IMMEDIATE takes the write lock up front,
    /// so two writers queue instead of failing on a lock upgrade; PostgreSQL's is sqlx's
    /// own `BEGIN`.
    const fn begin(self) -> &'static str {
        self.pick("BEGIN", "BEGIN IMMEDIATE")
    }

    /// A timestamp column as RFC 3339 text in UTC: PostgreSQL formats its timestamptz
    /// with `postgres_format`, SQLite stores the text already.
    fn utc_text(self, column: &str, postgres_format: &str) -> String {
        match self {
            Dialect::Postgres => {
                format!("to_char({column} AT TIME ZONE 'UTC', '{postgres_format}')")
            }
            Dialect::Sqlite => column.to_owned(),
        }
    }
}

/// PostgreSQL's `to_char` formats of RFC 3339 times (see [`Dialect::utc_text`]).
const TO_THE_MICROSECOND: &str = "YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"";
const TO_THE_SECOND: &str = "YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"";

/// One column of `rows`: an array parameter of PostgreSQL's many-row writes (`UNNEST`).
fn column<'r, R, T>(rows: &'r [R], field: impl FnMut(&'r R) -> T) -> Vec<T> {
    rows.iter().map(field).collect()
}

/// The database behind the repository.
enum Backend {
    Postgres {
        pool: PgPool,
        reads: PostgresEventRepository,
    },
    Sqlite {
        pool: SqlitePool,
        reads: SqliteEventRepository,
    },
}

/// The ledger's event repository: one type over both databases.
#[derive(Clone)]
pub struct LedgerEventRepository {
    backend: Arc<Backend>,
    location: Arc<StoreLocation>,
}

/// A pooled connection held for one command attempt (see
/// [`LedgerEventRepository::command_connection`]).
pub enum CommandConnection {
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
}

impl From<sqlx::pool::PoolConnection<sqlx::Postgres>> for CommandConnection {
    fn from(connection: sqlx::pool::PoolConnection<sqlx::Postgres>) -> Self {
        Self::Postgres(connection)
    }
}

impl From<sqlx::pool::PoolConnection<sqlx::Sqlite>> for CommandConnection {
    fn from(connection: sqlx::pool::PoolConnection<sqlx::Sqlite>) -> Self {
        Self::Sqlite(connection)
    }
}

/// A writing transaction of either database, begun as its [`Dialect`] begins one.
enum Transaction<'c> {
    Postgres(sqlx::Transaction<'c, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'c, sqlx::Sqlite>),
}

impl<'c> From<sqlx::Transaction<'c, sqlx::Postgres>> for Transaction<'c> {
    fn from(tx: sqlx::Transaction<'c, sqlx::Postgres>) -> Self {
        Self::Postgres(tx)
    }
}

impl<'c> From<sqlx::Transaction<'c, sqlx::Sqlite>> for Transaction<'c> {
    fn from(tx: sqlx::Transaction<'c, sqlx::Sqlite>) -> Self {
        Self::Sqlite(tx)
    }
}

impl Transaction<'static> {
    /// On a pooled connection of its own.
    async fn begin(backend: &Backend) -> Result<Self, sqlx::Error> {
        on_pool!(backend, |pool, dialect| {
            Ok(Self::from(pool.begin_with(dialect.begin()).await?))
        })
    }
}

impl<'c> Transaction<'c> {
    /// On a held connection.
    async fn begin_on(connection: &'c mut CommandConnection) -> Result<Self, sqlx::Error> {
        on_connection!(connection, |connection, dialect| {
            let tx = sqlx::Connection::begin_with(&mut **connection, dialect.begin()).await?;
            Ok(Self::from(tx))
        })
    }

    /// Runs one statement that binds nothing.
    async fn execute(&mut self, statement: &str) -> Result<(), sqlx::Error> {
        on_transaction!(self, |tx, _dialect| {
            sqlx::query(statement).execute(&mut **tx).await?;
        });
        Ok(())
    }

    async fn commit(self) -> Result<(), sqlx::Error> {
        on_transaction!(self, |tx, _dialect| tx.commit().await)
    }
}

impl LedgerEventRepository {
    /// Connects (creating the SQLite file and its directory on first start) and brings
    /// the schema up to date.
    pub async fn connect(location: &StoreLocation) -> Result<Self, StoreError> {
        let repository = Self::connect_without_migrating(location).await?;
        repository.migrate().await?;
        Ok(repository)
    }

    pub async fn connect_without_migrating(location: &StoreLocation) -> Result<Self, StoreError> {
        let backend = match location {
            StoreLocation::Postgres(url) => {
                // Several hosts (a Patroni cluster): through a forwarder to the primary.
                let multi_host =
                    multi_host::MultiHostUrl::parse(url).map_err(StoreError::Configuration)?;
                let (url, choice) = match multi_host {
                    None => (url.clone(), None),
                    Some(multi_host) => {
                        let choice =
                            Arc::new(multi_host::HostChoice::new(multi_host.hosts.clone()));
                        let address = choice.forward().await.map_err(|e| {
                            StoreError::Configuration(format!(
                                "DATABASE_URL: the host list's forwarder: {e}"
                            ))
                        })?;
                        (multi_host.through(address), Some(choice))
                    }
                };
                let options = PgConnectOptions::from_str(&url)
                    .map_err(|e| StoreError::Configuration(format!("DATABASE_URL: {e}")))?;
                let pool = PgPoolOptions::new()
                    .after_connect(move |connection, _meta| {
                        let choice = choice.clone();
                        Box::pin(async move {
                            match choice {
                                Some(choice) => choice.check_session(connection).await,
                                None => Ok(()),
                            }
                        })
                    })
                    .max_connections(POSTGRES_CONNECTIONS_MAX)
                    // A ping before every checkout cost a round trip per statement group
                    // (10% of the command path, performance.md). Only a connection idle
                    // for a while is pinged: one in steady use has just answered, and
                    // one broken by an outage fails its next query (503, then it is
                    // discarded) or, after a quiet spell, is pinged and replaced.
                    .test_before_acquire(false)
                    .before_acquire(|connection, meta| {
                        Box::pin(async move {
                            if meta.idle_for > PING_WHEN_IDLE_FOR {
                                sqlx::Connection::ping(connection).await?;
                            }
                            Ok(true)
                        })
                    })
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await?;
                Backend::Postgres {
                    reads: PostgresEventRepository::new(pool.clone()),
                    pool,
                }
            }
            StoreLocation::Sqlite(path) => {
                if let Some(directory) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(directory).map_err(|source| {
                        StoreError::DataDirectory {
                            path: directory.to_owned(),
                            source,
                        }
                    })?;
                }
                // WAL lets readers run beside the one writer; FULL synchronous makes a
                // commit durable before it is acknowledged.
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(SQLITE_CONNECTIONS_MAX)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await?;
                Backend::Sqlite {
                    reads: SqliteEventRepository::new(pool.clone()),
                    pool,
                }
            }
        };
        Ok(Self {
            backend: Arc::new(backend),
            location: Arc::new(location.clone()),
        })
    }

    /// Applies the migrations that have not run yet; safe to run at every start.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");
        static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
        on_pool!(&*self.backend, |pool, dialect| {
            dialect.pick(&POSTGRES, &SQLITE).run(pool).await?
        });
        Ok(())
    }

    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// Answers whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Opens every connection the pool may hold, now: each checked out at once, then
    /// given back. A pool opens its connections as it first needs them, and a burst of
    /// work on a fresh pool (the chunks of a bank statement's import) pays for opening
    /// each one in turn, some 25 ms apiece on PostgreSQL (performance.md); a server
    /// opens them at start instead. Returns how many are open.
    pub async fn open_connections(&self) -> Result<usize, StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            let wanted = pool.options().get_max_connections() as usize;
            let connections =
                futures::future::try_join_all((0..wanted).map(|_| pool.acquire())).await?;
            Ok(connections.len())
        })
    }

    /// Closes the connections (used at shutdown, so SQLite checkpoints its WAL).
    pub async fn close(&self) {
        on_pool!(&*self.backend, |pool, _dialect| pool.close().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }

    #[test]
    fn the_store_is_chosen_by_the_url() {
        let dir = Path::new("data");
        assert_eq!(
            StoreLocation::choose(None, dir).unwrap(),
            StoreLocation::Sqlite(dir.join(SQLITE_FILE_NAME))
        );
        assert_eq!(
            StoreLocation::choose(Some(""), dir).unwrap(),
            StoreLocation::Sqlite(dir.join(SQLITE_FILE_NAME))
        );
        assert!(matches!(
            StoreLocation::choose(Some("postgres://x/y"), dir).unwrap(),
            StoreLocation::Postgres(_)
        ));
        assert_eq!(
            StoreLocation::choose(Some("sqlite:/tmp/a.db"), dir).unwrap(),
            StoreLocation::Sqlite("/tmp/a.db".into())
        );
        assert!(StoreLocation::choose(Some("mysql://x"), dir).is_err());
    }
}
