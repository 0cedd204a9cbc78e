//! Importing an export into an empty store.

use super::*;

/// What [`import`] loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub events: u64,
    pub agreements: u64,
    pub invoice_numbers: u64,
    /// The root of the export's own digest.
    pub export_root: String,
    /// The root of the store's digest after the import: equal to `export_root`.
    pub store_root: String,
}

/// Loads an export into an empty store: verifies the file first (nothing is written
/// when it does not verify), then inserts its events exactly as exported (payload,
/// metadata and hashes, global positions, row times) and the invoice numbers they took in
/// one transaction, builds the stored projections and takes the store's digest, whose
/// root equals the export's. `open` opens the file afresh for each pass.
pub async fn import<R: BufRead>(
    repository: &LedgerEventRepository,
    mut open: impl FnMut() -> std::io::Result<R>,
    mut progress: impl FnMut(&str, u64),
) -> Result<ImportSummary, ExportError> {
    let verification = verify_export(open()?, None, |done| progress("verifying", done))?;
    if let Some(found) = &verification.first_broken {
        return Err(ExportError::NotVerified(format!(
            "{} sequence {}: {}",
            found.participant_id, found.sequence, found.what
        )));
    }
    let export_root = verification
        .digest
        .as_ref()
        .map(|d| d.root.clone())
        .unwrap_or_default();
    let existing = repository.count_events().await?;
    if existing > 0 {
        return Err(ExportError::StoreNotEmpty(existing));
    }
    let mut reader = ExportReader::new(open()?);
    reader.header()?;
    let mut loader = Loader::begin(repository).await?;
    let mut batch: Vec<ExportedEvent> = Vec::with_capacity(IMPORT_BATCH);
    let mut numbers: Vec<(i64, String, i64)> = Vec::new();
    let mut events = 0u64;
    while let Some(line) = reader.next_line()? {
        let ExportLine::Event(event) = line else {
            continue;
        };
        if event.is_reference() {
            event.reference_version().map_err(|e| {
                reader.format_error(format!("a reference event cannot be read: {e}"))
            })?;
        } else if let AgreementEvent::InvoiceIssued(issued) = event
            .decode()
            .map_err(|e| reader.format_error(format!("the event cannot be read: {e}")))?
        {
            let number = i64::try_from(issued.number.value())
                .map_err(|_| reader.format_error("an invoice number beyond i64"))?;
            numbers.push((number, event.aggregate_id.clone(), event.sequence));
        }
        batch.push(event);
        events += 1;
        if batch.len() >= IMPORT_BATCH {
            loader.insert(std::mem::take(&mut batch)).await?;
            progress("importing", events);
        }
    }
    loader.insert(batch).await?;
    let invoice_numbers = numbers.len() as u64;
    loader.finish(numbers).await?;
    progress("importing", events);
    let rebuilt = repository
        .rebuild_ledgers(LEDGERS_TABLE, |done| progress("projecting", done))
        .await?;
    let digest = crate::audit::take_digest(repository, OffsetDateTime::now_utc()).await?;
    assert_eq!(digest.events, events, "every exported event was imported");
    Ok(ImportSummary {
        events,
        agreements: rebuilt.agreements,
        invoice_numbers,
        export_root,
        store_root: digest.root,
    })
}

/// One transaction that loads exported events.
pub(super) enum Loader<'r> {
    Postgres(sqlx::Transaction<'r, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'r, sqlx::Sqlite>),
}

impl<'r> Loader<'r> {
    async fn begin(repository: &'r LedgerEventRepository) -> Result<Self, StoreError> {
        Ok(match repository.backend() {
            Backend::Postgres { pool, .. } => Self::Postgres(pool.begin().await?),
            Backend::Sqlite { pool, .. } => Self::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    async fn insert(&mut self, events: Vec<ExportedEvent>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        match self {
            Self::Postgres(tx) => {
                let mut aggregate_types = Vec::with_capacity(events.len());
                let mut ids = Vec::with_capacity(events.len());
                let mut sequences = Vec::with_capacity(events.len());
                let mut types = Vec::with_capacity(events.len());
                let mut versions = Vec::with_capacity(events.len());
                let mut payloads = Vec::with_capacity(events.len());
                let mut metadata = Vec::with_capacity(events.len());
                let mut positions = Vec::with_capacity(events.len());
                let mut stored = Vec::with_capacity(events.len());
                for event in events {
                    aggregate_types.push(event.aggregate_type);
                    ids.push(event.aggregate_id);
                    sequences.push(event.sequence);
                    types.push(event.event_type);
                    versions.push(event.event_version);
                    payloads.push(event.payload);
                    metadata.push(event.metadata);
                    positions.push(event.global_position);
                    stored.push(event.stored_at);
                }
                sqlx::query(
                    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, global_position, recorded_at)
                     OVERRIDING SYSTEM VALUE
                     SELECT a, i, s, t, v, p, m, g, r::timestamptz
                     FROM UNNEST($9::text[], $1::text[], $2::bigint[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::bigint[], $8::text[])
                       AS u(a, i, s, t, v, p, m, g, r)",
                )
                .bind(ids)
                .bind(sequences)
                .bind(types)
                .bind(versions)
                .bind(payloads)
                .bind(metadata)
                .bind(positions)
                .bind(stored)
                .bind(aggregate_types)
                .execute(&mut **tx)
                .await?;
            }
            Self::Sqlite(tx) => {
                for event in events {
                    sqlx::query(
                        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, global_position, recorded_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(event.aggregate_type)
                    .bind(event.aggregate_id)
                    .bind(event.sequence)
                    .bind(event.event_type)
                    .bind(event.event_version)
                    .bind(sqlx::types::Json(event.payload))
                    .bind(sqlx::types::Json(event.metadata))
                    .bind(event.global_position)
                    .bind(event.stored_at)
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// Records the invoice numbers taken, sets the counter to the highest, moves the
    /// global position past the highest imported, and commits.
    async fn finish(self, numbers: Vec<(i64, String, i64)>) -> Result<(), StoreError> {
        let last = numbers.iter().map(|(n, _, _)| *n).max().unwrap_or(0);
        match self {
            Self::Postgres(mut tx) => {
                let (n, ids, sequences): (Vec<i64>, Vec<String>, Vec<i64>) = numbers
                    .into_iter()
                    .fold((vec![], vec![], vec![]), |(mut n, mut i, mut s), row| {
                        n.push(row.0);
                        i.push(row.1);
                        s.push(row.2);
                        (n, i, s)
                    });
                sqlx::query(
                    "INSERT INTO invoice_numbers (number, aggregate_id, sequence)
                     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[])",
                )
                .bind(n)
                .bind(ids)
                .bind(sequences)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE invoice_counter SET last_number = $1 WHERE id = 1")
                    .bind(last)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "SELECT setval(pg_get_serial_sequence('events', 'global_position'),
                                   (SELECT COALESCE(MAX(global_position), 0) + 1 FROM events), false)",
                )
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
            Self::Sqlite(mut tx) => {
                for (number, id, sequence) in numbers {
                    sqlx::query(
                        "INSERT INTO invoice_numbers (number, aggregate_id, sequence) VALUES (?, ?, ?)",
                    )
                    .bind(number)
                    .bind(id)
                    .bind(sequence)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query("UPDATE invoice_counter SET last_number = ? WHERE id = 1")
                    .bind(last)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }
}
