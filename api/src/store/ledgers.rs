//! The stored projections (`agreement_ledgers`): one row per agreement, written with its
//! events; the command path's state read, paging, rebuild and comparison.

use super::*;

/// The table the server reads and writes.
pub const LEDGERS_TABLE: &str = "agreement_ledgers";

/// The table `replay --check` rebuilds into before comparing.
pub const SCRATCH_LEDGERS_TABLE: &str = "agreement_ledgers_scratch";

/// How many rows a rebuild writes per statement: a ledger is tens of KiB of JSON, so a
/// batch is kept small enough to bound memory (TIGER_STYLE) while amortizing round trips.
pub(super) const REBUILD_BATCH_ROWS: usize = 64;

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

/// Writes an agreement's row into `table`, replacing the one it had; `first` numbers the
/// first of its six placeholders (bound by [`bind_ledger_row`]).
pub(super) fn upsert_ledger_sql(table: &str, first: usize) -> String {
    let [id, version, status, name, currency, ledger] = std::array::from_fn(|i| first + i);
    format!(
        "INSERT INTO {table} (participant_id, version, status, name, currency, ledger)
         VALUES (${id}, ${version}, ${status}, ${name}, ${currency}, ${ledger})
         ON CONFLICT (participant_id) DO UPDATE SET version = excluded.version,
             status = excluded.status, name = excluded.name, currency = excluded.currency,
             ledger = excluded.ledger"
    )
}

/// Binds a row's columns in the order [`upsert_ledger_sql`] names them.
pub(super) fn bind_ledger_row<'q, DB: sqlx::Database>(
    statement: sqlx::query::Query<'q, DB, DB::Arguments<'q>>,
    row: &'q LedgerRow,
) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>>
where
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    statement
        .bind(row.participant_id.as_str())
        .bind(row.version)
        .bind(row.status.as_str())
        .bind(row.name.as_str())
        .bind(row.currency.as_str())
        .bind(row.ledger.as_slice())
}

pub(super) async fn upsert_ledger_sqlite(
    connection: &mut sqlx::SqliteConnection,
    table: &str,
    row: &LedgerRow,
) -> Result<(), sqlx::Error> {
    let query = upsert_ledger_sql(table, 1);
    bind_ledger_row(sqlx::query(&query), row)
        .execute(connection)
        .await?;
    Ok(())
}

/// A row of either database with the columns [`LEDGER_COLUMNS`] names.
pub(super) fn ledger_row<R: Row>(row: &R) -> LedgerRow
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    LedgerRow {
        participant_id: row.get("participant_id"),
        version: row.get("version"),
        status: row.get("status"),
        name: row.get("name"),
        currency: row.get("currency"),
        ledger: row.get("ledger"),
    }
}

pub(super) const LEDGER_COLUMNS: &str = "participant_id, version, status, name, currency, ledger";

/// The same, of a table aliased `l`.
pub(super) const LEDGER_COLUMNS_OF_L: &str =
    "l.participant_id, l.version, l.status, l.name, l.currency, l.ledger";

/// An agreement's stored projection as the command path reads it.
#[derive(Debug, Clone)]
pub struct StoredAgreementState {
    pub row: LedgerRow,
    /// The hash of the event at the projection's version (`None`: no such event).
    pub head_hash: Option<String>,
    /// The agreement's last event sequence (`None`: no events).
    pub last_sequence: Option<i64>,
    /// The reference stream's last sequence, read in the same round trip: the command
    /// uses the tables it holds when they are at this sequence (api::application::reference_book).
    pub reference_sequence: i64,
}

/// The reference stream's last sequence as a scalar subquery, added to the reads every
/// command and query makes anyway, so that checking for a newly published version costs
/// no round trip of its own.
pub(super) const REFERENCE_SEQUENCE: &str = "(SELECT COALESCE(MAX(r.sequence), 0) FROM events r
     WHERE r.aggregate_type = 'ReferenceData' AND r.aggregate_id = 'kz-reference')";

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RebuildCount {
    pub events: u64,
    pub agreements: u64,
}

pub(super) async fn insert_ledgers_pg(
    connection: &mut sqlx::PgConnection,
    table: &str,
    rows: Vec<LedgerRow>,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let query = format!(
        "INSERT INTO {table} (participant_id, version, status, name, currency, ledger)
         SELECT id, version, status, name, currency, ledger
         FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bytea[])
             AS t(id, version, status, name, currency, ledger)"
    );
    sqlx::query(&query)
        .bind(column(&rows, |r| &r.participant_id))
        .bind(column(&rows, |r| r.version))
        .bind(column(&rows, |r| &r.status))
        .bind(column(&rows, |r| &r.name))
        .bind(column(&rows, |r| &r.currency))
        .bind(column(&rows, |r| &r.ledger))
        .execute(connection)
        .await?;
    Ok(rows.len() as u64)
}

impl Transaction<'_> {
    /// Writes rows into `table`, which a rebuild has emptied: PostgreSQL in one statement,
    /// SQLite a statement per row.
    async fn insert_ledgers(
        &mut self,
        table: &str,
        rows: Vec<LedgerRow>,
    ) -> Result<u64, StoreError> {
        match self {
            Transaction::Postgres(tx) => insert_ledgers_pg(tx, table, rows).await,
            Transaction::Sqlite(tx) => {
                for row in &rows {
                    upsert_ledger_sqlite(tx, table, row).await?;
                }
                Ok(rows.len() as u64)
            }
        }
    }
}

/// Folds a stream of events ordered by agreement and sequence into one ledger at a time.
#[derive(Default)]
pub(super) struct LedgerFold {
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
        // Built once per dialect (every command reads its state with it): they differ
        // only in how the hash is taken out of the metadata.
        fn query(head_hash: &str) -> String {
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
                 WHERE l.participant_id = $1"
            )
        }
        static POSTGRES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            query(&format!("e.metadata ->> '{}'", crate::hash_chain::HASH_KEY))
        });
        static SQLITE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            query(&format!(
                "json_extract(e.metadata, '$.{}')",
                crate::hash_chain::HASH_KEY
            ))
        });
        on_connection!(connection, |connection, dialect| {
            let query: &str = dialect.pick(&POSTGRES, &SQLITE);
            Ok(sqlx::query(query)
                .bind(participant_id)
                .fetch_optional(&mut **connection)
                .await?
                .map(|row| StoredAgreementState {
                    row: ledger_row(&row),
                    head_hash: row.get("head_hash"),
                    last_sequence: row.get("last_sequence"),
                    reference_sequence: row.get("reference_sequence"),
                }))
        })
    }

    /// One agreement's stored projection (if any) and the reference stream's last
    /// sequence, in one round trip (what an as-of query needs).
    pub async fn ledger_and_reference_sequence(
        &self,
        participant_id: &str,
    ) -> Result<(Option<LedgerRow>, i64), StoreError> {
        static QUERY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT {LEDGER_COLUMNS_OF_L}, s.reference_sequence
                 FROM (SELECT {REFERENCE_SEQUENCE} AS reference_sequence) s
                 LEFT JOIN {LEDGERS_TABLE} l ON l.participant_id = $1"
            )
        });
        on_pool!(&*self.backend, |pool, _dialect| {
            let row = sqlx::query(&QUERY)
                .bind(participant_id)
                .fetch_one(pool)
                .await?;
            let present: Option<String> = row.get("participant_id");
            Ok((
                present.map(|_| ledger_row(&row)),
                row.get("reference_sequence"),
            ))
        })
    }

    async fn ledger_in(
        &self,
        table: &str,
        participant_id: &str,
    ) -> Result<Option<LedgerRow>, StoreError> {
        let query = format!("SELECT {LEDGER_COLUMNS} FROM {table} WHERE participant_id = $1");
        on_pool!(&*self.backend, |pool, _dialect| {
            Ok(sqlx::query(&query)
                .bind(participant_id)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(ledger_row))
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
        on_pool!(&*self.backend, |pool, dialect| {
            let status_is_null = dialect.pick("$1::text IS NULL", "$1 IS NULL");
            let rows = sqlx::query(&format!(
                "SELECT {LEDGER_COLUMNS} FROM {LEDGERS_TABLE}
                 WHERE ({status_is_null} OR status = $1)
                 ORDER BY participant_id LIMIT $2 OFFSET $3"
            ))
            .bind(status)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
            let total: i64 = sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM {LEDGERS_TABLE} WHERE ({status_is_null} OR status = $1)"
            ))
            .bind(status)
            .fetch_one(pool)
            .await?;
            Ok((rows.iter().map(ledger_row).collect(), total.max(0) as u64))
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
        on_pool!(&*self.backend, |pool, _dialect| {
            let mut rows = sqlx::query(&query).fetch(pool);
            while let Some(row) = rows.try_next().await? {
                visit(ledger_row(&row))?;
            }
        });
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
        on_pool!(&*self.backend, |pool, _dialect| {
            let rows = sqlx::query(&query).fetch_all(pool).await?;
            let compared: i64 = sqlx::query_scalar(&count).fetch_one(pool).await?;
            Ok((
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
            ))
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
        on_pool!(&*self.backend, |pool, _dialect| {
            Ok(sqlx::query_scalar(&query).fetch_all(pool).await?)
        })
    }

    /// How many agreements have events, and how many have a stored projection this
    /// program reads (in its `STORED_FORMAT`).
    pub async fn projection_coverage(&self) -> Result<(i64, i64), StoreError> {
        let with_events = "SELECT COUNT(DISTINCT aggregate_id) FROM events WHERE aggregate_type = 'ParticipantAgreement'";
        // Only rows in the format this program reads count: a release that bumps
        // `AgreementLedger::STORED_FORMAT` rebuilds the older rows when it starts.
        let format = AgreementLedger::STORED_FORMAT;
        on_pool!(&*self.backend, |pool, dialect| {
            let first_byte_is_format = match dialect {
                Dialect::Postgres => format!("get_byte(ledger, 0) = {format}"),
                Dialect::Sqlite => format!("hex(substr(ledger, 1, 1)) = '{format:02X}'"),
            };
            Ok((
                sqlx::query_scalar(with_events).fetch_one(pool).await?,
                sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM {LEDGERS_TABLE} WHERE {first_byte_is_format}"
                ))
                .fetch_one(pool)
                .await?,
            ))
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
        on_pool!(&*self.backend, |pool, dialect| {
            let mut rows = match dialect {
                // Streamed, on a connection of its own: the statement runs when the
                // stream is first polled, once the transaction has begun.
                Dialect::Postgres => sqlx::query(events_query).fetch(pool),
                // Read everything first: SQLite's one writer would otherwise wait on the
                // reader's connection; the events of the embedded store fit in memory.
                Dialect::Sqlite => {
                    let rows = sqlx::query(events_query).fetch_all(pool).await?;
                    futures::stream::iter(rows.into_iter().map(Ok)).boxed()
                }
            };
            let mut tx = Transaction::from(pool.begin_with(dialect.begin()).await?);
            if table == SCRATCH_LEDGERS_TABLE {
                tx.execute(&match dialect {
                    Dialect::Postgres => format!(
                        "CREATE TABLE IF NOT EXISTS {table} (LIKE {LEDGERS_TABLE} INCLUDING ALL)"
                    ),
                    Dialect::Sqlite => format!(
                        "CREATE TABLE IF NOT EXISTS {table} (
                            participant_id text PRIMARY KEY, version integer NOT NULL,
                            status text NOT NULL, name text NOT NULL, currency text NOT NULL,
                            ledger blob NOT NULL) STRICT"
                    ),
                })
                .await?;
            }
            tx.execute(&format!("DELETE FROM {table}")).await?;
            let mut batch = Vec::with_capacity(REBUILD_BATCH_ROWS);
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
                        tx.insert_ledgers(table, std::mem::take(&mut batch)).await?;
                }
            }
            drop(rows);
            if let Some(done) = folding.finish()? {
                batch.push(done);
            }
            count.agreements += tx.insert_ledgers(table, batch).await?;
            tx.commit().await?;
        });
        progress(count.events);
        Ok(count)
    }
}
