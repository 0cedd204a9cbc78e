//! The event store adapters: PostgreSQL (production) and SQLite (the embedded default)
//! behind one repository.
//!
//! Reads go through postgres-es / sqlite-es. Appends go through the ledger's own
//! transaction, because more than the events must commit atomically with them: the
//! gapless invoice counter now, idempotency records and hash chains later. cqrs-es 0.5's
//! repositories open and commit their transaction internally, so they cannot carry those.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use events::{AgreementEvent, InvoiceNumber};
use futures::TryStreamExt;
use postgres_es::PostgresEventRepository;
use projections::AgreementLedger;
use serde_json::Value;
use sqlite_es::SqliteEventRepository;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Row, SqlitePool};
use std::sync::Arc;

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
/// refuses new ones with 53300 (too many connections).
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(database_error) => database_error.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
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

/// The database behind the repository (the export module reads and loads it directly).
pub(crate) enum Backend {
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
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| StoreError::Configuration(format!("DATABASE_URL: {e}")))?;
                let pool = PgPoolOptions::new()
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
        match &*self.backend {
            Backend::Postgres { pool, .. } => {
                sqlx::migrate!("./migrations/postgres").run(pool).await?
            }
            Backend::Sqlite { pool, .. } => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
        }
        Ok(())
    }

    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    pub(crate) fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Answers whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &*self.backend {
            Backend::Postgres { pool, .. } => {
                sqlx::query("SELECT 1").execute(pool).await.map(|_| ())?
            }
            Backend::Sqlite { pool, .. } => {
                sqlx::query("SELECT 1").execute(pool).await.map(|_| ())?
            }
        }
        Ok(())
    }

    /// The number the next invoice will get if nothing else takes it first. Reading it
    /// reserves nothing: the number is taken only when its invoice commits (see
    /// [`Self::append`]), so an abandoned command leaves no gap.
    pub async fn next_invoice_number(&self) -> Result<InvoiceNumber, StoreError> {
        let mut connection = self.command_connection().await?;
        self.next_invoice_number_on(&mut connection).await
    }

    /// [`Self::next_invoice_number`] on a held connection.
    pub async fn next_invoice_number_on(
        &self,
        connection: &mut CommandConnection,
    ) -> Result<InvoiceNumber, StoreError> {
        const QUERY: &str = "SELECT last_number FROM invoice_counter WHERE id = 1";
        let last: i64 = match connection {
            CommandConnection::Postgres(connection) => {
                sqlx::query_scalar(QUERY)
                    .fetch_one(&mut **connection)
                    .await?
            }
            CommandConnection::Sqlite(connection) => {
                sqlx::query_scalar(QUERY)
                    .fetch_one(&mut **connection)
                    .await?
            }
        };
        u64::try_from(last)
            .ok()
            .and_then(|last| last.checked_add(1))
            .and_then(|next| InvoiceNumber::new(next).ok())
            .ok_or_else(|| StoreError::Corrupt(format!("invoice counter holds {last}")))
    }

    /// Appends one command's events in one transaction, with the invoice numbers they
    /// claim. All or nothing: on a conflict nothing is written.
    pub async fn append(
        &self,
        events: &[SerializedEvent],
        invoice_numbers: &[InvoiceNumber],
        ledger: Option<&LedgerRow>,
    ) -> Result<(), AppendError> {
        self.append_with(events, invoice_numbers, ledger, None)
            .await
    }

    /// [`Self::append`], also storing a command's Idempotency-Key and first answer in the
    /// same transaction (when given; alone when there are no events). A key taken
    /// meanwhile by a concurrent request is a conflict: nothing is written.
    pub async fn append_with(
        &self,
        events: &[SerializedEvent],
        invoice_numbers: &[InvoiceNumber],
        ledger: Option<&LedgerRow>,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), AppendError> {
        let mut connection = self
            .command_connection()
            .await
            .map_err(AppendError::Store)?;
        self.append_on(
            &mut connection,
            events,
            invoice_numbers,
            ledger,
            idempotency,
        )
        .await
    }

    /// A connection held for one command attempt: its state is read and its events
    /// recorded on it, so an attempt checks out one connection, not one per statement.
    pub async fn command_connection(&self) -> Result<CommandConnection, StoreError> {
        Ok(match &*self.backend {
            Backend::Postgres { pool, .. } => CommandConnection::Postgres(pool.acquire().await?),
            Backend::Sqlite { pool, .. } => CommandConnection::Sqlite(pool.acquire().await?),
        })
    }

    /// [`Self::append_with`] on a held connection.
    pub async fn append_on(
        &self,
        connection: &mut CommandConnection,
        events: &[SerializedEvent],
        invoice_numbers: &[InvoiceNumber],
        ledger: Option<&LedgerRow>,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), AppendError> {
        let Some(first) = events.first() else {
            if let Some(record) = idempotency {
                match connection {
                    CommandConnection::Postgres(connection) => {
                        let mut tx = sqlx::Connection::begin(&mut **connection)
                            .await
                            .map_err(append_error)?;
                        store_idempotency_pg(&mut tx, record).await?;
                        tx.commit().await.map_err(append_error)?;
                    }
                    CommandConnection::Sqlite(connection) => {
                        let mut tx =
                            sqlx::Connection::begin_with(&mut **connection, "BEGIN IMMEDIATE")
                                .await
                                .map_err(append_error)?;
                        store_idempotency_sqlite(&mut tx, record).await?;
                        tx.commit().await.map_err(append_error)?;
                    }
                }
            }
            return Ok(());
        };
        assert!(
            events.iter().all(|e| e.aggregate_id == first.aggregate_id),
            "one append writes one agreement's events"
        );
        match connection {
            CommandConnection::Postgres(connection) => {
                if invoice_numbers.is_empty() && idempotency.is_none() {
                    // One statement, atomic by itself: no BEGIN and COMMIT round trips.
                    record_pg(&mut **connection, events, ledger).await?;
                } else {
                    let mut tx = sqlx::Connection::begin(&mut **connection)
                        .await
                        .map_err(append_error)?;
                    for number in invoice_numbers {
                        claim_invoice_number_pg(&mut tx, *number, first).await?;
                    }
                    record_pg(&mut *tx, events, ledger).await?;
                    if let Some(record) = idempotency {
                        store_idempotency_pg(&mut tx, record).await?;
                    }
                    tx.commit().await.map_err(append_error)?;
                }
            }
            CommandConnection::Sqlite(connection) => {
                // IMMEDIATE takes the write lock up front, so two writers queue instead
                // of failing on a lock upgrade.
                let mut tx = sqlx::Connection::begin_with(&mut **connection, "BEGIN IMMEDIATE")
                    .await
                    .map_err(append_error)?;
                for number in invoice_numbers {
                    claim_invoice_number_sqlite(&mut tx, *number, first).await?;
                }
                for event in events {
                    sqlx::query(
                        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, global_position)
                         VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(global_position), 0) + 1 FROM events))",
                    )
                    .bind(&event.aggregate_type)
                    .bind(&event.aggregate_id)
                    .bind(sequence_i64(event.sequence))
                    .bind(&event.event_type)
                    .bind(&event.event_version)
                    .bind(sqlx::types::Json(&event.payload))
                    .bind(sqlx::types::Json(&event.metadata))
                    .execute(&mut *tx)
                    .await
                    .map_err(append_error)?;
                }
                if let Some(row) = ledger {
                    upsert_ledger_sqlite(&mut tx, LEDGERS_TABLE, row)
                        .await
                        .map_err(|e| AppendError::Store(e.into()))?;
                }
                if let Some(record) = idempotency {
                    store_idempotency_sqlite(&mut tx, record).await?;
                }
                tx.commit().await.map_err(append_error)?;
            }
        }
        Ok(())
    }

    /// An agreement's stored events in order, each with the time its row was written.
    pub async fn stored_events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        const COLUMNS: &str = "sequence, event_type, event_version, payload, metadata";
        let events = match &*self.backend {
            Backend::Postgres { pool, .. } => {
                let query = format!("SELECT {COLUMNS}, to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS recorded_at FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence");
                sqlx::query(&query)
                    .bind(aggregate_type)
                    .bind(aggregate_id)
                    .fetch_all(pool)
                    .await?
                    .iter()
                    .map(|row| StoredEvent {
                        sequence: row.get("sequence"),
                        event_type: row.get("event_type"),
                        event_version: row.get("event_version"),
                        payload: row.get("payload"),
                        metadata: row.get("metadata"),
                        stored_at: row.get("recorded_at"),
                    })
                    .collect()
            }
            Backend::Sqlite { pool, .. } => {
                let query = format!("SELECT {COLUMNS}, recorded_at FROM events WHERE aggregate_type = ? AND aggregate_id = ? ORDER BY sequence");
                sqlx::query(&query)
                    .bind(aggregate_type)
                    .bind(aggregate_id)
                    .fetch_all(pool)
                    .await?
                    .iter()
                    .map(|row| StoredEvent {
                        sequence: row.get("sequence"),
                        event_type: row.get("event_type"),
                        event_version: row.get("event_version"),
                        payload: row.get::<sqlx::types::Json<Value>, _>("payload").0,
                        metadata: row.get::<sqlx::types::Json<Value>, _>("metadata").0,
                        stored_at: row.get("recorded_at"),
                    })
                    .collect()
            }
        };
        Ok(events)
    }

    /// The last sequence of the reference stream (0 when empty): one look-up on the
    /// events' primary key, asked before every command and query (api::reference_book).
    pub async fn reference_last_sequence(&self) -> Result<i64, StoreError> {
        const PG: &str = "SELECT COALESCE(MAX(sequence), 0) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2";
        const SQLITE: &str = "SELECT COALESCE(MAX(sequence), 0) FROM events WHERE aggregate_type = ? AND aggregate_id = ?";
        Ok(match &*self.backend {
            Backend::Postgres { pool, .. } => {
                sqlx::query_scalar(PG)
                    .bind(events::REFERENCE_AGGREGATE_TYPE)
                    .bind(events::REFERENCE_STREAM_ID)
                    .fetch_one(pool)
                    .await?
            }
            Backend::Sqlite { pool, .. } => {
                sqlx::query_scalar(SQLITE)
                    .bind(events::REFERENCE_AGGREGATE_TYPE)
                    .bind(events::REFERENCE_STREAM_ID)
                    .fetch_one(pool)
                    .await?
            }
        })
    }

    /// How many events the store holds, in all.
    pub async fn count_events(&self) -> Result<i64, StoreError> {
        const QUERY: &str = "SELECT COUNT(*) FROM events";
        Ok(match &*self.backend {
            Backend::Postgres { pool, .. } => sqlx::query_scalar(QUERY).fetch_one(pool).await?,
            Backend::Sqlite { pool, .. } => sqlx::query_scalar(QUERY).fetch_one(pool).await?,
        })
    }

    /// Closes the connections (used at shutdown, so SQLite checkpoints its WAL).
    pub async fn close(&self) {
        match &*self.backend {
            Backend::Postgres { pool, .. } => pool.close().await,
            Backend::Sqlite { pool, .. } => pool.close().await,
        }
    }
}

/// A command's Idempotency-Key with its first answer (API.md "Retries are safe").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub key: String,
    /// SHA-256 (hex) of the method, path and body of the request that used the key.
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
    /// When it is stored (Unix seconds, the ledger's clock): a key expired by then is
    /// forgotten and taken anew.
    pub now: i64,
    /// Unix seconds after which the key may be used again.
    pub expires_at: i64,
}

async fn store_idempotency_pg(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    record: &IdempotencyRecord,
) -> Result<(), AppendError> {
    // An expired key is forgotten, then taken anew.
    sqlx::query("DELETE FROM idempotency_keys WHERE key = $1 AND expires_at <= $2")
        .bind(&record.key)
        .bind(record.now)
        .execute(&mut **tx)
        .await
        .map_err(append_error)?;
    sqlx::query(
        "INSERT INTO idempotency_keys (key, fingerprint, status, body, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&record.key)
    .bind(&record.fingerprint)
    .bind(i16::try_from(record.status).unwrap_or(500))
    .bind(&record.body)
    .bind(record.expires_at)
    .execute(&mut **tx)
    .await
    .map_err(idempotency_error)?;
    Ok(())
}

async fn store_idempotency_sqlite(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    record: &IdempotencyRecord,
) -> Result<(), AppendError> {
    sqlx::query("DELETE FROM idempotency_keys WHERE key = ?1 AND expires_at <= ?2")
        .bind(&record.key)
        .bind(record.now)
        .execute(&mut **tx)
        .await
        .map_err(append_error)?;
    sqlx::query(
        "INSERT INTO idempotency_keys (key, fingerprint, status, body, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(&record.key)
    .bind(&record.fingerprint)
    .bind(i64::from(record.status))
    .bind(&record.body)
    .bind(record.expires_at)
    .execute(&mut **tx)
    .await
    .map_err(idempotency_error)?;
    Ok(())
}

fn idempotency_error(error: sqlx::Error) -> AppendError {
    match append_error(error) {
        AppendError::Conflict(_) => AppendError::Conflict("the idempotency key"),
        other => other,
    }
}

impl LedgerEventRepository {
    /// The answer stored under an Idempotency-Key that has not expired at `now` (Unix
    /// seconds): its request fingerprint, status and body.
    pub async fn idempotent_answer(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<(String, u16, String)>, StoreError> {
        let row: Option<(String, i64, String)> = match &*self.backend {
            Backend::Postgres { pool, .. } => sqlx::query_as(
                "SELECT fingerprint, status::bigint, body FROM idempotency_keys WHERE key = $1 AND expires_at > $2",
            )
            .bind(key)
            .bind(now)
            .fetch_optional(pool)
            .await?,
            Backend::Sqlite { pool, .. } => sqlx::query_as(
                "SELECT fingerprint, status, body FROM idempotency_keys WHERE key = ?1 AND expires_at > ?2",
            )
            .bind(key)
            .bind(now)
            .fetch_optional(pool)
            .await?,
        };
        Ok(row.map(|(fingerprint, status, body)| {
            (fingerprint, u16::try_from(status).unwrap_or(500), body)
        }))
    }

    /// Forgets the keys expired at `now` (Unix seconds); returns how many.
    pub async fn purge_idempotency_keys(&self, now: i64) -> Result<u64, StoreError> {
        Ok(match &*self.backend {
            Backend::Postgres { pool, .. } => {
                sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
                    .bind(now)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
            Backend::Sqlite { pool, .. } => {
                sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= ?1")
                    .bind(now)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
        })
    }
}

/// One stored event as the events endpoint shows it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
    pub stored_at: String,
}

fn sequence_i64(sequence: usize) -> i64 {
    i64::try_from(sequence).expect("an event sequence fits in i64")
}

fn number_i64(number: InvoiceNumber) -> i64 {
    i64::try_from(number.value()).expect("an invoice number fits in i64")
}

/// Takes `number` from the operator-wide counter: only if it is exactly the next one.
async fn claim_invoice_number_pg(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    number: InvoiceNumber,
    event: &SerializedEvent,
) -> Result<(), AppendError> {
    let taken = sqlx::query(
        "UPDATE invoice_counter SET last_number = $1 WHERE id = 1 AND last_number = $1 - 1",
    )
    .bind(number_i64(number))
    .execute(&mut **tx)
    .await
    .map_err(append_error)?;
    if taken.rows_affected() != 1 {
        return Err(AppendError::Conflict("the invoice number"));
    }
    sqlx::query("INSERT INTO invoice_numbers (number, aggregate_id, sequence) VALUES ($1, $2, $3)")
        .bind(number_i64(number))
        .bind(&event.aggregate_id)
        .bind(sequence_i64(event.sequence))
        .execute(&mut **tx)
        .await
        .map_err(append_error)?;
    Ok(())
}

async fn claim_invoice_number_sqlite(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    number: InvoiceNumber,
    event: &SerializedEvent,
) -> Result<(), AppendError> {
    let taken = sqlx::query(
        "UPDATE invoice_counter SET last_number = ?1 WHERE id = 1 AND last_number = ?1 - 1",
    )
    .bind(number_i64(number))
    .execute(&mut **tx)
    .await
    .map_err(append_error)?;
    if taken.rows_affected() != 1 {
        return Err(AppendError::Conflict("the invoice number"));
    }
    sqlx::query("INSERT INTO invoice_numbers (number, aggregate_id, sequence) VALUES (?, ?, ?)")
        .bind(number_i64(number))
        .bind(&event.aggregate_id)
        .bind(sequence_i64(event.sequence))
        .execute(&mut **tx)
        .await
        .map_err(append_error)?;
    Ok(())
}

/// cqrs-es reads through the crates' repositories and writes through the ledger's
/// append. Snapshots are never used (CQRS-ES-NOTES.md: 0.5 corrupts them).
impl PersistedEventRepository for LedgerEventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match &*self.backend {
            Backend::Postgres { reads, .. } => reads.get_events::<A>(aggregate_id).await,
            Backend::Sqlite { reads, .. } => reads.get_events::<A>(aggregate_id).await,
        }
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match &*self.backend {
            Backend::Postgres { reads, .. } => {
                reads
                    .get_last_events::<A>(aggregate_id, last_sequence)
                    .await
            }
            Backend::Sqlite { reads, .. } => {
                reads
                    .get_last_events::<A>(aggregate_id, last_sequence)
                    .await
            }
        }
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        _aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        Ok(None)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        assert!(
            snapshot_update.is_none(),
            "the ledger never configures snapshots"
        );
        let _ = events;
        // Appending here would skip the projection that must commit with the events.
        Err(PersistenceError::UnknownError(
            "edoc-ledger appends only through Ledger::execute, which writes the agreement's \
             projection in the same transaction"
                .into(),
        ))
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        match &*self.backend {
            Backend::Postgres { reads, .. } => reads.stream_events::<A>(aggregate_id).await,
            Backend::Sqlite { reads, .. } => reads.stream_events::<A>(aggregate_id).await,
        }
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        match &*self.backend {
            Backend::Postgres { reads, .. } => reads.stream_all_events::<A>().await,
            Backend::Sqlite { reads, .. } => reads.stream_all_events::<A>().await,
        }
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

// ---------------------------------------------------------------------------------------
// The stored projection: agreement_ledgers

/// The table the server reads and writes.
pub const LEDGERS_TABLE: &str = "agreement_ledgers";
/// The table `replay --check` rebuilds into before comparing.
pub const SCRATCH_LEDGERS_TABLE: &str = "agreement_ledgers_scratch";
/// How many rows a rebuild writes per statement: a ledger is tens of KiB of JSON, so a
/// batch is kept small enough to bound memory (TIGER_STYLE) while amortizing round trips.
const REBUILD_BATCH_ROWS: usize = 64;
/// The most agreements one page of the list may hold.
pub const PAGE_SIZE_MAX: u32 = 500;

/// One agreement's stored projection, as a row.
#[derive(Debug, Clone)]
pub struct LedgerRow {
    pub participant_id: String,
    pub version: i64,
    pub status: String,
    pub name: String,
    pub currency: String,
    /// The ledger's stored form ([`AgreementLedger::to_stored`]): compact binary that the
    /// database stores as it is (performance.md).
    pub ledger: Vec<u8>,
}

impl LedgerRow {
    /// The row of a registered agreement's ledger; `None` before registration.
    pub fn of(ledger: &AgreementLedger) -> Result<Option<Self>, StoreError> {
        let (Some(participant_id), Some(status), Some(registration)) = (
            ledger.participant_id(),
            ledger.status(),
            ledger.agreement.registration(),
        ) else {
            return Ok(None);
        };
        Ok(Some(Self {
            participant_id,
            version: i64::try_from(ledger.version)
                .map_err(|_| StoreError::Corrupt("an event sequence beyond i64".into()))?,
            status: status.code().to_owned(),
            name: registration.name.to_string(),
            currency: registration.currency.code().to_owned(),
            ledger: ledger
                .to_stored()
                .map_err(|e| StoreError::Corrupt(format!("a ledger cannot be written: {e}")))?,
        }))
    }

    pub fn decode(&self) -> Result<AgreementLedger, StoreError> {
        AgreementLedger::from_stored(&self.ledger).map_err(|e| {
            StoreError::Corrupt(format!(
                "the stored ledger of {} cannot be read: {e}; run `edoc-ledger replay`",
                self.participant_id
            ))
        })
    }
}

/// Writes one agreement's new events and its ledger row in one statement (a data-modifying
/// `WITH`), so a command costs one round trip to record: the events in their order, the
/// row replaced. A taken sequence fails the whole statement (a conflict).
async fn record_pg<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    events: &[SerializedEvent],
    ledger: Option<&LedgerRow>,
) -> Result<(), AppendError> {
    const EVENTS: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
         FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[])
             WITH ORDINALITY AS e(aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, position)
         ORDER BY position";
    // Built once: this is every command's write.
    static EVENTS_AND_LEDGER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "WITH recorded AS ({EVENTS} RETURNING 1)
             INSERT INTO {LEDGERS_TABLE} (participant_id, version, status, name, currency, ledger)
             VALUES ($8, $9, $10, $11, $12, $13)
             ON CONFLICT (participant_id) DO UPDATE SET version = excluded.version,
                 status = excluded.status, name = excluded.name, currency = excluded.currency,
                 ledger = excluded.ledger"
        )
    });
    let query: &str = match ledger {
        Some(_) => &EVENTS_AND_LEDGER,
        None => EVENTS,
    };
    let column = |f: fn(&SerializedEvent) -> &str| events.iter().map(f).collect::<Vec<_>>();
    let mut statement = sqlx::query(query)
        .bind(column(|e| &e.aggregate_type))
        .bind(column(|e| &e.aggregate_id))
        .bind(
            events
                .iter()
                .map(|e| sequence_i64(e.sequence))
                .collect::<Vec<_>>(),
        )
        .bind(column(|e| &e.event_type))
        .bind(column(|e| &e.event_version))
        .bind(events.iter().map(|e| &e.payload).collect::<Vec<_>>())
        .bind(events.iter().map(|e| &e.metadata).collect::<Vec<_>>());
    if let Some(row) = ledger {
        statement = statement
            .bind(&row.participant_id)
            .bind(row.version)
            .bind(&row.status)
            .bind(&row.name)
            .bind(&row.currency)
            .bind(&row.ledger);
    }
    statement.execute(executor).await.map_err(append_error)?;
    Ok(())
}

async fn upsert_ledger_sqlite(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    table: &str,
    row: &LedgerRow,
) -> Result<(), sqlx::Error> {
    let query = format!(
        "INSERT INTO {table} (participant_id, version, status, name, currency, ledger)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (participant_id) DO UPDATE SET version = excluded.version,
             status = excluded.status, name = excluded.name, currency = excluded.currency,
             ledger = excluded.ledger"
    );
    sqlx::query(&query)
        .bind(&row.participant_id)
        .bind(row.version)
        .bind(&row.status)
        .bind(&row.name)
        .bind(&row.currency)
        .bind(&row.ledger)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn ledger_row_pg(row: &sqlx::postgres::PgRow) -> LedgerRow {
    LedgerRow {
        participant_id: row.get("participant_id"),
        version: row.get("version"),
        status: row.get("status"),
        name: row.get("name"),
        currency: row.get("currency"),
        ledger: row.get("ledger"),
    }
}

fn ledger_row_sqlite(row: &sqlx::sqlite::SqliteRow) -> LedgerRow {
    LedgerRow {
        participant_id: row.get("participant_id"),
        version: row.get("version"),
        status: row.get("status"),
        name: row.get("name"),
        currency: row.get("currency"),
        ledger: row.get("ledger"),
    }
}

const LEDGER_COLUMNS: &str = "participant_id, version, status, name, currency, ledger";
/// The same, of a table aliased `l`.
const LEDGER_COLUMNS_OF_L: &str =
    "l.participant_id, l.version, l.status, l.name, l.currency, l.ledger";

/// A pooled connection held for one command attempt (see
/// [`LedgerEventRepository::command_connection`]).
pub enum CommandConnection {
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
}

/// An agreement's stored projection as the command path reads it.
#[derive(Debug, Clone)]
pub struct StoredAgreementState {
    pub row: LedgerRow,
    /// The hash of the event at the projection's version (`None`: no such event).
    pub head_hash: Option<String>,
    /// The agreement's last event sequence (`None`: no events).
    pub last_sequence: Option<i64>,
    /// The reference stream's last sequence, read in the same round trip: the command
    /// uses the tables it holds when they are at this sequence (api::reference_book).
    pub reference_sequence: i64,
}

/// The reference stream's last sequence as a scalar subquery, added to the reads every
/// command and query makes anyway, so that checking for a newly published version costs
/// no round trip of its own.
const REFERENCE_SEQUENCE: &str = "(SELECT COALESCE(MAX(r.sequence), 0) FROM events r
     WHERE r.aggregate_type = 'ReferenceData' AND r.aggregate_id = 'kz-reference')";

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RebuildCount {
    pub events: u64,
    pub agreements: u64,
}

impl LedgerEventRepository {
    /// One agreement's stored projection.
    pub async fn ledger(&self, participant_id: &str) -> Result<Option<LedgerRow>, StoreError> {
        self.ledger_in(LEDGERS_TABLE, participant_id).await
    }

    /// One agreement's stored projection with what the command path checks it against,
    /// in one round trip: the hash of the event at the projection's version and the
    /// agreement's last event sequence.
    pub async fn agreement_state(
        &self,
        connection: &mut CommandConnection,
        participant_id: &str,
    ) -> Result<Option<StoredAgreementState>, StoreError> {
        // Built once per backend (every command reads its state with it): the backends
        // differ only in how the hash is taken out of the metadata and in placeholders.
        fn query(head_hash: &str, placeholder: &str) -> String {
            format!(
                "SELECT l.participant_id, l.version, l.status, l.name, l.currency, l.ledger,
                        {head_hash} AS head_hash,
                        (SELECT MAX(x.sequence) FROM events x
                         WHERE x.aggregate_type = 'ParticipantAgreement'
                           AND x.aggregate_id = l.participant_id) AS last_sequence,
                        {REFERENCE_SEQUENCE} AS reference_sequence
                 FROM {LEDGERS_TABLE} l
                 LEFT JOIN events e ON e.aggregate_type = 'ParticipantAgreement'
                      AND e.aggregate_id = l.participant_id AND e.sequence = l.version
                 WHERE l.participant_id = {placeholder}"
            )
        }
        static POSTGRES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            query(
                &format!("e.metadata ->> '{}'", crate::hash_chain::HASH_KEY),
                "$1",
            )
        });
        static SQLITE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            query(
                &format!(
                    "json_extract(e.metadata, '$.{}')",
                    crate::hash_chain::HASH_KEY
                ),
                "?",
            )
        });
        Ok(match connection {
            CommandConnection::Postgres(connection) => sqlx::query(&POSTGRES)
                .bind(participant_id)
                .fetch_optional(&mut **connection)
                .await?
                .map(|row| StoredAgreementState {
                    row: ledger_row_pg(&row),
                    head_hash: row.get("head_hash"),
                    last_sequence: row.get("last_sequence"),
                    reference_sequence: row.get("reference_sequence"),
                }),
            CommandConnection::Sqlite(connection) => sqlx::query(&SQLITE)
                .bind(participant_id)
                .fetch_optional(&mut **connection)
                .await?
                .map(|row| StoredAgreementState {
                    row: ledger_row_sqlite(&row),
                    head_hash: row.get("head_hash"),
                    last_sequence: row.get("last_sequence"),
                    reference_sequence: row.get("reference_sequence"),
                }),
        })
    }

    /// One agreement's stored projection (if any) and the reference stream's last
    /// sequence, in one round trip (what an as-of query needs).
    pub async fn ledger_and_reference_sequence(
        &self,
        participant_id: &str,
    ) -> Result<(Option<LedgerRow>, i64), StoreError> {
        fn query(placeholder: &str) -> String {
            format!(
                "SELECT {LEDGER_COLUMNS_OF_L}, s.reference_sequence
                 FROM (SELECT {REFERENCE_SEQUENCE} AS reference_sequence) s
                 LEFT JOIN {LEDGERS_TABLE} l ON l.participant_id = {placeholder}"
            )
        }
        static POSTGRES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| query("$1"));
        static SQLITE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| query("?"));
        Ok(match &*self.backend {
            Backend::Postgres { pool, .. } => {
                let row = sqlx::query(&POSTGRES)
                    .bind(participant_id)
                    .fetch_one(pool)
                    .await?;
                let present: Option<String> = row.get("participant_id");
                (
                    present.map(|_| ledger_row_pg(&row)),
                    row.get("reference_sequence"),
                )
            }
            Backend::Sqlite { pool, .. } => {
                let row = sqlx::query(&SQLITE)
                    .bind(participant_id)
                    .fetch_one(pool)
                    .await?;
                let present: Option<String> = row.get("participant_id");
                (
                    present.map(|_| ledger_row_sqlite(&row)),
                    row.get("reference_sequence"),
                )
            }
        })
    }

    async fn ledger_in(
        &self,
        table: &str,
        participant_id: &str,
    ) -> Result<Option<LedgerRow>, StoreError> {
        Ok(match &*self.backend {
            Backend::Postgres { pool, .. } => {
                let query =
                    format!("SELECT {LEDGER_COLUMNS} FROM {table} WHERE participant_id = $1");
                sqlx::query(&query)
                    .bind(participant_id)
                    .fetch_optional(pool)
                    .await?
                    .as_ref()
                    .map(ledger_row_pg)
            }
            Backend::Sqlite { pool, .. } => {
                let query =
                    format!("SELECT {LEDGER_COLUMNS} FROM {table} WHERE participant_id = ?");
                sqlx::query(&query)
                    .bind(participant_id)
                    .fetch_optional(pool)
                    .await?
                    .as_ref()
                    .map(ledger_row_sqlite)
            }
        })
    }

    /// A page of stored projections by participant id, optionally only those whose
    /// current status is `status`; with the number of rows matching.
    pub async fn ledgers_page(
        &self,
        status: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<LedgerRow>, u64), StoreError> {
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let limit = i64::from(limit.min(PAGE_SIZE_MAX));
        Ok(match &*self.backend {
            Backend::Postgres { pool, .. } => {
                let rows = sqlx::query(&format!(
                    "SELECT {LEDGER_COLUMNS} FROM {LEDGERS_TABLE}
                     WHERE ($1::text IS NULL OR status = $1)
                     ORDER BY participant_id LIMIT $2 OFFSET $3"
                ))
                .bind(status)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
                let total: i64 = sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM {LEDGERS_TABLE} WHERE ($1::text IS NULL OR status = $1)"
                ))
                .bind(status)
                .fetch_one(pool)
                .await?;
                (
                    rows.iter().map(ledger_row_pg).collect(),
                    total.max(0) as u64,
                )
            }
            Backend::Sqlite { pool, .. } => {
                let rows = sqlx::query(&format!(
                    "SELECT {LEDGER_COLUMNS} FROM {LEDGERS_TABLE}
                     WHERE (?1 IS NULL OR status = ?1)
                     ORDER BY participant_id LIMIT ?2 OFFSET ?3"
                ))
                .bind(status)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
                let total: i64 = sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM {LEDGERS_TABLE} WHERE (?1 IS NULL OR status = ?1)"
                ))
                .bind(status)
                .fetch_one(pool)
                .await?;
                (
                    rows.iter().map(ledger_row_sqlite).collect(),
                    total.max(0) as u64,
                )
            }
        })
    }

    /// Calls `visit` with every stored projection of `table`, in participant-id order,
    /// holding one row in memory at a time.
    pub async fn for_each_ledger(
        &self,
        table: &str,
        mut visit: impl FnMut(LedgerRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let query = format!("SELECT {LEDGER_COLUMNS} FROM {table} ORDER BY participant_id");
        match &*self.backend {
            Backend::Postgres { pool, .. } => {
                let mut rows = sqlx::query(&query).fetch(pool);
                while let Some(row) = rows.try_next().await? {
                    visit(ledger_row_pg(&row))?;
                }
            }
            Backend::Sqlite { pool, .. } => {
                let mut rows = sqlx::query(&query).fetch(pool);
                while let Some(row) = rows.try_next().await? {
                    visit(ledger_row_sqlite(&row))?;
                }
            }
        }
        Ok(())
    }

    /// The participants whose row differs between the stored and the scratch table, with
    /// whether each table has one; and how many rows were compared. The comparison runs
    /// in the database, on the stored bytes: the stored form is deterministic (equal
    /// ledgers, equal bytes; its maps are sorted).
    pub async fn differing_ledgers(&self) -> Result<(Vec<(String, bool, bool)>, u64), StoreError> {
        let query = format!(
            "SELECT COALESCE(s.participant_id, r.participant_id) AS participant_id,
                    s.participant_id IS NOT NULL AS in_stored,
                    r.participant_id IS NOT NULL AS in_replay
             FROM {LEDGERS_TABLE} s FULL OUTER JOIN {SCRATCH_LEDGERS_TABLE} r
               ON s.participant_id = r.participant_id
             WHERE s.participant_id IS NULL OR r.participant_id IS NULL
                OR s.version <> r.version OR s.status <> r.status OR s.name <> r.name
                OR s.currency <> r.currency OR s.ledger <> r.ledger
             ORDER BY 1"
        );
        let count = format!(
            "SELECT COUNT(*) FROM (SELECT participant_id FROM {LEDGERS_TABLE}
             UNION SELECT participant_id FROM {SCRATCH_LEDGERS_TABLE}) AS ids"
        );
        Ok(match &*self.backend {
            Backend::Postgres { pool, .. } => {
                let rows = sqlx::query(&query).fetch_all(pool).await?;
                let compared: i64 = sqlx::query_scalar(&count).fetch_one(pool).await?;
                (
                    rows.iter()
                        .map(|r| {
                            (
                                r.get("participant_id"),
                                r.get("in_stored"),
                                r.get("in_replay"),
                            )
                        })
                        .collect(),
                    compared.max(0) as u64,
                )
            }
            Backend::Sqlite { pool, .. } => {
                let rows = sqlx::query(&query).fetch_all(pool).await?;
                let compared: i64 = sqlx::query_scalar(&count).fetch_one(pool).await?;
                (
                    rows.iter()
                        .map(|r| {
                            (
                                r.get("participant_id"),
                                r.get("in_stored"),
                                r.get("in_replay"),
                            )
                        })
                        .collect(),
                    compared.max(0) as u64,
                )
            }
        })
    }

    /// One row of the scratch table `replay --check` fills.
    pub async fn scratch_ledger(
        &self,
        participant_id: &str,
    ) -> Result<Option<LedgerRow>, StoreError> {
        self.ledger_in(SCRATCH_LEDGERS_TABLE, participant_id).await
    }

    /// Every participant with a stored projection, in order.
    pub async fn participant_ids(&self) -> Result<Vec<String>, StoreError> {
        let query = format!("SELECT participant_id FROM {LEDGERS_TABLE} ORDER BY participant_id");
        Ok(match &*self.backend {
            Backend::Postgres { pool, .. } => sqlx::query_scalar(&query).fetch_all(pool).await?,
            Backend::Sqlite { pool, .. } => sqlx::query_scalar(&query).fetch_all(pool).await?,
        })
    }

    /// The date of the latest sweep that started, if any (`YYYY-MM-DD`).
    pub async fn latest_sweep_date(&self) -> Result<Option<String>, StoreError> {
        const QUERY: &str = "SELECT MAX(as_of) FROM sweeps";
        Ok(match &*self.backend {
            Backend::Postgres { pool, .. } => sqlx::query_scalar(QUERY).fetch_one(pool).await?,
            Backend::Sqlite { pool, .. } => sqlx::query_scalar(QUERY).fetch_one(pool).await?,
        })
    }

    /// Records that a sweep started.
    pub async fn start_sweep(&self, id: &str, as_of: &str) -> Result<(), StoreError> {
        match &*self.backend {
            Backend::Postgres { pool, .. } => {
                sqlx::query("INSERT INTO sweeps (id, as_of) VALUES ($1, $2)")
                    .bind(id)
                    .bind(as_of)
                    .execute(pool)
                    .await?;
            }
            Backend::Sqlite { pool, .. } => {
                sqlx::query("INSERT INTO sweeps (id, as_of) VALUES (?, ?)")
                    .bind(id)
                    .bind(as_of)
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Records that a sweep finished, with what it did.
    pub async fn finish_sweep(&self, id: &str, summary: &Value) -> Result<(), StoreError> {
        match &*self.backend {
            Backend::Postgres { pool, .. } => {
                sqlx::query("UPDATE sweeps SET finished_at = now(), summary = $2 WHERE id = $1")
                    .bind(id)
                    .bind(summary)
                    .execute(pool)
                    .await?;
            }
            Backend::Sqlite { pool, .. } => {
                sqlx::query(
                    "UPDATE sweeps SET finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), summary = ? WHERE id = ?",
                )
                .bind(sqlx::types::Json(summary))
                .bind(id)
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Recomputes every agreement's hash chain from the stored events (issue 5): the
    /// count of events and streams checked, and the first broken event if any (in
    /// participant order). `progress` sees the number of events checked.
    pub async fn verify_chains(
        &self,
        mut progress: impl FnMut(u64),
    ) -> Result<crate::hash_chain::VerifyReport, StoreError> {
        let query = "SELECT aggregate_id, sequence, event_type, event_version, payload, metadata
                     FROM events WHERE aggregate_type IN ('ParticipantAgreement', 'ReferenceData')
                     ORDER BY aggregate_id, sequence";
        let mut report = crate::hash_chain::VerifyReport::default();
        let mut stream: Vec<(i64, String, String, Value, Value)> = Vec::new();
        let mut current: Option<String> = None;
        let push = |report: &mut crate::hash_chain::VerifyReport,
                    current: &mut Option<String>,
                    stream: &mut Vec<(i64, String, String, Value, Value)>,
                    row: Option<(String, i64, String, String, Value, Value)>| {
            let next_id = row.as_ref().map(|r| r.0.clone());
            if current.is_some() && current.as_ref() != next_id.as_ref() {
                let id = current.take().unwrap_or_default();
                report.streams_checked += 1;
                if report.first_broken.is_none() {
                    if let Err(broken) = crate::hash_chain::verify_stream(&id, stream) {
                        report.first_broken = Some(broken);
                    }
                }
                stream.clear();
            }
            if let Some((id, sequence, event_type, event_version, payload, metadata)) = row {
                *current = Some(id);
                stream.push((sequence, event_type, event_version, payload, metadata));
                report.events_checked += 1;
            }
        };
        match &*self.backend {
            Backend::Postgres { pool, .. } => {
                let mut rows = sqlx::query(query).fetch(pool);
                while let Some(row) = rows.try_next().await? {
                    push(
                        &mut report,
                        &mut current,
                        &mut stream,
                        Some((
                            row.get("aggregate_id"),
                            row.get("sequence"),
                            row.get("event_type"),
                            row.get("event_version"),
                            row.get("payload"),
                            row.get("metadata"),
                        )),
                    );
                    if report.events_checked % 1000 == 0 {
                        progress(report.events_checked);
                    }
                }
            }
            Backend::Sqlite { pool, .. } => {
                let mut rows = sqlx::query(query).fetch(pool);
                while let Some(row) = rows.try_next().await? {
                    push(
                        &mut report,
                        &mut current,
                        &mut stream,
                        Some((
                            row.get("aggregate_id"),
                            row.get("sequence"),
                            row.get("event_type"),
                            row.get("event_version"),
                            row.get::<sqlx::types::Json<Value>, _>("payload").0,
                            row.get::<sqlx::types::Json<Value>, _>("metadata").0,
                        )),
                    );
                    if report.events_checked % 1000 == 0 {
                        progress(report.events_checked);
                    }
                }
            }
        }
        push(&mut report, &mut current, &mut stream, None);
        progress(report.events_checked);
        report.ok = report.first_broken.is_none();
        Ok(report)
    }

    /// The head (last sequence and its hash) of every agreement's chain, in order, and
    /// the number of events.
    pub async fn chain_heads(
        &self,
    ) -> Result<(Vec<crate::hash_chain::StreamHead>, u64), StoreError> {
        let query = "SELECT e.aggregate_id, e.sequence, e.metadata FROM events e
             JOIN (SELECT aggregate_id, MAX(sequence) AS last FROM events
                   WHERE aggregate_type IN ('ParticipantAgreement', 'ReferenceData') GROUP BY aggregate_id) h
               ON e.aggregate_id = h.aggregate_id AND e.sequence = h.last
             WHERE e.aggregate_type IN ('ParticipantAgreement', 'ReferenceData')
             ORDER BY e.aggregate_id";
        let head = |id: String, sequence: i64, metadata: Value| crate::hash_chain::StreamHead {
            participant_id: id,
            sequence,
            hash: metadata
                .get(crate::hash_chain::HASH_KEY)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        };
        let heads: Vec<crate::hash_chain::StreamHead> = match &*self.backend {
            Backend::Postgres { pool, .. } => sqlx::query(query)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| head(r.get("aggregate_id"), r.get("sequence"), r.get("metadata")))
                .collect(),
            Backend::Sqlite { pool, .. } => sqlx::query(query)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    head(
                        r.get("aggregate_id"),
                        r.get("sequence"),
                        r.get::<sqlx::types::Json<Value>, _>("metadata").0,
                    )
                })
                .collect(),
        };
        let events = u64::try_from(self.count_events().await?).unwrap_or(0);
        Ok((heads, events))
    }

    /// The stored hash of one event, if it exists.
    pub async fn event_hash_at(
        &self,
        participant_id: &str,
        sequence: i64,
    ) -> Result<Option<String>, StoreError> {
        let metadata: Option<Value> = match &*self.backend {
            Backend::Postgres { pool, .. } => sqlx::query_scalar(
                "SELECT metadata FROM events WHERE aggregate_type IN ('ParticipantAgreement', 'ReferenceData') AND aggregate_id = $1 AND sequence = $2",
            )
            .bind(participant_id)
            .bind(sequence)
            .fetch_optional(pool)
            .await?,
            Backend::Sqlite { pool, .. } => sqlx::query_scalar::<_, sqlx::types::Json<Value>>(
                "SELECT metadata FROM events WHERE aggregate_type IN ('ParticipantAgreement', 'ReferenceData') AND aggregate_id = ? AND sequence = ?",
            )
            .bind(participant_id)
            .bind(sequence)
            .fetch_optional(pool)
            .await?
            .map(|json| json.0),
        };
        Ok(metadata.and_then(|m| {
            m.get(crate::hash_chain::HASH_KEY)
                .and_then(Value::as_str)
                .map(str::to_owned)
        }))
    }

    /// How many agreements have events, and how many have a stored projection this
    /// program reads (in its `STORED_FORMAT`).
    pub async fn projection_coverage(&self) -> Result<(i64, i64), StoreError> {
        let with_events = "SELECT COUNT(DISTINCT aggregate_id) FROM events WHERE aggregate_type = 'ParticipantAgreement'";
        // Only rows in the format this program reads count: a release that bumps
        // `AgreementLedger::STORED_FORMAT` rebuilds the older rows when it starts.
        let format = AgreementLedger::STORED_FORMAT;
        Ok(match &*self.backend {
            Backend::Postgres { pool, .. } => (
                sqlx::query_scalar(with_events).fetch_one(pool).await?,
                sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM {LEDGERS_TABLE} WHERE get_byte(ledger, 0) = {format}"
                ))
                .fetch_one(pool)
                .await?,
            ),
            Backend::Sqlite { pool, .. } => (
                sqlx::query_scalar(with_events).fetch_one(pool).await?,
                sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM {LEDGERS_TABLE} WHERE hex(substr(ledger, 1, 1)) = '{format:02X}'"
                ))
                .fetch_one(pool)
                .await?,
            ),
        })
    }

    /// Rebuilds `table` from the event store in one transaction: empties it, folds every
    /// agreement's events in order into its ledger and writes it. `progress` is called
    /// with the number of events folded so far. Readers see the old table until commit.
    pub async fn rebuild_ledgers(
        &self,
        table: &str,
        mut progress: impl FnMut(u64),
    ) -> Result<RebuildCount, StoreError> {
        assert!(table == LEDGERS_TABLE || table == SCRATCH_LEDGERS_TABLE);
        let events_query =
            "SELECT aggregate_id, sequence, event_type, event_version, payload FROM events
             WHERE aggregate_type = 'ParticipantAgreement' ORDER BY aggregate_id, sequence";
        let mut count = RebuildCount::default();
        let mut folding = LedgerFold::default();
        match &*self.backend {
            Backend::Postgres { pool, .. } => {
                let mut tx = pool.begin().await?;
                if table == SCRATCH_LEDGERS_TABLE {
                    sqlx::query(&format!(
                        "CREATE TABLE IF NOT EXISTS {table} (LIKE {LEDGERS_TABLE} INCLUDING ALL)"
                    ))
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(&format!("DELETE FROM {table}"))
                    .execute(&mut *tx)
                    .await?;
                let mut batch = Vec::with_capacity(REBUILD_BATCH_ROWS);
                let mut rows = sqlx::query(events_query).fetch(pool);
                while let Some(row) = rows.try_next().await? {
                    let id: String = row.get("aggregate_id");
                    let sequence: i64 = row.get("sequence");
                    let payload: Value = row.get("payload");
                    let kind = (row.get("event_type"), row.get("event_version"));
                    if let Some(done) = folding.push(id, sequence, kind, payload)? {
                        batch.push(done);
                    }
                    count.events += 1;
                    if count.events % 1000 == 0 {
                        progress(count.events);
                    }
                    if batch.len() >= REBUILD_BATCH_ROWS {
                        count.agreements +=
                            insert_ledgers_pg(&mut tx, table, std::mem::take(&mut batch)).await?;
                    }
                }
                drop(rows);
                if let Some(done) = folding.finish()? {
                    batch.push(done);
                }
                count.agreements += insert_ledgers_pg(&mut tx, table, batch).await?;
                tx.commit().await?;
            }
            Backend::Sqlite { pool, .. } => {
                // Read everything first: SQLite's one writer would otherwise wait on the
                // reader's connection; the events of the embedded store fit in memory.
                let rows = sqlx::query(events_query).fetch_all(pool).await?;
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                if table == SCRATCH_LEDGERS_TABLE {
                    sqlx::query(&format!(
                        "CREATE TABLE IF NOT EXISTS {table} (
                            participant_id text PRIMARY KEY, version integer NOT NULL,
                            status text NOT NULL, name text NOT NULL, currency text NOT NULL,
                            ledger blob NOT NULL) STRICT"
                    ))
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(&format!("DELETE FROM {table}"))
                    .execute(&mut *tx)
                    .await?;
                for row in rows {
                    let id: String = row.get("aggregate_id");
                    let sequence: i64 = row.get("sequence");
                    let payload: Value = row.get::<sqlx::types::Json<Value>, _>("payload").0;
                    let kind = (row.get("event_type"), row.get("event_version"));
                    if let Some(done) = folding.push(id, sequence, kind, payload)? {
                        upsert_ledger_sqlite(&mut tx, table, &done).await?;
                        count.agreements += 1;
                    }
                    count.events += 1;
                    if count.events % 1000 == 0 {
                        progress(count.events);
                    }
                }
                if let Some(done) = folding.finish()? {
                    upsert_ledger_sqlite(&mut tx, table, &done).await?;
                    count.agreements += 1;
                }
                tx.commit().await?;
            }
        }
        progress(count.events);
        Ok(count)
    }
}

async fn insert_ledgers_pg(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    table: &str,
    rows: Vec<LedgerRow>,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let count = rows.len() as u64;
    let mut ids = Vec::with_capacity(rows.len());
    let mut versions = Vec::with_capacity(rows.len());
    let mut statuses = Vec::with_capacity(rows.len());
    let mut names = Vec::with_capacity(rows.len());
    let mut currencies = Vec::with_capacity(rows.len());
    let mut ledgers = Vec::with_capacity(rows.len());
    for row in rows {
        ids.push(row.participant_id);
        versions.push(row.version);
        statuses.push(row.status);
        names.push(row.name);
        currencies.push(row.currency);
        ledgers.push(row.ledger);
    }
    let query = format!(
        "INSERT INTO {table} (participant_id, version, status, name, currency, ledger)
         SELECT id, version, status, name, currency, ledger
         FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bytea[])
             AS t(id, version, status, name, currency, ledger)"
    );
    sqlx::query(&query)
        .bind(ids)
        .bind(versions)
        .bind(statuses)
        .bind(names)
        .bind(currencies)
        .bind(ledgers)
        .execute(&mut **tx)
        .await?;
    Ok(count)
}

/// Folds a stream of events ordered by agreement and sequence into one ledger at a time.
#[derive(Default)]
struct LedgerFold {
    current: Option<(String, AgreementLedger)>,
}

impl LedgerFold {
    /// Folds one event; returns the previous agreement's row when a new agreement starts.
    fn push(
        &mut self,
        aggregate_id: String,
        sequence: i64,
        (event_type, event_version): (String, String),
        payload: Value,
    ) -> Result<Option<LedgerRow>, StoreError> {
        let event: AgreementEvent = events::upcast::decode(&event_type, &event_version, payload)
            .map_err(|e| {
                StoreError::Corrupt(format!(
                    "event {aggregate_id}/{sequence} cannot be read: {e}"
                ))
            })?;
        let sequence = u64::try_from(sequence)
            .map_err(|_| StoreError::Corrupt(format!("event {aggregate_id}/{sequence}")))?;
        let finished = match &self.current {
            Some((id, _)) if *id == aggregate_id => None,
            _ => self.finish()?,
        };
        let (_, ledger) = self
            .current
            .get_or_insert_with(|| (aggregate_id, AgreementLedger::default()));
        if sequence != ledger.version + 1 {
            return Err(StoreError::Corrupt(format!(
                "events of one agreement skip from sequence {} to {sequence}",
                ledger.version
            )));
        }
        ledger.apply(sequence, &event);
        Ok(finished)
    }

    fn finish(&mut self) -> Result<Option<LedgerRow>, StoreError> {
        match self.current.take() {
            Some((_, ledger)) => LedgerRow::of(&ledger),
            None => Ok(None),
        }
    }
}
