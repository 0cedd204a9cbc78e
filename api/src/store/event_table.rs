//! The events table: appends (events, invoice numbers, ledger row and Idempotency-Key in
//! one statement or transaction), reads of a stream, the chains' verification and heads,
//! the export's scan, and cqrs-es's repository interface.

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

/// One row of the events table with every column an export carries.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
    pub global_position: i64,
    /// When the row was written (RFC 3339, UTC).
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
        on_backend!(&*self.backend, reads, |reads, _dialect| {
            reads.get_events::<A>(aggregate_id).await
        })
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        on_backend!(&*self.backend, reads, |reads, _dialect| {
            reads
                .get_last_events::<A>(aggregate_id, last_sequence)
                .await
        })
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
        on_backend!(&*self.backend, reads, |reads, _dialect| {
            reads.stream_events::<A>(aggregate_id).await
        })
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        on_backend!(&*self.backend, reads, |reads, _dialect| {
            reads.stream_all_events::<A>().await
        })
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
            "WITH recorded AS ({EVENTS} RETURNING 1) {}",
            upsert_ledger_sql(LEDGERS_TABLE, 8)
        )
    });
    let query: &str = match ledger {
        Some(_) => &EVENTS_AND_LEDGER,
        None => EVENTS,
    };
    let mut statement = sqlx::query(query)
        .bind(column(events, |e| &e.aggregate_type))
        .bind(column(events, |e| &e.aggregate_id))
        .bind(column(events, |e| sequence_i64(e.sequence)))
        .bind(column(events, |e| &e.event_type))
        .bind(column(events, |e| &e.event_version))
        .bind(column(events, |e| &e.payload))
        .bind(column(events, |e| &e.metadata));
    if let Some(row) = ledger {
        statement = bind_ledger_row(statement, row);
    }
    statement.execute(executor).await.map_err(append_error)?;
    Ok(())
}

/// SQLite's part of an append: a statement per event, each taking the next global
/// position, then the ledger row.
async fn record_sqlite(
    connection: &mut sqlx::SqliteConnection,
    events: &[SerializedEvent],
    ledger: Option<&LedgerRow>,
) -> Result<(), AppendError> {
    for event in events {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, global_position)
             VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT COALESCE(MAX(global_position), 0) + 1 FROM events))",
        )
        .bind(&event.aggregate_type)
        .bind(&event.aggregate_id)
        .bind(sequence_i64(event.sequence))
        .bind(&event.event_type)
        .bind(&event.event_version)
        .bind(&event.payload)
        .bind(&event.metadata)
        .execute(&mut *connection)
        .await
        .map_err(append_error)?;
    }
    if let Some(row) = ledger {
        upsert_ledger_sqlite(connection, LEDGERS_TABLE, row)
            .await
            .map_err(|e| AppendError::Store(e.into()))?;
    }
    Ok(())
}

impl Transaction<'_> {
    /// Writes one agreement's new events and its ledger row.
    pub(super) async fn record(
        &mut self,
        events: &[SerializedEvent],
        ledger: Option<&LedgerRow>,
    ) -> Result<(), AppendError> {
        match self {
            Transaction::Postgres(tx) => record_pg(&mut **tx, events, ledger).await,
            Transaction::Sqlite(tx) => record_sqlite(tx, events, ledger).await,
        }
    }
}

impl LedgerEventRepository {
    /// The global position of one stored event (its place in the order the store
    /// recorded events in); `None` when there is no such event.
    pub async fn global_position_of(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        sequence: i64,
    ) -> Result<Option<i64>, StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            Ok(sqlx::query_scalar(
                "SELECT global_position FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3",
            )
            .bind(aggregate_type)
            .bind(aggregate_id)
            .bind(sequence)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// The global position of a stream's last event (`None` before its first): what a
    /// client that wrote to it must see to read its own write.
    pub async fn stream_head(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            Ok(sqlx::query_scalar(
                "SELECT global_position FROM events WHERE aggregate_type = $1 AND aggregate_id = $2
                 ORDER BY sequence DESC LIMIT 1",
            )
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Whether the event at global position `position` is in this store (on a replica:
    /// replayed, with every transaction committed before it).
    pub async fn has_position(&self, position: i64) -> Result<bool, StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            let found: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM events WHERE global_position = $1")
                    .bind(position)
                    .fetch_optional(pool)
                    .await?;
            Ok(found.is_some())
        })
    }

    /// How many of a stream's events were recorded before global position `before`:
    /// positions grow with a stream's sequence, so they are its first events.
    pub async fn count_events_before(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        before: i64,
    ) -> Result<usize, StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND global_position < $3",
            )
            .bind(aggregate_type)
            .bind(aggregate_id)
            .bind(before)
            .fetch_one(pool)
            .await?;
            Ok(usize::try_from(count).unwrap_or(0))
        })
    }
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
        on_pool!(&*self.backend, |pool, _dialect| {
            Ok(CommandConnection::from(pool.acquire().await?))
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
        self.append_guarded(
            connection,
            events,
            invoice_numbers,
            ledger,
            idempotency,
            None,
        )
        .await
    }

    /// [`Self::append_on`], with a [`PeriodGuard`] for documents dated in a past month:
    /// checked after the events are written (so that on PostgreSQL the write waits for a
    /// close holding the table, and the check then sees its seal) and before the commit.
    pub async fn append_guarded(
        &self,
        connection: &mut CommandConnection,
        events: &[SerializedEvent],
        invoice_numbers: &[InvoiceNumber],
        ledger: Option<&LedgerRow>,
        idempotency: Option<&IdempotencyRecord>,
        guard: Option<super::periods::PeriodGuard>,
    ) -> Result<(), AppendError> {
        let first = events.first();
        if first.is_none() && idempotency.is_none() {
            return Ok(());
        }
        if let Some(first) = first {
            assert!(
                events.iter().all(|e| e.aggregate_id == first.aggregate_id),
                "one append writes one agreement's events"
            );
        }
        if let CommandConnection::Postgres(connection) = &mut *connection {
            if first.is_some()
                && invoice_numbers.is_empty()
                && idempotency.is_none()
                && guard.is_none()
            {
                // One statement, atomic by itself: no BEGIN and COMMIT round trips.
                return record_pg(&mut **connection, events, ledger).await;
            }
        }
        let mut tx = Transaction::begin_on(connection)
            .await
            .map_err(append_error)?;
        if let Some(first) = first {
            for number in invoice_numbers {
                tx.claim_invoice_number(*number, first).await?;
            }
            tx.record(events, ledger).await?;
            if let Some(guard) = guard {
                let closed = tx.closed_through().await?;
                if closed.is_some_and(|closed| guard.earliest_posting <= closed) {
                    return Err(AppendError::Conflict("a period closed meanwhile"));
                }
            }
        }
        if let Some(record) = idempotency {
            tx.store_idempotency(record).await?;
        }
        tx.commit().await.map_err(append_error)?;
        Ok(())
    }

    /// Appends the new events of several agreements, each stream with its ledger row, in
    /// ONE transaction (the batched write path of a bank statement's import): the streams
    /// in the order given, each one's events in order, so global positions follow that
    /// order as single appends one after another would give them. `claims` are the
    /// invoice numbers their documents take, in order, each with its event: claimed by
    /// compare-and-set first (a number taken meanwhile fails the whole append). With a
    /// [`PeriodGuard`](super::periods::PeriodGuard), a month
    /// closed meanwhile over its posting fails the whole append. All or nothing: on a
    /// conflict (a sequence taken meanwhile) nothing is written.
    pub async fn append_streams(
        &self,
        connection: &mut CommandConnection,
        streams: &[(&[SerializedEvent], Option<&LedgerRow>)],
        claims: &[(InvoiceNumber, &SerializedEvent)],
        guard: Option<super::periods::PeriodGuard>,
    ) -> Result<(), AppendError> {
        if streams.iter().all(|(events, _)| events.is_empty()) {
            return Ok(());
        }
        let mut tx = Transaction::begin_on(connection)
            .await
            .map_err(append_error)?;
        tx.claim_invoice_numbers(claims).await?;
        for (events, ledger) in streams {
            let Some(first) = events.first() else {
                continue;
            };
            assert!(
                events.iter().all(|e| e.aggregate_id == first.aggregate_id),
                "each stream of a batch is one agreement's events"
            );
            tx.record(events, *ledger).await?;
        }
        if let Some(guard) = guard {
            let closed = tx.closed_through().await?;
            if closed.is_some_and(|closed| guard.earliest_posting <= closed) {
                return Err(AppendError::Conflict("a period closed meanwhile"));
            }
        }
        tx.commit().await.map_err(append_error)?;
        Ok(())
    }

    /// An agreement's stored events in order, each with the time its row was written.
    pub async fn stored_events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        on_pool!(&*self.backend, |pool, dialect| {
            let query = format!(
                "SELECT sequence, event_type, event_version, payload, metadata, {} AS recorded_at
                 FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
                dialect.utc_text("recorded_at", TO_THE_MICROSECOND)
            );
            Ok(sqlx::query(&query)
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
                .collect())
        })
    }

    /// Calls `visit` with the agreements' events (one participant's, or all) in
    /// participant and sequence order, exactly as stored, and with the whole reference and
    /// period streams (last: their ids sort after every BIN/IIN). The events are read in one
    /// statement, so they are a consistent snapshot of the store.
    pub async fn for_each_event<E: From<StoreError>>(
        &self,
        participant: Option<&str>,
        mut visit: impl FnMut(EventRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let filter = if participant.is_some() {
            "(aggregate_type = 'ParticipantAgreement' AND aggregate_id = $1) OR aggregate_type IN ('ReferenceData', 'LedgerPeriods', 'TariffCatalog')"
        } else {
            "(aggregate_type = 'ParticipantAgreement' AND $1 IS NULL) OR aggregate_type IN ('ReferenceData', 'LedgerPeriods', 'TariffCatalog')"
        };
        on_pool!(&*self.backend, |pool, dialect| {
            let query = format!(
                "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload,
                        metadata, global_position, {} AS stored_at
                 FROM events WHERE {filter}
                 ORDER BY aggregate_id, sequence",
                dialect.utc_text("recorded_at", TO_THE_MICROSECOND)
            );
            let mut rows = sqlx::query(&query).bind(participant).fetch(pool);
            while let Some(row) = rows.try_next().await.map_err(StoreError::from)? {
                visit(EventRow {
                    aggregate_type: row.get("aggregate_type"),
                    aggregate_id: row.get("aggregate_id"),
                    sequence: row.get("sequence"),
                    event_type: row.get("event_type"),
                    event_version: row.get("event_version"),
                    payload: row.get("payload"),
                    metadata: row.get("metadata"),
                    global_position: row.get("global_position"),
                    stored_at: row.get("stored_at"),
                })?;
            }
        });
        Ok(())
    }

    /// The last sequence of the reference stream (0 when empty): one look-up on the
    /// events' primary key, asked before every command and query (api::application::reference_book).
    pub async fn reference_last_sequence(&self) -> Result<i64, StoreError> {
        self.stream_last_sequence(
            events::REFERENCE_AGGREGATE_TYPE,
            events::REFERENCE_STREAM_ID,
        )
        .await
    }

    /// The last sequence of one stream (0 when it has no event): an indexed look-up.
    pub async fn stream_last_sequence(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<i64, StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            Ok(sqlx::query_scalar(
                "SELECT COALESCE(MAX(sequence), 0) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2",
            )
            .bind(aggregate_type)
            .bind(aggregate_id)
            .fetch_one(pool)
            .await?)
        })
    }

    /// How many events the store holds, in all.
    pub async fn count_events(&self) -> Result<i64, StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            Ok(sqlx::query_scalar("SELECT COUNT(*) FROM events")
                .fetch_one(pool)
                .await?)
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
                     FROM events WHERE aggregate_type IN ('ParticipantAgreement', 'ReferenceData', 'LedgerPeriods', 'TariffCatalog')
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
        on_pool!(&*self.backend, |pool, _dialect| {
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
        });
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
                   WHERE aggregate_type IN ('ParticipantAgreement', 'ReferenceData', 'LedgerPeriods', 'TariffCatalog') GROUP BY aggregate_id) h
               ON e.aggregate_id = h.aggregate_id AND e.sequence = h.last
             WHERE e.aggregate_type IN ('ParticipantAgreement', 'ReferenceData', 'LedgerPeriods', 'TariffCatalog')
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
        let heads: Vec<crate::hash_chain::StreamHead> =
            on_pool!(&*self.backend, |pool, _dialect| {
                sqlx::query(query)
                    .fetch_all(pool)
                    .await?
                    .iter()
                    .map(|r| head(r.get("aggregate_id"), r.get("sequence"), r.get("metadata")))
                    .collect()
            });
        let events = u64::try_from(self.count_events().await?).unwrap_or(0);
        Ok((heads, events))
    }

    /// The stored hash of one event, if it exists.
    pub async fn event_hash_at(
        &self,
        participant_id: &str,
        sequence: i64,
    ) -> Result<Option<String>, StoreError> {
        let metadata: Option<Value> = on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query_scalar(
                "SELECT metadata FROM events WHERE aggregate_type IN ('ParticipantAgreement', 'ReferenceData', 'LedgerPeriods', 'TariffCatalog') AND aggregate_id = $1 AND sequence = $2",
            )
            .bind(participant_id)
            .bind(sequence)
            .fetch_optional(pool)
            .await?
        });
        Ok(metadata.and_then(|m| {
            m.get(crate::hash_chain::HASH_KEY)
                .and_then(Value::as_str)
                .map(str::to_owned)
        }))
    }
}
