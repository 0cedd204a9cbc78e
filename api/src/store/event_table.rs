//! The events table: appends (events, invoice numbers, ledger row and Idempotency-Key in
//! one statement or transaction), reads of a stream, the chains' verification and heads,
//! and cqrs-es's repository interface.

use super::*;

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

pub(super) fn sequence_i64(sequence: usize) -> i64 {
    i64::try_from(sequence).expect("an event sequence fits in i64")
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

/// Writes one agreement's new events and its ledger row in one statement (a data-modifying
/// `WITH`), so a command costs one round trip to record: the events in their order, the
/// row replaced. A taken sequence fails the whole statement (a conflict).
pub(super) async fn record_pg<'e>(
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

impl LedgerEventRepository {
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
}
